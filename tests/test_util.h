// Helpers shared by the tests: fixtures made by tests/make_fixtures.py, temporary
// folders, and running the imgsearch binary.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "imgsearch/image.h"

namespace imgsearch::testing {

// The value of a Result that must be OK; aborts the test binary with the Status if not.
template <typename T>
T ValueOrDie(Result<T>&& result) {
  if (!result.ok()) {
    std::fprintf(stderr, "ValueOrDie: %s\n", result.status().ToString().c_str());
    std::abort();
  }
  return std::move(result).value();
}

// Polls `done` every 50 ms for up to `seconds`; whether it came true.
template <typename F>
bool Eventually(F done, double seconds = 30) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// Absolute path of a fixture file.
std::string FixturePath(const std::string& name);

// The fixture manifest entry for a reference (width, height, shape, ...).
const nlohmann::json& ManifestEntry(const std::string& name);

// The PIL reference pixels NAME.rgb, sized from the manifest.
Image ReferenceImage(const std::string& name);

// The reference tensor NAME.f32.
std::vector<float> ReferenceTensor(const std::string& name);

std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const std::string& bytes);

// A fresh, empty folder under the build tree, removed when the process ends.
std::string MakeTempDir();

// Largest absolute difference of two same-sized images' bytes (256 when sizes differ).
int MaxPixelDifference(const Image& a, const Image& b);

struct CommandResult {
  int exit_code = -1;  // -1 when a signal ended it
  int signal = 0;      // the signal that ended it, or 0
  std::string out;
  std::string err;
};

// Runs the imgsearch binary with the given arguments (no shell in between), standard
// input read from `input` (empty: /dev/null).
CommandResult RunImgsearch(const std::vector<std::string>& args, const std::string& input = "");

}  // namespace imgsearch::testing
