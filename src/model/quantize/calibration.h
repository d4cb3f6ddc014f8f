// Calibration: runs the float model with ONNX Runtime over images already preprocessed
// the model's own way, with every tensor to quantise exposed as an extra graph output,
// and collects the range of values each one takes. Not thread-safe; it uses the cores
// it is given.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <string>
#include <vector>

#include "model/quantize/range_methods.h"

namespace imgsearch::model::quantize {

// Images as the model's input tensor takes them, one after another.
struct CalibrationImages {
  const float* tensors = nullptr;  // count * (product of image_shape) floats
  size_t count = 0;
  std::vector<int64_t> image_shape;  // one image without the batch: {3, H, W} or {H, W, 3}
};

struct CalibrationConfig {
  std::string input;       // the model's image input
  bool histograms = true;  // false when the method is minmax
  int batch_size = 8;      // images per run when the model's batch is not fixed
  int threads = 0;         // ONNX Runtime and collector threads; 0: one per usable core
};

// The collected ranges, by tensor name, of every tensor in `tensors`.
Result<std::map<std::string, TensorRangeCollector>> CollectRanges(
    const onnx::ModelProto& model, const std::vector<std::string>& tensors,
    const CalibrationImages& images, const CalibrationConfig& config);

}  // namespace imgsearch::model::quantize
