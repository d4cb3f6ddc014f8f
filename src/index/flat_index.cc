#include "index/flat_index.h"

#include <algorithm>
#include <cstring>

#include "index/serializer.h"

namespace imgsearch::index {
namespace {

constexpr size_t kBlockBytes = size_t(4) << 20;

}  // namespace

void TopK::Push(int64_t label, float distance) {
  if (k_ == 0) return;
  if (heap_.size() < k_) {
    heap_.push_back({label, distance});
    std::push_heap(heap_.begin(), heap_.end());
  } else if (Neighbor{label, distance} < heap_.front()) {
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.back() = {label, distance};
    std::push_heap(heap_.begin(), heap_.end());
  }
}

std::vector<Neighbor> TopK::Take() {
  std::sort_heap(heap_.begin(), heap_.end());
  return std::move(heap_);
}

FlatIndex::FlatIndex(Metric metric, size_t dim)
    : metric_(metric),
      binary_(IsBinaryMetric(metric)),
      dim_(binary_ ? dim / 8 : dim),
      stride_(binary_ ? dim / 8 : dim * sizeof(float)),
      per_block_(std::max<size_t>(1, kBlockBytes / std::max<size_t>(stride_, 1))) {}

Status FlatIndex::Add(size_t n, const int64_t* labels, const void* vectors) {
  const auto* bytes = static_cast<const uint8_t*>(vectors);
  for (size_t i = 0; i < n; ++i) {
    size_t position = labels_.size();
    if (position / per_block_ >= blocks_.size()) {
      blocks_.push_back(std::make_unique_for_overwrite<uint8_t[]>(per_block_ * stride_));
    }
    std::memcpy(mutable_vector_at(position), bytes + i * stride_, stride_);
    position_of_[labels[i]] = position;
    labels_.push_back(labels[i]);
  }
  return Status::Ok();
}

void FlatIndex::Remove(int64_t label) {
  auto it = position_of_.find(label);
  if (it == position_of_.end()) return;
  size_t pos = it->second, last = labels_.size() - 1;
  if (pos != last) {  // move the last vector into the hole
    std::memcpy(mutable_vector_at(pos), vector_at(last), stride_);
    labels_[pos] = labels_[last];
    position_of_[labels_[pos]] = pos;
  }
  labels_.pop_back();
  if (labels_.size() <= (blocks_.size() - 1) * per_block_) blocks_.pop_back();
  position_of_.erase(it);
}

Result<std::vector<Neighbor>> FlatIndex::Search(const void* query, size_t k,
                                                const SearchParams& params,
                                                const LabelFilter& filter) const {
  return Scan(query, k, params, filter);
}

std::vector<Neighbor> FlatIndex::Scan(const void* query, size_t k, const SearchParams& params,
                                      const LabelFilter& filter) const {
  TopK top(k);
  const size_t n = labels_.size();
  const DistanceFunction distance = DistanceFor(metric_);
  for (size_t start = 0; start < n; start += per_block_) {
    const uint8_t* block = blocks_[start / per_block_].get();
    for (size_t i = start; i < std::min(n, start + per_block_); ++i) {
      if (!filter.Allows(labels_[i])) continue;
      float d = distance(query, block + (i - start) * stride_, dim_);
      if (d < top.worst() && params.InRange(d)) top.Push(labels_[i], d);
    }
  }
  return top.Take();
}

void FlatIndex::Clear() {
  blocks_.clear();
  labels_.clear();
  position_of_.clear();
}

Status FlatIndex::Serialize(std::string* out) const {
  Writer w(out);
  w.U64(stride_);
  w.U64(labels_.size());
  w.Array(labels_.data(), labels_.size());
  for (size_t start = 0; start < labels_.size(); start += per_block_) {
    w.Bytes(blocks_[start / per_block_].get(),
            std::min(per_block_, labels_.size() - start) * stride_);
  }
  return Status::Ok();
}

Status FlatIndex::Deserialize(std::string_view in) {
  Reader r(in);
  uint64_t stride = 0, count = 0;
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&stride));
  if (stride != stride_) return Status::Corruption("flat index has a different vector size");
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&count));
  std::vector<int64_t> labels;
  IMGSEARCH_RETURN_IF_ERROR(r.Array(&labels, count));
  std::string_view data;
  if (count > r.remaining() / std::max<size_t>(stride_, 1)) {
    return Status::Corruption("flat index data is truncated");
  }
  IMGSEARCH_RETURN_IF_ERROR(r.View(count * stride_, &data));
  IMGSEARCH_RETURN_IF_ERROR(r.ExpectEnd());
  Clear();
  return Add(count, labels.data(), data.data());
}

size_t FlatIndex::MemoryUsage() const {
  return blocks_.size() * per_block_ * stride_ + labels_.capacity() * sizeof(int64_t) +
         position_of_.size() * 32;
}

}  // namespace imgsearch::index
