// An ONNX model file as the protobuf message of Debian's libonnx-dev: read and written
// through base::Env, checked for what the quantiser needs, and small helpers to read and
// make tensors. Nothing here throws: parse failures and the ONNX library's exceptions
// become Status values. Functions are thread-compatible (no shared state).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::model::quantize {

// Reads and parses `path`; fails with a message that says it is not an ONNX model when the
// bytes are not a ModelProto with a graph.
Result<onnx::ModelProto> ReadOnnxModel(const std::string& path);

// Serialises and writes `model` to `path` atomically.
Status WriteOnnxModel(const onnx::ModelProto& model, const std::string& path);

// The opset the model imports for the default ONNX domain (0 when it imports none).
int64_t DefaultOpset(const onnx::ModelProto& model);

// The first node whose operator shows that the graph is already quantised
// (QuantizeLinear, DequantizeLinear, QLinear*, *Integer*, DynamicQuantize*), or nullptr.
const onnx::NodeProto* FindQuantizedNode(const onnx::GraphProto& graph);

// Brings the default-domain opset up to `min_opset` with ONNX's own version converter,
// which rewrites each node whose definition changed in between and refuses when it does
// not know how. A model already at `min_opset` or above is left alone.
Status RaiseOpset(onnx::ModelProto* model, int64_t min_opset);

// The initializer called `name`, or nullptr.
const onnx::TensorProto* FindInitializer(const onnx::GraphProto& graph, const std::string& name);

// The constant that tensor `name` holds: an initializer, the value of a Constant node,
// or either of those through a chain of Identity nodes (PyTorch's exporter shares equal
// weights that way); nullptr when it is computed.
const onnx::TensorProto* FindConstant(const onnx::GraphProto& graph, const std::string& name);

// The values of a float tensor stored in the file (raw_data or float_data); fails for
// another element type or for external data.
Result<std::vector<float>> FloatValues(const onnx::TensorProto& tensor);

// Element count of a tensor's dims.
int64_t ElementCount(const onnx::TensorProto& tensor);

// Tensors to add as initializers; values are stored as raw little-endian bytes.
onnx::TensorProto FloatTensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& values);
onnx::TensorProto Int8Tensor(const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<int8_t>& values);
onnx::TensorProto Uint8Tensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<uint8_t>& values);
onnx::TensorProto Int32Tensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<int32_t>& values);

}  // namespace imgsearch::model::quantize
