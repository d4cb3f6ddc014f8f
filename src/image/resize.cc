#include "image/resize.h"

#include <cmath>
#include <cstring>

#include "image/decoders.h"
#include "image/resample.h"

namespace imgsearch::image {
namespace {

// The window of the resized image that is wanted, in its coordinates.
struct Window {
  int left, top, width, height;
};

// Resizes `source` to width x height and returns only the pixels inside `window`. Each
// output pixel depends only on its own weights and source pixels, so they are the
// pixels of the whole resized image, computed for the window alone. As PIL does, the x
// pass covers only the source rows the y pass will read.
Image ResizeFilteredWindow(const Image& source, int width, int height, const Window& window,
                           Interpolation interpolation, bool allow_simd) {
  bool need_x = width != source.width, need_y = height != source.height;
  ResampleAxis ay;
  int first_row = window.top, rows = window.height;
  if (need_y) {
    ay = ComputeResampleAxis(source.height, height, interpolation, window.top,
                             window.top + window.height);
    first_row = ay.first.front();
    rows = ay.first.back() + ay.count.back() - first_row;
    for (int& f : ay.first) f -= first_row;
  }
  Image across;
  if (need_x) {
    ResampleAxis ax = ComputeResampleAxis(source.width, width, interpolation, window.left,
                                          window.left + window.width);
    across = MakeImage(window.width, rows);
    ResampleRows(source, first_row, ax, &across, allow_simd);
  } else {
    across = Crop(source, window.left, first_row, window.width, rows);
  }
  if (!need_y) return across;
  Image out = MakeImage(window.width, window.height);
  ResampleColumns(across, ay, &out, allow_simd);
  return out;
}

// PIL's nearest: output pixel centres mapped back by an affine scale whose offset is
// accumulated in double precision, truncated toward zero.
std::vector<int> NearestIndices(int in_size, int out_size) {
  std::vector<int> index(out_size);
  double step = static_cast<double>(in_size) / out_size;
  double pos = step * 0.5;
  for (int i = 0; i < out_size; ++i, pos += step) {
    int v = pos < 0.0 ? -1 : static_cast<int>(pos);
    index[i] = std::min(std::max(v, 0), in_size - 1);
  }
  return index;
}

Image ResizeNearest(const Image& source, int width, int height) {
  std::vector<int> xs = NearestIndices(source.width, width);
  std::vector<int> ys = NearestIndices(source.height, height);
  Image out = MakeImage(width, height);
  uint8_t* dst = out.rgb.data();
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x, dst += 3) std::memcpy(dst, source.Pixel(xs[x], ys[y]), 3);
  }
  return out;
}

}  // namespace

Image Resize(const Image& source, int width, int height, Interpolation interpolation) {
  return ResizeAndCrop(source, width, height, 0, 0, width, height, interpolation);
}

Image ResizeAndCrop(const Image& source, int width, int height, int left, int top, int crop_width,
                    int crop_height, Interpolation interpolation, bool allow_simd) {
  if (width == source.width && height == source.height)
    return Crop(source, left, top, crop_width, crop_height);
  if (interpolation == Interpolation::kNearest) {
    return Crop(ResizeNearest(source, width, height), left, top, crop_width, crop_height);
  }
  return ResizeFilteredWindow(source, width, height, {left, top, crop_width, crop_height},
                              interpolation, allow_simd);
}

Image Crop(const Image& source, int left, int top, int width, int height) {
  Image out = MakeImage(width, height);
  for (int y = 0; y < height; ++y) {
    std::memcpy(&out.rgb[static_cast<size_t>(y) * width * 3], source.Pixel(left, top + y),
                static_cast<size_t>(width) * 3);
  }
  return out;
}

}  // namespace imgsearch::image
