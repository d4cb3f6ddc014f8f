// What the crash test's writer writes, so that the checker can recompute it: the vector
// and fields of row `id` at `version`.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "imgsearch/schema.h"

namespace imgsearch::testing {

constexpr int kCrashDimension = 16;

inline std::vector<float> CrashVector(int64_t id, int64_t version) {
  std::vector<float> v(kCrashDimension);
  for (int i = 0; i < kCrashDimension; ++i)
    v[i] = static_cast<float>(std::sin(id * 0.37 + version * 1.91 + i * 0.53));
  return v;
}

inline nlohmann::json CrashFields(int64_t id, int64_t version) {
  return {{"version", version}, {"tag", "row-" + std::to_string(id)}};
}

inline CollectionSchema CrashSchema() {
  CollectionSchema s;
  s.name = "crash";
  s.dimension = kCrashDimension;
  s.auto_id = false;
  s.scalar_fields = {{"version", DataType::kInt64}, {"tag", DataType::kVarChar}};
  return s;
}

}  // namespace imgsearch::testing
