#include "imgsearch/embedder.h"

#include <mutex>
#include <optional>

#include "base/env.h"
#include "base/log.h"
#include "model/builtin_models.h"
#include "model/keras_recognition.h"
#include "model/onnx_graph_summary.h"
#include "model/onnx_session.h"
#include "model/postprocess.h"
#include "model/spec_metadata.h"

namespace imgsearch {

using model::OnnxSession;
using model::ShapeText;
using model::TensorInfo;

namespace {

// A model's inputs, outputs and metadata: from its session, or read from its file.
struct Signature {
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::map<std::string, std::string> metadata;
};

Signature SignatureOf(const OnnxSession& session) {
  return {session.inputs(), session.outputs(), session.metadata()};
}

std::vector<TensorInfo> TensorsOf(const std::vector<model::DeclaredTensor>& declared) {
  std::vector<TensorInfo> tensors;
  for (const auto& d : declared) {
    tensors.push_back({d.name, static_cast<ONNXTensorElementDataType>(d.element_type), d.shape});
  }
  return tensors;
}

}  // namespace

struct Embedder::State {
  std::string name;  // the built-in name or the file, for messages
  ModelSpec spec;
  EmbedderOptions options;
  int64_t fixed_batch = 0;  // > 0 when the model's batch dimension is fixed
  int dimension = 0;
  VectorType type = VectorType::kFloat;

  // Where the session comes from: the built-in model's bytes, or the file.
  const model::BuiltinModel* builtin = nullptr;
  std::string path;
  model::SessionConfig config;

  // The session, made by Open or (options.defer_session) by the first embedding; a
  // failure to make it is kept and returned by every later call.
  Result<const OnnxSession*> Session() const;
  Result<std::unique_ptr<OnnxSession>> MakeSession() const;
  // The spec, input and output of the model from its signature.
  Status Describe(const ModelReference& file, const Signature& signature);
  // Describes the model from the signature its bytes declare, without ONNX Runtime: true
  // when that told everything (the session then waits for the first embedding).
  Result<bool> DescribeFromFile(const ModelReference& file);
  mutable std::mutex session_mutex;
  mutable std::unique_ptr<OnnxSession> session;
  mutable Status session_failure;
};

namespace {

constexpr uint64_t kMaxSidecarBytes = 1 << 20;

std::string NamesOf(const std::vector<TensorInfo>& tensors) {
  std::string names;
  for (const auto& t : tensors) names += (names.empty() ? "" : ", ") + t.name;
  return names;
}

std::string StemOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = file.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? file : file.substr(0, dot);
}

Status CheckImageInput(const TensorInfo& input, const PreprocessSpec& p) {
  if (input.element_type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
    return Status::Unsupported("input \"" + input.name + "\" is " +
                               model::ElementTypeName(input.element_type) +
                               "; imgsearch feeds float image tensors");
  }
  const auto& s = input.shape;
  if (s.size() != 4) {
    return Status::InvalidArgument(
        "input \"" + input.name + "\" has shape " + ShapeText(s) +
        ": not an image input (expected N x 3 x H x W or N x H x W x 3)");
  }
  bool nchw = p.layout == TensorLayout::kNchw;
  int64_t channels = nchw ? s[1] : s[3], other = nchw ? s[3] : s[1];
  if (channels != 3 && channels != -1) {
    std::string hint = other == 3 ? std::string("; it looks like ") + (nchw ? "NHWC" : "NCHW") +
                                        ": set \"layout\" in the model spec"
                                  : "";
    return Status::InvalidArgument("input \"" + input.name + "\" has shape " + ShapeText(s) +
                                   ": not a 3-channel image input for layout " +
                                   TensorLayoutName(p.layout) + hint);
  }
  int64_t height = nchw ? s[2] : s[1], width = nchw ? s[3] : s[2];
  if ((height > 0 && height != p.height) || (width > 0 && width != p.width)) {
    return Status::InvalidArgument(
        "input \"" + input.name + "\" takes " + std::to_string(width) + "x" +
        std::to_string(height) + " images but the preprocessing makes " + std::to_string(p.width) +
        "x" + std::to_string(p.height) + ": set \"width\" and \"height\" in the model spec");
  }
  return Status::Ok();
}

Result<TensorInfo> ResolveInput(const Signature& session, ModelSpec* spec) {
  const auto& inputs = session.inputs;
  if (spec->input.empty()) {
    if (inputs.size() != 1) {
      return Status::InvalidArgument("the model has " + std::to_string(inputs.size()) +
                                     " inputs (" + NamesOf(inputs) +
                                     "): name one with \"input\" in the model spec");
    }
    spec->input = inputs[0].name;
  }
  for (const auto& input : inputs) {
    if (input.name != spec->input) continue;
    IMGSEARCH_RETURN_IF_ERROR(CheckImageInput(input, spec->preprocess));
    return input;
  }
  return Status::NotFound("input tensor \"" + spec->input +
                          "\" is not in the model (inputs: " + NamesOf(inputs) + ")");
}

Status ResolveOutput(const Signature& session, ModelSpec* spec) {
  const auto& outputs = session.outputs;
  if (outputs.empty()) return Status::InvalidArgument("the model has no outputs");
  if (spec->output.empty()) spec->output = outputs[0].name;
  for (const auto& output : outputs) {
    if (output.name == spec->output) return Status::Ok();
  }
  return Status::NotFound("output tensor \"" + spec->output +
                          "\" is not in the model (outputs: " + NamesOf(outputs) + ")");
}

// How to give a model's preprocessing when it cannot be told from the model.
std::string HowToGivePreprocessing(const std::string& model) {
  return "give it with the file, as " + model + ":keras-caffe (or :torch, :tf, :clip), or write " +
         ModelSpecSidecarPath(model) +
         " with {\"preset\": \"keras-caffe\"} (or torch, tf, clip, or a \"preprocess\" object)";
}

// A model with no spec: the recipe's files (Keras applications converted by tf2onnx) are
// recognised from their graph, and the assumption is said; anything else is refused.
Status RecognisePreprocessing(const std::string& model, const Signature& session, ModelSpec* spec) {
  const std::string unknown = "no preprocessing is known for this model: ";
  if (session.inputs.size() != 1)
    return Status::InvalidArgument(unknown + HowToGivePreprocessing(model));
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<base::MappedFile> file,
                             base::Env::Default()->MapFile(model));
  auto graph = model::ReadGraphSummary(file->contents());
  if (!graph.ok() || !model::IsTf2OnnxNhwcGraph(*graph, session.inputs[0].shape)) {
    return Status::InvalidArgument(unknown + HowToGivePreprocessing(model));
  }
  auto application = model::RecognizeKerasApplication(*graph);
  if (!application) {
    return Status::InvalidArgument(
        "a Keras model converted by tf2onnx (NHWC input), but not a Keras application that "
        "imgsearch knows by its layers (ResNet50/101/152, VGG16/19), so its preprocessing "
        "cannot be told from the graph: " +
        HowToGivePreprocessing(model));
  }
  IMGSEARCH_ASSIGN_OR_RETURN(spec->preprocess, PreprocessPreset(application->preset));
  spec->preset = application->preset;
  spec->has_preprocess = true;
  IMGSEARCH_LOG_WARN(
      "{}: a Keras {} ({}) converted by tf2onnx: assuming the preprocessing Keras pairs with "
      "it, preset {} (load_img to 224x224 nearest, RGB->BGR, ImageNet means subtracted, "
      "NHWC); if it was trained otherwise, {}",
      model, application->family, application->model, application->preset,
      HowToGivePreprocessing(model));
  return Status::Ok();
}

