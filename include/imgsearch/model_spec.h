// ModelSpec: everything imgsearch must know about an ONNX model to turn images into
// vectors: how to preprocess, which tensors to use, how to pool and normalise the output.
// It is read from a JSON sidecar next to the model (resnet50.onnx + resnet50.json) or from
// the model's own metadata; doc/model-spec.md lists the keys.
#pragma once

#include <string>
#include <string_view>

#include "imgsearch/preprocess.h"
#include "imgsearch/status.h"

namespace imgsearch {

// How a spatial output (N x C x H x W or N x H x W x C) becomes one vector per image.
enum class Pooling { kNone, kMax, kAvg };

// What is done to the pooled output.
enum class OutputMode {
  kL2,      // float vector scaled to unit length (the default)
  kRaw,     // float vector as the model produced it
  kBinary,  // one bit per value, set when the value is > 0, packed 8 to a byte
};

struct ModelSpec {
  std::string name;             // defaults to the file name without extension
  std::string preset;           // preset the preprocessing started from, or empty
  bool has_preprocess = false;  // false until a preset or explicit preprocessing is given
  PreprocessSpec preprocess;
  std::string input;   // input tensor name; empty = the model's only input
  std::string output;  // output tensor name; empty = the model's first output
  Pooling pooling = Pooling::kNone;
  bool has_output_layout = false;
  TensorLayout output_layout = TensorLayout::kNchw;  // for 4-d outputs; default: input layout
  OutputMode mode = OutputMode::kL2;
  // How the model was quantised, as the JSON object `imgsearch quantize` wrote; empty for
  // a model that was not. Informational: nothing else changes with it.
  std::string quantized;
};

// Applies the keys of a JSON object to `spec` (keys that are absent leave it unchanged).
// "preset" is applied before "preprocess", whose keys then override single fields.
// Unknown keys are errors, so that a typo is not silently ignored.
Status ApplyModelSpecJson(std::string_view json_text, ModelSpec* spec);

// The spec as a JSON object with every key spelled out.
std::string ModelSpecToJson(const ModelSpec& spec);

// Where a model file's sidecar spec lives: the same path with .json for .onnx
// (resnet50.onnx -> resnet50.json), or with .json appended.
std::string ModelSpecSidecarPath(const std::string& model_path);

// A model named in one word with its preprocessing: "PATH:PRESET", as in
// onnx_resnet50.onnx:keras-caffe. `preset` is empty, and `path` the whole text, when a file
// of the whole name exists or the text after the last ':' is no preset name.
struct ModelReference {
  std::string path;
  std::string preset;
};
ModelReference SplitModelPreset(const std::string& text);

const char* PoolingName(Pooling pooling);
const char* OutputModeName(OutputMode mode);

}  // namespace imgsearch
