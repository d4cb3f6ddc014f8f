#include "cli/session.h"

#include "cli/commands.h"
#include "cli/output.h"
#include "remote/redis_mirror.h"

#include <algorithm>

namespace imgsearch::cli {

Result<Session> OpenSession(const std::string& db_dir,
                            const std::vector<std::string>& model_arguments, bool create,
                            bool only_names, int threads) {
  DatabaseOptions db_options;
  db_options.create_if_missing = create;
  Session session;
  IMGSEARCH_ASSIGN_OR_RETURN(session.db, Database::Open(db_dir, db_options));
  std::vector<pipeline::ModelSource> requested;
  if (!only_names) {
    for (const std::string& argument : model_arguments) {
      IMGSEARCH_ASSIGN_OR_RETURN(pipeline::ModelSource m, pipeline::ParseModelArgument(argument));
      requested.push_back(m);
    }
  }
  EmbedderOptions embedder_options;
  embedder_options.intra_op_threads = threads;
  IMGSEARCH_ASSIGN_OR_RETURN(
      session.models, pipeline::OpenModelSet(*session.db, db_dir, requested, embedder_options));
  if (only_names && !model_arguments.empty()) {
    std::vector<pipeline::BoundModel> chosen;
    for (const std::string& name : model_arguments) {
      auto it = std::find_if(session.models.begin(), session.models.end(),
                             [&](const pipeline::BoundModel& m) { return m.source.name == name; });
      if (it == session.models.end())
        return Status::NotFound("model \"" + name + "\" is not used by " + db_dir);
      chosen.push_back(std::move(*it));
      session.models.erase(it);
    }
    session.models = std::move(chosen);
  }
  return session;
}

int SearchFromCommandLine(const std::string& query_text, const std::string& db_dir,
                          const std::vector<std::string>& models,
                          const pipeline::SearchOptions& options, Session* session,
                          pipeline::Query* query, pipeline::SearchResults* results) {
  auto parsed = pipeline::ParseQuery(query_text);
  if (!parsed.ok()) {
    PrintError(parsed.status());
    return kExitUsage;
  }
  auto opened = OpenSession(db_dir, models, /*create=*/false, /*only_names=*/true, 0);
  if (!opened.ok()) {
    PrintError(opened.status());
    return kExitFailure;
  }
  *session = std::move(opened).value();
  *query = *parsed;
  auto found = pipeline::SearchModels(session->models, *query, options);
  if (!found.ok()) {
    PrintError(found.status());
    return kExitFailure;
  }
  *results = std::move(found).value();
  return kExitOk;
}

Result<size_t> MirrorToRedis(const std::string& redis_url,
                             const std::vector<pipeline::BoundModel>& models) {
  if (redis_url.empty()) return size_t{0};
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<remote::RedisMirror> mirror,
                             remote::RedisMirror::Connect(redis_url));
  size_t rows = 0;
  for (const auto& m : models) {
    IMGSEARCH_ASSIGN_OR_RETURN(size_t n, mirror->Sync(*m.collection));
    rows += n;
  }
  return rows;
}

}  // namespace imgsearch::cli
