// What an ONNX file says of where it comes from and what its graph is made of: the
// producer and the names and operators of its nodes, read straight from the protobuf wire
// format (the model layer does not link the ONNX protobuf classes; the quantiser does).
// Bounds-checked: any bytes give a summary or a Corruption status, never a crash.
#pragma once

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

}  // namespace imgsearch::model
