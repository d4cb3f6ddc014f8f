// Static int8 quantisation of an image model, in ONNX's QDQ form, end to end: the float
// model and its spec in, calibration on a folder of the user's images (decoded and
// preprocessed exactly as `embed` does for this model), an int8 model and its sidecar
// spec out, and how far the int8 vectors agree with the float ones on images held back
// from calibration. `imgsearch quantize` is a thin front end over QuantizeModel.
//
// It lives in the model layer because it needs nothing above it (images, preprocessing,
// ONNX Runtime, the model spec); it is a library of its own (imgsearch_quantize) because
// it alone needs the ONNX protobuf classes (libonnx), which the installed library and its
// users then do not. Not thread-safe: one call at a time uses every core it is given.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "imgsearch/status.h"
#include "model/quantize/agreement.h"
#include "model/quantize/range_methods.h"

namespace imgsearch::model::quantize {

struct QuantizeOptions {
  std::string model;            // the float .onnx file; its spec as `embed` finds it
  std::string calibration_dir;  // searched recursively for images
  std::string output;           // empty: MODEL-int8.onnx beside the model
  RangeMethod method = RangeMethod::kPercentile;
  double percentile = 99.999;  // of |x|, for RangeMethod::kPercentile
  int max_images = 300;        // taken evenly spread over the folder's sorted files
  int batch_size = 8;
  int threads = 0;      // 0: one per usable core
  int neighbours = 10;  // k of the recall@k agreement figure
};

struct QuantizeReport {
  std::string output;   // the int8 model
  std::string sidecar;  // its spec
  RangeMethod method = RangeMethod::kMinMax;
  int64_t opset_before = 0, opset_after = 0;
  size_t files_tried = 0;                // files of the folder that were decoded or tried
  std::vector<std::string> undecodable;  // of those, the ones that are not images
  size_t calibration_images = 0;
  size_t held_back_images = 0;               // 0 when there were too few images to hold any back
  std::map<std::string, int> quantized_ops;  // "Conv" -> 52
  size_t activations = 0;                    // tensors given a QuantizeLinear/DequantizeLinear pair
  std::vector<std::string> notes;            // nodes left in float, and why
  VectorAgreement agreement;
  bool agreement_on_held_back = false;  // false: measured on all images (few held back)
  // Operator types of the graph ONNX Runtime runs for the int8 model, by count.
  std::map<std::string, int> runtime_ops;
};

// MODEL.onnx -> MODEL-int8.onnx.
std::string DefaultQuantizedPath(const std::string& model);

// Fails, writing nothing, when the model is not an ONNX file, is already quantised, has
// no spec (the message says how to write one), has nothing to quantise, or when the
// folder holds no image that decodes.
Result<QuantizeReport> QuantizeModel(const QuantizeOptions& options);

}  // namespace imgsearch::model::quantize
