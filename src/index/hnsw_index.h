// HnswIndex: a hierarchical navigable small-world graph (Malkov & Yashunin) over float
// vectors, with Milvus's parameters: M (links per node), efConstruction, and ef at search.
// Removal marks a node deleted: it still routes searches but is never returned. Filters
// and distance ranges apply to results only, so routing stays intact.
//
// The same graph is HNSW_SQ (Milvus 2.6) when it stores its vectors compressed (SQ8, FP16,
// BF16): the walk then measures the query against the compressed codes, and with refine
// on, the best refine_k x k candidates are measured again against a finer copy
// (refine_type) before the k nearest are returned.
//
// Opened in place from a mapped snapshot, the graph reads its arrays where they lie; the
// first Add copies them (the store adds from its background thread). Links are then not
// checked at open, which would read the whole graph: every walk bounds what it reads
// instead, and the store checks the snapshot's checksum in the background.
#pragma once

#include <algorithm>
#include <memory>
#include <random>
#include <unordered_map>

#include "index/borrowed_array.h"
#include "index/index.h"
#include "index/label_positions.h"
#include "index/vector_codec.h"

namespace imgsearch::index {

class Reader;

struct HnswOptions {
  int m = 16;
  int ef_construction = 200;
  VectorCode code = VectorCode::kFp32;  // how the graph keeps vectors; not FP32 = HNSW_SQ
  bool refine = false;                  // keep a finer copy and re-rank with it
  VectorCode refine_code = VectorCode::kFp32;
  float refine_k = 1;  // candidates re-ranked per result, unless the search says otherwise
};

class HnswIndex final : public Index {
 public:
  HnswIndex(Metric metric, size_t dim, int m, int ef_construction);
  HnswIndex(Metric metric, size_t dim, const HnswOptions& options);

  const char* type() const override { return quantized() ? "HNSW_SQ" : "HNSW"; }
  Metric metric() const override { return metric_; }
  Status Add(size_t n, const int64_t* labels, const void* vectors) override;
  void Remove(int64_t label) override;
  size_t size() const override { return labels_.size() - deleted_count_; }
  std::vector<int64_t> Labels() const override;
  Result<std::vector<Neighbor>> Search(const void* query, size_t k, const SearchParams& params,
                                       const LabelFilter& filter) const override;
  Status Serialize(std::string* out) const override;
  Status Deserialize(std::string_view in) override;
  Status DeserializeInPlace(std::string_view in, std::shared_ptr<const void> keep_alive) override;
  bool ReadsInPlace() const override { return true; }
  size_t MemoryUsage() const override;

 private:
  using Node = uint32_t;
  struct Candidate {
    float distance;
    Node node;
    bool operator<(const Candidate& o) const { return distance < o.distance; }
    bool operator>(const Candidate& o) const { return distance > o.distance; }
  };
  // A node's neighbour list at one level: count followed by up to `capacity` ids.
  const Node* Links(Node node, int level) const {
    if (level == 0) return links0_.data() + size_t(node) * (2 * m_ + 1);
    return upper_.data() + upper_start_[node] + size_t(level - 1) * (m_ + 1);
  }
  Node* MutableLinks(Node node, int level);
  int Capacity(int level) const { return level == 0 ? 2 * m_ : m_; }
  // How many links of `links` at `level` a walk may read: a graph used in place is not
  // checked at open, so a damaged count must not send it past the list.
  Node LinkCount(const Node* links, int level) const {
    return std::min<Node>(links[0], static_cast<Node>(Capacity(level)));
  }

  bool quantized() const { return options_.code != VectorCode::kFp32; }
  const uint8_t* CodeOf(Node node) const { return &codes_[size_t(node) * codec_.code_size()]; }
  float DistanceTo(const float* query, Node node) const {
    return distance_(query, CodeOf(node), dim_);
  }
  // A node's vector as floats: the stored floats themselves, or decoded into `buffer`.
  const float* FloatsOf(Node node, std::vector<float>* buffer) const;
  // Measures the best candidates again against the refine copy, nearest first.
  std::vector<Candidate> Refine(const float* query, std::vector<Candidate> found,
                                size_t keep) const;
  Status ReadQuantizedHeader(Reader* r) const;
  // The graph's encoding, refine and the refine encoding, which must be this index's.
  Status ReadEncodings(Reader* r) const;
  // What a payload's header says, whatever its layout.
  struct Header {
    bool aligned = false;  // layout 2
    uint64_t count = 0, levels_plus_one = 0, entry = 0, upper_size = 0;
  };
  Result<Header> ReadHeader(std::string_view in, Reader* r) const;
  // Reads any layout; with `keep_alive` set, the arrays of an aligned layout are borrowed
  // from `in`, which it keeps valid.
  Status Load(std::string_view in, std::shared_ptr<const void> keep_alive);
  // Every link names an existing node and every count fits: what a walk that changes the
  // graph relies on.
  Status CheckLinks() const;
  // Before the first change of a graph used in place: own every array, check the links,
  // and index the labels.
  Status PrepareToChange();
  void IndexLabels();

  void Insert(Node node, const float* vector);
  Node GreedyDescend(const float* query, Node entry, int from_level, int to_level) const;
  // The ef nearest nodes found from `entry` at `level`, as a max-heap; only nodes for
  // which accept(node) holds enter the result.
  template <typename Accept>
  std::vector<Candidate> SearchLayer(const float* query, Node entry, size_t ef, int level,
                                     Accept accept) const;
  std::vector<Node> SelectNeighbors(std::vector<Candidate> candidates, int max_count) const;
  void Connect(Node node, Node neighbor, int level);

  Metric metric_;
  HnswOptions options_;
  VectorCodec codec_;
  VectorCodec refine_codec_;
  DistanceFunction distance_;
  size_t dim_;
  int m_;
  int ef_construction_;
  double level_multiplier_;
  std::mt19937_64 rng_{100};

  BorrowedArray<uint8_t> codes_;         // codec_.code_size() bytes per node
  BorrowedArray<uint8_t> refine_codes_;  // refine_codec_.code_size() per node, if refining
  BorrowedArray<int64_t> labels_;
  BorrowedArray<uint8_t> deleted_;
  size_t deleted_count_ = 0;
  BorrowedArray<int32_t> levels_;
  BorrowedArray<Node> links0_;         // (2M + 1) per node
  BorrowedArray<Node> upper_;          // levels_[n] * (M + 1) per node, node after node
  std::vector<uint64_t> upper_start_;  // where each node's upper links begin
  // Keeps borrowed arrays valid; set only while some are borrowed, whose links are then
  // still unchecked.
  std::shared_ptr<const void> borrowed_from_;
  // Label -> node, built when first needed (by Remove or Add): a million inserts were a
  // large part of opening.
  LabelPositions node_of_;
  bool labels_indexed_ = true;
  Node entry_ = 0;
  int max_level_ = -1;
};

}  // namespace imgsearch::index
