#include "image/tensor.h"

#include <immintrin.h>

#include "image/resample.h"

namespace imgsearch::image {
namespace {

// Per output channel c: value = pixel[source[c]] * gain[c] + bias[c].
struct Normalisation {
  float gain[3], bias[3];
  int source[3];
};

Normalisation NormalisationOf(const PreprocessSpec& spec) {
  Normalisation n;
  for (int c = 0; c < 3; ++c) {
    n.gain[c] = spec.scale / spec.std[c];
    n.bias[c] = -spec.mean[c] / spec.std[c];
    n.source[c] = spec.channel_order == ChannelOrder::kBgr ? 2 - c : c;
  }
  return n;
}

// Planes (NCHW) for pixels [from, count).
void PlanesPlain(const uint8_t* px, size_t from, size_t count, const Normalisation& n,
                 float* tensor) {
  for (size_t i = from; i < count; ++i) {
    for (int c = 0; c < 3; ++c)
      tensor[c * count + i] = px[3 * i + n.source[c]] * n.gain[c] + n.bias[c];
  }
}

// Eight pixels of one channel at a time, each gathered as a 32-bit load at its byte; the
// last pixels, whose loads would pass the end of the image, are done plainly.
__attribute__((target("avx2"))) void PlanesAvx2(const uint8_t* px, size_t count,
                                                const Normalisation& n, float* tensor) {
  const __m256i steps = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
  const __m256i byte = _mm256_set1_epi32(0xff);
  size_t i = 0;
  for (; i + 8 <= count && 3 * i + 21 + 2 + 4 <= 3 * count; i += 8) {
    for (int c = 0; c < 3; ++c) {
      __m256i at =
          _mm256_add_epi32(steps, _mm256_set1_epi32(static_cast<int>(3 * i) + n.source[c]));
      __m256i v =
          _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(px), at, 1), byte);
      __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(n.gain[c]));
      _mm256_storeu_ps(tensor + c * count + i, _mm256_add_ps(f, _mm256_set1_ps(n.bias[c])));
    }
  }
  PlanesPlain(px, i, count, n, tensor);
}

}  // namespace

void WriteTensor(const Image& image, const PreprocessSpec& spec, float* tensor, bool allow_simd) {
  const Normalisation n = NormalisationOf(spec);
  const size_t count = static_cast<size_t>(spec.width) * spec.height;
  const uint8_t* px = image.rgb.data();
  if (spec.layout == TensorLayout::kNhwc) {
    for (size_t i = 0; i < count; ++i, px += 3, tensor += 3) {
      for (int c = 0; c < 3; ++c) tensor[c] = px[n.source[c]] * n.gain[c] + n.bias[c];
    }
    return;
  }
  if (allow_simd && HasAvx2()) return PlanesAvx2(px, count, n, tensor);
  PlanesPlain(px, 0, count, n, tensor);
}

}  // namespace imgsearch::image
