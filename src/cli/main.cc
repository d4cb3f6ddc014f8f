// imgsearch: image similarity search with several models at once.
#include <CLI/CLI.hpp>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "imgsearch/version.h"

int main(int argc, char** argv) {
  CLI::App app{"imgsearch: image similarity search with several models at once"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "imgsearch " IMGSEARCH_VERSION);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));
  app.parse_complete_callback([&] { imgsearch::base::SetLogLevel(log_level); });

  imgsearch::cli::AddStoreOptions(app);
  int exit_code = imgsearch::cli::kExitOk;
  imgsearch::cli::AddEmbedCommand(app, &exit_code);
  imgsearch::cli::AddModelsCommand(app, &exit_code);
  imgsearch::cli::AddIndexCommand(app, &exit_code);
  imgsearch::cli::AddSearchCommand(app, &exit_code);
  imgsearch::cli::AddCompareCommand(app, &exit_code);
  imgsearch::cli::AddEvalCommand(app, &exit_code);
  imgsearch::cli::AddTuneCommand(app, &exit_code);
  imgsearch::cli::AddDuplicatesCommand(app, &exit_code);
  imgsearch::cli::AddAdminCommands(app, &exit_code);
  imgsearch::cli::AddServeCommand(app, &exit_code);
  imgsearch::cli::AddQuantizeCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : imgsearch::cli::kExitUsage;
  }
  return exit_code;
}
