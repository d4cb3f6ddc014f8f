#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace imgsearch::testing {
namespace fs = std::filesystem;

std::string FixturePath(const std::string& name) {
  return std::string(IMGSEARCH_FIXTURE_DIR) + "/" + name;
}

const nlohmann::json& ManifestEntry(const std::string& name) {
  static const nlohmann::json manifest =
      nlohmann::json::parse(ReadFileBytes(FixturePath("manifest.json")));
  if (!manifest.contains(name)) throw std::runtime_error("no fixture reference " + name);
  return manifest.at(name);
}

Image ReferenceImage(const std::string& name) {
  const auto& entry = ManifestEntry(name);
  Image image;
  image.width = entry.at("width").get<int>();
  image.height = entry.at("height").get<int>();
  std::string bytes = ReadFileBytes(FixturePath(name + ".rgb"));
  image.rgb.assign(bytes.begin(), bytes.end());
  return image;
}

std::vector<float> ReferenceTensor(const std::string& name) {
  std::string bytes = ReadFileBytes(FixturePath(name + ".f32"));
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

namespace {
struct TempDirs {
  std::vector<std::string> dirs;
  ~TempDirs() {
    std::error_code ignored;
    for (const auto& d : dirs) fs::remove_all(d, ignored);
  }
};
TempDirs& AllTempDirs() {
  static TempDirs dirs;
  return dirs;
}
std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}
}  // namespace

std::string MakeTempDir() {
  std::string pattern = std::string(IMGSEARCH_TEST_TMP) + "/imgsearch-test-XXXXXX";
  fs::create_directories(IMGSEARCH_TEST_TMP);
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  AllTempDirs().dirs.push_back(pattern);
  return pattern;
}

int MaxPixelDifference(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height || a.rgb.size() != b.rgb.size()) return 256;
  int worst = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) worst = std::max(worst, std::abs(a.rgb[i] - b.rgb[i]));
  return worst;
}

CommandResult RunImgsearch(const std::vector<std::string>& args) {
  std::string dir = MakeTempDir();
  std::string command = ShellQuote(IMGSEARCH_BINARY);
  for (const auto& a : args) command += " " + ShellQuote(a);
  command += " >" + dir + "/out 2>" + dir + "/err </dev/null";
  int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFileBytes(dir + "/out");
  result.err = ReadFileBytes(dir + "/err");
  return result;
}

}  // namespace imgsearch::testing
