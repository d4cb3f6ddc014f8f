#include "pipeline/model_set.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/env.h"
#include "base/json.h"
#include "model/builtin_models.h"
#include "pipeline/images.h"

namespace imgsearch::pipeline {
namespace {

constexpr const char* kRegistryMagic = "imgsearch-models";
constexpr int kRegistryVersion = 1;
// The database setting that holds the library's models (imgsearch/database.h settings).
constexpr const char* kRegistrySetting = "library.models";

// What the library knows of one model: where it comes from, which file (by checksum) its
// vectors were made with, and whether a re-embedding with a new file is under way.
struct RecordedModel {
  ModelSource source;
  std::string checksum;  // ContentHash of the ONNX bytes; empty: not known yet
  int64_t file_size = -1, file_mtime_ns = -1;  // of the file the checksum was taken of
  nlohmann::json spec;
  bool reembed_pending = false;
};

Result<std::vector<RecordedModel>> ParseRegistry(const std::string& text, const std::string& what) {
  auto parsed = base::ParseJson(text);
  const nlohmann::json j = parsed.ok() ? std::move(parsed).value() : nlohmann::json();
  if (!j.is_object() || j.value("magic", "") != kRegistryMagic ||
      j.value("version", 0) != kRegistryVersion || !j.contains("models") ||
      !j["models"].is_array()) {
    return Status::Corruption(what + ": not an imgsearch model list");
  }
  std::vector<RecordedModel> models;
  for (const auto& m : j["models"]) {
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || !m.contains("source") ||
        !m["source"].is_string()) {
      return Status::Corruption(what + ": malformed model entry");
    }
    RecordedModel r;
    r.source = {m["name"].get<std::string>(), m["source"].get<std::string>()};
    r.checksum = m.value("checksum", "");
    r.file_size = m.value("file_size", int64_t{-1});
    r.file_mtime_ns = m.value("file_mtime_ns", int64_t{-1});
    r.spec = m.value("spec", nlohmann::json());
    r.reembed_pending = m.value("reembed_pending", false);
    models.push_back(std::move(r));
  }
  return models;
}

std::string RegistryText(const std::vector<RecordedModel>& models) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : models) {
    list.push_back({{"name", m.source.name},
                    {"source", m.source.source},
                    {"checksum", m.checksum},
                    {"file_size", m.file_size},
                    {"file_mtime_ns", m.file_mtime_ns},
                    {"spec", m.spec},
                    {"reembed_pending", m.reembed_pending}});
  }
  return nlohmann::json{{"magic", kRegistryMagic}, {"version", kRegistryVersion}, {"models", list}}
      .dump();
}

// The models as the database records them; a library made before they lived there has
// them in DIR/models.json, which is read once and then removed.
Result<std::vector<RecordedModel>> LoadRegistry(const Database& db, const std::string& db_dir) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> text, db.GetSetting(kRegistrySetting));
  if (text) return ParseRegistry(*text, db_dir + " (its list of models)");
  std::string legacy = db_dir + "/models.json";
  if (!base::Env::Default()->FileExists(legacy)) return std::vector<RecordedModel>();
  IMGSEARCH_ASSIGN_OR_RETURN(std::string old, base::Env::Default()->ReadFile(legacy, 1 << 20));
  return ParseRegistry(old, legacy);
}

// Where a model's bytes come from and what they hash to. The file is hashed again only
// when its size or time changed since the recorded checksum was taken.
struct Fingerprint {
  std::string checksum;
  int64_t file_size = -1, file_mtime_ns = -1;
};

Result<Fingerprint> FingerprintOf(const ModelSource& source, const RecordedModel* recorded) {
  Fingerprint f;
  if (const model::BuiltinModel* builtin = model::FindBuiltinModel(source.source)) {
    f.checksum = ContentHash(builtin->onnx_bytes);
    return f;
  }
  const std::string path = SplitModelPreset(source.source).path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status::NotFound("model \"" + source.name + "\": " + source.source + " is gone");
  f.file_size = static_cast<int64_t>(st.st_size);
  f.file_mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (recorded != nullptr && !recorded->checksum.empty() && recorded->file_size == f.file_size &&
      recorded->file_mtime_ns == f.file_mtime_ns) {
    f.checksum = recorded->checksum;
    return f;
  }
  IMGSEARCH_ASSIGN_OR_RETURN(std::string bytes,
                             base::Env::Default()->ReadFile(path, uint64_t{1} << 36));
  f.checksum = ContentHash(bytes);
  return f;
}