Result<ModelSpec> LoadSpec(const std::string& model, const std::string& preset, bool builtin,
                           const Signature& session, const EmbedderOptions& options) {
  ModelSpec spec;
  spec.name = builtin ? model : StemOf(model);
  IMGSEARCH_RETURN_IF_ERROR(
      model::ApplySpecMetadata(session.metadata, &spec).WithContext("model metadata"));
  std::string sidecar = ModelSpecSidecarPath(model);
  if (!builtin && base::Env::Default()->FileExists(sidecar)) {
    IMGSEARCH_ASSIGN_OR_RETURN(std::string text,
                               base::Env::Default()->ReadFile(sidecar, kMaxSidecarBytes));
    IMGSEARCH_RETURN_IF_ERROR(ApplyModelSpecJson(text, &spec).WithContext(sidecar));
  }
  if (!preset.empty()) {
    IMGSEARCH_ASSIGN_OR_RETURN(spec.preprocess, PreprocessPreset(preset));
    spec.preset = preset;
    spec.has_preprocess = true;
  }
  if (!options.spec_override.empty()) {
    IMGSEARCH_RETURN_IF_ERROR(ApplyModelSpecJson(options.spec_override, &spec));
  }
  if (!spec.has_preprocess && !builtin) {
    IMGSEARCH_RETURN_IF_ERROR(RecognisePreprocessing(model, session, &spec));
  }
  if (!spec.has_preprocess) {
    return Status::InvalidArgument("no preprocessing is known for this model: " +
                                   HowToGivePreprocessing(model));
  }
  if (!spec.has_output_layout) spec.output_layout = spec.preprocess.layout;
  return spec;
}

