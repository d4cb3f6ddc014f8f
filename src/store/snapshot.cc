#include "store/snapshot.h"

#include <algorithm>
#include <cstring>

#include "base/crc32c.h"
#include "index/serializer.h"

namespace imgsearch::store {
namespace {

constexpr char kMagic[8] = {'I', 'M', 'G', 'S', 'I', 'D', 'X', '\0'};
// Version 2 adds a checksum of the bytes before the index payload, so that a payload used
// in place can have its own check deferred. Version 3 pads the header with zeros so that
// the payload starts at a multiple of kPayloadAlignment: mapped, its arrays are aligned
// for the index to use in place. Versions 1 and 2 are still read.
constexpr uint64_t kVersion = 3;
constexpr size_t kPayloadAlignment = 64;
constexpr size_t kCheckBytes = size_t(64) << 20;  // checked between looks at `stop`

uint32_t Crc(std::string_view bytes, size_t size) {
  return base::Crc32c(bytes.data(), size);
}

uint32_t StoredCrc(std::string_view bytes, size_t at) {
  uint32_t crc;
  std::memcpy(&crc, bytes.data() + at, sizeof(crc));
  return crc;
}

size_t TrailerSize(uint64_t version) {
  return version == 1 ? 4 : 8;
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

std::vector<std::string_view> EncodeSnapshotPieces(const SnapshotContents& c, std::string* head,
                                                   std::string* tail) {
  std::vector<std::string_view> index_pieces =
      c.frozen_index ? c.frozen_index->pieces() : std::vector<std::string_view>{c.index_bytes};
  size_t index_size = 0;
  for (std::string_view piece : index_pieces) index_size += piece.size();
  head->assign(kMagic, sizeof(kMagic));
  index::Writer w(head);
  w.U64(kVersion);
  w.U64(static_cast<uint64_t>(c.collection_id));
  w.U64(static_cast<uint64_t>(c.sequence));
  w.U64(static_cast<uint64_t>(c.dimension));
  w.U64(c.index_spec.size());
  w.Bytes(c.index_spec.data(), c.index_spec.size());
  w.U64(c.slot_ids.size());
  w.Array(c.slot_ids.data(), c.slot_ids.size());
  w.Array(c.slot_alive.data(), c.slot_alive.size());
  w.U64(index_size);
  w.Align(0, kPayloadAlignment);
  const uint32_t head_crc = base::Crc32c(head->data(), head->size());
  tail->assign(reinterpret_cast<const char*>(&head_crc), sizeof(head_crc));
  uint32_t crc = head_crc;
  for (std::string_view piece : index_pieces)
    crc = base::Crc32cExtend(crc, piece.data(), piece.size());
  crc = base::Crc32cExtend(crc, tail->data(), tail->size());
  tail->append(reinterpret_cast<const char*>(&crc), sizeof(crc));
  std::vector<std::string_view> pieces{*head};
  pieces.insert(pieces.end(), index_pieces.begin(), index_pieces.end());
  pieces.push_back(*tail);
  return pieces;
}

std::string EncodeSnapshot(const SnapshotContents& c) {
  std::string head, tail, out;
  for (std::string_view piece : EncodeSnapshotPieces(c, &head, &tail)) out.append(piece);
  return out;
}

Status VerifySnapshotChecksum(std::string_view bytes, const std::function<bool()>& stop) {
  uint64_t version = 0;
  if (bytes.size() >= sizeof(kMagic) + 8) std::memcpy(&version, bytes.data() + sizeof(kMagic), 8);
  if (version < 1 || version > kVersion) return Status::Corruption("not a snapshot it can check");
  size_t covered = bytes.size() - 4;  // every version ends with the CRC of all before it
  uint32_t crc = 0;
  for (size_t at = 0; at < covered; at += kCheckBytes) {
    if (stop && stop()) return Status::ResourceExhausted("checking the snapshot was stopped");
    crc = base::Crc32cExtend(crc, bytes.data() + at, std::min(kCheckBytes, covered - at));
  }
  if (crc != StoredCrc(bytes, covered)) return Status::Corruption("snapshot checksum mismatch");
  return Status::Ok();
}

Result<SnapshotContents> DecodeSnapshot(std::string_view bytes, bool defer_payload_check) {
  uint64_t version = 0;
  if (bytes.size() < sizeof(kMagic) + 8 ||
      bytes.compare(0, sizeof(kMagic), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption("not an imgsearch index snapshot (bad magic)");
  }
  std::memcpy(&version, bytes.data() + sizeof(kMagic), 8);
  if (version < 1 || version > kVersion)
    return Status::Unsupported("snapshot format version " + std::to_string(version));
  const size_t trailer = TrailerSize(version);
  if (bytes.size() < sizeof(kMagic) + 8 + trailer) return Status::Corruption("snapshot cut short");
  SnapshotContents c;
  c.payload_checked = !defer_payload_check || version == 1;
  if (c.payload_checked) IMGSEARCH_RETURN_IF_ERROR(VerifySnapshotChecksum(bytes, nullptr));
  index::Reader r(bytes.substr(sizeof(kMagic) + 8, bytes.size() - sizeof(kMagic) - 8 - trailer));
  uint64_t id, seq, dim, spec_size, slots, index_size;
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&id));
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&seq));
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&dim));
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
  size_t head_size = bytes.size() - trailer - r.remaining();
  if (version >= 3) {
    IMGSEARCH_RETURN_IF_ERROR(
        r.Skip((kPayloadAlignment - head_size % kPayloadAlignment) % kPayloadAlignment));
    head_size = bytes.size() - trailer - r.remaining();
  }
  // Version 2 on: nothing before the payload is used unchecked, even when the payload's
  // own check is deferred.
  if (version != 1 && Crc(bytes, head_size) != StoredCrc(bytes, bytes.size() - 8))
    return Status::Corruption("snapshot header checksum mismatch");
  IMGSEARCH_RETURN_IF_ERROR(r.View(index_size, &c.index_view));
  IMGSEARCH_RETURN_IF_ERROR(r.ExpectEnd());
  return c;
}

}  // namespace imgsearch::store
