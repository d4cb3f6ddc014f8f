#include "image/resize.h"

#include <cmath>
#include <cstring>

#include "image/decoders.h"

namespace imgsearch::image {
namespace {

// Fixed-point precision of the convolution weights, as in PIL: 8 bits of pixel plus
// headroom for negative lobes must fit in 32 bits.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Filter {
  double support;
  double (*weight)(double x);
};

double BoxWeight(double x) {
  return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
}
double TriangleWeight(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}
double CubicWeight(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

Filter FilterFor(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::kArea:
      return {0.5, BoxWeight};
    case Interpolation::kBicubic:
      return {2.0, CubicWeight};
    default:
      return {1.0, TriangleWeight};
  }
}

// For each output coordinate: the first source index, how many follow, and their
// fixed-point weights (ksize entries per output, zero-padded).
struct Coefficients {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

Coefficients ComputeCoefficients(int in_size, int out_size, const Filter& filter) {
  double scale = static_cast<double>(in_size) / out_size;
  double filter_scale = std::max(scale, 1.0);
  double support = filter.support * filter_scale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    double center = (xx + 0.5) * scale;
    int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = filter.weight((x + xmin - center + 0.5) / filter_scale);
      total += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      double normalised = total != 0.0 ? w[x] / total : w[x];
      double fixed = normalised * (1 << kPrecisionBits);
      c.weights[static_cast<size_t>(xx) * c.ksize + x] =
          static_cast<int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

uint8_t ClipFixed(int64_t value) {
  int64_t v = value >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One pass of the separable convolution. Along x when `horizontal`, else along y; rows
// of the output are source rows [row_offset, row_offset + out.height) for the x pass.
void ConvolvePass(const Image& in, Image* out, const Coefficients& c, bool horizontal,
                  int row_offset) {
  for (int y = 0; y < out->height; ++y) {
    for (int x = 0; x < out->width; ++x) {
      int o = horizontal ? x : y;
      const int32_t* k = &c.weights[static_cast<size_t>(o) * c.ksize];
      int64_t sum[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1),
                        1 << (kPrecisionBits - 1)};
      for (int i = 0; i < c.count[o]; ++i) {
        const uint8_t* p =
            horizontal ? in.Pixel(c.first[o] + i, y + row_offset) : in.Pixel(x, c.first[o] + i);
        for (int ch = 0; ch < 3; ++ch) sum[ch] += static_cast<int64_t>(p[ch]) * k[i];
      }
      uint8_t* dst = &out->rgb[(static_cast<size_t>(y) * out->width + x) * 3];
      for (int ch = 0; ch < 3; ++ch) dst[ch] = ClipFixed(sum[ch]);
    }
  }
}

Image ResizeFiltered(const Image& source, int width, int height, Interpolation interpolation) {
  Filter filter = FilterFor(interpolation);
  bool need_x = width != source.width, need_y = height != source.height;
  Coefficients cx = ComputeCoefficients(source.width, width, filter);
  Coefficients cy = ComputeCoefficients(source.height, height, filter);
  // As PIL does: the x pass covers only the source rows the y pass will read.
  int first_row = cy.first[0];
  int last_row = cy.first[height - 1] + cy.count[height - 1];
  Image temp;
  const Image* vertical_input = &source;
  if (need_x) {
    temp = MakeImage(width, need_y ? last_row - first_row : source.height);
    ConvolvePass(source, &temp, cx, true, need_y ? first_row : 0);
    if (need_y) {
      for (int& f : cy.first) f -= first_row;
    }
    vertical_input = &temp;
  }
  if (!need_y) return need_x ? temp : source;
  Image out = MakeImage(width, height);
  ConvolvePass(*vertical_input, &out, cy, false, 0);
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
  if (width == source.width && height == source.height) return source;
  if (interpolation == Interpolation::kNearest) return ResizeNearest(source, width, height);
  return ResizeFiltered(source, width, height, interpolation);
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