// The vector size a model's declared output gives, when every dimension but the batch is
// fixed; nullopt when only running it can tell.
std::optional<int> DeclaredDimension(const Signature& signature, const ModelSpec& spec,
                                     VectorType type) {
  for (const TensorInfo& output : signature.outputs) {
    if (output.name != spec.output || output.shape.empty()) continue;
    std::vector<int64_t> shape = output.shape;
    shape[0] = 1;
    for (int64_t d : shape) {
      if (d <= 0) return std::nullopt;
    }
    auto g = model::DescribeOutput(shape, spec);
    if (!g.ok() || g->batch != 1 || g->channels <= 0) return std::nullopt;
    if (type == VectorType::kBinary && g->channels % 8 != 0) return std::nullopt;
    return static_cast<int>(g->channels);
  }
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<OnnxSession>> Embedder::State::MakeSession() const {
  return builtin != nullptr ? OnnxSession::FromBytes(name, builtin->onnx_bytes, config)
                            : OnnxSession::FromFile(path, config);
}

Result<const OnnxSession*> Embedder::State::Session() const {
  std::lock_guard<std::mutex> lock(session_mutex);
  if (session != nullptr) return session.get();
  if (!session_failure.ok()) return session_failure;
  Result<std::unique_ptr<OnnxSession>> made = MakeSession();
  if (made.ok()) {  // the file may have changed since Open read its signature
    ModelSpec check = spec;
    Signature signature = SignatureOf(**made);
    Result<TensorInfo> input = ResolveInput(signature, &check);
    Status output = input.ok() ? ResolveOutput(signature, &check) : input.status();
    if (!output.ok()) made = output.WithContext("the model is not what it was when opened");
  }
  if (!made.ok()) {
    session_failure = made.status();
    return session_failure;
  }
  session = std::move(made).value();
  return session.get();
}

Status Embedder::State::Describe(const ModelReference& file, const Signature& signature) {
  IMGSEARCH_ASSIGN_OR_RETURN(
      spec, LoadSpec(file.path, file.preset, builtin != nullptr, signature, options));
  IMGSEARCH_ASSIGN_OR_RETURN(TensorInfo input, ResolveInput(signature, &spec));
  IMGSEARCH_RETURN_IF_ERROR(ResolveOutput(signature, &spec));
  fixed_batch = input.shape[0] > 0 ? input.shape[0] : 0;
  type = spec.mode == OutputMode::kBinary ? VectorType::kBinary : VectorType::kFloat;
  return Status::Ok();
}

Result<bool> Embedder::State::DescribeFromFile(const ModelReference& file) {
  std::unique_ptr<base::MappedFile> mapped;
  std::string_view bytes;
  if (builtin != nullptr) {
    bytes = builtin->onnx_bytes;
  } else {
    IMGSEARCH_ASSIGN_OR_RETURN(mapped, base::Env::Default()->MapFile(file.path));
    bytes = mapped->contents();
  }
  // Bytes this reader cannot follow are left to ONNX Runtime, whose message says more.
  Result<model::DeclaredSignature> read = model::ReadDeclaredSignature(bytes);
  if (!read.ok()) return false;
  model::DeclaredSignature declared = std::move(read).value();
  Signature signature{TensorsOf(declared.inputs), TensorsOf(declared.outputs),
                      std::move(declared.metadata)};
  IMGSEARCH_RETURN_IF_ERROR(Describe(file, signature));
  std::optional<int> size = DeclaredDimension(signature, spec, type);
  if (!size) return false;
  dimension = *size;
  return true;
}

Result<std::unique_ptr<Embedder>> Embedder::Open(const std::string& model,
                                                 const EmbedderOptions& options) {
  if (options.batch_size < 1) return Status::InvalidArgument("batch size must be at least 1");
  auto state = std::make_unique<State>();
  state->name = model;
  state->options = options;
  state->config = {options.intra_op_threads, options.allow_spinning};
  state->builtin = model::FindBuiltinModel(model);
  // "PATH:PRESET" names the file and its preprocessing in one word.
  ModelReference file =
      state->builtin != nullptr ? ModelReference{model, ""} : SplitModelPreset(model);
  state->path = file.path;
  if (state->builtin == nullptr && !base::Env::Default()->FileExists(file.path)) {
    return Status::NotFound("model \"" + model + "\" is neither a built-in model nor a file");
  }
  if (options.defer_session) {
    IMGSEARCH_ASSIGN_OR_RETURN(bool described, state->DescribeFromFile(file));
    if (described) return std::unique_ptr<Embedder>(new Embedder(std::move(state)));
  }
  IMGSEARCH_ASSIGN_OR_RETURN(state->session, state->MakeSession());
  IMGSEARCH_RETURN_IF_ERROR(state->Describe(file, SignatureOf(*state->session)));

  // One run on a blank image: learns the output size and proves the model runs, so that
  // a model that cannot work fails here rather than on the first real image.
  std::unique_ptr<Embedder> embedder(new Embedder(std::move(state)));
  std::vector<float> blank(embedder->spec().preprocess.TensorSize(), 0.0f);
  embedder->state_->dimension = -1;
  auto probe = embedder->EmbedPreprocessed(blank.data(), 1);
  if (!probe.ok()) return probe.status();  // which names the model
  return embedder;
}

Embedder::Embedder(std::unique_ptr<State> state) : state_(std::move(state)) {}
Embedder::~Embedder() = default;

const ModelSpec& Embedder::spec() const {
  return state_->spec;
}
int Embedder::dimension() const {
  return state_->dimension;
}
VectorType Embedder::vector_type() const {
  return state_->type;
}
DecodeOptions Embedder::decode_options() const {
  return DecodeOptionsFor(state_->spec.preprocess);
}

Result<Embeddings> Embedder::Embed(std::span<const Image> images) const {
  const size_t tensor_size = state_->spec.preprocess.TensorSize();
  std::vector<float> tensor(images.size() * tensor_size);
  for (size_t i = 0; i < images.size(); ++i) {
    Preprocess(images[i], state_->spec.preprocess, tensor.data() + i * tensor_size);
  }
  return EmbedPreprocessed(tensor.data(), images.size());
}

Result<Embeddings> Embedder::EmbedPreprocessed(const float* tensor, size_t count) const {
  Result<Embeddings> out = EmbedBatches(tensor, count);
  if (!out.ok()) return out.status().WithContext("model \"" + state_->name + "\"");
  return out;
}

Result<Embeddings> Embedder::EmbedBatches(const float* tensor, size_t count) const {
  const State& s = *state_;
  const PreprocessSpec& p = s.spec.preprocess;
  const size_t tensor_size = p.TensorSize();
  const size_t chunk =
      s.fixed_batch > 0 ? static_cast<size_t>(s.fixed_batch) : s.options.batch_size;
  bool probing = s.dimension < 0;
  Embeddings out;
  out.type = s.type;
  out.count = count;
  std::vector<float> padded, pooled;
  for (size_t start = 0; start < count; start += chunk) {
    size_t n = std::min(chunk, count - start);
    size_t run_batch = s.fixed_batch > 0 ? chunk : n;
    const float* input = tensor + start * tensor_size;
    if (run_batch > n) {  // a model fixed to batch B gets a zero-padded final batch
      padded.assign(run_batch * tensor_size, 0.0f);
      std::copy(input, input + n * tensor_size, padded.begin());
      input = padded.data();
    }
    std::vector<int64_t> shape =
        p.layout == TensorLayout::kNchw
            ? std::vector<int64_t>{int64_t(run_batch), 3, p.height, p.width}
            : std::vector<int64_t>{int64_t(run_batch), p.height, p.width, 3};
    IMGSEARCH_ASSIGN_OR_RETURN(const OnnxSession* session, s.Session());
    IMGSEARCH_ASSIGN_OR_RETURN(model::FloatTensor result,
                               session->Run(s.spec.input, input, shape, s.spec.output));
    IMGSEARCH_ASSIGN_OR_RETURN(model::OutputGeometry g,
                               model::DescribeOutput(result.shape, s.spec));
    if (g.batch != static_cast<int64_t>(run_batch) || g.channels <= 0) {
      return Status::Unsupported("output \"" + s.spec.output + "\" has shape " +
                                 ShapeText(result.shape) + " for a batch of " +
                                 std::to_string(run_batch) + ": expected one vector per image");
    }
    if (probing) {
      if (s.type == VectorType::kBinary && g.channels % 8 != 0) {
        return Status::InvalidArgument("binary output needs a multiple of 8 values, got " +
                                       std::to_string(g.channels));
      }
      state_->dimension = static_cast<int>(g.channels);
      probing = false;
    } else if (g.channels != s.dimension) {
      return Status::Internal("output size changed from " + std::to_string(s.dimension) + " to " +
                              std::to_string(g.channels));
    }
    if (start == 0) {  // the first batch has fixed the dimension: size the output once
      out.dimension = s.dimension;
      if (s.type == VectorType::kBinary) {
        out.bits.resize(count * s.dimension / 8);
      } else {
        out.floats.resize(count * s.dimension);
      }
    }
    pooled.resize(static_cast<size_t>(g.batch * g.channels));
    model::PoolOutput(result.data(), g, s.spec.pooling, pooled.data());
    for (size_t i = 0; i < n; ++i) {
      std::span<float> v(pooled.data() + i * s.dimension, static_cast<size_t>(s.dimension));
      if (s.type == VectorType::kBinary) {
        model::PackBits(v, out.bits.data() + (start + i) * s.dimension / 8);
        continue;
      }
      if (s.spec.mode == OutputMode::kL2) model::L2Normalize(v);
      std::copy(v.begin(), v.end(), out.floats.begin() + (start + i) * s.dimension);
    }
  }
  return out;
}

}  // namespace imgsearch
