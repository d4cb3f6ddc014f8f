// Library: the public face of the pipeline (ingest, search, compare, eval) over one
// database and its models.
#include "imgsearch/library.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "base/env.h"
#include "base/log.h"
#include "pipeline/compare_report.h"
#include "pipeline/dba.h"
#include "pipeline/duplicates.h"
#include "pipeline/eval.h"
#include "pipeline/images.h"
#include "pipeline/ingest.h"
#include "pipeline/model_set.h"
#include "pipeline/open_library.h"
#include "pipeline/search.h"
#include "pipeline/tune.h"
#include "store/open_database.h"

namespace imgsearch {
namespace {

class LibraryImpl final : public Library {
 public:
  LibraryImpl(base::Env* env, std::string location, LibraryOptions options,
              std::unique_ptr<Database> db, std::shared_ptr<Collection> images,
              std::vector<pipeline::BoundModel> models)
      : env_(env),
        location_(std::move(location)),
        options_(std::move(options)),
        db_(std::move(db)),
        images_(std::move(images)),
        models_(std::move(models)) {}

  const std::string& location() const override { return location_; }
  Database& database() override { return *db_; }

  std::vector<std::string> ModelNames() const override {
    std::vector<std::string> names;
    for (const auto& m : models_) names.push_back(m.source.name);
    return names;
  }

  Result<IndexReport> Index(const IndexOptions& options) override {
    IMGSEARCH_ASSIGN_OR_RETURN(IndexReport report,
                               pipeline::Ingest(env_, *db_, *images_, models_, options));
    // Every image now has vectors of the models' current files.
    if (!report.cancelled) IMGSEARCH_RETURN_IF_ERROR(pipeline::FinishReembedding(*db_, models_));
    IMGSEARCH_RETURN_IF_ERROR(SyncAugmentation());
    return report;
  }

  Result<AddedImage> AddImage(std::string_view bytes, const nlohmann::json& fields) override;
  Result<AddedImage> AddImageFile(const std::string& path, const nlohmann::json& fields) override;
  Status SetFields(int64_t id, const nlohmann::json& fields) override;

  Result<int64_t> RemoveImages(const std::vector<int64_t>& ids) override {
    IMGSEARCH_ASSIGN_OR_RETURN(int64_t removed, pipeline::RemoveImages(*db_, models_, ids));
    IMGSEARCH_RETURN_IF_ERROR(SyncAugmentation());
    return removed;
  }

  Result<std::vector<int64_t>> FindImages(const std::string& filter) const override {
    QueryRequest query;
    query.filter = filter;
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, images_->Query(query));
    std::vector<int64_t> ids;
    for (const Row& row : rows) ids.push_back(row.id);
    return ids;
  }

  Result<std::vector<ImageInfo>> GetImages(const std::vector<int64_t>& ids) const override {
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows,
                               images_->Get(ids, pipeline::ImageFieldNames()));
    std::vector<ImageInfo> images;
    for (const Row& row : rows) images.push_back(pipeline::ImageFromRow(row));
    return images;
  }

