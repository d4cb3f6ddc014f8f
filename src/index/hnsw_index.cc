#include "index/hnsw_index.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <queue>

namespace imgsearch::index {
namespace {

// Marks of visited nodes for one search, reset in O(1) by bumping an epoch.
class VisitedSet {
 public:
  void Reset(size_t size) {
    if (marks_.size() < size) marks_.resize(size + size / 2, 0);
    if (++epoch_ == 0) {
      std::fill(marks_.begin(), marks_.end(), 0);
      epoch_ = 1;
    }
  }
  bool Visit(uint32_t node) {
    if (marks_[node] == epoch_) return false;
    marks_[node] = epoch_;
    return true;
  }

 private:
  std::vector<uint16_t> marks_;
  uint16_t epoch_ = 0;
};

VisitedSet& ThreadVisitedSet() {
  thread_local VisitedSet set;
  return set;
}

}  // namespace

HnswIndex::HnswIndex(Metric metric, size_t dim, int m, int ef_construction)
    : HnswIndex(metric, dim, HnswOptions{m, ef_construction}) {}

HnswIndex::HnswIndex(Metric metric, size_t dim, const HnswOptions& options)
    : metric_(metric),
      options_(options),
      codec_(options.code, metric, dim),
      refine_codec_(options.refine_code, metric, dim),
      distance_(codec_.distance_function()),
      dim_(dim),
      m_(options.m),
      ef_construction_(options.ef_construction),
      level_multiplier_(1.0 / std::log(static_cast<double>(std::max(options.m, 2)))) {}

const float* HnswIndex::FloatsOf(Node node, std::vector<float>* buffer) const {
  if (!quantized()) return reinterpret_cast<const float*>(CodeOf(node));
  buffer->resize(dim_);
  codec_.Decode(CodeOf(node), buffer->data());
  return buffer->data();
}

HnswIndex::Node* HnswIndex::MutableLinks(Node node, int level) {
  if (level == 0) return links0_.mutable_data() + size_t(node) * (2 * m_ + 1);
  return upper_.mutable_data() + upper_start_[node] + size_t(level - 1) * (m_ + 1);
}

Status HnswIndex::Add(size_t n, const int64_t* labels, const void* vectors) {
  IMGSEARCH_RETURN_IF_ERROR(PrepareToChange());
  const auto* data = static_cast<const float*>(vectors);
  const size_t code_size = codec_.code_size(), refine_size = refine_codec_.code_size();
  for (size_t i = 0; i < n; ++i) {
    Node node = static_cast<Node>(labels_.size());
    const float* vector = data + i * dim_;
    codes_.resize(codes_.size() + code_size, 0);
    codec_.Encode(vector, codes_.mutable_data() + size_t(node) * code_size);
    if (options_.refine) {
      refine_codes_.resize(refine_codes_.size() + refine_size, 0);
      refine_codec_.Encode(vector, refine_codes_.mutable_data() + size_t(node) * refine_size);
    }
    labels_.push_back(labels[i]);
    deleted_.push_back(0);
    node_of_.Set(labels[i], node);
    int level = static_cast<int>(-std::log(std::uniform_real_distribution<double>(
                                     std::numeric_limits<double>::min(), 1.0)(rng_)) *
                                 level_multiplier_);
    levels_.push_back(level);
    links0_.resize(links0_.size() + 2 * m_ + 1, 0);
    upper_start_.push_back(upper_.size());
    upper_.resize(upper_.size() + size_t(level) * (m_ + 1), 0);
    Insert(node, vector);
  }
  return Status::Ok();
}

Status HnswIndex::PrepareToChange() {
  IndexLabels();
  if (borrowed_from_ == nullptr) return Status::Ok();
  IMGSEARCH_RETURN_IF_ERROR(CheckLinks());
  // Own every array now, once, rather than at whichever write comes first.
  codes_.mutable_data();
  refine_codes_.mutable_data();
  labels_.mutable_data();
  deleted_.mutable_data();
  levels_.mutable_data();
  links0_.mutable_data();
  upper_.mutable_data();
  borrowed_from_.reset();
  return Status::Ok();
}

void HnswIndex::IndexLabels() {
  if (labels_indexed_) return;
  node_of_.Reserve(labels_.size());
  for (size_t n = 0; n < labels_.size(); ++n) {
    if (!deleted_[n]) node_of_.Set(labels_[n], n);
  }
  labels_indexed_ = true;
}

HnswIndex::Node HnswIndex::GreedyDescend(const float* query, Node entry, int from_level,
                                         int to_level) const {
  Node current = entry;
  float best = DistanceTo(query, current);
  const size_t count = labels_.size();
  for (int level = from_level; level > to_level; --level) {
    for (bool improved = true; improved;) {
      improved = false;
      const Node* links = Links(current, level);
      for (Node i = 1, end = LinkCount(links, level); i <= end; ++i) {
        Node next = links[i];
        // Unchecked links (a graph used in place) must name a node that has this level.
        if (next >= count || levels_[next] < level) continue;
        float d = DistanceTo(query, next);
        if (d < best) best = d, current = next, improved = true;
      }
    }
  }
  return current;
}

template <typename Accept>
std::vector<HnswIndex::Candidate> HnswIndex::SearchLayer(const float* query, Node entry, size_t ef,
                                                         int level, Accept accept) const {
  const size_t count = labels_.size();
  VisitedSet& visited = ThreadVisitedSet();
  visited.Reset(count);
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> frontier;
  std::vector<Candidate> results;  // max-heap
  float entry_distance = DistanceTo(query, entry);
  visited.Visit(entry);
  frontier.push({entry_distance, entry});
  if (accept(entry, entry_distance)) results.push_back({entry_distance, entry});
  auto bound = [&] {
    return results.size() < ef ? std::numeric_limits<float>::infinity() : results.front().distance;
  };
  while (!frontier.empty()) {
    Candidate current = frontier.top();
    if (current.distance > bound()) break;
    frontier.pop();
    const Node* links = Links(current.node, level);
    const Node end = LinkCount(links, level);
    for (Node i = 1; i <= end; ++i) {
      if (links[i] < count)
        _mm_prefetch(reinterpret_cast<const char*>(CodeOf(links[i])), _MM_HINT_T0);
    }
    for (Node i = 1; i <= end; ++i) {
      Node next = links[i];
      if (next >= count || !visited.Visit(next)) continue;
      float d = DistanceTo(query, next);
      if (d >= bound()) continue;
      frontier.push({d, next});
      if (!accept(next, d)) continue;
      results.push_back({d, next});
      std::push_heap(results.begin(), results.end());
      if (results.size() > ef) {
        std::pop_heap(results.begin(), results.end());
        results.pop_back();
      }
    }
  }
  return results;
}

// The heuristic of the HNSW paper: keep a candidate only if it is nearer to the new node
// than to every neighbour already kept, which spreads links in all directions.
std::vector<HnswIndex::Node> HnswIndex::SelectNeighbors(std::vector<Candidate> candidates,
                                                        int max_count) const {
  std::sort(candidates.begin(), candidates.end());
  std::vector<Node> kept;
  std::vector<float> buffer;
  for (const Candidate& c : candidates) {
    if (static_cast<int>(kept.size()) >= max_count) break;
    bool diverse = true;
    const float* candidate = FloatsOf(c.node, &buffer);
    for (Node k : kept) {
      if (DistanceTo(candidate, k) < c.distance) {
        diverse = false;
        break;
      }
    }
    if (diverse) kept.push_back(c.node);
  }
  return kept;
}

void HnswIndex::Connect(Node node, Node neighbor, int level) {
  Node* links = MutableLinks(neighbor, level);
  int capacity = Capacity(level);
  if (static_cast<int>(links[0]) < capacity) {
    links[++links[0]] = node;
    return;
  }
  std::vector<Candidate> candidates;
  std::vector<float> buffer;
  const float* base = FloatsOf(neighbor, &buffer);
  candidates.push_back({DistanceTo(base, node), node});
  for (Node i = 1; i <= links[0]; ++i) candidates.push_back({DistanceTo(base, links[i]), links[i]});
  std::vector<Node> kept = SelectNeighbors(std::move(candidates), capacity);
  links[0] = static_cast<Node>(kept.size());
  std::copy(kept.begin(), kept.end(), links + 1);
}

// `vector` is the node's original floats: with compressed codes, the walk that places it
// starts from the exact vector rather than its approximation.
void HnswIndex::Insert(Node node, const float* vector) {
  int level = levels_[node];
  if (max_level_ < 0) {
    entry_ = node;
    max_level_ = level;
    return;
  }
  const float* query = vector;
  Node entry = GreedyDescend(query, entry_, max_level_, level);
  auto everything = [](Node, float) { return true; };
  for (int l = std::min(level, max_level_); l >= 0; --l) {
    std::vector<Candidate> found = SearchLayer(query, entry, ef_construction_, l, everything);
    entry = std::min_element(found.begin(), found.end())->node;
    std::vector<Node> neighbors = SelectNeighbors(std::move(found), m_);
    Node* links = MutableLinks(node, l);
    links[0] = static_cast<Node>(neighbors.size());
    std::copy(neighbors.begin(), neighbors.end(), links + 1);
    for (Node n : neighbors) Connect(node, n, l);
  }
  if (level > max_level_) {
    entry_ = node;
    max_level_ = level;
  }
}

void HnswIndex::Remove(int64_t label) {
  IndexLabels();
  int64_t node = node_of_.Find(label);
  if (node < 0 || deleted_[node]) return;
  deleted_.mutable_data()[node] = 1;
  ++deleted_count_;
  node_of_.Erase(label);
}

Result<std::vector<Neighbor>> HnswIndex::Search(const void* query, size_t k,
                                                const SearchParams& params,
                                                const LabelFilter& filter) const {
  if (max_level_ < 0 || k == 0) return std::vector<Neighbor>();
  const auto* q = static_cast<const float*>(query);
  Node entry = GreedyDescend(q, entry_, max_level_, 0);
  size_t ef = std::max<size_t>(params.ef > 0 ? params.ef : 64, k);
  size_t refine_keep = k;
  if (options_.refine) {
    float refine_k = params.refine_k > 0 ? params.refine_k : options_.refine_k;
    refine_keep = std::max(k, static_cast<size_t>(std::ceil(double(k) * refine_k)));
    ef = std::max(ef, refine_keep);
  }
  // With refine on, ranges apply to the refined distances, after the walk.
  auto accept = [&](Node n, float d) {
    return !deleted_[n] && filter.Allows(labels_[n]) && (options_.refine || params.InRange(d));
  };
  std::vector<Candidate> found = SearchLayer(q, entry, ef, 0, accept);
  std::sort(found.begin(), found.end());
  if (options_.refine) found = Refine(q, std::move(found), refine_keep);
  std::vector<Neighbor> out;
  for (size_t i = 0; i < found.size() && out.size() < k; ++i) {
    if (params.InRange(found[i].distance))
      out.push_back({labels_[found[i].node], found[i].distance});
  }
  return out;
}

std::vector<HnswIndex::Candidate> HnswIndex::Refine(const float* query,
                                                    std::vector<Candidate> found,
                                                    size_t keep) const {
  if (found.size() > keep) found.resize(keep);
  size_t size = refine_codec_.code_size();
  for (Candidate& c : found) {
    c.distance = refine_codec_.Distance(query, &refine_codes_[size_t(c.node) * size]);
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::vector<int64_t> HnswIndex::Labels() const {
  std::vector<int64_t> labels;
  labels.reserve(labels_.size() - deleted_count_);
  for (size_t n = 0; n < labels_.size(); ++n) {
    if (!deleted_[n]) labels.push_back(labels_[n]);
  }
  return labels;
}

size_t HnswIndex::MemoryUsage() const {
  return codes_.owned_bytes() + refine_codes_.owned_bytes() + links0_.owned_bytes() +
         upper_.owned_bytes() + upper_start_.capacity() * sizeof(uint64_t) + labels_.owned_bytes() +
         deleted_.owned_bytes() + levels_.owned_bytes() + node_of_.MemoryUsage();
}

}  // namespace imgsearch::index
