// The recipe's ONNX files carry no spec: Keras applications (ResNet50, VGG16, ...) saved as
// SavedModels and converted with tf2onnx. Such a graph is recognised by what tf2onnx keeps
// of it — its producer, an NHWC three-channel input of any size, and the Keras layer names
// in its node names — and its preprocessing is then the one Keras pairs with that
// application. A graph that could have been trained with other preprocessing is not
// guessed at. Stateless functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/onnx_graph_summary.h"

namespace imgsearch::model {

struct KerasApplication {
  std::string family;  // "ResNet" or "VGG"
  std::string model;   // the Keras model's name in the graph, e.g. "resnet50", "vgg16"
  std::string preset;  // the preprocessing preset Keras pairs with it
};

// A tf2onnx conversion with an NHWC three-channel input whose height and width are left
// open (what tf2onnx makes of a Keras model built with include_top=False).
bool IsTf2OnnxNhwcGraph(const GraphSummary& graph, const std::vector<int64_t>& input_shape);

// The Keras application the graph's node names show, or nullopt. Known: ResNet50/101/152
// (keras.applications.resnet) and VGG16/19, all with "caffe" preprocessing; ResNet V2,
// Inception, Xception, MobileNet, DenseNet and EfficientNet are not (other preprocessing).
std::optional<KerasApplication> RecognizeKerasApplication(const GraphSummary& graph);

}  // namespace imgsearch::model
