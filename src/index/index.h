// Index: approximate or exact nearest-neighbour search over vectors named by labels.
// Labels are small non-negative integers chosen by the caller (the store uses dense row
// slots). Indexes know nothing of ids, rows or files: they serialise to a byte string
// and the store decides where it goes.
//
// Thread-safety: const methods may run concurrently with each other; Add and Remove need
// exclusive access (the store holds a writer lock around them).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"
#include "index/metric.h"

namespace imgsearch::index {

struct Neighbor {
  int64_t label;
  float distance;  // internal distance: smaller is nearer
  bool operator<(const Neighbor& o) const {
    return distance < o.distance || (distance == o.distance && label < o.label);
  }
};

// Which labels a search may return: a bitmap over labels; labels past its end are allowed
// only when `allow_beyond` is set.
// Which labels a search may return: those set in `allowed` and in `also` (each null:
// every label).
struct LabelFilter {
  const std::vector<uint8_t>* allowed = nullptr;
  const std::vector<uint8_t>* also = nullptr;
  bool Allows(int64_t label) const { return In(allowed, label) && In(also, label); }

 private:
  static bool In(const std::vector<uint8_t>* set, int64_t label) {
    if (set == nullptr) return true;
    return static_cast<size_t>(label) < set->size() && (*set)[label] != 0;
  }
};

struct SearchParams {
  int ef = 0;      // HNSW candidate list size; 0 = index default
  int nprobe = 0;  // IVF lists to visit; 0 = index default
  // HNSW_SQ with refine: candidates re-ranked per result wanted; 0 = index default
  float refine_k = 0;
  // Range search: only distances in [min_distance, max_distance) are returned.
  float min_distance = -std::numeric_limits<float>::infinity();
  float max_distance = std::numeric_limits<float>::infinity();
  bool InRange(float d) const { return d >= min_distance && d < max_distance; }
};

// An index's Serialize bytes, taken at one moment and valid, unchanged, while this object
// lives, whatever the index does meanwhile: a snapshot is taken under the store's lock and
// written to disk after it. The bytes are the concatenation of pieces().
class FrozenIndex {
 public:
  virtual ~FrozenIndex() = default;
  virtual std::vector<std::string_view> pieces() const = 0;
};

class Index {
 public:
  virtual ~Index() = default;

  virtual const char* type() const = 0;
  virtual Metric metric() const = 0;

  // Adds n vectors (floats, or packed bits for binary metrics) under new labels.
  virtual Status Add(size_t n, const int64_t* labels, const void* vectors) = 0;
  // Removes a label if present; its neighbours stay reachable.
  virtual void Remove(int64_t label) = 0;
  virtual size_t size() const = 0;
  // Every label the index holds (removed ones left out), in no particular order: how the
  // store checks a loaded snapshot against its rows.
  virtual std::vector<int64_t> Labels() const = 0;

  // Up to k nearest allowed labels in range, nearest first (maybe none). An error means
  // the search itself failed (inside FAISS, say), never that nothing was found.
  virtual Result<std::vector<Neighbor>> Search(const void* query, size_t k,
                                               const SearchParams& params,
                                               const LabelFilter& filter) const = 0;

  // The index as bytes (without a file header: the store adds magic and checksum).
  virtual Status Serialize(std::string* out) const = 0;
  virtual Status Deserialize(std::string_view in) = 0;
  // The same from bytes that stay valid, unchanged, while `keep_alive` lives (a mapped
  // snapshot): an index may then use them in place instead of copying them. By default
  // it copies.
  virtual Status DeserializeInPlace(std::string_view in, std::shared_ptr<const void> keep_alive) {
    (void)keep_alive;
    return Deserialize(in);
  }
  // Whether DeserializeInPlace reads the bytes only later, when it searches: the store then
  // checks their checksum after open, in the background, rather than before it.
  virtual bool ReadsInPlace() const { return false; }

  // Serialize's bytes as they are now. By default a copy; an index whose memory allows
  // shares it instead (FLAT: whole blocks of vectors, copied only if changed later).
  virtual Result<std::unique_ptr<FrozenIndex>> Freeze() const;

  // Approximate heap memory in bytes.
  virtual size_t MemoryUsage() const = 0;
};

// Keeps the k smallest neighbours seen.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) {}
  float worst() const {
    return heap_.size() < k_ ? std::numeric_limits<float>::infinity() : heap_.front().distance;
  }
  void Push(int64_t label, float distance);
  std::vector<Neighbor> Take();  // sorted, nearest first

 private:
  size_t k_;
  std::vector<Neighbor> heap_;  // max-heap on distance
};

}  // namespace imgsearch::index
