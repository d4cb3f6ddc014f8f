#include "model/quantize/onnx_model.h"

#include <onnx/version_converter/convert.h>

#include <cstring>
#include <exception>

#include "base/env.h"

namespace imgsearch::model::quantize {
namespace {

// Protobuf cannot parse or write a message over 2 GB; larger models keep their weights
// in external data files, which the quantiser does not handle.
constexpr uint64_t kMaxModelBytes = (uint64_t{2} << 30) - 1;

bool StartsWith(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

template <typename T>
onnx::TensorProto RawTensor(const std::string& name, int32_t type, const std::vector<int64_t>& dims,
                            const std::vector<T>& values) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(type);
  for (int64_t d : dims) tensor.add_dims(d);
  // x86-64 and every platform ONNX Runtime ships for are little-endian, as raw_data is.
  tensor.set_raw_data(
      std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)));
  return tensor;
}

}  // namespace

Result<onnx::ModelProto> ReadOnnxModel(const std::string& path) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::string bytes,
                             base::Env::Default()->ReadFile(path, kMaxModelBytes));
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes) || !model.has_graph() || model.graph().node_size() == 0) {
    return Status::InvalidArgument(path + ": not an ONNX model (no ModelProto with a graph)");
  }
  return model;
}

Status WriteOnnxModel(const onnx::ModelProto& model, const std::string& path) {
  if (model.ByteSizeLong() > kMaxModelBytes) {
    return Status::Unsupported(path + ": the quantised model would exceed protobuf's 2 GB");
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) return Status::Internal(path + ": serialising failed");
  return base::Env::Default()->WriteFileAtomic(path, bytes);
}

int64_t DefaultOpset(const onnx::ModelProto& model) {
  for (const auto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") return opset.version();
  }
  return 0;
}

const onnx::NodeProto* FindQuantizedNode(const onnx::GraphProto& graph) {
  for (const auto& node : graph.node()) {
    const std::string& op = node.op_type();
    if (op == "QuantizeLinear" || op == "DequantizeLinear" || StartsWith(op, "QLinear") ||
        StartsWith(op, "DynamicQuantize") || op.find("Integer") != std::string::npos ||
        op == "QGemm" || op == "QAttention") {
      return &node;
    }
  }
  return nullptr;
}

Status RaiseOpset(onnx::ModelProto* model, int64_t min_opset) {
  int64_t opset = DefaultOpset(*model);
  if (opset >= min_opset) return Status::Ok();
  const std::string why = "per-channel QuantizeLinear/DequantizeLinear need opset " +
                          std::to_string(min_opset) + " and the model has opset " +
                          std::to_string(opset);
  try {
    *model = onnx::version_conversion::ConvertVersion(*model, static_cast<int>(min_opset));
  } catch (const std::exception& e) {
    return Status::Unsupported(why + "; ONNX's version converter could not raise it (" + e.what() +
                               "): convert the model to opset " + std::to_string(min_opset) +
                               " or later first");
  }
  if (DefaultOpset(*model) != min_opset) return Status::Internal(why + "; conversion failed");
  return Status::Ok();
}

const onnx::TensorProto* FindInitializer(const onnx::GraphProto& graph, const std::string& name) {
  for (const auto& tensor : graph.initializer()) {
    if (tensor.name() == name) return &tensor;
  }
  return nullptr;
}

const onnx::TensorProto* FindConstant(const onnx::GraphProto& graph, const std::string& name) {
  if (const onnx::TensorProto* tensor = FindInitializer(graph, name)) return tensor;
  for (const auto& node : graph.node()) {
    if (node.output_size() == 0 || node.output(0) != name) continue;
    if (node.op_type() == "Identity" && node.input_size() == 1) {
      return FindConstant(graph, node.input(0));
    }
    if (node.op_type() == "Constant") {
      for (const auto& attribute : node.attribute()) {
        if (attribute.name() == "value" && attribute.has_t()) return &attribute.t();
      }
    }
    return nullptr;
  }
  return nullptr;
}

int64_t ElementCount(const onnx::TensorProto& tensor) {
  int64_t count = 1;
  for (int64_t d : tensor.dims()) count *= d;
  return count;
}

Result<std::vector<float>> FloatValues(const onnx::TensorProto& tensor) {
  if (tensor.data_type() != onnx::TensorProto::FLOAT) {
    return Status::Unsupported("tensor \"" + tensor.name() + "\" is not float");
  }
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    return Status::Unsupported("tensor \"" + tensor.name() + "\" is stored in an external file");
  }
  const int64_t count = ElementCount(tensor);
  std::vector<float> values(static_cast<size_t>(count));
  if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != values.size() * sizeof(float)) {
      return Status::Corruption("tensor \"" + tensor.name() + "\" has " +
                                std::to_string(tensor.raw_data().size()) + " bytes for " +
                                std::to_string(count) + " floats");
    }
    std::memcpy(values.data(), tensor.raw_data().data(), tensor.raw_data().size());
    return values;
  }
  if (tensor.float_data_size() != count) {
    return Status::Corruption("tensor \"" + tensor.name() + "\" has " +
                              std::to_string(tensor.float_data_size()) + " values for " +
                              std::to_string(count) + " elements");
  }
  std::copy(tensor.float_data().begin(), tensor.float_data().end(), values.begin());
  return values;
}

onnx::TensorProto FloatTensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& values) {
  return RawTensor(name, onnx::TensorProto::FLOAT, dims, values);
}
onnx::TensorProto Int8Tensor(const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<int8_t>& values) {
  return RawTensor(name, onnx::TensorProto::INT8, dims, values);
}
onnx::TensorProto Uint8Tensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<uint8_t>& values) {
  return RawTensor(name, onnx::TensorProto::UINT8, dims, values);
}
onnx::TensorProto Int32Tensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<int32_t>& values) {
  return RawTensor(name, onnx::TensorProto::INT32, dims, values);
}

}  // namespace imgsearch::model::quantize
