// What the database commands share: the database folder opened, and its models bound to
// their collections.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "imgsearch/database.h"
#include "pipeline/model_set.h"
#include "pipeline/search.h"

namespace imgsearch::cli {

struct Session {
  std::unique_ptr<Database> db;
  std::vector<pipeline::BoundModel> models;
};

// `model_arguments` are --model values (NAME=SOURCE or SOURCE); empty = the models
// recorded in the database (or the built-in ones for a new database). With `only_names`,
// the recorded models are narrowed to those names instead.
Result<Session> OpenSession(const std::string& db_dir,
                            const std::vector<std::string>& model_arguments, bool create,
                            bool only_names, int threads);

// Parses QUERY (a file or id:N), opens the database and searches the chosen models, as
// search and compare both do. On failure prints the reason and returns the exit code.
int SearchFromCommandLine(const std::string& query_text, const std::string& db_dir,
                          const std::vector<std::string>& models,
                          const pipeline::SearchOptions& options, Session* session,
                          pipeline::Query* query, pipeline::SearchResults* results);

// With a URL, makes the Redis mirror of every model's collection match the database.
// Returns the rows mirrored (0 without a URL).
Result<size_t> MirrorToRedis(const std::string& redis_url,
                             const std::vector<pipeline::BoundModel>& models);

}  // namespace imgsearch::cli
