#include "image/resample.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace imgsearch::image {
namespace {

// Fixed-point precision of the weights, as in PIL: 8 bits of pixel plus headroom for
// negative lobes fit a 32-bit sum.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

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

uint8_t Clip(int32_t sum) {
  int32_t v = sum >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// --- plain passes: PIL's loops

// Output pixel x of a row along x, from the source row `row`.
void PixelPlain(const uint8_t* row, const ResampleAxis& a, int x, uint8_t* dst) {
  const int32_t* k = &a.weights[static_cast<size_t>(x) * a.ksize];
  const uint8_t* p = row + static_cast<size_t>(a.first[x]) * 3;
  int32_t r = kHalf, g = kHalf, b = kHalf;
  for (int i = 0; i < a.count[x]; ++i, p += 3) {
    r += p[0] * k[i];
    g += p[1] * k[i];
    b += p[2] * k[i];
  }
  dst[0] = Clip(r), dst[1] = Clip(g), dst[2] = Clip(b);
}

void RowsPlain(const Image& in, int first_row, const ResampleAxis& a, Image* out) {
  for (int y = 0; y < out->height; ++y) {
    const uint8_t* row = in.Pixel(0, first_row + y);
    uint8_t* dst = &out->rgb[static_cast<size_t>(y) * out->width * 3];
    for (int x = 0; x < out->width; ++x, dst += 3) PixelPlain(row, a, x, dst);
  }
}

void ColumnsRowPlain(const Image& in, const ResampleAxis& a, int y, size_t from, uint8_t* dst) {
  const size_t stride = static_cast<size_t>(in.width) * 3;
  const uint8_t* src = &in.rgb[static_cast<size_t>(a.first[y]) * stride];
  const int32_t* k = &a.weights[static_cast<size_t>(y) * a.ksize];
  for (size_t e = from; e < stride; ++e) {
    int32_t sum = kHalf;
    for (int i = 0; i < a.count[y]; ++i) sum += src[i * stride + e] * k[i];
    dst[e] = Clip(sum);
  }
}

// --- AVX2 passes: the same sums, eight at a time

// Eight sums to eight bytes.
__attribute__((target("avx2"))) __m128i ClipEight(__m256i sum) {
  __m256i v = _mm256_srai_epi32(sum, kPrecisionBits);
  v = _mm256_packus_epi32(v, v);  // saturates below 0; lanes hold [0..3 0..3 | 4..7 4..7]
  v = _mm256_packus_epi16(v, v);  // saturates above 255
  return _mm256_castsi256_si128(
      _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0)));
}

// Along y: every byte of a row is a sum over the same source rows, so eight bytes at a
// time are eight independent sums.
__attribute__((target("avx2"))) void ColumnsAvx2(const Image& in, const ResampleAxis& a,
                                                 Image* out) {
  const size_t stride = static_cast<size_t>(in.width) * 3;
  for (int y = 0; y < out->height; ++y) {
    const uint8_t* src = &in.rgb[static_cast<size_t>(a.first[y]) * stride];
    const int32_t* k = &a.weights[static_cast<size_t>(y) * a.ksize];
    uint8_t* dst = &out->rgb[static_cast<size_t>(y) * stride];
    size_t e = 0;
    for (; e + 8 <= stride; e += 8) {
      __m256i sum = _mm256_set1_epi32(kHalf);
      for (int i = 0; i < a.count[y]; ++i) {
        __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + i * stride + e));
        sum = _mm256_add_epi32(
            sum, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes), _mm256_set1_epi32(k[i])));
      }
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + e), ClipEight(sum));
    }
    ColumnsRowPlain(in, a, y, e, dst);
  }
}