  Result<std::string> PathOf(int64_t id) const override {
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<ImageInfo> images, GetImages({id}));
    if (images.empty()) return Status::NotFound("no image with id " + std::to_string(id));
    return images[0].path;
  }

  Result<SearchResults> Search(const ImageQuery& query, const SearchOptions& options) override {
    for (int attempt = 1;; ++attempt) {
      IMGSEARCH_ASSIGN_OR_RETURN(SearchState state,
                                 CurrentState(options.fuse == "auto" || options.fuse == "tuned"));
      IMGSEARCH_ASSIGN_OR_RETURN(SearchOptions resolved, ResolveFusion(options, state.fusion));
      const pipeline::TunedFusion* tuned = state.fusion ? &*state.fusion : nullptr;
      Result<SearchResults> results =
          pipeline::SearchModels(state.models, *images_, query, resolved, tuned);
      const bool twins =
          std::any_of(state.models.begin(), state.models.end(),
                      [](const pipeline::BoundModel& m) { return m.augmented != nullptr; });
      if (results.ok() || !twins) return results;
      // The twins were dropped under the search: a tune (here or in another process)
      // switched to newer ones, which the next try searches, with the fusion tuned for them.
      ForgetTwins();
      Result<pipeline::DbaState> now = pipeline::StoredDbaState(*db_);
      if (attempt < kStateTries && now.ok() && !(*now == state.dba)) continue;
      IMGSEARCH_LOG_WARN(
          "search over the augmented vectors failed ({}): searching the plain vectors",
          results.status().ToString());
      for (pipeline::BoundModel& m : state.models) m.augmented.reset();
      return pipeline::SearchModels(state.models, *images_, query, resolved, tuned);
    }
  }

  nlohmann::json Compare(const SearchResults& results) const override {
    return pipeline::CompareModels(results);
  }

  Result<std::string> CompareHtml(const std::string& query_label, const ImageQuery& query,
                                  const SearchResults& results,
                                  const nlohmann::json& comparison) const override {
    std::string query_path = query.path;
    if (query_path.empty() && query.id >= 0) {  // id:N: the indexed file
      auto path = PathOf(query.id);
      if (path.ok()) query_path = *path;
    }
    return pipeline::CompareHtml(query_label, query_path, results, comparison);
  }

  Result<EvalReport> Evaluate(const EvalOptions& options) override {
    IMGSEARCH_ASSIGN_OR_RETURN(SearchState state, CurrentState(true));
    const std::optional<pipeline::TunedFusion>& tuned = state.fusion;
    pipeline::Rerank rerank;
    if (!options.rerank.empty()) {
      IMGSEARCH_ASSIGN_OR_RETURN(rerank, pipeline::ParseRerank(options.rerank));
    } else if (tuned) {
      rerank = tuned->rerank;
    }
    return pipeline::Evaluate(state.models, *images_, options, tuned ? &*tuned : nullptr, rerank);
  }

  Result<DuplicateReport> FindDuplicates(const DuplicateOptions& options) override {
    return pipeline::FindDuplicates(models_, *images_, options);
  }

  // Database-side augmentation in tune: `--dba auto` (the default) tries these settings,
  // each by the class-held-out cross-validation of the fusion, and keeps the best only if
  // it beats the fusion without twins on held-out folds.
  static constexpr const char* kDbaCandidates[] = {"5,alpha=3", "10,alpha=3"};

  Result<TuneReport> Tune(const TuneOptions& options) override {
    // What to try: auto (the candidates), off (none: the twins are dropped), N[,alpha=A]
    // (that one, kept if it helps) or force:N[,alpha=A] (that one, kept whatever it scores).
    std::string text = options.dba.empty() ? "auto" : options.dba;
    const bool force = text.rfind("force:", 0) == 0;
    if (force) text = text.substr(6);
    std::vector<pipeline::Dba> candidates;
    if (text == "auto") {
      for (const char* c : kDbaCandidates) {
        IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Dba dba, pipeline::ParseDba(c));
        candidates.push_back(dba);
      }
    } else {
      IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Dba dba, pipeline::ParseDba(text));
      if (force && !dba.on()) return Status::InvalidArgument("dba force:off: say off");
      if (dba.on()) candidates.push_back(dba);
    }
    if (std::all_of(models_.begin(), models_.end(),
                    [](const pipeline::BoundModel& m) { return m.collection->schema().binary(); }))
      candidates.clear();  // no float model: nothing to augment
    // Tuned on a copy of the models: searches meanwhile go on with the twins in use.
    std::vector<pipeline::BoundModel> models = SearchCopy();
    for (pipeline::BoundModel& m : models) m.augmented.reset();
    IMGSEARCH_ASSIGN_OR_RETURN(pipeline::DbaState stored, pipeline::StoredDbaState(*db_));
    IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Tuned best, pipeline::Tune(models, *images_, options));
    auto held_out = [](const TuneReport& r) {
      return r.rerank != "off" ? r.held_out_rerank_map : r.held_out_map;
    };
    const double without = held_out(best.report);
    pipeline::DbaState chosen{{}, stored.generation};  // off
    pipeline::DbaReport built;
    std::string tried;
    int64_t generation = stored.generation;
    for (const pipeline::Dba& dba : candidates) {
      // A new generation of twins, not in use until stored with the fusion below.
      IMGSEARCH_ASSIGN_OR_RETURN(pipeline::DbaReport report,
                                 pipeline::BuildDba(*db_, models, dba, ++generation));
      IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Tuned with, pipeline::Tune(models, *images_, options));
      const double score = held_out(with.report);
      char line[200];
      std::snprintf(line, sizeof line, "%s%s: %.3f (%zu vectors, %.1f s)",
                    tried.empty() ? "" : "; ", dba.ToString().c_str(), score, report.twins,
                    report.seconds);
      tried += line;
      // Kept: the best so far that beats the fusion without twins (forced: the one asked for).
      if (force || (score > without && (!chosen.dba.on() || score > held_out(best.report)))) {
        if (chosen.dba.on())  // the earlier choice's twins are no longer wanted
          IMGSEARCH_RETURN_IF_ERROR(DropGeneration(models, chosen.generation));
        best = std::move(with);
        chosen = {dba, generation};
        built = report;
      } else {
        IMGSEARCH_RETURN_IF_ERROR(DropGeneration(models, generation));
      }
    }
    TuneReport& report = best.report;
    report.dba = chosen.dba.ToString();
    if (!candidates.empty()) {
      report.dba_tried = tried;
      report.held_out_dba_map = chosen.dba.on() ? held_out(report) : 0;
      report.held_out_without_dba_map = without;
      report.dba_twins = built.twins;
      report.dba_seconds = built.seconds;
    }
    // The twins and the fusion tuned with them are switched to together.
    for (pipeline::BoundModel& m : models)
      if (!chosen.dba.on()) m.augmented.reset();
    const std::string fusion = pipeline::FusionSetting(models, best.fusion, options.k);
    if (!chosen.dba.on()) chosen.generation = generation;
    IMGSEARCH_RETURN_IF_ERROR(db_->Transact([&](Transaction& txn) {
      IMGSEARCH_RETURN_IF_ERROR(txn.PutSetting(
          pipeline::kDbaSetting, pipeline::DbaSetting(chosen.dba, chosen.generation)));
      return txn.PutSetting(pipeline::kFusionSetting, fusion);
    }));
    IMGSEARCH_RETURN_IF_ERROR(
        pipeline::DropOtherDba(*db_, models, chosen.dba.on() ? chosen.generation : -1));
    return report;
  }

 private:
  Status DropGeneration(const std::vector<pipeline::BoundModel>& models, int64_t generation) {
    for (const pipeline::BoundModel& m : models) {
      const std::string name = pipeline::DbaCollectionName(m.source.name, generation);
      if (db_->HasCollection(name)) IMGSEARCH_RETURN_IF_ERROR(db_->DropCollection(name));
    }
    return Status::Ok();
  }

  // After a write: the twins of database-side augmentation follow, when they are on.
  Status SyncAugmentation() {
    IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Dba dba, pipeline::StoredDba(*db_));
    if (!dba.on()) return Status::Ok();
    std::vector<pipeline::BoundModel> models = models_;
    return pipeline::SyncDba(*db_, models, dba).status();
  }

  // What a search reads of the models, copied without `reembed`: writers (Index) change
  // that flag while searches run, under the write lock searches do not take.
  std::vector<pipeline::BoundModel> SearchCopy() const {
    std::vector<pipeline::BoundModel> copy;
    for (const pipeline::BoundModel& m : models_)
      copy.push_back({m.source, m.embedder, m.collection, false, m.augmented});
    return copy;
  }

  // How often a search reads the library's state again when a tune switched it under the
  // read or the search (each retry means a newer state was stored meanwhile).
  static constexpr int kStateTries = 8;

  // One state of the library as searches see it: the twins the dba setting names and the
  // fusion tuned with them, which tune stores in one transaction (and then drops the older
  // twins).
  struct SearchState {
    pipeline::DbaState dba;
    std::vector<pipeline::BoundModel> models;  // `augmented`: the twins of `dba`
    std::optional<pipeline::TunedFusion> fusion;
  };

  // Reads the setting, the fusion (`with_fusion`) and the setting again, until the two reads agree
  // (so the fusion is the one stored with those twins) and every twin the setting names is found
  // (gone: a newer state dropped it). After kStateTries, the last read with a warning;
  // models whose twins are missing then search their plain vectors.
  Result<SearchState> CurrentState(bool with_fusion) {
    for (int attempt = 1;; ++attempt) {
      SearchState state;
      state.models = SearchCopy();
      Result<pipeline::DbaState> before = pipeline::StoredDbaState(*db_);
      if (with_fusion) {
        IMGSEARCH_ASSIGN_OR_RETURN(state.fusion, UsableTunedFusion());
      }
      Result<pipeline::DbaState> after = pipeline::StoredDbaState(*db_);
      if (!after.ok()) {
        IMGSEARCH_LOG_WARN("{}: searching the plain vectors", after.status().ToString());
        return state;
      }
      state.dba = *after;
      const bool last = attempt >= kStateTries;
      if (!last && !(before.ok() && *before == *after)) continue;
      if (AttachTwins(state.dba, &state.models)) return state;
      if (last) {
        pipeline::WarnTwinsGone(state.dba);
        return state;
      }
    }
  }

  // Points the models' `augmented` at the twins of `state` (kept for the next search while
  // the setting stays); false when one of them is missing.
  bool AttachTwins(const pipeline::DbaState& state, std::vector<pipeline::BoundModel>* models) {
    std::lock_guard<std::mutex> lock(twins_mutex_);
    if (!twins_state_ || !(*twins_state_ == state)) {
      std::vector<pipeline::BoundModel> attached = SearchCopy();
      if (!pipeline::AttachDbaState(*db_, attached, state)) {
        *models = std::move(attached);
        return false;
      }
      twins_.clear();
      for (const pipeline::BoundModel& m : attached) twins_.push_back(m.augmented);
      twins_state_ = state;
    }
    for (size_t m = 0; m < models->size(); ++m) (*models)[m].augmented = twins_[m];
    return true;
  }

  void ForgetTwins() {
    std::lock_guard<std::mutex> lock(twins_mutex_);
    twins_state_.reset();
  }

  // The stored fusion, unless it gives every model in use 0 (the models changed since).
  Result<std::optional<pipeline::TunedFusion>> UsableTunedFusion() const {
    IMGSEARCH_ASSIGN_OR_RETURN(auto fusion, pipeline::StoredFusion(*db_, models_));
    if (fusion && std::all_of(fusion->weights.begin(), fusion->weights.end(),
                              [](double w) { return w <= 0; }))
      fusion.reset();
    return fusion;
  }

  // "auto" becomes the tuned fusion (`tuned`, as read with the twins) when the library has
  // one, else "rrf".
  static Result<SearchOptions> ResolveFusion(SearchOptions options,
                                             const std::optional<pipeline::TunedFusion>& tuned) {
    if (options.fuse != "auto" && options.fuse != "tuned") return options;
    if (!tuned && options.fuse == "tuned")
      return Status::InvalidArgument("no tuned fusion weights: run imgsearch tune first");
    options.fuse = tuned ? "tuned" : "rrf";
    if (options.rerank.empty() && tuned) options.rerank = tuned->rerank.ToString();
    return options;
  }

  base::Env* const env_;  // the library's files: its database and uploads
  std::string location_;
  LibraryOptions options_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> images_;
  std::vector<pipeline::BoundModel> models_;
  std::mutex upload_mutex_;  // uploads are files named by content: one written at a time
  // The twins searches use, as of the stored setting `twins_state_` (models_ never hold
  // them: tune and the syncs work on copies).
  std::mutex twins_mutex_;
  std::optional<pipeline::DbaState> twins_state_;
  std::vector<std::shared_ptr<Collection>> twins_;
};

