// The imgsearch subcommands. Each Add*Command registers its options on the app and sets
// *exit_code when the subcommand runs: 0 success, 1 failure (a one-line reason printed to
// stderr), 2 usage error.
#pragma once

#include <CLI/CLI.hpp>

namespace imgsearch::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void AddEmbedCommand(CLI::App& app, int* exit_code);
void AddModelsCommand(CLI::App& app, int* exit_code);
void AddIndexCommand(CLI::App& app, int* exit_code);
void AddSearchCommand(CLI::App& app, int* exit_code);
void AddCompareCommand(CLI::App& app, int* exit_code);
void AddEvalCommand(CLI::App& app, int* exit_code);
void AddTuneCommand(CLI::App& app, int* exit_code);
void AddDuplicatesCommand(CLI::App& app, int* exit_code);
// collections, stats, delete, export
void AddAdminCommands(CLI::App& app, int* exit_code);
void AddServeCommand(CLI::App& app, int* exit_code);
void AddQuantizeCommand(CLI::App& app, int* exit_code);

}  // namespace imgsearch::cli
