#include "cli/session.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "cli/commands.h"
#include "cli/output.h"
#include "remote/redis_mirror.h"

namespace imgsearch::cli {
namespace {

MilvusOptions& MutableMilvusOptions() {
  static MilvusOptions options;
  return options;
}

int g_stop_pipe[2] = {-1, -1};

// Async-signal-safe: one write to the pipe.
void OnStopSignal(int) {
  char byte = 1;
  ssize_t written = write(g_stop_pipe[1], &byte, 1);
  (void)written;
}

}  // namespace

bool InstallStopSignals() {
  if (g_stop_pipe[0] < 0 && pipe(g_stop_pipe) != 0) return false;
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  return true;
}

void WaitForStopSignal() {
  char byte;
  while (read(g_stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
}

void RaiseStopSignal() {
  OnStopSignal(0);
}

void AddWatchTuning(CLI::App* cmd, WatchOptions* options) {
  cmd->add_option("--settle", options->settle_seconds,
                  "Watching: seconds a file found by a rescan must keep its size and mtime "
                  "before it is read (files closed by their writer are read at once)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--rescan", options->rescan_seconds,
                  "Watching: seconds between light rescans that catch what notification missed "
                  "(0: none)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--poll", options->poll_seconds,
                  "Watching: seconds between rescans of folders that cannot be watched (network "
                  "file systems, no watches left)")
      ->check(CLI::NonNegativeNumber);
}

void AddStoreOptions(CLI::App& app) {
  MilvusOptions& o = MutableMilvusOptions();
  app.add_option("--milvus-token", o.token,
                 "Token for --db milvus://HOST:PORT (user:password or an API key; default: the "
                 "environment variable IMGSEARCH_MILVUS_TOKEN)");
  app.add_option("--milvus-db", o.database,
                 "Milvus database for --db milvus:// (default: default)");
  app.add_option("--milvus-index", o.float_index,
                 "Index of the float-vector collections a milvus:// library creates: HNSW "
                 "(default), IVF_FLAT, IVF_SQ8, FLAT, DISKANN or AUTOINDEX")
      ->check(CLI::IsMember({"HNSW", "IVF_FLAT", "IVF_SQ8", "FLAT", "DISKANN", "AUTOINDEX"}));
  app.fallthrough();  // given after the command's name, they still reach the main program
}

const MilvusOptions& StoreMilvusOptions() {
  return MutableMilvusOptions();
}

Result<std::unique_ptr<Database>> OpenExistingStore(const std::string& location) {
  DatabaseOptions options;
  options.create_if_missing = false;
  options.milvus = StoreMilvusOptions();
  return OpenStore(location, options);
}

Result<std::unique_ptr<Library>> OpenLibrary(const std::string& db_dir,
                                             const std::vector<std::string>& model_arguments,
                                             bool create, bool only_names, int threads,
                                             bool reembed) {
  LibraryOptions options;
  options.reembed = reembed;
  options.models = model_arguments;
  options.only_these_models = only_names;
  options.create_if_missing = create;
  options.inference_threads = threads;
  options.milvus = StoreMilvusOptions();
  return Library::Open(db_dir, options);
}

int SearchFromCommandLine(const std::string& query_text, const std::string& db_dir,
                          const std::vector<std::string>& models, const SearchOptions& options,
                          std::unique_ptr<Library>* library, ImageQuery* query,
                          SearchResults* results) {
  auto parsed = ImageQuery::Parse(query_text);
  if (!parsed.ok()) {
    PrintError(parsed.status());
    return kExitUsage;
  }
  auto opened = OpenLibrary(db_dir, models, /*create=*/false, /*only_names=*/true, 0);
  if (!opened.ok()) {
    PrintError(opened.status());
    return kExitFailure;
  }
  *library = std::move(opened).value();
  *query = *parsed;
  auto found = (*library)->Search(*query, options);
  if (!found.ok()) {
    PrintError(found.status());
    return kExitFailure;
  }
  *results = std::move(found).value();
  return kExitOk;
}

Result<std::shared_ptr<Collection>> ModelCollection(Library& library, size_t model) {
  return library.database().GetCollection(library.ModelNames().at(model));
}

Result<size_t> MirrorToRedis(const std::string& redis_url, Library& library) {
  if (redis_url.empty()) return size_t{0};
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<remote::RedisMirror> mirror,
                             remote::RedisMirror::Connect(redis_url));
  IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<Collection> images,
                             library.database().GetCollection(kImagesCollectionName));
  return mirror->Sync(*images);
}

}  // namespace imgsearch::cli
