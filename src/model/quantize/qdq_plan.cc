#include "model/quantize/qdq_plan.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "model/quantize/onnx_model.h"

namespace imgsearch::model::quantize {
namespace {

struct GraphIndex {
  std::map<std::string, std::vector<int>> consumers;  // tensor -> nodes reading it
  std::map<std::string, int> producer;                // tensor -> node writing it
  std::set<std::string> outputs;                      // the graph's outputs
  std::set<std::string> inputs;                       // the graph's inputs
};

GraphIndex IndexGraph(const onnx::GraphProto& graph) {
  GraphIndex index;
  for (int n = 0; n < graph.node_size(); ++n) {
    for (const auto& name : graph.node(n).input()) {
      if (!name.empty()) index.consumers[name].push_back(n);
    }
    for (const auto& name : graph.node(n).output()) index.producer[name] = n;
  }
  for (const auto& output : graph.output()) index.outputs.insert(output.name());
  for (const auto& input : graph.input()) index.inputs.insert(input.name());
  return index;
}

const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, const char* name) {
  for (const auto& attribute : node.attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

float FloatAttribute(const onnx::NodeProto& node, const char* name, float fallback) {
  const auto* attribute = FindAttribute(node, name);
  return attribute != nullptr ? attribute->f() : fallback;
}

int64_t IntAttribute(const onnx::NodeProto& node, const char* name, int64_t fallback) {
  const auto* attribute = FindAttribute(node, name);
  return attribute != nullptr ? attribute->i() : fallback;
}

// A float constant that a caller cannot replace at run time (an initializer that is
// also a graph input can be overridden, so its values are not known here).
const onnx::TensorProto* ConstantFloat(const onnx::GraphProto& graph, const GraphIndex& index,
                                       const std::string& name) {
  const onnx::TensorProto* tensor = FindConstant(graph, name);
  if (tensor == nullptr || index.inputs.count(tensor->name()) != 0) return nullptr;
  return tensor->data_type() == onnx::TensorProto::FLOAT ? tensor : nullptr;
}

Status LeftInFloat(const onnx::NodeProto& node, const std::string& why) {
  return Status::Unsupported(DescribeNode(node) + " left in float: " + why);
}

// Checks the data input and the weights shared by Conv, Gemm and MatMul.
Result<const onnx::TensorProto*> CheckWeights(const onnx::GraphProto& graph,
                                              const GraphIndex& index, const onnx::NodeProto& node,
                                              int rank_min, int rank_max) {
  if (node.input_size() < 2) return LeftInFloat(node, "it has fewer than two inputs");
  if (ConstantFloat(graph, index, node.input(0)) != nullptr) {
    return LeftInFloat(node, "its data input is a constant");
  }
  const onnx::TensorProto* weights = ConstantFloat(graph, index, node.input(1));
  if (weights == nullptr) return LeftInFloat(node, "its weights are not a constant float tensor");
  if (weights->dims_size() < rank_min || weights->dims_size() > rank_max) {
    return LeftInFloat(node, "its weights have rank " + std::to_string(weights->dims_size()));
  }
  return weights;
}

// The optional bias (input 2): absent, or a constant float vector of `channels` values.
Result<bool> CheckBias(const onnx::GraphProto& graph, const GraphIndex& index,
                       const onnx::NodeProto& node, int64_t channels) {
  if (node.input_size() < 3 || node.input(2).empty()) return false;
  const onnx::TensorProto* bias = ConstantFloat(graph, index, node.input(2));
  int64_t count = 1;
  if (bias != nullptr) {
    for (int64_t d : bias->dims()) count *= d;
  }
  if (bias == nullptr || count != channels) {
    return LeftInFloat(
        node, "its bias is not a constant float vector of " + std::to_string(channels) + " values");
  }
  return true;
}

Result<QuantizedNode> CheckConv(const onnx::GraphProto& graph, const GraphIndex& index, int n) {
  const onnx::NodeProto& node = graph.node(n);
  IMGSEARCH_ASSIGN_OR_RETURN(const onnx::TensorProto* w, CheckWeights(graph, index, node, 3, 5));
  IMGSEARCH_ASSIGN_OR_RETURN(bool has_bias, CheckBias(graph, index, node, w->dims(0)));
  return QuantizedNode{n, 0, has_bias};
}

Result<QuantizedNode> CheckGemm(const onnx::GraphProto& graph, const GraphIndex& index, int n) {
  const onnx::NodeProto& node = graph.node(n);
  IMGSEARCH_ASSIGN_OR_RETURN(const onnx::TensorProto* w, CheckWeights(graph, index, node, 2, 2));
  // The int32 bias is added to alpha * A * B as it is: alpha and beta must be 1.
  if (FloatAttribute(node, "alpha", 1.0f) != 1.0f) return LeftInFloat(node, "alpha is not 1");
  if (IntAttribute(node, "transA", 0) != 0) return LeftInFloat(node, "transA is set");
  const int axis = IntAttribute(node, "transB", 0) != 0 ? 0 : 1;
  IMGSEARCH_ASSIGN_OR_RETURN(bool has_bias, CheckBias(graph, index, node, w->dims(axis)));
  if (has_bias && FloatAttribute(node, "beta", 1.0f) != 1.0f) {
    return LeftInFloat(node, "beta is not 1");
  }
  return QuantizedNode{n, axis, has_bias};
}

Result<QuantizedNode> CheckMatMul(const onnx::GraphProto& graph, const GraphIndex& index, int n) {
  IMGSEARCH_RETURN_IF_ERROR(CheckWeights(graph, index, graph.node(n), 2, 2).status());
  return QuantizedNode{n, 1, false};
}

bool IsHeavyUnsupported(const std::string& op) {
  for (const char* heavy : {"ConvTranspose", "LSTM", "GRU", "RNN", "Einsum", "Attention"}) {
    if (op == heavy) return true;
  }
  return false;
}

bool MovesValuesOnly(const std::string& op) {
  for (const char* mover :
       {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity"}) {
    if (op == mover) return true;
  }
  return false;
}

// The tensor after a quantised node that gets the Q: its output, or the output of a
// Relu/Clip that is its only reader (ONNX Runtime folds that into the int8 kernel);
// empty when nothing reads it.
std::string TensorAfter(const onnx::GraphProto& graph, const GraphIndex& index, int n) {
  std::string tensor = graph.node(n).output(0);
  auto readers = index.consumers.find(tensor);
  if (readers == index.consumers.end()) return "";
  if (readers->second.size() == 1 && index.outputs.count(tensor) == 0) {
    const onnx::NodeProto& next = graph.node(readers->second[0]);
    if ((next.op_type() == "Relu" || next.op_type() == "Clip") && next.output_size() > 0) {
      tensor = next.output(0);
    }
  }
  return index.consumers.count(tensor) != 0 ? tensor : "";
}

// Activations in the order the graph computes them (graph inputs first).
std::vector<std::string> InGraphOrder(const std::set<std::string>& tensors,
                                      const GraphIndex& index) {
  std::vector<std::pair<int, std::string>> ordered;
  for (const auto& t : tensors) {
    auto it = index.producer.find(t);
    ordered.emplace_back(it == index.producer.end() ? -1 : it->second, t);
  }
  std::sort(ordered.begin(), ordered.end());
  std::vector<std::string> out;
  for (auto& [position, t] : ordered) out.push_back(std::move(t));
  return out;
}

}  // namespace

std::string DescribeNode(const onnx::NodeProto& node) {
  std::string name = !node.name().empty()     ? node.name()
                     : node.output_size() > 0 ? node.output(0)
                                              : "?";
  return node.op_type() + " \"" + name + "\"";
}

Result<QdqPlan> PlanQdq(const onnx::GraphProto& graph) {
  const GraphIndex index = IndexGraph(graph);
  QdqPlan plan;
  for (int n = 0; n < graph.node_size(); ++n) {
    const std::string& op = graph.node(n).op_type();
    Result<QuantizedNode> checked = Status::NotFound("");
    if (op == "Conv") checked = CheckConv(graph, index, n);
    if (op == "Gemm") checked = CheckGemm(graph, index, n);
    if (op == "MatMul") checked = CheckMatMul(graph, index, n);
    if (checked.ok()) plan.nodes.push_back(*checked);
    if (checked.status().code() == StatusCode::kUnsupported) {
      plan.notes.push_back(checked.status().message());
    }
    if (IsHeavyUnsupported(op)) {
      plan.notes.push_back(DescribeNode(graph.node(n)) + " left in float: " + op +
                           " is not quantised by imgsearch");
    }
  }
  if (plan.nodes.empty()) {
    return Status::Unsupported(
        "nothing to quantise: the model has no Conv, Gemm or MatMul with constant float weights");
  }
  std::set<std::string> activations;
  for (const QuantizedNode& q : plan.nodes) {
    activations.insert(graph.node(q.node).input(0));
    if (std::string after = TensorAfter(graph, index, q.node); !after.empty()) {
      activations.insert(after);
    }
  }
  plan.activations = InGraphOrder(activations, index);
  for (const auto& node : graph.node()) {
    if (MovesValuesOnly(node.op_type()) && node.input_size() > 0 && node.output_size() > 0 &&
        activations.count(node.input(0)) != 0 && activations.count(node.output(0)) != 0) {
      plan.same_params_as[node.output(0)] = node.input(0);
    }
  }
  return plan;
}

}  // namespace imgsearch::model::quantize
