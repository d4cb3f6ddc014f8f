// Preprocessing: how a decoded image becomes a model's input tensor. A PreprocessSpec
// is plain data; presets reproduce the conventions of Keras, torchvision, TF and CLIP.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/image.h"
#include "imgsearch/status.h"

namespace imgsearch {

enum class ResizeMode {
  kStretch,     // straight to width x height, ignoring aspect (Keras load_img)
  kCenterCrop,  // shorter side to resize_shorter, then the centre width x height (torchvision)
};

// nearest and bilinear give the same pixels as PIL's Image.resize; bicubic follows PIL
// too; area is PIL's BOX filter (the mean of the covered source pixels).
enum class Interpolation { kNearest, kBilinear, kBicubic, kArea };

enum class ChannelOrder { kRgb, kBgr };
enum class TensorLayout { kNchw, kNhwc };

struct PreprocessSpec {
  int width = 224;
  int height = 224;
  ResizeMode resize = ResizeMode::kStretch;
  int resize_shorter = 0;  // kCenterCrop only; 0 means max(width, height)
  Interpolation interpolation = Interpolation::kBilinear;
  ChannelOrder channel_order = ChannelOrder::kRgb;
  // Each value is (pixel * scale - mean[c]) / std[c], c counted in channel_order.
  float scale = 1.0f;
  std::array<float, 3> mean = {0.0f, 0.0f, 0.0f};
  std::array<float, 3> std = {1.0f, 1.0f, 1.0f};
  TensorLayout layout = TensorLayout::kNchw;

  size_t TensorSize() const { return static_cast<size_t>(width) * height * 3; }
};

// "keras-caffe", "torch", "tf" or "clip"; kNotFound for anything else.
Result<PreprocessSpec> PreprocessPreset(std::string_view name);
std::vector<std::string> PreprocessPresetNames();

// Checks sizes and values (positive sizes, nonzero std, ...).
Status ValidatePreprocessSpec(const PreprocessSpec& spec);

// Writes spec.TensorSize() floats for one image into `tensor`.
void Preprocess(const Image& image, const PreprocessSpec& spec, float* tensor);

// Decode options that let a JPEG decoder downscale in the DCT domain without changing
// the result materially: only for smoothing filters, and never below twice the size the
// resize step needs. Nearest keeps full resolution, so Keras parity is exact.
DecodeOptions DecodeOptionsFor(const PreprocessSpec& spec, DecodeOptions base = {});

// Options under which one decode serves two models: the larger minimum size wins, and a
// model that needs full resolution (minimum 0) gets it.
DecodeOptions MergeDecodeOptions(const DecodeOptions& a, const DecodeOptions& b);

// Parsing and printing of the enum names used in model specs ("nearest", "nhwc", ...).
Result<Interpolation> ParseInterpolation(std::string_view name);
Result<ResizeMode> ParseResizeMode(std::string_view name);
Result<ChannelOrder> ParseChannelOrder(std::string_view name);
Result<TensorLayout> ParseTensorLayout(std::string_view name);
const char* InterpolationName(Interpolation value);
const char* ResizeModeName(ResizeMode value);
const char* ChannelOrderName(ChannelOrder value);
const char* TensorLayoutName(TensorLayout value);

}  // namespace imgsearch
