// Small helpers for the benchmark programs: timing, medians, image lists.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace imgsearch::bench {

inline double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds used so far by the process (RUSAGE_SELF) or the calling thread
// (RUSAGE_THREAD).
inline double CpuSeconds(int who = RUSAGE_SELF) {
  rusage usage{};
  getrusage(who, &usage);
  auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Float32 query vectors of `dimension` values each, back to back in a raw file.
inline std::vector<std::vector<float>> ReadQueries(const std::string& path, size_t dimension) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::vector<float>> queries;
  std::vector<float> v(dimension);
  while (dimension > 0 &&
         in.read(reinterpret_cast<char*>(v.data()), std::streamsize(dimension * sizeof(float))))
    queries.push_back(v);
  return queries;
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
