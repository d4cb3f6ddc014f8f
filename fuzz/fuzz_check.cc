#include <unistd.h>

#include <filesystem>

#include "fuzz_check.h"

namespace imgsearch::fuzz {
namespace {

std::string& ScratchRoot() {
  static std::string root;
  return root;
}

void RemoveScratch() {
  std::error_code ignored;
  std::filesystem::remove_all(ScratchRoot(), ignored);
}

}  // namespace

std::string ScratchDir(const char* what) {
  if (ScratchRoot().empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/imgsearch-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr, "cannot make a scratch folder");
    ScratchRoot() = pattern;
    std::atexit(RemoveScratch);
  }
  std::string dir = ScratchRoot() + "/" + what;
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace imgsearch::fuzz
