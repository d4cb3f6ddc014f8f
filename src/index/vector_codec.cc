#include "index/vector_codec.h"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>

namespace imgsearch::index {

// IEEE half precision in plain integer code, rounding to nearest even as F16C does (the
// compilers' _Float16 is not available everywhere: clang 14 lacks it on x86).
uint16_t FloatToHalf(float x) {
  uint32_t f;
  std::memcpy(&f, &x, 4);
  uint32_t sign = (f >> 16) & 0x8000, exponent = (f >> 23) & 0xff, mantissa = f & 0x7fffff;
  if (exponent == 0xff) return uint16_t(sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >> 13) : 0));
  int e = int(exponent) - 127 + 15;
  if (e >= 0x1f) return uint16_t(sign | 0x7c00);  // too large: infinity
  uint32_t half, rest, halfway;
  if (e <= 0) {  // a subnormal half, or zero
    if (e < -10) return uint16_t(sign);
    uint32_t full = mantissa | 0x800000;
    int shift = 14 - e;
    half = full >> shift;
    rest = full & ((1u << shift) - 1);
    halfway = 1u << (shift - 1);
  } else {
    half = (uint32_t(e) << 10) | (mantissa >> 13);
    rest = mantissa & 0x1fff;
    halfway = 0x1000;
  }
  // A carry out of the mantissa steps the exponent, as rounding up should.
  if (rest > halfway || (rest == halfway && (half & 1))) ++half;
  return uint16_t(sign | half);
}

float HalfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16, exponent = (bits >> 10) & 0x1f,
           mantissa = bits & 0x3ff, f;
  if (exponent == 0x1f) {
    f = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    f = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    f = sign;
  } else {  // subnormal: shift the leading 1 into the implicit place
    int shifts = 0;
    while (!(mantissa & 0x400)) mantissa <<= 1, ++shifts;
    f = sign | (uint32_t(113 - shifts) << 23) | ((mantissa & 0x3ff) << 13);
  }
  float x;
  std::memcpy(&x, &f, 4);
  return x;
}

// F16C is cpuid leaf 1, ecx bit 29 (clang 14's __builtin_cpu_supports does not know it).
bool CpuHasF16c() {
  unsigned eax, ebx, ecx, edx;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
}

namespace {

// SQ8 codes start with the vector's lowest component and the step between levels.
constexpr size_t kSq8Header = 2 * sizeof(float);

// Round to nearest even; a NaN stays a NaN.
uint16_t ToBf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if (std::isnan(x)) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

float FromBf16(uint16_t half) {
  uint32_t bits = uint32_t(half) << 16;
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

void Sq8Range(const uint8_t* stored, float* lo, float* step) {
  std::memcpy(lo, stored, 4);
  std::memcpy(step, stored + 4, 4);
}

// Component i of a stored vector, the slow and obvious way.
float Component(VectorCode code, const uint8_t* stored, size_t i) {
  uint16_t half;
  switch (code) {
    case VectorCode::kSq8: {
      float lo, step;
      Sq8Range(stored, &lo, &step);
      return lo + step * stored[kSq8Header + i];
    }
    case VectorCode::kFp16:
      std::memcpy(&half, stored + 2 * i, 2);
      return HalfToFloat(half);
    case VectorCode::kBf16:
      std::memcpy(&half, stored + 2 * i, 2);
      return FromBf16(half);
    case VectorCode::kFp32:
      break;
  }
  float x;
  std::memcpy(&x, stored + 4 * i, 4);
  return x;
}

__attribute__((target("avx2,fma"))) float Sum8(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_hadd_ps(lo, lo);
  lo = _mm_hadd_ps(lo, lo);
  return _mm_cvtss_f32(lo);
}

// Eight decoded components starting at i.
template <VectorCode C>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline __m256 Load8(const uint8_t* stored,
                                                                            size_t i, __m256 lo,
                                                                            __m256 step) {
  if constexpr (C == VectorCode::kSq8) {
    __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(stored + kSq8Header + i));
    __m256 levels = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
    return _mm256_fmadd_ps(levels, step, lo);
  } else if constexpr (C == VectorCode::kFp16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(stored + 2 * i)));
  } else {
    __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(stored + 2 * i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
}

template <VectorCode C, bool kL2>
__attribute__((target("avx2,fma,f16c"))) float CodeKernelAvx2(const void* query_bytes,
                                                              const void* stored_bytes,
                                                              size_t dim) {
  const auto* query = static_cast<const float*>(query_bytes);
  const auto* stored = static_cast<const uint8_t*>(stored_bytes);
  float lo_value = 0, step_value = 0;
  if constexpr (C == VectorCode::kSq8) Sq8Range(stored, &lo_value, &step_value);
  __m256 lo = _mm256_set1_ps(lo_value), step = _mm256_set1_ps(step_value);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 v0 = Load8<C>(stored, i, lo, step), v1 = Load8<C>(stored, i + 8, lo, step);
    __m256 q0 = _mm256_loadu_ps(query + i), q1 = _mm256_loadu_ps(query + i + 8);
    if constexpr (kL2) {
      __m256 d0 = _mm256_sub_ps(q0, v0), d1 = _mm256_sub_ps(q1, v1);
      s0 = _mm256_fmadd_ps(d0, d0, s0);
      s1 = _mm256_fmadd_ps(d1, d1, s1);
    } else {
      s0 = _mm256_fmadd_ps(q0, v0, s0);
      s1 = _mm256_fmadd_ps(q1, v1, s1);
    }
  }
  float sum = Sum8(_mm256_add_ps(s0, s1));
  for (; i < dim; ++i) {
    float v = Component(C, stored, i);
    sum += kL2 ? (query[i] - v) * (query[i] - v) : query[i] * v;
  }
  return kL2 ? sum : -sum;
}

