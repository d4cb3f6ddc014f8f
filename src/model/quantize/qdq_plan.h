// What the quantiser will do to a graph, decided before anything is calibrated: which
// nodes get int8 weights, which activation tensors get a QuantizeLinear -> DequantizeLinear
// pair (and so must be calibrated), and a note for every heavy node left in float.
//
// The pairs sit where ONNX Runtime's QDQ fusions look for them: on the data input of
// each quantised Conv/Gemm/MatMul, and after its output, or after the Relu/Clip that
// directly follows it, which a Q with zero point 0 makes redundant; so that
// DQ -> Conv [-> Relu] -> Q becomes one QLinearConv, and an Add between two such tensors
// one QLinearAdd. Pure functions over the graph, thread-safe.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <string>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::model::quantize {

struct QuantizedNode {
  int node = 0;         // index into graph.node()
  int weight_axis = 0;  // the output-channel axis of input 1 (the weights)
  bool has_bias = false;
};

struct QdqPlan {
  std::vector<QuantizedNode> nodes;
  // Float tensors to quantise, in graph order; each is calibrated.
  std::vector<std::string> activations;
  // A tensor that only moves or selects values of another (MaxPool, Reshape, Flatten,
  // Transpose, Squeeze, Unsqueeze, Identity) shares that tensor's scale and zero point,
  // so that ONNX Runtime can drop the DQ -> op -> Q around it and stay in int8.
  std::map<std::string, std::string> same_params_as;
  // One line per node left in float that int8 could have sped up, saying why.
  std::vector<std::string> notes;
};

// Plans the rewrite of `graph`'s top-level nodes. Fails when there is nothing to
// quantise: no Conv, Gemm or MatMul with constant float weights.
Result<QdqPlan> PlanQdq(const onnx::GraphProto& graph);

// "Conv \"name\"" (or the node's first output when it has no name), for messages.
std::string DescribeNode(const onnx::NodeProto& node);

}  // namespace imgsearch::model::quantize
