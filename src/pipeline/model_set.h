// ModelSet: the models a library is indexed with, each paired with its collection. The
// list is recorded in the database with a checksum of each model's ONNX bytes, so that
// commands after `index` need no --model, and a model file that changed under the same
// name is noticed instead of mixing vectors of two versions.
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

// Copyable (the embedder is shared): a library's search works on a copy whose `augmented`
// is the twins in use at that moment.
struct BoundModel {
  ModelSource source;
  std::shared_ptr<Embedder> embedder;
  std::shared_ptr<Collection> collection;
  // Its file changed (or an earlier re-embedding stopped): every image needs it again.
  bool reembed = false;
  // With database-side augmentation on (dba.h): the augmented twins of the collection's
  // vectors, which search compares queries with; null otherwise.
  std::shared_ptr<Collection> augmented;
};

// The session options a library's models run with: `threads` inference threads (0: one
// per usable core), and no spinning. A library decodes and preprocesses on other threads
// while a model runs (and a server answers requests); ONNX Runtime workers spinning
// between operators take those cores away. Measured with bench/index_bench on two int8
// models: 0.88-0.93x of plain inference with spinning, 0.90-0.98x without. Sessions are
// made at a model's first embedding (defer_session): a server that only answers vector
// searches never loads ONNX Runtime (an empty serve: about 26 MB less resident).
EmbedderOptions LibraryEmbedderOptions(int threads);

// Opens the models: `requested` if given (recorded for later), else those recorded in the
// database, else every built-in model. Creates each model's collection when missing. A
// model whose file changed since it was recorded is an error unless `reembed`; with it,
// the model is marked for re-embedding until FinishReembedding.
Result<std::vector<BoundModel>> OpenModelSet(Database& db, const std::string& db_dir,
                                             const std::vector<ModelSource>& requested,
                                             const EmbedderOptions& options, bool reembed = false);

// After an index run that embedded every image again: the marks are cleared.
Status FinishReembedding(Database& db, std::vector<BoundModel>& models);

// Decode options under which one decode of an image serves every model.
DecodeOptions DecodeOptionsForAll(const std::vector<BoundModel>& models);

// Every live row of a collection, with the given output fields, in ascending id order.
Result<std::vector<Row>> AllRows(const Collection& collection, std::vector<std::string> fields);

// A model's collection: the image id and the model's vector.
CollectionSchema ModelCollectionSchema(const std::string& name, const Embedder& embedder);

}  // namespace imgsearch::pipeline