Result<AddedImage> LibraryImpl::AddImage(std::string_view bytes, const nlohmann::json& fields) {
  DecodeOptions limits;
  if (options_.max_upload_pixels > 0) limits.max_pixels = options_.max_upload_pixels;
  IMGSEARCH_RETURN_IF_ERROR(DecodeImage(bytes, "upload", limits).status());
  base::Env* env = env_;
  std::string dir = options_.uploads_dir;
  if (dir.empty() && IsMilvusLocation(location_)) {
    return Status::InvalidArgument(
        "a library in Milvus keeps uploads in a folder of its own: name one (serve "
        "--uploads DIR; LibraryOptions::uploads_dir), shared by every process that serves it");
  }
  if (dir.empty()) dir = location_ + "/uploads";
  IMGSEARCH_RETURN_IF_ERROR(env->CreateDirs(dir));
  std::string path = dir + "/" + pipeline::ContentHash(bytes) +
                     ImageFormatFileOf(DetectImageFormat(bytes)).extension;
  std::lock_guard<std::mutex> lock(upload_mutex_);
  if (!env->FileExists(path))
    IMGSEARCH_RETURN_IF_ERROR(env->WriteFileAtomic(path, std::string(bytes)));
  return AddImageFile(path, fields);
}

Result<AddedImage> LibraryImpl::AddImageFile(const std::string& path,
                                             const nlohmann::json& fields) {
  if (!fields.is_null() && !fields.is_object())
    return Status::InvalidArgument("an image's fields must be a JSON object");
  IndexOptions index;
  index.paths = {path};
  IMGSEARCH_ASSIGN_OR_RETURN(IndexReport report, Index(index));
  if (!report.failures.empty()) return report.failures[0].status;
  std::string normal = std::filesystem::absolute(path).lexically_normal().string();
  IMGSEARCH_ASSIGN_OR_RETURN(auto found, pipeline::ImagesByPath(*images_, {normal}));
  if (found.empty()) return Status::Internal(path + ": indexed but not found again");
  const ImageInfo& image = found.begin()->second;
  if (!fields.is_null() && fields != image.fields)
    IMGSEARCH_RETURN_IF_ERROR(SetFields(image.id, fields));
  return AddedImage{image.id, report.added > 0, image.width, image.height, image.path};
}

