// FlatIndex: exact search by scanning every vector with the SIMD kernels. FLAT for float
// vectors, BIN_FLAT for packed binary ones. Also the store's "tail" of rows not yet in
// an approximate index.
#pragma once

#include <memory>
#include <unordered_map>
#include <utility>

#include "index/index.h"
#include "index/label_positions.h"

namespace imgsearch::index {

class FlatIndex final : public Index {
 public:
  // dim: floats per vector, or bits for binary metrics.
  FlatIndex(Metric metric, size_t dim);

  const char* type() const override { return binary_ ? "BIN_FLAT" : "FLAT"; }
  Metric metric() const override { return metric_; }
  Status Add(size_t n, const int64_t* labels, const void* vectors) override;
  void Remove(int64_t label) override;
  size_t size() const override { return labels_.size(); }
  std::vector<int64_t> Labels() const override { return labels_; }
  // Scan, which cannot fail.
  Result<std::vector<Neighbor>> Search(const void* query, size_t k, const SearchParams& params,
                                       const LabelFilter& filter) const override;
  // The exact search, for callers that hold a FlatIndex.
  std::vector<Neighbor> Scan(const void* query, size_t k, const SearchParams& params,
                             const LabelFilter& filter) const;
  Status Serialize(std::string* out) const override;
  Status Deserialize(std::string_view in) override;
  // Whole blocks of vectors stay in `in` and are copied only when a removal writes to them.
  Status DeserializeInPlace(std::string_view in, std::shared_ptr<const void> keep_alive) override;
  bool ReadsInPlace() const override { return true; }
  // Shares the blocks of vectors (a block changed later is copied first): no copy of the
  // vectors while the caller's lock is held.
  Result<std::unique_ptr<FrozenIndex>> Freeze() const override;
  size_t MemoryUsage() const override;

  // The stored vectors in insertion order (after removals: swapped), for bulk moves.
  const std::vector<int64_t>& labels() const { return labels_; }
  const uint8_t* vector_at(size_t position) const {
    return blocks_[position / per_block_].data + (position % per_block_) * stride_;
  }
  void Clear();

 private:
  // Copies a borrowed block, or one a FrozenIndex shares, into memory of its own first.
  uint8_t* mutable_vector_at(size_t position);
  // Reads the payload's header and labels; *data views the vectors.
  Status ParsePayload(std::string_view in, std::vector<int64_t>* labels,
                      std::string_view* data) const;

  Metric metric_;
  bool binary_;
  size_t dim_;     // floats, or bytes for binary
  size_t stride_;  // bytes per vector
  // Vectors in fixed blocks of per_block_, never moved once written: growing one array
  // copied everything and faulted in fresh pages at every doubling, which was the largest
  // cost of an insert.
  size_t per_block_;
  struct Block {
    const uint8_t* data;
    // Null while `data` is borrowed from a snapshot; shared with FrozenIndexes.
    std::shared_ptr<uint8_t[]> owned;
    size_t capacity;  // vectors; only the last block is below per_block_
  };
  // Room for the vector at `position`: a new block, or the last one grown (doubling, so
  // a small index does not hold a whole block).
  void MakeRoomFor(size_t position);
  std::vector<Block> blocks_;
  std::shared_ptr<const void> borrowed_from_;  // keeps borrowed blocks valid
  std::vector<int64_t> labels_;
  LabelPositions position_of_;
};

}  // namespace imgsearch::index
