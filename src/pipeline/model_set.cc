#include "pipeline/model_set.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/env.h"

namespace imgsearch::pipeline {
namespace {

constexpr const char* kRegistryMagic = "imgsearch-models";
constexpr int kRegistryVersion = 1;

std::string RegistryPath(const std::string& db_dir) {
  return db_dir + "/models.json";
}

Result<std::vector<ModelSource>> LoadRegistry(const std::string& db_dir) {
  std::string path = RegistryPath(db_dir);
  if (!base::Env::Default()->FileExists(path)) return std::vector<ModelSource>();
  IMGSEARCH_ASSIGN_OR_RETURN(std::string text, base::Env::Default()->ReadFile(path, 1 << 20));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("magic", "") != kRegistryMagic ||
      j.value("version", 0) != kRegistryVersion || !j["models"].is_array()) {
    return Status::Corruption(path + ": not an imgsearch model list");
  }
  std::vector<ModelSource> models;
  for (const auto& m : j["models"]) {
    if (!m.is_object() || !m["name"].is_string() || !m["source"].is_string()) {
      return Status::Corruption(path + ": malformed model entry");
    }
    models.push_back({m["name"].get<std::string>(), m["source"].get<std::string>()});
  }
  return models;
}

Status SaveRegistry(const std::string& db_dir, const std::vector<ModelSource>& models) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : models) list.push_back({{"name", m.name}, {"source", m.source}});
  nlohmann::json j = {{"magic", kRegistryMagic}, {"version", kRegistryVersion}, {"models", list}};
  return base::Env::Default()->WriteFileAtomic(RegistryPath(db_dir), j.dump(1) + "\n");
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
  // Files are recorded by absolute path, so later commands work from any folder.
  if (base::Env::Default()->FileExists(m.source))
    m.source = std::filesystem::absolute(m.source).lexically_normal().string();
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

CollectionSchema ImageCollectionSchema(const std::string& name, const Embedder& embedder) {
  CollectionSchema s;
  s.name = name;
  s.description = "image vectors of model " + name;
  s.auto_id = false;  // one id per image, the same in every model's collection
  s.vector_type = embedder.vector_type() == VectorType::kBinary ? DataType::kBinaryVector
                                                                : DataType::kFloatVector;
  s.dimension = embedder.dimension();
  s.scalar_fields = {{"path", DataType::kVarChar, false, 4096},
                     {"size", DataType::kInt64},
                     {"mtime", DataType::kInt64},
                     {"hash", DataType::kVarChar, false, 32},
                     {"width", DataType::kInt64},
                     {"height", DataType::kInt64}};
  return s;
}

Result<std::vector<BoundModel>> OpenModelSet(Database& db, const std::string& db_dir,
                                             const std::vector<ModelSource>& requested,
                                             const EmbedderOptions& options) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<ModelSource> recorded, LoadRegistry(db_dir));
  std::vector<ModelSource> sources = requested.empty() ? recorded : requested;
  if (sources.empty()) {
    for (const auto& b : ListBuiltinModels()) sources.push_back({b.name, b.name});
  }
  std::vector<BoundModel> models;
  for (const ModelSource& source : sources) {
    auto embedder = Embedder::Open(source.source, options);
    if (!embedder.ok()) return embedder.status().WithContext("model \"" + source.name + "\"");
    if (!db.HasCollection(source.name)) {
      IMGSEARCH_RETURN_IF_ERROR(db.CreateCollection(ImageCollectionSchema(source.name, **embedder),
                                                    DefaultIndex(**embedder)));
    }
    IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection,
                               db.GetCollection(source.name));
    const CollectionSchema& schema = collection->schema();
    bool binary = (*embedder)->vector_type() == VectorType::kBinary;
    if (schema.dimension != (*embedder)->dimension() || schema.binary() != binary) {
      return Status::InvalidArgument(
          "model \"" + source.name + "\" makes " + std::to_string((*embedder)->dimension()) +
          "-d vectors but its collection holds " + std::to_string(schema.dimension) +
          "-d ones: use another name for a different model");
    }
    models.push_back({source, std::move(embedder).value(), std::move(collection)});
  }
  // Record the union: a model indexed once stays known to later commands.
  for (const ModelSource& s : sources) {
    bool known = false;
    for (ModelSource& r : recorded) {
      if (r.name == s.name) r.source = s.source, known = true;
    }
    if (!known) recorded.push_back(s);
  }
  IMGSEARCH_RETURN_IF_ERROR(SaveRegistry(db_dir, recorded));
  return models;
}

}  // namespace imgsearch::pipeline
