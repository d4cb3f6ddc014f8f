// --files-from: image paths read from a file or standard input instead of the command
// line, so that any number of images can be passed.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::cli {

// Appends the paths listed in `list_path` ("-": standard input), one per line; blank
// lines are skipped and a trailing carriage return is dropped.
Status AppendPathsFrom(const std::string& list_path, std::vector<std::string>* paths);

// Registers --files-from on `cmd`; the file's name lands in `*list_path`.
void AddFilesFromOption(CLI::App* cmd, std::string* list_path);

// The command line's paths plus those of --files-from. Fails when both are empty.
Result<std::vector<std::string>> CollectPaths(std::vector<std::string> from_command_line,
                                              const std::string& list_path);

}  // namespace imgsearch::cli
