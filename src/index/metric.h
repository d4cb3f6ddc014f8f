// Metrics and distance kernels. Every kernel has a plain scalar twin that tests hold the
// SIMD versions to. Internally every metric is a distance, smaller is nearer: inner
// product and cosine are negated similarities; the store turns them back into Milvus's
// scores at the edge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "imgsearch/status.h"

namespace imgsearch::index {

enum class Metric { kL2, kIP, kCosine, kHamming, kJaccard };

// "L2", "IP", "COSINE", "HAMMING", "JACCARD" (upper or lower case).
Result<Metric> ParseMetric(std::string_view name);
const char* MetricName(Metric metric);
bool IsBinaryMetric(Metric metric);

// Squared Euclidean distance, as Milvus reports L2.
float L2Squared(const float* a, const float* b, size_t dim);
float InnerProduct(const float* a, const float* b, size_t dim);
uint32_t HammingDistance(const uint8_t* a, const uint8_t* b, size_t bytes);
// 1 - |a and b| / |a or b|; 0 when both are empty.
float JaccardDistance(const uint8_t* a, const uint8_t* b, size_t bytes);

// The internal distance for `metric` (vectors already normalised for kCosine).
// `dim` counts floats for float metrics and bytes for binary ones.
float Distance(Metric metric, const void* a, const void* b, size_t dim);

// The same, as one function resolved for this CPU: for hot loops that should not branch
// on the metric or the instruction set at every call.
using DistanceFunction = float (*)(const void* a, const void* b, size_t dim);
DistanceFunction DistanceFor(Metric metric);

// Milvus's reported value for an internal distance: similarity for IP and COSINE.
inline float ReportedDistance(Metric metric, float internal) {
  return metric == Metric::kIP || metric == Metric::kCosine ? -internal : internal;
}

namespace scalar {
float L2Squared(const float* a, const float* b, size_t dim);
float InnerProduct(const float* a, const float* b, size_t dim);
uint32_t HammingDistance(const uint8_t* a, const uint8_t* b, size_t bytes);
}  // namespace scalar

// Which instruction set the kernels use on this machine: "avx512", "avx2" or "scalar".
const char* KernelIsa();

}  // namespace imgsearch::index
