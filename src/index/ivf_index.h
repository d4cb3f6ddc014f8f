// IvfIndex: inverted-file indexes from FAISS with Milvus's names and parameters:
// IVF_FLAT, IVF_SQ8, IVF_PQ (m, nbits) and BIN_IVF_FLAT; nlist at build, nprobe at search.
// IVF needs training data, and the store's data arrives row by row: vectors wait in an
// exact FlatIndex until there are enough to train on, then move into FAISS. Removed
// labels are masked at search time (FAISS's remove_ids scans every list) and dropped for
// good when the store compacts.
#pragma once

#include <memory>

#include "index/flat_index.h"

namespace faiss {
struct Index;
struct IndexBinary;
struct IDSelector;
}  // namespace faiss

namespace imgsearch::index {

enum class IvfKind { kFlat, kSq8, kPq, kBinaryFlat };

struct IvfParams {
  int nlist = 128;
  int m = 0;      // IVF_PQ sub-quantizers; must divide the dimension
  int nbits = 8;  // IVF_PQ bits per code
};

class IvfIndex final : public Index {
 public:
  // dim: floats, or bits for kBinaryFlat. Parameters are validated by the factory.
  IvfIndex(IvfKind kind, Metric metric, size_t dim, IvfParams params);
  ~IvfIndex() override;

  const char* type() const override;
  Metric metric() const override { return metric_; }
  Status Add(size_t n, const int64_t* labels, const void* vectors) override;
  void Remove(int64_t label) override;
  size_t size() const override { return pending_.size() + trained_count_ - removed_count_; }
  std::vector<int64_t> Labels() const override;
  Result<std::vector<Neighbor>> Search(const void* query, size_t k, const SearchParams& params,
                                       const LabelFilter& filter) const override;
  Status Serialize(std::string* out) const override;
  Status Deserialize(std::string_view in) override;
  size_t MemoryUsage() const override;

  bool trained() const { return trained_; }
  // Vectors needed before training happens.
  size_t train_threshold() const;

 private:
  Status Train();
  // These throw as FAISS does.
  void TrainBinary(size_t n, const uint8_t* data);
  void TrainFloat(size_t n, const float* data);
  // What Deserialize read is the index this one describes.
  Status CheckLoaded() const;
  bool Removed(int64_t label) const {
    return static_cast<size_t>(label) < removed_.size() && removed_[label];
  }
  Result<std::vector<Neighbor>> SearchTrained(const void* query, size_t k,
                                              const SearchParams& params,
                                              const LabelFilter& filter) const;
  // FAISS's nearest `fetch` in `nprobe` lists; these throw as FAISS does.
  std::vector<Neighbor> SearchFloat(const float* query, size_t fetch, size_t nprobe,
                                    faiss::IDSelector* selector) const;
  std::vector<Neighbor> SearchBinary(const uint8_t* query, size_t fetch, size_t nprobe) const;

  IvfKind kind_;
  Metric metric_;
  size_t dim_;
  IvfParams params_;
  bool trained_ = false;
  size_t trained_count_ = 0;
  size_t removed_count_ = 0;
  std::vector<uint8_t> removed_;  // by label, for vectors inside FAISS
  FlatIndex pending_;
  std::unique_ptr<faiss::Index> float_index_;
  std::unique_ptr<faiss::IndexBinary> binary_index_;
};

}  // namespace imgsearch::index
