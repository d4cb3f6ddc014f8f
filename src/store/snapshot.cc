#include "store/snapshot.h"

#include "base/crc32c.h"
#include "index/serializer.h"

namespace imgsearch::store {
namespace {

constexpr char kMagic[8] = {'I', 'M', 'G', 'S', 'I', 'D', 'X', '\0'};
constexpr uint64_t kVersion = 1;

uint32_t Crc(std::string_view bytes, size_t size) {
  return base::Crc32c(bytes.data(), size);
}

}  // namespace

std::string SnapshotFileName(int64_t collection_id, int64_t sequence) {
  return std::to_string(collection_id) + "." + std::to_string(sequence) + ".idx";
}

int64_t SnapshotSequenceOf(const std::string& file_name) {
  size_t first_dot = file_name.find('.');
  size_t last_dot = file_name.rfind('.');
  if (first_dot == std::string::npos || last_dot <= first_dot + 1) return -1;
  std::string digits = file_name.substr(first_dot + 1, last_dot - first_dot - 1);
  if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

std::string EncodeSnapshot(const SnapshotContents& c) {
  std::string out(kMagic, sizeof(kMagic));
  index::Writer w(&out);
  w.U64(kVersion);
  w.U64(static_cast<uint64_t>(c.collection_id));
  w.U64(static_cast<uint64_t>(c.sequence));
  w.U64(static_cast<uint64_t>(c.dimension));
  w.U64(c.index_spec.size());
  w.Bytes(c.index_spec.data(), c.index_spec.size());
  w.U64(c.slot_ids.size());
  w.Array(c.slot_ids.data(), c.slot_ids.size());
  w.Array(c.slot_alive.data(), c.slot_alive.size());
  w.U64(c.index_bytes.size());
  w.Bytes(c.index_bytes.data(), c.index_bytes.size());
  uint32_t crc = Crc(out, out.size());
  out.append(reinterpret_cast<const char*>(&crc), sizeof(crc));
  return out;
}

Result<SnapshotContents> DecodeSnapshot(std::string_view bytes) {
  if (bytes.size() < sizeof(kMagic) + 4 ||
      bytes.compare(0, sizeof(kMagic), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption("not an imgsearch index snapshot (bad magic)");
  }
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  if (Crc(bytes, bytes.size() - 4) != stored_crc)
    return Status::Corruption("snapshot checksum mismatch");
  index::Reader r(bytes.substr(sizeof(kMagic), bytes.size() - sizeof(kMagic) - 4));
  uint64_t version, id, seq, dim, spec_size, slots, index_size;
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&version));
  if (version != kVersion)
    return Status::Unsupported("snapshot format version " + std::to_string(version));
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&id));
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&seq));
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&dim));
  SnapshotContents c;
  c.collection_id = static_cast<int64_t>(id);
  c.sequence = static_cast<int64_t>(seq);
  c.dimension = static_cast<int64_t>(dim);
  std::vector<uint8_t> spec;
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&spec_size));
  IMGSEARCH_RETURN_IF_ERROR(r.Bytes(&spec, spec_size));
  c.index_spec.assign(spec.begin(), spec.end());
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&slots));
  IMGSEARCH_RETURN_IF_ERROR(r.Array(&c.slot_ids, slots));
  IMGSEARCH_RETURN_IF_ERROR(r.Array(&c.slot_alive, slots));
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&index_size));
  IMGSEARCH_RETURN_IF_ERROR(r.View(index_size, &c.index_view));
  IMGSEARCH_RETURN_IF_ERROR(r.ExpectEnd());
  return c;
}

}  // namespace imgsearch::store
