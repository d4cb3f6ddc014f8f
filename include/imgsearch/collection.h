// Collection: the rows of one vector field and their scalar fields, with Milvus's
// operations. Obtained from a Database.
//
// Durability: a write returns only after its SQLite transaction has committed to disk; an
// acknowledged write survives a crash or kill -9. Concurrency: any number of searches and
// queries run at once and alongside writes; writes to one collection are applied one at
// a time, in the order they acquire the collection's writer lock. A search sees every
// row whose write returned before the search began.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "imgsearch/schema.h"
#include "imgsearch/status.h"

namespace imgsearch {

// One row. `vector` for float collections, `binary_vector` (packed bits, most
// significant bit first) for binary ones; `fields` holds scalar fields by name.
struct Row {
  int64_t id = 0;
  std::vector<float> vector;
  std::vector<uint8_t> binary_vector;
  nlohmann::json fields = nlohmann::json::object();
};

// How the vector field is indexed, in Milvus's words:
// {"index_type": "HNSW", "metric_type": "COSINE", "params": {"M": 16, "efConstruction": 200}}.
struct IndexSpec {
  IndexSpec(std::string type = "FLAT", std::string metric = "L2",
            nlohmann::json index_params = nlohmann::json::object(), std::string index_name = "")
      : index_type(std::move(type)),
        metric_type(std::move(metric)),
        params(std::move(index_params)),
        name(std::move(index_name)) {}

  std::string index_type;
  std::string metric_type;
  nlohmann::json params;
  // The index's name, as Milvus clients name it; empty: no index was ever created by
  // name (a collection's starting index, or one dropped back to exact search).
  std::string name;
};

struct SearchRequest {
  std::vector<std::vector<float>> vectors;           // float collections: one per query
  std::vector<std::vector<uint8_t>> binary_vectors;  // binary collections
  int limit = 10;
  int offset = 0;
  std::string filter;  // Milvus boolean expression; empty = all rows
  // Only these rows are candidates (and-ed with the filter); unset: every row. A caller
  // that filtered on another collection passes the ids that passed.
  std::optional<std::vector<int64_t>> ids;
  std::vector<std::string> output_fields;  // scalar fields, the vector field, or "*"
  // ef, nprobe, and for range search radius / range_filter (as Milvus defines them).
  nlohmann::json params = nlohmann::json::object();
};

struct Hit {
  int64_t id = 0;
  float distance = 0;  // L2: squared distance; IP and COSINE: similarity; as Milvus
  Row row;             // output fields (id always set)
};

struct QueryRequest {
  std::string filter;
  std::vector<int64_t> ids;  // alternatively, these ids (combined with filter by "and")
  std::vector<std::string> output_fields;
  int64_t limit = -1;  // -1: no limit
  int64_t offset = 0;
};

struct CollectionStats {
  int64_t row_count = 0;
  int64_t indexed_rows = 0;       // rows inside the approximate index
  int64_t pending_rows = 0;       // acknowledged rows searched exactly until indexed
  int64_t deleted_slots = 0;      // removed rows still occupying memory until compaction
  int64_t last_sequence = 0;      // sequence number of the newest change
  int64_t snapshot_sequence = 0;  // changes up to here are in the index snapshot on disk
  size_t index_memory_bytes = 0;
};

class Collection {
 public:
  virtual ~Collection() = default;

  virtual const CollectionSchema& schema() const = 0;
  virtual IndexSpec index() const = 0;

  // Adds rows; fails as a whole (nothing written) if any row is invalid or, without
  // auto_id, an id exists already. Returns the ids in row order.
  virtual Result<std::vector<int64_t>> Insert(std::vector<Row> rows) = 0;
  // Inserts or replaces rows by id (ids required unless auto_id, which assigns new ones).
  virtual Result<std::vector<int64_t>> Upsert(std::vector<Row> rows) = 0;
  // Returns how many of the ids existed.
  virtual Result<int64_t> Delete(const std::vector<int64_t>& ids) = 0;
  virtual Result<int64_t> DeleteWhere(const std::string& filter) = 0;

  // Rows by id, in the order asked; ids that do not exist are left out.
  virtual Result<std::vector<Row>> Get(const std::vector<int64_t>& ids,
                                       const std::vector<std::string>& output_fields) const = 0;
  // Rows matching a filter, in ascending id order.
  virtual Result<std::vector<Row>> Query(const QueryRequest& request) const = 0;
  // Nearest rows for each query vector, nearest first.
  virtual Result<std::vector<std::vector<Hit>>> Search(const SearchRequest& request) const = 0;

  virtual int64_t Count() const = 0;
  virtual CollectionStats Stats() const = 0;

  // Replaces the index (rebuilt from the rows). The metric may change too.
  virtual Status CreateIndex(const IndexSpec& spec) = 0;
  // Back to FLAT (exact) search with the same metric.
  virtual Status DropIndex() = 0;
  // Waits until every row is in the index and writes an index snapshot to disk.
  virtual Status Flush() = 0;
  // Frees the memory and disk space of deleted rows and rebuilds the index.
  virtual Status Compact() = 0;
};

}  // namespace imgsearch