// Along x: eight output pixels at a time. Tap i of each is gathered as one 32-bit load
// at its pixel (R, G, B and a byte of the next pixel), so every load must have a byte to
// spare after the pixel: blocks that could read past the image are done plainly.
__attribute__((target("avx2"))) void RowsAvx2(const Image& in, int first_row, const ResampleAxis& a,
                                              Image* out) {
  const int n = a.size();
  // Weights by tap, then output, so that eight outputs' weights for a tap are adjacent.
  std::vector<int32_t> by_tap(static_cast<size_t>(a.ksize) * n);
  for (int x = 0; x < n; ++x)
    for (int i = 0; i < a.ksize; ++i)
      by_tap[static_cast<size_t>(i) * n + x] = a.weights[static_cast<size_t>(x) * a.ksize + i];
  std::vector<int32_t> offsets(n);
  for (int x = 0; x < n; ++x) offsets[x] = a.first[x] * 3;
  const __m256i byte = _mm256_set1_epi32(0xff);
  const size_t image_bytes = in.rgb.size();
  for (int y = 0; y < out->height; ++y) {
    const size_t row_start = static_cast<size_t>(first_row + y) * in.width * 3;
    const uint8_t* row = in.rgb.data() + row_start;
    uint8_t* dst = &out->rgb[static_cast<size_t>(y) * n * 3];
    int x = 0;
    for (; x + 8 <= n; x += 8) {
      size_t last_read = static_cast<size_t>(offsets[x + 7]) + (a.ksize - 1) * 3 + 4;
      if (row_start + last_read > image_bytes) break;
      __m256i base = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&offsets[x]));
      __m256i r = _mm256_set1_epi32(kHalf), g = r, b = r;
      for (int i = 0; i < a.ksize; ++i) {
        __m256i at = _mm256_add_epi32(base, _mm256_set1_epi32(i * 3));
        __m256i px = _mm256_i32gather_epi32(reinterpret_cast<const int*>(row), at, 1);
        __m256i k = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(&by_tap[static_cast<size_t>(i) * n + x]));
        r = _mm256_add_epi32(r, _mm256_mullo_epi32(_mm256_and_si256(px, byte), k));
        g = _mm256_add_epi32(
            g, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(px, 8), byte), k));
        b = _mm256_add_epi32(
            b, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(px, 16), byte), k));
      }
      alignas(16) uint8_t planes[3][16];
      _mm_storel_epi64(reinterpret_cast<__m128i*>(planes[0]), ClipEight(r));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(planes[1]), ClipEight(g));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(planes[2]), ClipEight(b));
      for (int j = 0; j < 8; ++j, dst += 3) {
        dst[0] = planes[0][j], dst[1] = planes[1][j], dst[2] = planes[2][j];
      }
    }
    for (; x < n; ++x, dst += 3) PixelPlain(row, a, x, dst);
  }
}

}  // namespace

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

ResampleAxis ComputeResampleAxis(int in_size, int out_size, Interpolation interpolation, int begin,
                                 int end) {
  Filter filter = FilterFor(interpolation);
  double scale = static_cast<double>(in_size) / out_size;
  double filter_scale = std::max(scale, 1.0);
  double support = filter.support * filter_scale;
  ResampleAxis a;
  a.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  a.first.resize(end - begin);
  a.count.resize(end - begin);
  a.weights.assign(static_cast<size_t>(end - begin) * a.ksize, 0);
  std::vector<double> w(a.ksize);
  for (int xx = begin; xx < end; ++xx) {
    double center = (xx + 0.5) * scale;
    int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = filter.weight((x + xmin - center + 0.5) / filter_scale);
      total += w[x];
    }
    int32_t* k = &a.weights[static_cast<size_t>(xx - begin) * a.ksize];
    for (int x = 0; x < xmax; ++x) {
      double normalised = total != 0.0 ? w[x] / total : w[x];
      double fixed = normalised * (1 << kPrecisionBits);
      k[x] = static_cast<int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    a.first[xx - begin] = xmin;
    a.count[xx - begin] = xmax;
  }
  return a;
}

void ResampleRows(const Image& in, int first_row, const ResampleAxis& axis, Image* out,
                  bool allow_simd) {
  if (allow_simd && HasAvx2()) return RowsAvx2(in, first_row, axis, out);
  RowsPlain(in, first_row, axis, out);
}

void ResampleColumns(const Image& in, const ResampleAxis& axis, Image* out, bool allow_simd) {
  if (allow_simd && HasAvx2()) return ColumnsAvx2(in, axis, out);
  for (int y = 0; y < out->height; ++y)
    ColumnsRowPlain(in, axis, y, 0, &out->rgb[static_cast<size_t>(y) * out->width * 3]);
}

}  // namespace imgsearch::image
