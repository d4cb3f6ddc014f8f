// Library: the public face of the pipeline (ingest, search, compare, eval) over one
// database and its models.
#include "imgsearch/library.h"

#include <algorithm>
#include <filesystem>
#include <mutex>

#include "base/env.h"
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
                               pipeline::Ingest(*db_, *images_, models_, options));
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
    std::optional<pipeline::TunedFusion> tuned;
    IMGSEARCH_ASSIGN_OR_RETURN(SearchOptions resolved, ResolveFusion(options, &tuned));
    return pipeline::SearchModels(models_, *images_, query, resolved, tuned ? &*tuned : nullptr);
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
    IMGSEARCH_ASSIGN_OR_RETURN(auto tuned, UsableTunedFusion());
    pipeline::Rerank rerank;
    if (!options.rerank.empty()) {
      IMGSEARCH_ASSIGN_OR_RETURN(rerank, pipeline::ParseRerank(options.rerank));
    } else if (tuned) {
      rerank = tuned->rerank;
    }
    return pipeline::Evaluate(models_, *images_, options, tuned ? &*tuned : nullptr, rerank);
  }

  Result<DuplicateReport> FindDuplicates(const DuplicateOptions& options) override {
    return pipeline::FindDuplicates(models_, *images_, options);
  }

  Result<TuneReport> Tune(const TuneOptions& options) override {
    pipeline::Dba dba;
    if (!options.dba.empty()) {
      IMGSEARCH_ASSIGN_OR_RETURN(dba, pipeline::ParseDba(options.dba));
    }
    if (!options.dba.empty() && !dba.on()) IMGSEARCH_RETURN_IF_ERROR(StoreDba(dba));
    if (!dba.on()) {  // as the library is now
      IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Tuned tuned, pipeline::Tune(models_, *images_, options));
      IMGSEARCH_ASSIGN_OR_RETURN(dba, pipeline::StoredDba(*db_));
      tuned.report.dba = dba.ToString();
      IMGSEARCH_RETURN_IF_ERROR(StoreFusion(tuned.fusion, options.k));
      return tuned.report;
    }
    // Tuned without the twins, then with them; the better on held-out folds is kept.
    IMGSEARCH_RETURN_IF_ERROR(StoreDba({}));
    IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Tuned plain, pipeline::Tune(models_, *images_, options));
    IMGSEARCH_ASSIGN_OR_RETURN(pipeline::DbaReport built,
                               pipeline::SyncDba(*db_, models_, dba, /*full=*/true));
    IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Tuned with, pipeline::Tune(models_, *images_, options));
    auto held_out = [](const TuneReport& r) {
      return r.rerank != "off" ? r.held_out_rerank_map : r.held_out_map;
    };
    const bool keep = held_out(with.report) > held_out(plain.report);
    pipeline::Tuned& chosen = keep ? with : plain;
    chosen.report.dba_tried = dba.ToString();
    chosen.report.held_out_dba_map = held_out(with.report);
    chosen.report.held_out_without_dba_map = held_out(plain.report);
    chosen.report.dba_twins = built.twins;
    chosen.report.dba_seconds = built.seconds;
    chosen.report.dba = keep ? dba.ToString() : "off";
    IMGSEARCH_RETURN_IF_ERROR(StoreDba(keep ? dba : pipeline::Dba{}));
    IMGSEARCH_RETURN_IF_ERROR(StoreFusion(chosen.fusion, options.k));
    return chosen.report;
  }

 private:
  Status StoreFusion(const pipeline::TunedFusion& fusion, int k) {
    const std::string setting = pipeline::FusionSetting(models_, fusion, k);
    return db_->Transact(
        [&](Transaction& txn) { return txn.PutSetting(pipeline::kFusionSetting, setting); });
  }

  // Keeps the augmentation setting; off drops the twins.
  Status StoreDba(const pipeline::Dba& dba) {
    if (!dba.on()) IMGSEARCH_RETURN_IF_ERROR(pipeline::DropDba(*db_, models_));
    const std::string setting = pipeline::DbaSetting(dba);
    return db_->Transact(
        [&](Transaction& txn) { return txn.PutSetting(pipeline::kDbaSetting, setting); });
  }

  // After a write: the twins of database-side augmentation follow, when it is on.
  Status SyncAugmentation() {
    IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Dba dba, pipeline::StoredDba(*db_));
    if (!dba.on()) return Status::Ok();
    return pipeline::SyncDba(*db_, models_, dba).status();
  }

  // The stored fusion, unless it gives every model in use 0 (the models changed since).
  Result<std::optional<pipeline::TunedFusion>> UsableTunedFusion() const {
    IMGSEARCH_ASSIGN_OR_RETURN(auto fusion, pipeline::StoredFusion(*db_, models_));
    if (fusion && std::all_of(fusion->weights.begin(), fusion->weights.end(),
                              [](double w) { return w <= 0; }))
      fusion.reset();
    return fusion;
  }

  // "auto" becomes the tuned fusion (read into `tuned`) when the library has one, else "rrf".
  Result<SearchOptions> ResolveFusion(SearchOptions options,
                                      std::optional<pipeline::TunedFusion>* tuned) const {
    if (options.fuse != "auto" && options.fuse != "tuned") return options;
    IMGSEARCH_ASSIGN_OR_RETURN(*tuned, UsableTunedFusion());
    if (!*tuned && options.fuse == "tuned")
      return Status::InvalidArgument("no tuned fusion weights: run imgsearch tune first");
    options.fuse = *tuned ? "tuned" : "rrf";
    if (options.rerank.empty() && *tuned) options.rerank = (*tuned)->rerank.ToString();
    return options;
  }

  base::Env* const env_;  // the library's files: its database and uploads
  std::string location_;
  LibraryOptions options_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> images_;
  std::vector<pipeline::BoundModel> models_;
  std::mutex upload_mutex_;  // uploads are files named by content: one written at a time
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
  if (!report.failures.empty()) return Status::InvalidArgument(report.failures[0].reason);
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
  IMGSEARCH_ASSIGN_OR_RETURN(pipeline::Dba dba, pipeline::StoredDba(*db));
  if (dba.on()) IMGSEARCH_RETURN_IF_ERROR(pipeline::AttachDba(*db, models));
  return std::unique_ptr<Library>(
      new LibraryImpl(env, location, options, std::move(db), std::move(images), std::move(models)));
}

}  // namespace imgsearch
