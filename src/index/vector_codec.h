// VectorCodec: how a graph index stores its float vectors, and the distance from a float
// query to a stored code. FP32 keeps the floats; FP16 and BF16 keep half-width floats; SQ8
// keeps one byte per component with a per-vector range (lowest value and step), so it
// needs no training and encodes each vector as it arrives. Every SIMD kernel has a scalar
// twin in namespace scalar that tests hold it to. Thread-safe: a codec is immutable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "imgsearch/status.h"
#include "index/metric.h"

namespace imgsearch::index {

// Ordered by precision, least precise first.
// IEEE half precision, rounding to nearest even (as F16C's conversions do).
uint16_t FloatToHalf(float x);
float HalfToFloat(uint16_t bits);
// Whether this CPU has the F16C conversions.
bool CpuHasF16c();

enum class VectorCode { kSq8 = 0, kBf16 = 1, kFp16 = 2, kFp32 = 3 };

// "SQ8", "FP16", "BF16", "FP32" (upper or lower case).
Result<VectorCode> ParseVectorCode(std::string_view name);
const char* VectorCodeName(VectorCode code);
// Whether `finer` keeps strictly more of a vector than `coarser`: FP16 counts as finer
// than BF16 (10 bits of mantissa against 7, which is what re-ranking needs).
bool IsFinerCode(VectorCode finer, VectorCode coarser);

class VectorCodec {
 public:
  // For float metrics only (L2, IP, COSINE; COSINE vectors arrive normalised).
  VectorCodec(VectorCode code, Metric metric, size_t dim);

  VectorCode code() const { return code_; }
  size_t dim() const { return dim_; }
  // Bytes per stored vector.
  size_t code_size() const { return code_size_; }

  void Encode(const float* vector, uint8_t* out) const;
  void Decode(const uint8_t* code, float* out) const;
  // The internal distance (smaller is nearer) from a float query to a stored code.
  float Distance(const float* query, const uint8_t* code) const {
    return distance_(query, code, dim_);
  }
  // The same kernel, for loops that keep it in a register.
  DistanceFunction distance_function() const { return distance_; }

 private:
  VectorCode code_;
  size_t dim_;
  size_t code_size_;
  DistanceFunction distance_;
};

// The instruction sets the code kernels come in; a codec uses the best the CPU has.
enum class CodeIsa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
bool CodeIsaSupported(CodeIsa isa);
// The kernel for one instruction set, so tests can hold each to the scalar one (FP32
// codes use the metric's own kernels, whatever `isa` says).
DistanceFunction CodeDistanceFor(VectorCode code, Metric metric, CodeIsa isa);

// Reference kernels: plain loops over decoded components.
namespace scalar {
float CodeL2(VectorCode code, const float* query, const uint8_t* stored, size_t dim);
float CodeInnerProduct(VectorCode code, const float* query, const uint8_t* stored, size_t dim);
}  // namespace scalar

}  // namespace imgsearch::index
