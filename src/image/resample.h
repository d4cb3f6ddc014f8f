// PIL's separable resampling (Image.resize with a bilinear, bicubic or box filter), in
// pieces: the fixed-point weights of one axis, and the two passes that apply them. The
// passes have an AVX2 form chosen at run time and a plain one; both compute exactly what
// PIL computes (32-bit fixed point, rounded through 8 bits between the passes).
#pragma once

#include <cstdint>
#include <vector>

#include "imgsearch/image.h"
#include "imgsearch/preprocess.h"

namespace imgsearch::image {

// For outputs [begin, end) of one axis: the first source index each reads, how many it
// reads, and their weights (ksize per output, zero-padded), in PIL's fixed point.
struct ResampleAxis {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
  int size() const { return static_cast<int>(first.size()); }
};

// Whether this CPU runs AVX2, for the vector forms here and in image/tensor.
bool HasAvx2();

// The weights of outputs [begin, end) when `in_size` pixels become `out_size`.
ResampleAxis ComputeResampleAxis(int in_size, int out_size, Interpolation interpolation, int begin,
                                 int end);

// Along x: row r of `out` (whose width is axis.size()) from source row first_row + r.
void ResampleRows(const Image& in, int first_row, const ResampleAxis& axis, Image* out,
                  bool allow_simd = true);
// Along y: row r of `out` from the source rows that axis entry r names; same width.
void ResampleColumns(const Image& in, const ResampleAxis& axis, Image* out, bool allow_simd = true);

}  // namespace imgsearch::image
