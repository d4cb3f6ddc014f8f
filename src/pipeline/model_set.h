// ModelSet: the models a database is indexed with, each paired with its collection.
// The list is recorded in DIR/models.json, so commands after `index` need no --model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "imgsearch/database.h"
#include "imgsearch/embedder.h"

namespace imgsearch::pipeline {

// A model as the user named it: a built-in name or an ONNX file, under a short name that
// is also its collection's name.
struct ModelSource {
  std::string name;
  std::string source;
};

// Parses "--model" values: "NAME=SOURCE", or "SOURCE" (name: built-in name or file stem).
Result<ModelSource> ParseModelArgument(const std::string& argument);

struct BoundModel {
  ModelSource source;
  std::unique_ptr<Embedder> embedder;
  std::shared_ptr<Collection> collection;
};

// Opens the models: `requested` if given (recorded for later), else those recorded in the
// database, else every built-in model. Creates each model's collection when missing.
Result<std::vector<BoundModel>> OpenModelSet(Database& db, const std::string& db_dir,
                                             const std::vector<ModelSource>& requested,
                                             const EmbedderOptions& options);

// Decode options under which one decode of an image serves every model.
DecodeOptions DecodeOptionsForAll(const std::vector<BoundModel>& models);

// Every live row of a collection, with the given output fields, in ascending id order.
Result<std::vector<Row>> AllRows(const Collection& collection, std::vector<std::string> fields);

// The fields every image row carries.
CollectionSchema ImageCollectionSchema(const std::string& name, const Embedder& embedder);

}  // namespace imgsearch::pipeline