__attribute__((target("avx512f"))) float Sum16(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float sum = 0;
  for (float x : lanes) sum += x;
  return sum;
}

// Sixteen decoded components starting at i. Masked forms throughout: GCC 12's unmasked
// conversions trip -Wmaybe-uninitialized inside its own header.
template <VectorCode C>
__attribute__((target("avx512f"), always_inline)) inline __m512 Load16(const uint8_t* stored,
                                                                       size_t i, __m512 lo,
                                                                       __m512 step) {
  constexpr __mmask16 kAll = 0xFFFF;
  if constexpr (C == VectorCode::kSq8) {
    __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(stored + kSq8Header + i));
    __m512 levels = _mm512_maskz_cvtepi32_ps(kAll, _mm512_maskz_cvtepu8_epi32(kAll, bytes));
    return _mm512_fmadd_ps(levels, step, lo);
  } else {
    __m256i halves = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(stored + 2 * i));
    if constexpr (C == VectorCode::kFp16) return _mm512_maskz_cvtph_ps(kAll, halves);
    __m512i wide = _mm512_maskz_cvtepu16_epi32(kAll, halves);
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(kAll, wide, 16));
  }
}

template <VectorCode C, bool kL2>
__attribute__((target("avx512f"))) float CodeKernelAvx512(const void* query_bytes,
                                                          const void* stored_bytes, size_t dim) {
  const auto* query = static_cast<const float*>(query_bytes);
  const auto* stored = static_cast<const uint8_t*>(stored_bytes);
  float lo_value = 0, step_value = 0;
  if constexpr (C == VectorCode::kSq8) Sq8Range(stored, &lo_value, &step_value);
  __m512 lo = _mm512_set1_ps(lo_value), step = _mm512_set1_ps(step_value);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m512 v0 = Load16<C>(stored, i, lo, step), v1 = Load16<C>(stored, i + 16, lo, step);
    __m512 q0 = _mm512_loadu_ps(query + i), q1 = _mm512_loadu_ps(query + i + 16);
    if constexpr (kL2) {
      __m512 d0 = _mm512_sub_ps(q0, v0), d1 = _mm512_sub_ps(q1, v1);
      s0 = _mm512_fmadd_ps(d0, d0, s0);
      s1 = _mm512_fmadd_ps(d1, d1, s1);
    } else {
      s0 = _mm512_fmadd_ps(q0, v0, s0);
      s1 = _mm512_fmadd_ps(q1, v1, s1);
    }
  }
  float sum = Sum16(_mm512_add_ps(s0, s1));
  for (; i < dim; ++i) {
    float v = Component(C, stored, i);
    sum += kL2 ? (query[i] - v) * (query[i] - v) : query[i] * v;
  }
  return kL2 ? sum : -sum;
}

template <VectorCode C, bool kL2>
float CodeKernelScalar(const void* query, const void* stored, size_t dim) {
  const auto* q = static_cast<const float*>(query);
  const auto* s = static_cast<const uint8_t*>(stored);
  return kL2 ? scalar::CodeL2(C, q, s, dim) : -scalar::CodeInnerProduct(C, q, s, dim);
}

template <VectorCode C>
DistanceFunction KernelFor(CodeIsa isa, bool l2) {
  switch (isa) {
    case CodeIsa::kAvx512:
      return l2 ? CodeKernelAvx512<C, true> : CodeKernelAvx512<C, false>;
    case CodeIsa::kAvx2:
      return l2 ? CodeKernelAvx2<C, true> : CodeKernelAvx2<C, false>;
    case CodeIsa::kScalar:
      break;
  }
  return l2 ? CodeKernelScalar<C, true> : CodeKernelScalar<C, false>;
}

CodeIsa BestCodeIsa() {
  static const CodeIsa best = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return CodeIsa::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && CpuHasF16c()) {
      return CodeIsa::kAvx2;
    }
    return CodeIsa::kScalar;
  }();
  return best;
}

size_t CodeSize(VectorCode code, size_t dim) {
  switch (code) {
    case VectorCode::kSq8:
      return kSq8Header + dim;
    case VectorCode::kFp16:
    case VectorCode::kBf16:
      return 2 * dim;
    case VectorCode::kFp32:
      break;
  }
  return 4 * dim;
}