// A model whose file changed must not add vectors beside those of the old file.
Status CheckModelVersion(const RecordedModel& model, const std::string& checksum, bool reembed,
                         bool* pending) {
  bool changed = !model.checksum.empty() && model.checksum != checksum;
  *pending = model.reembed_pending || changed;
  if (!*pending || reembed) return Status::Ok();
  std::string why = changed ? "its file " + model.source.source +
                                  " changed since the library's images were embedded with it"
                            : "a re-embedding with its new file did not finish";
  return Status::InvalidArgument(
      "model \"" + model.source.name + "\": " + why +
      "; vectors of two versions must not mix: run `imgsearch index FOLDER... --db LIBRARY "
      "--reembed` to embed every image again");
}

// Records `now` over the recorded list, inside one transaction: a model another process
// recorded meanwhile is kept (a model indexed once stays known to later commands).
Status RecordModels(Database& db, const std::vector<RecordedModel>& now) {
  return db.Transact([&](Transaction& txn) -> Status {
    IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> text, txn.GetSetting(kRegistrySetting));
    std::vector<RecordedModel> recorded;
    if (text) {
      IMGSEARCH_ASSIGN_OR_RETURN(recorded, ParseRegistry(*text, "the library's list of models"));
    }
    for (const RecordedModel& m : now) {
      auto it = std::find_if(recorded.begin(), recorded.end(), [&](const RecordedModel& r) {
        return r.source.name == m.source.name;
      });
      if (it == recorded.end()) {
        recorded.push_back(m);
      } else {
        *it = m;
      }
    }
    return txn.PutSetting(kRegistrySetting, RegistryText(recorded));
  });
}

// Libraries written before the images collection kept each image's fields in every
// model's collection.
Status LegacyLibrary(const std::string& db_dir) {
  return Status::Unsupported(
      db_dir +
      " was made by an earlier imgsearch that kept image fields in every model's collection; "
      "index the folders again into a new library (the old one is left as it is)");
}

IndexSpec DefaultIndex(const Embedder& embedder) {
  if (embedder.vector_type() == VectorType::kBinary)
    return {"BIN_FLAT", "HAMMING", nlohmann::json::object()};
  // L2 on unit vectors ranks as cosine does, and is what the recipe used.
  return {"HNSW", "L2", {{"M", 16}, {"efConstruction", 200}}};
}

}  // namespace

Result<ModelSource> ParseModelArgument(const std::string& argument) {
  size_t eq = argument.find('=');
  ModelSource m;
  if (eq != std::string::npos) {
    m.name = argument.substr(0, eq);
    m.source = argument.substr(eq + 1);
  } else {
    m.source = argument;
    m.name = std::filesystem::path(argument).stem().string();
  }
  if (m.name.empty() || m.source.empty()) {
    return Status::InvalidArgument("--model \"" + argument + "\": expected NAME=SOURCE or SOURCE");
  }
  if (m.name == kImagesCollection) {
    return Status::InvalidArgument(
        "--model \"" + argument + "\": the name \"" + m.name +
        "\" is the library's list of images; name the model NAME=" + m.source);
  }
  // Files are recorded by absolute path, so later commands work from any folder; a preset
  // given with the file (PATH:PRESET) is kept with it.
  ModelReference file = SplitModelPreset(m.source);
  if (base::Env::Default()->FileExists(file.path)) {
    m.source = std::filesystem::absolute(file.path).lexically_normal().string();
    if (!file.preset.empty()) m.source += ":" + file.preset;
  }
  if (eq == std::string::npos) m.name = std::filesystem::path(file.path).stem().string();
  return m;
}

DecodeOptions DecodeOptionsForAll(const std::vector<BoundModel>& models) {
  DecodeOptions merged = models[0].embedder->decode_options();
  for (const auto& m : models) merged = MergeDecodeOptions(merged, m.embedder->decode_options());
  return merged;
}

Result<std::vector<Row>> AllRows(const Collection& collection, std::vector<std::string> fields) {
  QueryRequest all;
  all.limit = std::numeric_limits<int64_t>::max();
  all.output_fields = std::move(fields);
  return collection.Query(all);
}

