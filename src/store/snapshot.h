// Index snapshot files (index/<collection>.<sequence>.idx): the in-memory index of one
// collection as of a sequence number, so that opening a database does not rebuild every
// index from the rows. Layout in doc/format.md. A loader checks the magic, the version,
// every length and a CRC-32 of the whole file before it trusts anything in it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"
#include "index/index.h"

namespace imgsearch::store {

struct SnapshotContents {
  int64_t collection_id = 0;
  int64_t sequence = 0;    // every change up to this one is in the snapshot
  std::string index_spec;  // JSON of the IndexSpec the index was built with
  int64_t dimension = 0;
  std::vector<int64_t> slot_ids;    // row id per slot
  std::vector<uint8_t> slot_alive;  // 1 for live slots
  std::string index_bytes;          // Index::Serialize (encoding), unless frozen_index
  std::shared_ptr<const index::FrozenIndex> frozen_index;  // the same bytes, in pieces
  std::string_view index_view;  // the same, decoded: a view into the file's bytes
  bool payload_checked = true;  // false: VerifySnapshotChecksum is still to be run
};

std::string EncodeSnapshot(const SnapshotContents& contents);
// The same bytes in pieces, to be written in order (Env::WritePiecesAtomic): `head` and
// `tail` receive the snapshot's own bytes, the index's stay where they are.
std::vector<std::string_view> EncodeSnapshotPieces(const SnapshotContents& contents,
                                                   std::string* head, std::string* tail);
// The result's index_view points into `bytes`, which must outlive it (a mapped file's
// bytes, say: nothing is copied but the slot tables). Every length is checked against the
// bytes, and every checksum, except with `defer_payload_check` the one over the index
// payload (from version 2 on, the header's own checksum is still checked), for an index
// that uses the payload in place and reads it only later.
Result<SnapshotContents> DecodeSnapshot(std::string_view bytes, bool defer_payload_check = false);
// A temporary's bytes would be gone before index_view is read.
Result<SnapshotContents> DecodeSnapshot(std::string&& bytes,
                                        bool defer_payload_check = false) = delete;
// The checksum over the whole file, in chunks; gives up with kResourceExhausted as soon
// as `stop` (if set) returns true.
Status VerifySnapshotChecksum(std::string_view bytes, const std::function<bool()>& stop);

std::string SnapshotFileName(int64_t collection_id, int64_t sequence);
// The sequence number in a name SnapshotFileName made; -1 for any other name.
int64_t SnapshotSequenceOf(const std::string& file_name);

}  // namespace imgsearch::store
