// Embedder: turns images into feature vectors with one ONNX model.
// One ONNX Runtime session is created at Open() (or, with defer_session, at the first
// embedding) and reused for every call; images are run in batches. All const methods are
// thread-safe and may run concurrently.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "imgsearch/image.h"
#include "imgsearch/model_spec.h"
#include "imgsearch/status.h"

namespace imgsearch {

enum class VectorType { kFloat, kBinary };

// A batch of vectors, stored contiguously: vector i of a kFloat batch is
// floats[i * dimension, (i + 1) * dimension); of a kBinary batch, dimension / 8 bytes of
// `bits` (most significant bit first).
struct Embeddings {
  VectorType type = VectorType::kFloat;
  int dimension = 0;
  size_t count = 0;
  std::vector<float> floats;
  std::vector<uint8_t> bits;

  std::span<const float> FloatVector(size_t i) const {
    return {floats.data() + i * dimension, static_cast<size_t>(dimension)};
  }
  std::span<const uint8_t> BinaryVector(size_t i) const {
    return {bits.data() + i * (dimension / 8), static_cast<size_t>(dimension / 8)};
  }
};

struct EmbedderOptions {
  int batch_size = 8;          // images per ONNX Runtime call (when the model allows batching)
  int intra_op_threads = 0;    // threads inside ONNX Runtime; 0 = one per usable core
  bool allow_spinning = true;  // ONNX Runtime threads spin between ops (faster, busier)
  // JSON object of model spec keys applied last, over metadata and sidecar, e.g.
  // {"preset": "keras-caffe"}. Empty for none.
  std::string spec_override;
  // Reads the model's inputs, outputs and metadata from its file at Open and makes the
  // ONNX Runtime session at the first embedding (then once, shared by every thread): a
  // process that never embeds (a server answering only vector searches) never loads the
  // runtime or the model. Open still fails on a file that is not an ONNX model or a spec
  // that does not fit it; a model the runtime cannot load or run fails at that first
  // embedding instead, and every later one. A model whose output size only running it
  // can tell (a dimension left open) gets its session at Open as without this option.
  bool defer_session = false;
};

struct BuiltinModelInfo {
  std::string name;
  std::string description;
};

// The models compiled into imgsearch, usable by name without any download.
std::vector<BuiltinModelInfo> ListBuiltinModels();

class Embedder {
 public:
  // `model` is a built-in name (see ListBuiltinModels) or a path to an .onnx file. The
  // spec comes from, in increasing priority: the file's metadata, a sidecar JSON with the
  // same stem (model.onnx -> model.json), options.spec_override. Fails with a clear
  // message when the file is not an ONNX model, has no usable image input, names a
  // tensor that does not exist, or produces an output the spec cannot turn into vectors.
  static Result<std::unique_ptr<Embedder>> Open(const std::string& model,
                                                const EmbedderOptions& options = {});
  ~Embedder();
  Embedder(const Embedder&) = delete;
  Embedder& operator=(const Embedder&) = delete;

  const ModelSpec& spec() const;
  int dimension() const;  // floats per vector, or bits for kBinary
  VectorType vector_type() const;

  // The decode options that suit this model's preprocessing (see DecodeOptionsFor).
  DecodeOptions decode_options() const;

  // Preprocesses and embeds; vector i belongs to images[i].
  Result<Embeddings> Embed(std::span<const Image> images) const;

  // Embeds `count` images already preprocessed with spec().preprocess into one
  // contiguous buffer of count * spec().preprocess.TensorSize() floats.
  Result<Embeddings> EmbedPreprocessed(const float* tensor, size_t count) const;

 private:
  struct State;
  explicit Embedder(std::unique_ptr<State> state);
  // EmbedPreprocessed, before its failures name the model.
  Result<Embeddings> EmbedBatches(const float* tensor, size_t count) const;
  std::unique_ptr<State> state_;
};

}  // namespace imgsearch
