#include "index/metric.h"

#include <immintrin.h>

#include <cctype>
#include <string>

namespace imgsearch::index {
namespace scalar {

float L2Squared(const float* a, const float* b, size_t dim) {
  float sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

float InnerProduct(const float* a, const float* b, size_t dim) {
  float sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += a[i] * b[i];
  return sum;
}

uint32_t HammingDistance(const uint8_t* a, const uint8_t* b, size_t bytes) {
  uint32_t bits = 0;
  for (size_t i = 0; i < bytes; ++i) bits += __builtin_popcount(a[i] ^ b[i]);
  return bits;
}

}  // namespace scalar

namespace {

// Summed by hand: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized in its own header.
__attribute__((target("avx512f"))) float ReduceAdd(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float sum = 0;
  for (float x : lanes) sum += x;
  return sum;
}

// AVX-512: 32 floats per iteration in two accumulators, masked tail.
__attribute__((target("avx512f"))) float L2Avx512(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
  }
  for (; i < dim; i += 16) {
    __mmask16 m = dim - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (dim - i)) - 1);
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  return ReduceAdd(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) float IpAvx512(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i < dim; i += 16) {
    __mmask16 m = dim - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (dim - i)) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
  }
  return ReduceAdd(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_hadd_ps(lo, lo);
  lo = _mm_hadd_ps(lo, lo);
  return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) float L2Avx2(const float* a, const float* b, size_t dim) {
  __m256 s = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s = _mm256_fmadd_ps(d, d, s);
  }
  return HorizontalSum(s) + scalar::L2Squared(a + i, b + i, dim - i);
}

__attribute__((target("avx2,fma"))) float IpAvx2(const float* a, const float* b, size_t dim) {
  __m256 s = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= dim; i += 8)
    s = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s);
  return HorizontalSum(s) + scalar::InnerProduct(a + i, b + i, dim - i);
}

__attribute__((target("popcnt"))) uint32_t HammingPopcnt(const uint8_t* a, const uint8_t* b,
                                                         size_t bytes) {
  uint64_t bits = 0;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t x, y;
    __builtin_memcpy(&x, a + i, 8);
    __builtin_memcpy(&y, b + i, 8);
    bits += static_cast<uint64_t>(__builtin_popcountll(x ^ y));
  }
  return static_cast<uint32_t>(bits) + scalar::HammingDistance(a + i, b + i, bytes - i);
}

using FloatKernel = float (*)(const float*, const float*, size_t);
using BitKernel = uint32_t (*)(const uint8_t*, const uint8_t*, size_t);

struct Kernels {
  FloatKernel l2;
  FloatKernel ip;
  BitKernel hamming;
  const char* isa;
};

const Kernels& Chosen() {
  static const Kernels kernels = [] {
    __builtin_cpu_init();
    BitKernel hamming = __builtin_cpu_supports("popcnt") ? HammingPopcnt : scalar::HammingDistance;
    if (__builtin_cpu_supports("avx512f")) return Kernels{L2Avx512, IpAvx512, hamming, "avx512"};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      return Kernels{L2Avx2, IpAvx2, hamming, "avx2"};
    }
    return Kernels{scalar::L2Squared, scalar::InnerProduct, hamming, "scalar"};
  }();
  return kernels;
}

}  // namespace

float L2Squared(const float* a, const float* b, size_t dim) {
  return Chosen().l2(a, b, dim);
}
float InnerProduct(const float* a, const float* b, size_t dim) {
  return Chosen().ip(a, b, dim);
}
uint32_t HammingDistance(const uint8_t* a, const uint8_t* b, size_t bytes) {
  return Chosen().hamming(a, b, bytes);
}
const char* KernelIsa() {
  return Chosen().isa;
}

float JaccardDistance(const uint8_t* a, const uint8_t* b, size_t bytes) {
  uint32_t both = 0, either = 0;
  for (size_t i = 0; i < bytes; ++i) {
    both += __builtin_popcount(a[i] & b[i]);
    either += __builtin_popcount(a[i] | b[i]);
  }
  return either == 0 ? 0.0f : 1.0f - static_cast<float>(both) / static_cast<float>(either);
}

namespace {

template <float (*Kernel)(const float*, const float*, size_t)>
float AsDistance(const void* a, const void* b, size_t dim) {
  return Kernel(static_cast<const float*>(a), static_cast<const float*>(b), dim);
}
template <float (*Kernel)(const float*, const float*, size_t)>
float AsNegatedSimilarity(const void* a, const void* b, size_t dim) {
  return -Kernel(static_cast<const float*>(a), static_cast<const float*>(b), dim);
}
template <uint32_t (*Kernel)(const uint8_t*, const uint8_t*, size_t)>
float AsBitDistance(const void* a, const void* b, size_t bytes) {
  return static_cast<float>(
      Kernel(static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b), bytes));
}
float AsJaccard(const void* a, const void* b, size_t bytes) {
  return JaccardDistance(static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b), bytes);
}

}  // namespace

DistanceFunction DistanceFor(Metric metric) {
  const std::string_view isa = KernelIsa();
  switch (metric) {
    case Metric::kL2:
      if (isa == "avx512") return AsDistance<L2Avx512>;
      if (isa == "avx2") return AsDistance<L2Avx2>;
      return AsDistance<scalar::L2Squared>;
    case Metric::kIP:
    case Metric::kCosine:
      if (isa == "avx512") return AsNegatedSimilarity<IpAvx512>;
      if (isa == "avx2") return AsNegatedSimilarity<IpAvx2>;
      return AsNegatedSimilarity<scalar::InnerProduct>;
    case Metric::kHamming:
      return Chosen().hamming == HammingPopcnt ? AsBitDistance<HammingPopcnt>
                                               : AsBitDistance<scalar::HammingDistance>;
    case Metric::kJaccard:
      return AsJaccard;
  }
  return AsDistance<scalar::L2Squared>;
}

float Distance(Metric metric, const void* a, const void* b, size_t dim) {
  return DistanceFor(metric)(a, b, dim);
}

Result<Metric> ParseMetric(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "L2") return Metric::kL2;
  if (upper == "IP") return Metric::kIP;
  if (upper == "COSINE") return Metric::kCosine;
  if (upper == "HAMMING") return Metric::kHamming;
  if (upper == "JACCARD") return Metric::kJaccard;
  return Status::InvalidArgument("unknown metric_type \"" + std::string(name) +
                                 "\" (expected L2, IP, COSINE, HAMMING or JACCARD)");
}

const char* MetricName(Metric metric) {
  switch (metric) {
    case Metric::kL2:
      return "L2";
    case Metric::kIP:
      return "IP";
    case Metric::kCosine:
      return "COSINE";
    case Metric::kHamming:
      return "HAMMING";
    case Metric::kJaccard:
      return "JACCARD";
  }
  return "?";
}

bool IsBinaryMetric(Metric metric) {
  return metric == Metric::kHamming || metric == Metric::kJaccard;
}

}  // namespace imgsearch::index
