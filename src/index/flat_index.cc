#include "index/flat_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "index/serializer.h"

namespace imgsearch::index {
namespace {

constexpr size_t kBlockBytes = size_t(4) << 20;

// Serialize's bytes: a header of its own, then the index's blocks, shared.
class FrozenFlat final : public FrozenIndex {
 public:
  std::vector<std::string_view> pieces() const override {
    std::vector<std::string_view> all{header};
    all.insert(all.end(), vectors.begin(), vectors.end());
    return all;
  }
  std::string header;  // vector size, count, labels
  std::vector<std::string_view> vectors;
  std::vector<std::shared_ptr<const uint8_t[]>> owners;
  std::shared_ptr<const void> borrowed_from;
};

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
    MakeRoomFor(position);
    std::memcpy(mutable_vector_at(position), bytes + i * stride_, stride_);
    position_of_.Set(labels[i], position);
    labels_.push_back(labels[i]);
  }
  return Status::Ok();
}

void FlatIndex::Remove(int64_t label) {
  int64_t found = position_of_.Find(label);
  if (found < 0) return;
  size_t pos = static_cast<size_t>(found), last = labels_.size() - 1;
  if (pos != last) {  // move the last vector into the hole
    std::memcpy(mutable_vector_at(pos), vector_at(last), stride_);
    labels_[pos] = labels_[last];
    position_of_.Set(labels_[pos], pos);
  }
  labels_.pop_back();
  if (labels_.size() <= (blocks_.size() - 1) * per_block_) blocks_.pop_back();
  position_of_.Erase(label);
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
    const uint8_t* block = blocks_[start / per_block_].data;
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
  borrowed_from_.reset();
  labels_.clear();
  position_of_.Clear();
}

Status FlatIndex::Serialize(std::string* out) const {
  Writer w(out);
  w.U64(stride_);
  w.U64(labels_.size());
  w.Array(labels_.data(), labels_.size());
  for (size_t start = 0; start < labels_.size(); start += per_block_) {
    w.Bytes(blocks_[start / per_block_].data,
            std::min(per_block_, labels_.size() - start) * stride_);
  }
  return Status::Ok();
}

Result<std::unique_ptr<FrozenIndex>> FlatIndex::Freeze() const {
  auto frozen = std::make_unique<FrozenFlat>();
  Writer w(&frozen->header);
  w.U64(stride_);
  w.U64(labels_.size());
  w.Array(labels_.data(), labels_.size());
  for (size_t start = 0; start < labels_.size(); start += per_block_) {
    const Block& block = blocks_[start / per_block_];
    frozen->vectors.emplace_back(reinterpret_cast<const char*>(block.data),
                                 std::min(per_block_, labels_.size() - start) * stride_);
    if (block.owned) frozen->owners.push_back(block.owned);
  }
  frozen->borrowed_from = borrowed_from_;
  return std::unique_ptr<FrozenIndex>(std::move(frozen));
}

namespace {

// Memory for a block of vectors. Whole blocks are 2 MB-aligned and asked for as transparent
// huge pages: in a VM, faulting in fresh 4 KB pages was a large share of the insert time
// (about 3-4 ms per MB, against 1-3 with huge pages, measured with a memset of 1 GB).
std::shared_ptr<uint8_t[]> AllocateBlock(size_t bytes) {
  constexpr size_t kHugePage = size_t{2} << 20;
  if (bytes < kHugePage) return std::make_unique_for_overwrite<uint8_t[]>(bytes);
  void* memory = nullptr;
  if (posix_memalign(&memory, kHugePage, bytes) != 0) throw std::bad_alloc();
  (void)madvise(memory, bytes, MADV_HUGEPAGE);  // a hint: without it, plain pages
  return std::shared_ptr<uint8_t[]>(static_cast<uint8_t*>(memory), [](uint8_t* p) { free(p); });
}

}  // namespace

void FlatIndex::MakeRoomFor(size_t position) {
  size_t index = position / per_block_, offset = position % per_block_;
  if (index < blocks_.size() && offset < blocks_[index].capacity) return;
  size_t capacity = index < blocks_.size() ? blocks_[index].capacity : 0;
  // Only the first block grows by doubling (a small index does not hold a whole block);
  // growing later ones copied every vector once more and faulted in its pages twice.
  capacity = index > 0 ? per_block_
                       : std::min(per_block_, std::max<size_t>({16, 2 * capacity, offset + 1}));
  std::shared_ptr<uint8_t[]> owned = AllocateBlock(capacity * stride_);
  if (index < blocks_.size()) {
    std::memcpy(owned.get(), blocks_[index].data, offset * stride_);
    blocks_[index] = {owned.get(), std::move(owned), capacity};
  } else {
    const uint8_t* data = owned.get();
    blocks_.push_back({data, std::move(owned), capacity});
  }
}

uint8_t* FlatIndex::mutable_vector_at(size_t position) {
  Block& block = blocks_[position / per_block_];
  if (!block.owned || block.owned.use_count() > 1) {
    std::shared_ptr<uint8_t[]> copy = AllocateBlock(block.capacity * stride_);
    std::memcpy(copy.get(), block.data, block.capacity * stride_);
    block.owned = std::move(copy);
    block.data = block.owned.get();
  }
  return block.owned.get() + (position % per_block_) * stride_;
}

Status FlatIndex::DeserializeInPlace(std::string_view in, std::shared_ptr<const void> keep_alive) {
  std::vector<int64_t> labels;
  std::string_view data;
  IMGSEARCH_RETURN_IF_ERROR(ParsePayload(in, &labels, &data));
  Clear();
  position_of_.Reserve(labels.size());
  labels_.reserve(labels.size());
  borrowed_from_ = std::move(keep_alive);
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  size_t whole_blocks = labels.size() / per_block_;
  for (size_t b = 0; b < whole_blocks; ++b) {
    blocks_.push_back({bytes + b * per_block_ * stride_, nullptr, per_block_});
    for (size_t i = b * per_block_; i < (b + 1) * per_block_; ++i) {
      position_of_.Set(labels[i], i);
      labels_.push_back(labels[i]);
    }
  }
  // The last, partial block is copied: adds will fill it.
  size_t borrowed = whole_blocks * per_block_;
  return Add(labels.size() - borrowed, labels.data() + borrowed, bytes + borrowed * stride_);
}

Status FlatIndex::Deserialize(std::string_view in) {
  std::vector<int64_t> labels;
  std::string_view data;
  IMGSEARCH_RETURN_IF_ERROR(ParsePayload(in, &labels, &data));
  Clear();
  return Add(labels.size(), labels.data(), data.data());
}

Status FlatIndex::ParsePayload(std::string_view in, std::vector<int64_t>* labels,
                               std::string_view* data) const {
  Reader r(in);
  uint64_t stride = 0, count = 0;
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&stride));
  if (stride != stride_) return Status::Corruption("flat index has a different vector size");
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&count));
  IMGSEARCH_RETURN_IF_ERROR(r.Array(labels, count));
  if (count > r.remaining() / std::max<size_t>(stride_, 1)) {
    return Status::Corruption("flat index data is truncated");
  }
  IMGSEARCH_RETURN_IF_ERROR(r.View(count * stride_, data));
  return r.ExpectEnd();
}

size_t FlatIndex::MemoryUsage() const {
  size_t owned = 0;
  for (const Block& block : blocks_) owned += block.owned ? block.capacity * stride_ : 0;
  return owned + labels_.capacity() * sizeof(int64_t) + position_of_.MemoryUsage();
}

}  // namespace imgsearch::index
