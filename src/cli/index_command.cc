// imgsearch index: bring a database up to date with folders of images.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/path_list.h"
#include "cli/session.h"

namespace imgsearch::cli {
namespace {

struct IndexCommandOptions {
  std::vector<std::string> roots;
  std::string files_from;
  std::string db;
  std::vector<std::string> models;
  bool prune = false;
  bool reembed = false;
  bool json = false;
  int threads = 0;
  std::string redis_url;
  std::string shard;  // "I/N"
  bool watch = false;
  WatchOptions watching;
};

// "I/N" -> (I, N); the range is checked by the library.
bool ParseShard(const std::string& text, IndexOptions* options) {
  if (text.empty()) return true;
  size_t slash = text.find('/');
  if (slash == std::string::npos) return false;
  try {
    size_t used_i = 0, used_n = 0;
    options->shard_index = std::stoi(text.substr(0, slash), &used_i);
    options->shard_count = std::stoi(text.substr(slash + 1), &used_n);
    return used_i == slash && used_n == text.size() - slash - 1;
  } catch (const std::exception&) {
    return false;
  }
}

std::string Clock(double seconds) {
  int s = static_cast<int>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof(text), "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return text;
}

// A progress bar on a terminal; otherwise a plain line at every tenth of the work.
std::function<void(const IndexProgress&)> ProgressPrinter() {
  bool terminal = isatty(STDERR_FILENO) != 0;
  auto last_tenth = std::make_shared<size_t>(0);
  return [terminal, last_tenth](const IndexProgress& p) {
    double rate = p.seconds > 0 ? p.done / p.seconds : 0;
    double eta = rate > 0 ? (p.total - p.done) / rate : 0;
    if (terminal) {
      int width = 30, filled = p.total ? static_cast<int>(width * p.done / p.total) : width;
      std::fprintf(stderr, "\r[%s%s] %zu/%zu  %.1f images/s  ETA %s ",
                   std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(),
                   p.done, p.total, rate, Clock(eta).c_str());
      if (p.done == p.total) std::fprintf(stderr, "\n");
      return;
    }
    size_t tenth = p.total ? 10 * p.done / p.total : 10;
    if (tenth > *last_tenth || p.done == p.total) {
      *last_tenth = tenth;
      std::fprintf(stderr, "indexed %zu/%zu images, %.1f images/s, ETA %s\n", p.done, p.total, rate,
                   Clock(eta).c_str());
    }
  };
}

void PrintReport(const IndexReport& r, const std::vector<std::string>& names, bool json) {
  if (json) {
    nlohmann::json failures = nlohmann::json::array();
    for (const auto& f : r.failures) failures.push_back({{"path", f.path}, {"reason", f.reason}});
    std::cout << nlohmann::json{{"models", names},          {"scanned", r.scanned},
                                {"added", r.added},         {"updated", r.updated},
                                {"unchanged", r.unchanged}, {"pruned", r.pruned},
                                {"moved", r.moved},         {"duplicates", r.duplicates},
                                {"failures", failures},     {"seconds", r.seconds}}
                     .dump()
              << "\n";
    return;
  }
  std::string model_list;
  for (const auto& n : names) model_list += (model_list.empty() ? "" : ", ") + n;
  std::printf(
      "%zu files with %zu models (%s) in %.1f s: %zu added, %zu updated, %zu unchanged, %zu "
      "pruned, %zu moved, %zu duplicates by content\n",
      r.scanned, names.size(), model_list.c_str(), r.seconds, r.added, r.updated, r.unchanged,
      r.pruned, r.moved, r.duplicates);
  if (!r.failures.empty()) {
    std::printf("%zu files could not be read:\n", r.failures.size());
    for (const auto& f : r.failures) std::printf("  %s: %s\n", f.path.c_str(), f.reason.c_str());
  }
}

// After the first pass: keeps the library in step with the folders until SIGINT/SIGTERM.
int WatchUntilStopped(const IndexCommandOptions& options, Library& library,
                      const std::atomic<bool>& stop) {
  WatchOptions watching = options.watching;
  watching.folders = options.roots;
  watching.catch_up = false;  // the pass just made is the catch-up
  auto watcher = Watcher::Start(library, watching);
  if (!watcher.ok()) {
    PrintError(watcher.status());
    return kExitFailure;
  }
  std::fprintf(stderr, "watching %zu folder(s) until interrupted (Ctrl-C)\n",
               watching.folders.size());
  while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*watcher)->Stop();
  WatchStats s = (*watcher)->stats();
  std::fprintf(
      stderr,
      "stopped watching: %llu files indexed, %llu removed, %llu failed, %llu rescans, "
      "%llu overflows\n",
      static_cast<unsigned long long>(s.indexed), static_cast<unsigned long long>(s.removed),
      static_cast<unsigned long long>(s.failed), static_cast<unsigned long long>(s.rescans),
      static_cast<unsigned long long>(s.overflows));
  return kExitOk;
}

int RunIndex(const IndexCommandOptions& options) {
  IndexOptions ingest;
  if (!ParseShard(options.shard, &ingest)) {
    PrintError("--shard " + options.shard + ": expected I/N, e.g. 0/3 (machine 0 of 3)");
    return kExitUsage;
  }
  if (options.watch && (options.roots.empty() || !options.files_from.empty() ||
                        !options.shard.empty() || !options.redis_url.empty())) {
    PrintError("--watch takes folders, without --files-from, --shard or --redis-url");
    return kExitUsage;
  }
  // Watching, SIGINT/SIGTERM stop the work, the first pass too (every chunk committed).
  auto stop = std::make_shared<std::atomic<bool>>(false);
  if (options.watch) {
    if (!InstallStopSignals()) {
      PrintError("cannot create the signal pipe");
      return kExitFailure;
    }
    std::thread([stop] {
      WaitForStopSignal();
      *stop = true;
    }).detach();
  }
  auto roots = CollectPaths(options.roots, options.files_from);
  if (!roots.ok()) {
    PrintError(roots.status());
    return options.files_from.empty() ? kExitUsage : kExitFailure;
  }
  auto library = OpenLibrary(options.db, options.models, /*create=*/true, /*only_names=*/false,
                             options.threads, options.reembed);
  if (!library.ok()) {
    PrintError(library.status());
    return kExitFailure;
  }
  ingest.paths = std::move(roots).value();
  ingest.prune = options.prune;
  if (!options.json) ingest.on_progress = ProgressPrinter();
  if (options.watch) ingest.cancelled = [stop] { return stop->load(); };
  auto report = (*library)->Index(ingest);
  if (!report.ok()) {
    PrintError(report.status());
    return kExitFailure;
  }
  PrintReport(*report, (*library)->ModelNames(), options.json);
  if (options.watch && !report->cancelled) {
    std::fflush(stdout);
    return WatchUntilStopped(options, **library, *stop);
  }
  auto mirrored = MirrorToRedis(options.redis_url, **library);
  if (!mirrored.ok()) {
    PrintError(
        mirrored.status().WithContext("the database is up to date, but the Redis mirror is not"));
    return kExitFailure;
  }
  if (!options.redis_url.empty() && !options.json)
    std::printf("mirrored %zu rows to %s\n", *mirrored, options.redis_url.c_str());
  return kExitOk;
}

}  // namespace

void AddIndexCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<IndexCommandOptions>();
  CLI::App* cmd = app.add_subcommand("index", "Add or update the images of folders in a database");
  cmd->add_option("folders", options->roots, "Folders (scanned recursively) or image files");
  AddFilesFromOption(cmd, &options->files_from);
  cmd->add_option("--db", options->db,
                  "Library: a folder (created if missing) or milvus://HOST:PORT")
      ->required();
  cmd->add_option("-m,--model", options->models,
                  "NAME=PATH_OR_BUILTIN or PATH_OR_BUILTIN (repeatable; default: the models the "
                  "database already uses, or the built-in ones)")
      ->allow_extra_args(false);
  cmd->add_flag("--prune", options->prune, "Remove rows whose file no longer exists");
  cmd->add_option("--shard", options->shard,
                  "I/N: index only machine I's share of the files (0 <= I < N, by a hash of each "
                  "path relative to its folder); N machines with the same folders split them");
  cmd->add_flag("--reembed", options->reembed,
                "Embed every image again with the models whose ONNX file changed");
  cmd->add_option("--threads", options->threads, "Inference threads (0: one per core)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--redis-url", options->redis_url,
                  "Mirror id -> path and fields into Redis (redis://HOST:PORT/DB), kept in step");
  cmd->add_flag("--json", options->json, "Print the report as JSON");
  cmd->add_flag("--watch", options->watch,
                "Then keep watching the folders: new, changed, moved and removed images are "
                "indexed or removed within seconds, until SIGINT/SIGTERM");
  AddWatchTuning(cmd, &options->watching);
  cmd->callback([options, exit_code] { *exit_code = RunIndex(*options); });
}

}  // namespace imgsearch::cli