Status LibraryImpl::SetFields(int64_t id, const nlohmann::json& fields) {
  if (!fields.is_object())
    return Status::InvalidArgument("an image's fields must be a JSON object");
  return db_->Transact([&](Transaction& txn) -> Status {
    // Read inside the write, so that a concurrent re-index of the file is not undone.
    IMGSEARCH_ASSIGN_OR_RETURN(auto found, pipeline::ImagesById(*images_, {id}));
    if (found.empty()) return Status::NotFound("no image with id " + std::to_string(id));
    ImageInfo image = found.begin()->second;
    image.fields = fields;
    return txn.Upsert(pipeline::kImagesCollection, {pipeline::ImageRow(image)}).status();
  });
}

// Narrows the library's models to those named, in the order named.
Result<std::vector<pipeline::BoundModel>> OnlyThese(std::vector<pipeline::BoundModel> models,
                                                    const std::vector<std::string>& names,
                                                    const std::string& location) {
  std::vector<pipeline::BoundModel> chosen;
  for (const std::string& name : names) {
    auto it = std::find_if(models.begin(), models.end(),
                           [&](const pipeline::BoundModel& m) { return m.source.name == name; });
    if (it == models.end())
      return Status::NotFound("model \"" + name + "\" is not used by " + location);
    chosen.push_back(std::move(*it));
    models.erase(it);
  }
  return chosen;
}

}  // namespace

