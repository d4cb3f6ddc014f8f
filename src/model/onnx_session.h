// OnnxSession: one ONNX Runtime session, created once and reused for every batch.
// Run() may be called from several threads at once (ONNX Runtime allows it). No ONNX
// Runtime exception ever leaves this class: failures become Status values.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::model {

struct TensorInfo {
  std::string name;
  ONNXTensorElementDataType element_type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::vector<int64_t> shape;  // -1 for a dimension the model leaves open
};

struct SessionConfig {
  int intra_op_threads = 0;  // 0: one per core this process may use (base::UsableCores)
  bool allow_spinning = true;
};

// The intra-op thread count a session gets for `config`.
int IntraOpThreads(const SessionConfig& config);

// A float tensor produced by Run(); owns its memory.
struct FloatTensor {
  std::vector<int64_t> shape;
  Ort::Value value{nullptr};
  const float* values = nullptr;  // value's data, taken inside Run (the getter may throw)
  const float* data() const { return values; }
};

class OnnxSession {
 public:
  // From a file on disk (large models are not copied through memory first).
  static Result<std::unique_ptr<OnnxSession>> FromFile(const std::string& path,
                                                       const SessionConfig& config);
  // From model bytes held in memory (the built-in models); `name` is for messages.
  static Result<std::unique_ptr<OnnxSession>> FromBytes(const std::string& name,
                                                        std::string_view bytes,
                                                        const SessionConfig& config);

  // Writes the graph ONNX Runtime would run for the model at `path` (after its fusions)
  // to `out_path`: how `imgsearch quantize` checks that int8 kernels replaced its QDQ
  // pattern.
  static Status SaveRuntimeGraph(const std::string& path, const SessionConfig& config,
                                 const std::string& out_path);

  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Feeds `data` (laid out as `shape`) to the named input and returns the named output,
  // which must be a float tensor. A failure names the input, its shape and the output.
  Result<FloatTensor> Run(const std::string& input, const float* data,
                          const std::vector<int64_t>& shape, const std::string& output) const;
  // The same with several float outputs, returned in the order of `outputs`.
  Result<std::vector<FloatTensor>> RunOutputs(const std::string& input, const float* data,
                                              const std::vector<int64_t>& shape,
                                              const std::vector<std::string>& outputs) const;

 private:
  explicit OnnxSession(Ort::Session session) : session_(std::move(session)) {}
  Status ReadSignature();
  // Run's work; throws as ONNX Runtime does.
  Result<std::vector<FloatTensor>> RunOrThrow(const std::string& input, const float* data,
                                              const std::vector<int64_t>& shape,
                                              const std::vector<std::string>& outputs) const;

  Ort::Session session_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  std::map<std::string, std::string> metadata_;
};

// "float", "int64", ... for error messages.
const char* ElementTypeName(ONNXTensorElementDataType type);

}  // namespace imgsearch::model
