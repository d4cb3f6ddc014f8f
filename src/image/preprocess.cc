#include "imgsearch/preprocess.h"

#include <cmath>

#include "image/resize.h"
#include "image/tensor.h"

namespace imgsearch {
namespace {

// Torchvision's Resize(int) on a PIL image: the shorter side becomes `shorter`, the
// longer one int(shorter * long / short), truncated.
std::pair<int, int> ShorterSideSize(int width, int height, int shorter) {
  if (width <= height) {
    return {shorter, static_cast<int>(static_cast<double>(shorter) * height / width)};
  }
  return {static_cast<int>(static_cast<double>(shorter) * width / height), shorter};
}

}  // namespace

image::ResizePlan image::PlanResize(int image_width, int image_height, const PreprocessSpec& spec) {
  if (spec.resize == ResizeMode::kStretch)
    return {spec.width, spec.height, 0, 0, spec.width, spec.height};
  int shorter = spec.resize_shorter > 0 ? spec.resize_shorter : std::max(spec.width, spec.height);
  auto [w, h] = ShorterSideSize(image_width, image_height, shorter);
  int width = std::max(w, spec.width), height = std::max(h, spec.height);
  // torchvision's CenterCrop: offsets rounded half to even, as Python's round().
  int left = static_cast<int>(std::nearbyint((width - spec.width) / 2.0));
  int top = static_cast<int>(std::nearbyint((height - spec.height) / 2.0));
  return {width, height, left, top, spec.width, spec.height};
}

void Preprocess(const Image& image, const PreprocessSpec& spec, float* tensor) {
  image::ResizePlan plan = image::PlanResize(image.width, image.height, spec);
  Image resized = image::ResizeAndCrop(image, plan.width, plan.height, plan.left, plan.top,
                                       plan.crop_width, plan.crop_height, spec.interpolation);
  image::WriteTensor(resized, spec, tensor);
}

DecodeOptions DecodeOptionsFor(const PreprocessSpec& spec, DecodeOptions base) {
  if (spec.interpolation == Interpolation::kNearest) {
    base.min_width = base.min_height = 0;
    return base;
  }
  int need =
      spec.resize == ResizeMode::kCenterCrop
          ? (spec.resize_shorter > 0 ? spec.resize_shorter : std::max(spec.width, spec.height))
          : 0;
  // For center-crop the shorter side must stay >= 2 * need: ask for that on both axes.
  base.min_width = 2 * std::max(spec.width, need);
  base.min_height = 2 * std::max(spec.height, need);
  return base;
}

DecodeOptions MergeDecodeOptions(const DecodeOptions& a, const DecodeOptions& b) {
  DecodeOptions merged = a;
  bool full = a.min_width == 0 || a.min_height == 0 || b.min_width == 0 || b.min_height == 0;
  merged.min_width = full ? 0 : std::max(a.min_width, b.min_width);
  merged.min_height = full ? 0 : std::max(a.min_height, b.min_height);
  return merged;
}

Status ValidatePreprocessSpec(const PreprocessSpec& spec) {
  if (spec.width <= 0 || spec.height <= 0 || spec.width > 8192 || spec.height > 8192) {
    return Status::InvalidArgument("preprocess size must be between 1 and 8192, got " +
                                   std::to_string(spec.width) + "x" + std::to_string(spec.height));
  }
  if (spec.resize_shorter < 0 || spec.resize_shorter > 8192) {
    return Status::InvalidArgument("resize_shorter must be between 0 and 8192");
  }
  for (float s : spec.std) {
    if (s == 0.0f || !std::isfinite(s))
      return Status::InvalidArgument("std values must be nonzero");
  }
  for (float m : spec.mean) {
    if (!std::isfinite(m)) return Status::InvalidArgument("mean values must be finite");
  }
  if (!std::isfinite(spec.scale)) return Status::InvalidArgument("scale must be finite");
  return Status::Ok();
}

}  // namespace imgsearch
