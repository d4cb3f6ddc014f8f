// What an ONNX file says of where it comes from and what its graph is made of: the
// producer and the names and operators of its nodes, read straight from the protobuf wire
// format (the model layer does not link the ONNX protobuf classes; the quantiser does).
// Bounds-checked: any bytes give a summary or a Corruption status, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::model {

struct GraphSummary {
  std::string producer_name;  // ModelProto.producer_name, e.g. "tf2onnx", "pytorch"
  std::vector<std::string> node_names;
  std::vector<std::string> node_ops;  // op_type of node i
};

// Parses ModelProto bytes far enough to fill a GraphSummary; the initializers (the weights)
// are skipped over, not read.
Result<GraphSummary> ReadGraphSummary(std::string_view onnx_bytes);

// A graph input or output as the file declares it.
struct DeclaredTensor {
  std::string name;
  int32_t element_type = 0;    // onnx.TensorProto.DataType (= ONNXTensorElementDataType)
  std::vector<int64_t> shape;  // -1 for a dimension the model leaves open
};

// What ONNX Runtime would report of a model before it loads it: its inputs (the graph
// inputs that are not initializers), its outputs and its metadata_props.
struct DeclaredSignature {
  std::vector<DeclaredTensor> inputs;
  std::vector<DeclaredTensor> outputs;
  std::map<std::string, std::string> metadata;
};

Result<DeclaredSignature> ReadDeclaredSignature(std::string_view onnx_bytes);

}  // namespace imgsearch::model
