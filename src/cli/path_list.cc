#include "cli/path_list.h"

#include <iostream>
#include <sstream>

#include "base/env.h"

namespace imgsearch::cli {
namespace {

constexpr uint64_t kMaxListBytes = uint64_t{4} << 30;

void AppendLines(std::istream& in, std::vector<std::string>* paths) {
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) paths->push_back(std::move(line));
  }
}

}  // namespace

Status AppendPathsFrom(const std::string& list_path, std::vector<std::string>* paths) {
  if (list_path == "-") {
    AppendLines(std::cin, paths);
    if (std::cin.bad()) return Status::IOError("--files-from -: cannot read standard input");
    return Status::Ok();
  }
  auto text = base::Env::Default()->ReadFile(list_path, kMaxListBytes);
  if (!text.ok()) return text.status().WithContext("--files-from");
  std::istringstream in(std::move(text).value());
  AppendLines(in, paths);
  return Status::Ok();
}

void AddFilesFromOption(CLI::App* cmd, std::string* list_path) {
  cmd->add_option("--files-from", *list_path,
                  "Read image paths from this file, one per line (\"-\": standard input)");
}

Result<std::vector<std::string>> CollectPaths(std::vector<std::string> from_command_line,
                                              const std::string& list_path) {
  if (!list_path.empty()) IMGSEARCH_RETURN_IF_ERROR(AppendPathsFrom(list_path, &from_command_line));
  if (from_command_line.empty()) {
    return Status::InvalidArgument(list_path.empty()
                                       ? "name images on the command line or with --files-from"
                                       : "--files-from " + list_path + " lists no paths");
  }
  return from_command_line;
}

}  // namespace imgsearch::cli
