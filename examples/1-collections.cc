// 1-collections: the embedded vector database in a few screens.
//
// Creates a database folder, a collection of 4-d vectors with two scalar fields and an
// HNSW index, inserts rows, searches with a filter, queries, deletes, and reopens.
//
//   build/examples/1-collections /tmp/imgsearch-example
#include <cstdio>

#include "imgsearch/database.h"

using imgsearch::CollectionSchema;
using imgsearch::Database;
using imgsearch::DataType;
using imgsearch::Row;

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/imgsearch-example";

  // 1. Open (or create) a database: a folder with imgsearch.db and index snapshots.
  auto db = Database::Open(dir);
  if (!db.ok()) return std::fprintf(stderr, "%s\n", db.status().ToString().c_str()), 1;

  // 2. A collection: int64 ids assigned by imgsearch, one vector field, scalar fields.
  if (!(*db)->HasCollection("fruit")) {
    CollectionSchema schema;
    schema.name = "fruit";
    schema.dimension = 4;
    schema.scalar_fields = {{"name", DataType::kVarChar}, {"weight", DataType::kDouble}};
    auto created =
        (*db)->CreateCollection(schema, {"HNSW", "COSINE", {{"M", 16}, {"efConstruction", 200}}});
    if (!created.ok()) return std::fprintf(stderr, "%s\n", created.ToString().c_str()), 1;
  }
  auto fruit = *(*db)->GetCollection("fruit");

  // 3. Insert: durable when the call returns.
  std::vector<Row> rows(3);
  rows[0].vector = {0.9f, 0.1f, 0.0f, 0.0f}, rows[0].fields = {{"name", "apple"}, {"weight", 0.2}};
  rows[1].vector = {0.8f, 0.3f, 0.1f, 0.0f}, rows[1].fields = {{"name", "pear"}, {"weight", 0.25}};
  rows[2].vector = {0.0f, 0.1f, 0.9f, 0.4f}, rows[2].fields = {{"name", "plum"}, {"weight", 0.05}};
  auto ids = fruit->Insert(rows);
  if (!ids.ok()) return std::fprintf(stderr, "%s\n", ids.status().ToString().c_str()), 1;

  // 4. Search: nearest first, with a Milvus filter expression and output fields.
  imgsearch::SearchRequest search;
  search.vectors = {{1.0f, 0.2f, 0.0f, 0.0f}};
  search.limit = 2;
  search.filter = "weight > 0.1 and name like \"p%\"";
  search.output_fields = {"name"};
  auto results = fruit->Search(search);  // one list of hits per query vector
  if (!results.ok()) return std::fprintf(stderr, "%s\n", results.status().ToString().c_str()), 1;
  for (const auto& hit : (*results)[0]) {
    std::printf("search: id %lld  %s  similarity %.3f\n", static_cast<long long>(hit.id),
                hit.row.fields["name"].get<std::string>().c_str(), hit.distance);
  }

  // 5. Query by filter, delete by id, count.
  imgsearch::QueryRequest query;
  query.filter = "weight < 0.1";
  query.output_fields = {"name"};
  auto light = fruit->Query(query);
  if (!light.ok()) return std::fprintf(stderr, "%s\n", light.status().ToString().c_str()), 1;
  for (const auto& row : *light) std::printf("query: %s\n", row.fields.dump().c_str());
  (void)fruit->Delete({(*ids)[2]});
  std::printf("rows now: %lld\n", static_cast<long long>(fruit->Count()));
  return 0;
}
