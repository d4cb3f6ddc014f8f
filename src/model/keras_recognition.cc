#include "model/keras_recognition.h"

#include <set>
#include <string_view>

namespace imgsearch::model {
namespace {

// A Keras application: its model names and layers that every one of them has.
struct KnownApplication {
  const char* family;
  std::vector<std::string> models;
  std::vector<std::string> layers;
  const char* preset;
};

const std::vector<KnownApplication>& KnownApplications() {
  static const std::vector<KnownApplication> known = {
      {"ResNet",
       {"resnet50", "resnet101", "resnet152"},
       {"conv1_relu", "pool1_pool", "conv2_block1_out"},
       "keras-caffe"},
      {"VGG", {"vgg16", "vgg19"}, {"block1_conv1", "block1_pool", "block5_pool"}, "keras-caffe"},
  };
  return known;
}

// Keras 3 names a layer's operations "<layer>_<n>" (conv1_relu_1); Keras 2 names them
// "<layer>". Both spellings of a component are kept.
std::string_view WithoutInstanceSuffix(std::string_view component) {
  size_t underscore = component.find_last_of('_');
  if (underscore == std::string_view::npos || underscore + 1 == component.size()) return component;
  for (size_t i = underscore + 1; i < component.size(); ++i) {
    if (component[i] < '0' || component[i] > '9') return component;
  }
  return component.substr(0, underscore);
}

// The '/'-separated components of every node name (tf2onnx names nodes after the
// TensorFlow operations: StatefulPartitionedCall/resnet50/conv1_relu/Relu).
std::set<std::string, std::less<>> NameComponents(const GraphSummary& graph) {
  std::set<std::string, std::less<>> components;
  for (const std::string& name : graph.node_names) {
    std::string_view rest = name;
    while (!rest.empty()) {
      size_t slash = rest.find('/');
      std::string_view part = rest.substr(0, slash);
      components.emplace(part);
      components.emplace(WithoutInstanceSuffix(part));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
  }
  return components;
}

}  // namespace

bool IsTf2OnnxNhwcGraph(const GraphSummary& graph, const std::vector<int64_t>& input_shape) {
  return graph.producer_name == "tf2onnx" && input_shape.size() == 4 && input_shape[3] == 3 &&
         input_shape[1] < 0 && input_shape[2] < 0;
}

std::optional<KerasApplication> RecognizeKerasApplication(const GraphSummary& graph) {
  const auto components = NameComponents(graph);
  auto has = [&](const std::string& c) { return components.count(c) > 0; };
  for (const KnownApplication& known : KnownApplications()) {
    for (const std::string& model : known.models) {
      if (!has(model)) continue;
      bool all_layers = true;
      for (const std::string& layer : known.layers) all_layers = all_layers && has(layer);
      if (all_layers) return KerasApplication{known.family, model, known.preset};
    }
  }
  return std::nullopt;
}

}  // namespace imgsearch::model
