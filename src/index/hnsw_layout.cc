// HnswIndex as bytes (doc/format.md, "HNSW payload"). Layout 2 starts every array at a
// multiple of 64 bytes from the start of the payload, so a snapshot mapped at an aligned
// address is searched where it lies. Layouts 1 (HNSW_SQ's first) and 0 (plain HNSW, no
// magic) pack the same arrays without padding; they are still read, by copying.
#include <cstring>

#include "index/hnsw_index.h"
#include "index/serializer.h"

namespace imgsearch::index {
namespace {

constexpr char kLayout2Magic[8] = {'H', 'N', 'S', 'W', 'G', 'R', 'F', '2'};
constexpr uint64_t kLayout2Version = 2;
constexpr size_t kArrayAlignment = 64;
// Layout 1: HNSW_SQ data opens with its own magic and version, then the encodings.
constexpr char kQuantizedMagic[8] = {'H', 'N', 'S', 'W', '_', 'S', 'Q', '\0'};
constexpr uint64_t kQuantizedVersion = 1;

bool StartsWith(std::string_view in, const char (&magic)[8]) {
  return in.size() >= sizeof(magic) && std::memcmp(in.data(), magic, sizeof(magic)) == 0;
}

// The next `count` elements: borrowed where they lie when allowed and aligned for T,
// otherwise copied.
template <typename T>
Status ReadArray(Reader* r, uint64_t count, bool borrow, BorrowedArray<T>* out) {
  if (count > r->remaining() / sizeof(T)) return Status::Corruption("HNSW data is truncated");
  std::string_view bytes;
  IMGSEARCH_RETURN_IF_ERROR(r->View(count * sizeof(T), &bytes));
  if (borrow && reinterpret_cast<uintptr_t>(bytes.data()) % alignof(T) == 0) {
    out->Borrow(reinterpret_cast<const T*>(bytes.data()), count);
    return Status::Ok();
  }
  std::vector<T> copy(count);
  if (count > 0) std::memcpy(copy.data(), bytes.data(), bytes.size());
  out->Assign(std::move(copy));
  return Status::Ok();
}

}  // namespace

Status HnswIndex::Serialize(std::string* out) const {
  const size_t start = out->size();
  Writer w(out);
  w.Bytes(kLayout2Magic, sizeof(kLayout2Magic));
  w.U64(kLayout2Version);
  w.U64(static_cast<uint64_t>(options_.code));
  w.U64(options_.refine ? 1 : 0);
  w.U64(static_cast<uint64_t>(options_.refine_code));
  w.U64(dim_);
  w.U64(static_cast<uint64_t>(m_));
  w.U64(labels_.size());
  w.U64(static_cast<uint64_t>(max_level_ + 1));
  w.U64(entry_);
  w.U64(upper_.size());
  auto array = [&](const auto& a) {
    w.Align(start, kArrayAlignment);
    w.Array(a.data(), a.size());
  };
  array(labels_);
  array(deleted_);
  array(levels_);
  array(codes_);
  array(links0_);
  array(upper_);
  if (options_.refine) array(refine_codes_);
  return Status::Ok();
}

Status HnswIndex::ReadQuantizedHeader(Reader* r) const {
  std::string_view magic;
  IMGSEARCH_RETURN_IF_ERROR(r->View(sizeof(kQuantizedMagic), &magic));
  if (!StartsWith(magic, kQuantizedMagic))
    return Status::Corruption("not HNSW_SQ data (bad magic)");
  uint64_t version = 0;
  IMGSEARCH_RETURN_IF_ERROR(r->U64(&version));
  if (version != kQuantizedVersion)
    return Status::Unsupported("HNSW_SQ data version " + std::to_string(version));
  return ReadEncodings(r);
}

Status HnswIndex::ReadEncodings(Reader* r) const {
  uint64_t code = 0, refine = 0, refine_code = 0;
  IMGSEARCH_RETURN_IF_ERROR(r->U64(&code));
  IMGSEARCH_RETURN_IF_ERROR(r->U64(&refine));
  IMGSEARCH_RETURN_IF_ERROR(r->U64(&refine_code));
  if (code != static_cast<uint64_t>(options_.code) || refine != (options_.refine ? 1u : 0u) ||
      refine_code != static_cast<uint64_t>(options_.refine_code)) {
    return Status::Corruption("HNSW data was built with other encodings");
  }
  return Status::Ok();
}

Status HnswIndex::Deserialize(std::string_view in) {
  return Load(in, nullptr);
}

Status HnswIndex::DeserializeInPlace(std::string_view in, std::shared_ptr<const void> keep_alive) {
  return Load(in, std::move(keep_alive));
}

Result<HnswIndex::Header> HnswIndex::ReadHeader(std::string_view in, Reader* r) const {
  Header h;
  h.aligned = StartsWith(in, kLayout2Magic);
  if (h.aligned) {
    IMGSEARCH_RETURN_IF_ERROR(r->Skip(sizeof(kLayout2Magic)));
    uint64_t version = 0;
    IMGSEARCH_RETURN_IF_ERROR(r->U64(&version));
    if (version != kLayout2Version)
      return Status::Unsupported("HNSW data layout " + std::to_string(version));
    IMGSEARCH_RETURN_IF_ERROR(ReadEncodings(r));
  } else if (quantized() || StartsWith(in, kQuantizedMagic)) {
    IMGSEARCH_RETURN_IF_ERROR(ReadQuantizedHeader(r));
  }
  uint64_t dim = 0, m = 0;
  IMGSEARCH_RETURN_IF_ERROR(r->U64(&dim));
  IMGSEARCH_RETURN_IF_ERROR(r->U64(&m));
  if (dim != dim_ || m != static_cast<uint64_t>(m_)) {
    return Status::Corruption("HNSW data was built with other parameters");
  }
  IMGSEARCH_RETURN_IF_ERROR(r->U64(&h.count));
  IMGSEARCH_RETURN_IF_ERROR(r->U64(&h.levels_plus_one));
  IMGSEARCH_RETURN_IF_ERROR(r->U64(&h.entry));
  if (h.aligned) IMGSEARCH_RETURN_IF_ERROR(r->U64(&h.upper_size));
  if (h.count >= (1ull << 32) || h.levels_plus_one > 64 || (h.count > 0 && h.entry >= h.count) ||
      (h.count > 0) != (h.levels_plus_one > 0)) {
    return Status::Corruption("HNSW header is out of range");
  }
  return h;
}

Status HnswIndex::Load(std::string_view in, std::shared_ptr<const void> keep_alive) {
  Reader r(in);
  IMGSEARCH_ASSIGN_OR_RETURN(const Header h, ReadHeader(in, &r));
  HnswIndex loaded(metric_, dim_, options_);
  const bool borrow = keep_alive != nullptr && h.aligned;
  auto array = [&](uint64_t n, auto* out) {
    if (h.aligned) IMGSEARCH_RETURN_IF_ERROR(r.Align(kArrayAlignment));
    return ReadArray(&r, n, borrow, out);
  };
  IMGSEARCH_RETURN_IF_ERROR(array(h.count, &loaded.labels_));
  IMGSEARCH_RETURN_IF_ERROR(array(h.count, &loaded.deleted_));
  IMGSEARCH_RETURN_IF_ERROR(array(h.count, &loaded.levels_));
  // Where each node's upper links begin; the levels are checked on the way.
  loaded.upper_start_.resize(h.count);
  uint64_t upper = 0;
  for (uint64_t n = 0; n < h.count; ++n) {
    int32_t level = loaded.levels_[n];
    if (level < 0 || uint64_t(level) >= h.levels_plus_one)
      return Status::Corruption("HNSW level out of range");
    loaded.upper_start_[n] = upper;
    upper += uint64_t(level) * (m_ + 1);
    if (loaded.deleted_[n]) ++loaded.deleted_count_;
  }
  if (h.aligned && upper != h.upper_size)
    return Status::Corruption("HNSW upper levels do not add up");
  if (h.count > r.remaining() / codec_.code_size())
    return Status::Corruption("HNSW data is truncated");
  IMGSEARCH_RETURN_IF_ERROR(array(h.count * codec_.code_size(), &loaded.codes_));
  IMGSEARCH_RETURN_IF_ERROR(array(h.count * (2 * m_ + 1), &loaded.links0_));
  IMGSEARCH_RETURN_IF_ERROR(array(upper, &loaded.upper_));
  if (options_.refine) {
    IMGSEARCH_RETURN_IF_ERROR(array(h.count * refine_codec_.code_size(), &loaded.refine_codes_));
  }
  IMGSEARCH_RETURN_IF_ERROR(r.ExpectEnd());
  loaded.max_level_ = static_cast<int>(h.levels_plus_one) - 1;
  loaded.entry_ = static_cast<Node>(h.entry);
  if (h.count > 0 && loaded.levels_[h.entry] != loaded.max_level_)
    return Status::Corruption("HNSW entry point is wrong");
  // Borrowed, the links are checked before the first change; the walks bound what they
  // read until then. Copied, they are checked now.
  if (borrow) {
    loaded.borrowed_from_ = std::move(keep_alive);
  } else {
    IMGSEARCH_RETURN_IF_ERROR(loaded.CheckLinks());
  }
  loaded.labels_indexed_ = false;
  loaded.rng_.seed(h.count + 100);
  *this = std::move(loaded);
  return Status::Ok();
}

Status HnswIndex::CheckLinks() const {
  const size_t count = labels_.size();
  for (size_t n = 0; n < count; ++n) {
    for (int level = 0; level <= levels_[n]; ++level) {
      const Node* links = Links(static_cast<Node>(n), level);
      // Unsigned: a count of 2^31 or more must not pass as a negative int.
      if (links[0] > static_cast<Node>(Capacity(level)))
        return Status::Corruption("HNSW link count out of range");
      for (Node i = 1; i <= links[0]; ++i) {
        if (links[i] >= count) return Status::Corruption("HNSW link out of range");
      }
    }
  }
  return Status::Ok();
}

}  // namespace imgsearch::index
