// HnswIndex: a hierarchical navigable small-world graph (Malkov & Yashunin) over float
// vectors, with Milvus's parameters: M (links per node), efConstruction, and ef at search.
// Removal marks a node deleted: it still routes searches but is never returned. Filters
// and distance ranges apply to results only, so routing stays intact.
#pragma once

#include <random>
#include <unordered_map>

#include "index/index.h"

namespace imgsearch::index {

class HnswIndex final : public Index {
 public:
  HnswIndex(Metric metric, size_t dim, int m, int ef_construction);

  const char* type() const override { return "HNSW"; }
  Metric metric() const override { return metric_; }
  Status Add(size_t n, const int64_t* labels, const void* vectors) override;
  void Remove(int64_t label) override;
  size_t size() const override { return labels_.size() - deleted_count_; }
  std::vector<int64_t> Labels() const override;
  Result<std::vector<Neighbor>> Search(const void* query, size_t k, const SearchParams& params,
                                       const LabelFilter& filter) const override;
  Status Serialize(std::string* out) const override;
  Status Deserialize(std::string_view in) override;
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
  Node* Links(Node node, int level);
  const Node* Links(Node node, int level) const;
  int Capacity(int level) const { return level == 0 ? 2 * m_ : m_; }

  const float* VectorOf(Node node) const { return &vectors_[size_t(node) * dim_]; }
  float DistanceTo(const float* query, Node node) const {
    return distance_(query, VectorOf(node), dim_);
  }

  void Insert(Node node);
  Node GreedyDescend(const float* query, Node entry, int from_level, int to_level) const;
  // The ef nearest nodes found from `entry` at `level`, as a max-heap; only nodes for
  // which accept(node) holds enter the result.
  template <typename Accept>
  std::vector<Candidate> SearchLayer(const float* query, Node entry, size_t ef, int level,
                                     Accept accept) const;
  std::vector<Node> SelectNeighbors(std::vector<Candidate> candidates, int max_count) const;
  void Connect(Node node, Node neighbor, int level);

  Metric metric_;
  DistanceFunction distance_;
  size_t dim_;
  int m_;
  int ef_construction_;
  double level_multiplier_;
  std::mt19937_64 rng_{100};

  std::vector<float> vectors_;
  std::vector<int64_t> labels_;
  std::vector<uint8_t> deleted_;
  size_t deleted_count_ = 0;
  std::vector<int> levels_;
  std::vector<Node> links0_;              // (2M + 1) per node
  std::vector<std::vector<Node>> upper_;  // levels_[n] * (M + 1) per node
  std::unordered_map<int64_t, Node> node_of_;
  Node entry_ = 0;
  int max_level_ = -1;
};

}  // namespace imgsearch::index
