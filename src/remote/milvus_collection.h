// MilvusCollection: a Collection kept in a Milvus collection. Thread-safe.
//
// Writes go in batches of a few MB (Milvus refuses requests over 64 MB); upserts and
// deletes are idempotent and tried again on time-outs, inserts only when Milvus refused
// them outright. Every read asks for consistencyLevel "Strong", so it sees every write
// acknowledged before it, by any process.
//
// Milvus answers at most 16,384 rows per query (limit + offset), in no promised order.
// A query for more walks the primary keys in ranges: a range whose answer is full is cut
// in two at the median of the keys it returned, until every range answers in full; the
// rows are then fetched by key, in batches of a few MB. The result is exact whatever
// order Milvus answers in.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "imgsearch/collection.h"
#include "remote/milvus_client.h"

namespace imgsearch::remote {

class MilvusCollection final : public Collection {
 public:
  MilvusCollection(std::shared_ptr<const MilvusClient> client, CollectionSchema schema,
                   IndexSpec index)
      : client_(std::move(client)), schema_(std::move(schema)), index_(std::move(index)) {}

  const CollectionSchema& schema() const override { return schema_; }
  IndexSpec index() const override;

  // Insert refuses ids that exist (Milvus itself would keep both rows); the check and the
  // write are two requests, so two processes inserting one id at once may both succeed.
  Result<std::vector<int64_t>> Insert(std::vector<Row> rows) override;
  Result<std::vector<int64_t>> Upsert(std::vector<Row> rows) override;
  Result<int64_t> Delete(const std::vector<int64_t>& ids) override;
  Result<int64_t> DeleteWhere(const std::string& filter) override;

  Result<std::vector<Row>> Get(const std::vector<int64_t>& ids,
                               const std::vector<std::string>& output_fields) const override;
  Result<std::vector<Row>> Query(const QueryRequest& request) const override;
  Result<std::vector<std::vector<Hit>>> Search(const SearchRequest& request) const override;

  // count(*) with Strong consistency (collections/get_stats when the server lacks it).
  // -1 when Milvus cannot be asked (logged).
  int64_t Count() const override;
  // Rows, and the index's indexed and pending rows as indexes/describe reports them.
  CollectionStats Stats() const override;

  // Release, drop the index, create the new one, load again.
  Status CreateIndex(const IndexSpec& spec) override;
  Status DropIndex() override;
  // Milvus persists acknowledged writes itself: nothing to do.
  Status Flush() override { return Status::Ok(); }
  // Milvus compacts on its own schedule.
  Status Compact() override { return Status::Ok(); }

 private:
  Result<std::vector<int64_t>> Write(const std::string& route, std::vector<Row> rows);
  Status DeleteIds(const std::vector<int64_t>& ids);
  // The keys of every row matching `filter`, ascending.
  Result<std::vector<int64_t>> MatchingIds(const std::string& filter) const;
  Result<std::vector<int64_t>> IdsInRange(const std::string& filter, int64_t lo, int64_t hi) const;
  // The rows with these keys that also match `filter` (any order).
  Result<std::vector<Row>> RowsByIds(const std::vector<int64_t>& ids,
                                     const std::vector<std::string>& output_fields,
                                     const std::string& filter) const;
  // What one row with these fields weighs as JSON text, roughly.
  size_t RowBytes(const std::vector<std::string>& output_fields) const;
  // Every row matching a non-empty `filter` in one query, when they fit in one answer;
  // nullopt when they may not (the answer was full): then the keys must be walked.
  Result<std::optional<std::vector<Row>>> AllMatchingInOne(
      const std::string& filter, const std::vector<std::string>& output_fields) const;
  Result<std::vector<Hit>> SearchOne(const nlohmann::json& vector, const SearchRequest& request,
                                     const std::string& filter) const;
  std::string KeyIn(const std::vector<int64_t>& ids, size_t first, size_t last) const;
  nlohmann::json Body() const;

  std::shared_ptr<const MilvusClient> client_;
  const CollectionSchema schema_;
  mutable std::mutex index_mutex_;
  IndexSpec index_;
};

}  // namespace imgsearch::remote