void EncodeSq8(const float* v, size_t dim, uint8_t* out) {
  float lo = dim > 0 ? *std::min_element(v, v + dim) : 0.0f;
  float hi = dim > 0 ? *std::max_element(v, v + dim) : 0.0f;
  float step = hi > lo ? (hi - lo) / 255.0f : 0.0f;
  std::memcpy(out, &lo, 4);
  std::memcpy(out + 4, &step, 4);
  for (size_t i = 0; i < dim; ++i) {
    float level = step > 0 ? std::nearbyint((v[i] - lo) / step) : 0.0f;
    out[kSq8Header + i] = static_cast<uint8_t>(std::clamp(level, 0.0f, 255.0f));
  }
}

void DecodeHalvesScalar(const uint8_t* stored, size_t dim, float* out) {
  for (size_t i = 0; i < dim; ++i) out[i] = Component(VectorCode::kFp16, stored, i);
}

__attribute__((target("avx2,f16c"))) void DecodeHalvesF16c(const uint8_t* stored, size_t dim,
                                                           float* out) {
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(stored + 2 * i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(halves));
  }
  for (; i < dim; ++i) out[i] = Component(VectorCode::kFp16, stored, i);
}

}  // namespace

bool CodeIsaSupported(CodeIsa isa) {
  return static_cast<int>(isa) <= static_cast<int>(BestCodeIsa());
}

DistanceFunction CodeDistanceFor(VectorCode code, Metric metric, CodeIsa isa) {
  bool l2 = metric == Metric::kL2;
  switch (code) {
    case VectorCode::kSq8:
      return KernelFor<VectorCode::kSq8>(isa, l2);
    case VectorCode::kFp16:
      return KernelFor<VectorCode::kFp16>(isa, l2);
    case VectorCode::kBf16:
      return KernelFor<VectorCode::kBf16>(isa, l2);
    case VectorCode::kFp32:
      break;
  }
  return DistanceFor(metric);
}

Result<VectorCode> ParseVectorCode(std::string_view name) {
  std::string upper(name);
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (upper == "SQ8") return VectorCode::kSq8;
  if (upper == "FP16") return VectorCode::kFp16;
  if (upper == "BF16") return VectorCode::kBf16;
  if (upper == "FP32") return VectorCode::kFp32;
  return Status::InvalidArgument("unknown vector encoding \"" + std::string(name) +
                                 "\" (use SQ8, FP16, BF16 or FP32)");
}

const char* VectorCodeName(VectorCode code) {
  switch (code) {
    case VectorCode::kSq8:
      return "SQ8";
    case VectorCode::kFp16:
      return "FP16";
    case VectorCode::kBf16:
      return "BF16";
    case VectorCode::kFp32:
      break;
  }
  return "FP32";
}

bool IsFinerCode(VectorCode finer, VectorCode coarser) {
  return static_cast<int>(finer) > static_cast<int>(coarser);
}

VectorCodec::VectorCodec(VectorCode code, Metric metric, size_t dim)
    : code_(code),
      dim_(dim),
      code_size_(CodeSize(code, dim)),
      distance_(CodeDistanceFor(code, metric, BestCodeIsa())) {}

void VectorCodec::Encode(const float* v, uint8_t* out) const {
  switch (code_) {
    case VectorCode::kSq8:
      return EncodeSq8(v, dim_, out);
    case VectorCode::kFp16:
      for (size_t i = 0; i < dim_; ++i) {
        uint16_t h = FloatToHalf(v[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case VectorCode::kBf16:
      for (size_t i = 0; i < dim_; ++i) {
        uint16_t h = ToBf16(v[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case VectorCode::kFp32:
      std::memcpy(out, v, 4 * dim_);
      return;
  }
}

// Graph building decodes a node for every candidate it weighs, so Decode is a plain loop
// the compiler vectorises (SQ8, BF16) or F16C's conversion (FP16), not Component's.
void VectorCodec::Decode(const uint8_t* stored, float* out) const {
  switch (code_) {
    case VectorCode::kSq8: {
      float lo, step;
      Sq8Range(stored, &lo, &step);
      for (size_t i = 0; i < dim_; ++i) out[i] = lo + step * stored[kSq8Header + i];
      return;
    }
    case VectorCode::kFp16:
      return BestCodeIsa() == CodeIsa::kScalar ? DecodeHalvesScalar(stored, dim_, out)
                                               : DecodeHalvesF16c(stored, dim_, out);
    case VectorCode::kBf16:
      for (size_t i = 0; i < dim_; ++i) {
        uint16_t half;
        std::memcpy(&half, stored + 2 * i, 2);
        out[i] = FromBf16(half);
      }
      return;
    case VectorCode::kFp32:
      std::memcpy(out, stored, 4 * dim_);
      return;
  }
}

namespace scalar {

float CodeL2(VectorCode code, const float* query, const uint8_t* stored, size_t dim) {
  float sum = 0;
  for (size_t i = 0; i < dim; ++i) {
    float d = query[i] - Component(code, stored, i);
    sum += d * d;
  }
  return sum;
}

float CodeInnerProduct(VectorCode code, const float* query, const uint8_t* stored, size_t dim) {
  float sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += query[i] * Component(code, stored, i);
  return sum;
}

}  // namespace scalar
}  // namespace imgsearch::index