Result<ImageQuery> ImageQuery::Parse(const std::string& text) {
  return pipeline::ParseQuery(text);
}

Result<CropBox> CropBox::Parse(const std::string& text) {
  return pipeline::ParseCropBox(text);
}

nlohmann::json SearchResults::ToJson(const std::string& query_label) const {
  return pipeline::SearchResultsJson(query_label, *this);
}

Result<std::unique_ptr<Library>> Library::Open(const std::string& location,
                                               const LibraryOptions& options) {
  return pipeline::OpenLibrary(location, options, base::Env::Default());
}

Result<std::unique_ptr<Library>> pipeline::OpenLibrary(const std::string& location,
                                                       const LibraryOptions& options,
                                                       base::Env* env) {
  DatabaseOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.milvus = options.milvus;
  // A library in Milvus has no files of its own but uploads, kept where options say.
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                             IsMilvusLocation(location)
                                 ? OpenStore(location, db_options)
                                 : store::OpenDatabase(location, db_options, env));
  std::vector<pipeline::ModelSource> requested;
  if (!options.only_these_models) {
    for (const std::string& argument : options.models) {
      IMGSEARCH_ASSIGN_OR_RETURN(pipeline::ModelSource m, pipeline::ParseModelArgument(argument));
      requested.push_back(m);
    }
  }
  EmbedderOptions embedder_options = pipeline::LibraryEmbedderOptions(options.inference_threads);
  IMGSEARCH_ASSIGN_OR_RETURN(
      std::vector<pipeline::BoundModel> models,
      pipeline::OpenModelSet(*db, location, requested, embedder_options, options.reembed));
  if (options.only_these_models && !options.models.empty()) {
    IMGSEARCH_ASSIGN_OR_RETURN(models, OnlyThese(std::move(models), options.models, location));
  }
  IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<Collection> images, pipeline::OpenImages(*db));
  IMGSEARCH_RETURN_IF_ERROR(pipeline::StoredDbaState(*db).status());  // a bad setting: now
  return std::unique_ptr<Library>(
      new LibraryImpl(env, location, options, std::move(db), std::move(images), std::move(models)));
}

}  // namespace imgsearch
