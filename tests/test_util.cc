#include "test_util.h"

#include <fcntl.h>
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

CommandResult RunImgsearch(const std::vector<std::string>& args, const std::string& input) {
  std::string dir = MakeTempDir();
  std::string in = input.empty() ? "/dev/null" : dir + "/in";
  if (!input.empty()) WriteFileBytes(in, input);
  std::string out = dir + "/out", err = dir + "/err";
  // No shell between: a shell's command is one string, which Linux caps at 128 KiB, and
  // the tests pass far longer argument lists than that.
  std::vector<std::string> argv_strings = {IMGSEARCH_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int in_fd = open(in.c_str(), O_RDONLY);
    int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0) _exit(127);
    dup2(in_fd, 0), dup2(out_fd, 1), dup2(err_fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) throw std::runtime_error("cannot run imgsearch");
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  result.out = ReadFileBytes(out);
  result.err = ReadFileBytes(err);
  return result;
}

}  // namespace imgsearch::testing
