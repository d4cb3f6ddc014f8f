#include "model/onnx_session.h"

#include <exception>
#include <stdexcept>

#include "base/cpu.h"
#include "base/large_stack.h"
#include "model/postprocess.h"

namespace imgsearch::model {

int IntraOpThreads(const SessionConfig& config) {
  return config.intra_op_threads > 0 ? config.intra_op_threads : base::UsableCores();
}

namespace {

// Why the process Env is made on a thread of its own: the telemetry component built into
// the ONNX Runtime library that setup installs (onnxruntime-node's linux-x64 build)
// reads /proc/self/cmdline when the first Env is created and runs a std::regex over it.
// libstdc++'s regex matcher recurses once per character, about 290 bytes of stack per
// byte of command line, so a command line past about 29 KB (some 500 image paths)
// overflowed the 8 MiB main stack. The Env is made on a thread whose stack holds the
// longest command line the kernel allows, with a wide margin; telemetry is then switched
// off, since nothing should leave a user's machine.
constexpr size_t kEnvStackBase = size_t{32} << 20;
constexpr size_t kEnvStackPerCommandLineByte = 1024;

std::unique_ptr<Ort::Env> CreateProcessEnv() {
  std::unique_ptr<Ort::Env> env;
  std::exception_ptr failure;
  size_t stack = kEnvStackBase + kEnvStackPerCommandLineByte * base::CommandLineBytes();
  Status started = base::RunOnLargeStack(stack, [&] {
    try {
      env = std::make_unique<Ort::Env>(ORT_LOGGING_LEVEL_ERROR, "imgsearch");
      env->DisableTelemetryEvents();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  if (!started.ok()) throw std::runtime_error(started.ToString());
  if (failure) std::rethrow_exception(failure);
  return env;
}

// Throws as Ort calls do; every caller is inside CreateGuarded.
Ort::Env& ProcessEnv() {
  static std::unique_ptr<Ort::Env> env = CreateProcessEnv();
  return *env;
}

Ort::SessionOptions MakeOptions(const SessionConfig& config) {
  Ort::SessionOptions options;
  // Not ONNX Runtime's own default, which counted one core on a 2-CPU machine here.
  options.SetIntraOpNumThreads(IntraOpThreads(config));
  options.SetInterOpNumThreads(1);
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  options.AddConfigEntry("session.intra_op.allow_spinning", config.allow_spinning ? "1" : "0");
  return options;
}

TensorInfo DescribeTensor(std::string name, const Ort::TypeInfo& type) {
  TensorInfo info;
  info.name = std::move(name);
  if (type.GetONNXType() != ONNX_TYPE_TENSOR) return info;  // element type stays UNDEFINED
  auto tensor = type.GetTensorTypeAndShapeInfo();
  info.element_type = tensor.GetElementType();
  info.shape = tensor.GetShape();
  return info;
}

template <typename Make>
Result<std::unique_ptr<OnnxSession>> CreateGuarded(const std::string& what, Make make) {
  try {
    return make();
  } catch (const Ort::Exception& e) {
    return Status::InvalidArgument(what + ": not a model ONNX Runtime can load: " + e.what());
  } catch (const std::exception& e) {
    return Status::Internal(what + ": " + e.what());
  }
}

}  // namespace

Result<std::unique_ptr<OnnxSession>> OnnxSession::FromFile(const std::string& path,
                                                           const SessionConfig& config) {
  return CreateGuarded(path, [&]() -> Result<std::unique_ptr<OnnxSession>> {
    std::unique_ptr<OnnxSession> session(
        new OnnxSession(Ort::Session(ProcessEnv(), path.c_str(), MakeOptions(config))));
    IMGSEARCH_RETURN_IF_ERROR(session->ReadSignature());
    return session;
  });
}

Result<std::unique_ptr<OnnxSession>> OnnxSession::FromBytes(const std::string& name,
                                                            std::string_view bytes,
                                                            const SessionConfig& config) {
  return CreateGuarded(name, [&]() -> Result<std::unique_ptr<OnnxSession>> {
    std::unique_ptr<OnnxSession> session(new OnnxSession(
        Ort::Session(ProcessEnv(), bytes.data(), bytes.size(), MakeOptions(config))));
    IMGSEARCH_RETURN_IF_ERROR(session->ReadSignature());
    return session;
  });
}

Status OnnxSession::SaveRuntimeGraph(const std::string& path, const SessionConfig& config,
                                     const std::string& out_path) {
  auto saved = CreateGuarded(path, [&]() -> Result<std::unique_ptr<OnnxSession>> {
    Ort::SessionOptions options = MakeOptions(config);
    options.SetOptimizedModelFilePath(out_path.c_str());
    return std::unique_ptr<OnnxSession>(
        new OnnxSession(Ort::Session(ProcessEnv(), path.c_str(), options)));
  });
  return saved.status();
}

Status OnnxSession::ReadSignature() {
  Ort::AllocatorWithDefaultOptions allocator;
  for (size_t i = 0; i < session_.GetInputCount(); ++i) {
    inputs_.push_back(DescribeTensor(session_.GetInputNameAllocated(i, allocator).get(),
                                     session_.GetInputTypeInfo(i)));
  }
  for (size_t i = 0; i < session_.GetOutputCount(); ++i) {
    outputs_.push_back(DescribeTensor(session_.GetOutputNameAllocated(i, allocator).get(),
                                      session_.GetOutputTypeInfo(i)));
  }
  Ort::ModelMetadata model_metadata = session_.GetModelMetadata();
  for (const auto& key : model_metadata.GetCustomMetadataMapKeysAllocated(allocator)) {
    auto value = model_metadata.LookupCustomMetadataMapAllocated(key.get(), allocator);
    metadata_[key.get()] = value ? value.get() : "";
  }
  return Status::Ok();
}

Result<FloatTensor> OnnxSession::Run(const std::string& input, const float* data,
                                     const std::vector<int64_t>& shape,
                                     const std::string& output) const {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<FloatTensor> results,
                             RunOutputs(input, data, shape, {output}));
  return std::move(results[0]);
}

Result<std::vector<FloatTensor>> OnnxSession::RunOutputs(
    const std::string& input, const float* data, const std::vector<int64_t>& shape,
    const std::vector<std::string>& outputs) const {
  try {
    return RunOrThrow(input, data, shape, outputs);
  } catch (const std::exception& e) {  // Ort::Exception, or std::bad_alloc inside the run
    std::string named = outputs.size() == 1 ? "output \"" + outputs[0] + "\""
                                            : std::to_string(outputs.size()) + " outputs";
    return Status::Internal("ONNX Runtime failed to run the model (input \"" + input + "\" " +
                            ShapeText(shape) + ", " + named + "): " + e.what());
  }
}

Result<std::vector<FloatTensor>> OnnxSession::RunOrThrow(
    const std::string& input, const float* data, const std::vector<int64_t>& shape,
    const std::vector<std::string>& outputs) const {
  size_t count = 1;
  for (int64_t d : shape) count *= static_cast<size_t>(d);
  auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  // ONNX Runtime does not write to inputs; the API just lacks a const overload.
  Ort::Value tensor = Ort::Value::CreateTensor<float>(memory, const_cast<float*>(data), count,
                                                      shape.data(), shape.size());
  const char* input_names[] = {input.c_str()};
  std::vector<const char*> output_names;
  for (const std::string& name : outputs) output_names.push_back(name.c_str());
  auto results = const_cast<Ort::Session&>(session_).Run(
      Ort::RunOptions{nullptr}, input_names, &tensor, 1, output_names.data(), output_names.size());
  std::vector<FloatTensor> out(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    auto info = results[i].GetTensorTypeAndShapeInfo();
    if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      return Status::Unsupported("output \"" + outputs[i] + "\" is " +
                                 ElementTypeName(info.GetElementType()) + ", expected float");
    }
    out[i].shape = info.GetShape();
    out[i].values = results[i].GetTensorData<float>();
    out[i].value = std::move(results[i]);
  }
  return out;
}

const char* ElementTypeName(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
      return "float";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8:
      return "uint8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8:
      return "int8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32:
      return "int32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
      return "int64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
      return "float16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE:
      return "double";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING:
      return "string";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
      return "bool";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED:
      return "not a tensor";
    default:
      return "an unsupported element type";
  }
}

}  // namespace imgsearch::model
