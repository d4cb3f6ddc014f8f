// Small helpers for the benchmark programs: timing, medians, image lists.
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace imgsearch::bench {

inline double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double Median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// Image files under `dir` (recursively), sorted, at most `limit`.
inline std::vector<std::string> ListImages(const std::string& dir, size_t limit) {
  std::vector<std::string> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  // Spread the sample across classes rather than taking the first folders only.
  if (files.size() > limit) {
    std::vector<std::string> spread;
    for (size_t i = 0; i < limit; ++i) spread.push_back(files[i * files.size() / limit]);
    files = std::move(spread);
  }
  return files;
}

}  // namespace imgsearch::bench
