// LabelPositions: label -> position (a node, a row) for an index. The store's labels are
// its slots, dense from 0: a vector then, not a hash map, whose inserts (one allocation
// each, a million at open, and kept among a request's freed buffers) were most of the
// cost of opening a large index and pinned memory. Other labels go to the map.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace imgsearch::index {

class LabelPositions {
 public:
  void Set(int64_t label, size_t position) {
    // Dense while labels stay within a small multiple of those seen: slots do.
    if (label >= 0 && static_cast<size_t>(label) < 2 * dense_.size() + 1024) {
      if (static_cast<size_t>(label) >= dense_.size())
        dense_.resize(std::max(static_cast<size_t>(label) + 1, 2 * dense_.size()), -1);
      dense_[label] = static_cast<int64_t>(position);
    } else {
      sparse_[label] = position;
    }
  }
  // -1 when absent.
  int64_t Find(int64_t label) const {
    if (label >= 0 && static_cast<size_t>(label) < dense_.size()) {
      if (dense_[label] >= 0) return dense_[label];
    }
    auto it = sparse_.find(label);
    return it == sparse_.end() ? -1 : static_cast<int64_t>(it->second);
  }
  void Erase(int64_t label) {
    if (label >= 0 && static_cast<size_t>(label) < dense_.size()) dense_[label] = -1;
    sparse_.erase(label);
  }
  void Clear() {
    dense_.clear();
    sparse_.clear();
  }
  void Reserve(size_t labels) { dense_.reserve(labels); }
  size_t MemoryUsage() const { return dense_.capacity() * sizeof(int64_t) + sparse_.size() * 32; }

 private:
  std::vector<int64_t> dense_;  // by label; -1: absent
  std::unordered_map<int64_t, size_t> sparse_;
};

}  // namespace imgsearch::index