CollectionSchema ModelCollectionSchema(const std::string& name, const Embedder& embedder) {
  CollectionSchema s;
  s.name = name;
  s.description = "image vectors of model " + name;
  s.auto_id = false;  // one id per image, the same in every model's collection
  s.vector_type = embedder.vector_type() == VectorType::kBinary ? DataType::kBinaryVector
                                                                : DataType::kFloatVector;
  s.dimension = embedder.dimension();
  return s;  // the image's fields are in the images collection, by the same id
}

EmbedderOptions LibraryEmbedderOptions(int threads) {
  EmbedderOptions options;
  options.intra_op_threads = threads;
  options.allow_spinning = false;
  options.defer_session = true;
  return options;
}

Result<std::vector<BoundModel>> OpenModelSet(Database& db, const std::string& db_dir,
                                             const std::vector<ModelSource>& requested,
                                             const EmbedderOptions& options, bool reembed) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<RecordedModel> recorded, LoadRegistry(db, db_dir));
  std::vector<ModelSource> sources = requested;
  if (sources.empty()) {
    for (const auto& r : recorded) sources.push_back(r.source);
  }
  if (sources.empty()) {
    for (const auto& b : ListBuiltinModels()) sources.push_back({b.name, b.name});
  }
  std::vector<BoundModel> models;
  std::vector<RecordedModel> now;
  for (const ModelSource& source : sources) {
    auto embedder = Embedder::Open(source.source, options);
    if (!embedder.ok()) return embedder.status().WithContext("model \"" + source.name + "\"");
    auto known = std::find_if(recorded.begin(), recorded.end(),
                              [&](const RecordedModel& r) { return r.source.name == source.name; });
    const RecordedModel* before = known == recorded.end() ? nullptr : &*known;
    IMGSEARCH_ASSIGN_OR_RETURN(Fingerprint fingerprint, FingerprintOf(source, before));
    RecordedModel record = before ? *before : RecordedModel{};
    record.source = source;
    bool pending = false;
    IMGSEARCH_RETURN_IF_ERROR(CheckModelVersion(record, fingerprint.checksum, reembed, &pending));
    record.checksum = fingerprint.checksum;
    record.file_size = fingerprint.file_size;
    record.file_mtime_ns = fingerprint.file_mtime_ns;
    record.spec = nlohmann::json::parse(ModelSpecToJson((*embedder)->spec()), nullptr, false);
    record.reembed_pending = pending;
    if (!db.HasCollection(source.name)) {
      Status created = db.CreateCollection(ModelCollectionSchema(source.name, **embedder),
                                           DefaultIndex(**embedder));
      if (!created.ok() && !db.HasCollection(source.name)) return created;  // not a race lost
    }
    IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection,
                               db.GetCollection(source.name));
    const CollectionSchema& schema = collection->schema();
    if (schema.FindScalar("path") != nullptr) return LegacyLibrary(db_dir);
    bool binary = (*embedder)->vector_type() == VectorType::kBinary;
    if (schema.dimension != (*embedder)->dimension() || schema.binary() != binary) {
      return Status::InvalidArgument(
          "model \"" + source.name + "\" makes " + std::to_string((*embedder)->dimension()) +
          "-d vectors but its collection holds " + std::to_string(schema.dimension) +
          "-d ones: use another name for a different model");
    }
    models.push_back(
        {source, std::move(embedder).value(), std::move(collection), pending, nullptr});
    now.push_back(std::move(record));
  }
  IMGSEARCH_RETURN_IF_ERROR(RecordModels(db, now));
  std::string legacy = db_dir + "/models.json";
  if (base::Env::Default()->FileExists(legacy)) {
    IMGSEARCH_RETURN_IF_ERROR(base::Env::Default()->RemoveFile(legacy));  // now in the database
  }
  return models;
}

Status FinishReembedding(Database& db, std::vector<BoundModel>& models) {
  bool any = false;
  for (auto& m : models) any = any || std::exchange(m.reembed, false);
  if (!any) return Status::Ok();
  return db.Transact([&](Transaction& txn) -> Status {
    IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> text, txn.GetSetting(kRegistrySetting));
    if (!text) return Status::Ok();
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<RecordedModel> recorded,
                               ParseRegistry(*text, "the library's list of models"));
    for (auto& r : recorded) {
      for (const auto& m : models) {
        if (m.source.name == r.source.name) r.reembed_pending = false;
      }
    }
    return txn.PutSetting(kRegistrySetting, RegistryText(recorded));
  });
}

}  // namespace imgsearch::pipeline
