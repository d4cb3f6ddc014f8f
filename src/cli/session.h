// What the library commands share: opening the library named by --db, and searching it
// for a query given on the command line.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "imgsearch/library.h"
#include "imgsearch/watch.h"

namespace imgsearch::cli {

// --milvus-token, --milvus-db and --milvus-index: how every command reaches a library in
// Milvus (--db milvus://HOST:PORT). On the main program, so that each command takes them.
void AddStoreOptions(CLI::App& app);
// What those options say.
const MilvusOptions& StoreMilvusOptions();
// The store at --db (a folder or milvus://), which must hold a library already.
Result<std::unique_ptr<Database>> OpenExistingStore(const std::string& location);

// `model_arguments` are --model values (NAME=SOURCE or SOURCE); empty = the models the
// library uses (or the built-in ones for a new library). With `only_names`, they pick the
// library's models by name instead.
Result<std::unique_ptr<Library>> OpenLibrary(const std::string& db_dir,
                                             const std::vector<std::string>& model_arguments,
                                             bool create, bool only_names, int threads,
                                             bool reembed = false);

// Parses QUERY (a file or id:N), opens the library and searches the chosen models, as
// search and compare both do. On failure prints the reason and returns the exit code.
int SearchFromCommandLine(const std::string& query_text, const std::string& db_dir,
                          const std::vector<std::string>& models, const SearchOptions& options,
                          std::unique_ptr<Library>* library, ImageQuery* query,
                          SearchResults* results);

// The collection of one of the library's models.
Result<std::shared_ptr<Collection>> ModelCollection(Library& library, size_t model);

// With a URL, makes the Redis mirror of the library's images match the library.
// Returns the rows mirrored (0 without a URL).
Result<size_t> MirrorToRedis(const std::string& redis_url, Library& library);

// From this call on, SIGINT and SIGTERM make WaitForStopSignal return (a handler writes a
// byte to a pipe: async-signal-safe, and whichever thread the kernel picks, it works).
// False when the pipe cannot be made.
bool InstallStopSignals();
// Blocks until a stop signal (or RaiseStopSignal) arrives.
void WaitForStopSignal();
// Releases WaitForStopSignal as a signal would.
void RaiseStopSignal();

// --settle, --rescan and --poll: how a watched folder (serve --watch, index --watch) is
// watched.
void AddWatchTuning(CLI::App* cmd, WatchOptions* options);

}  // namespace imgsearch::cli
