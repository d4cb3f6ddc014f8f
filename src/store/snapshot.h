// Index snapshot files (index/<collection>.<sequence>.idx): the in-memory index of one
// collection as of a sequence number, so that opening a database does not rebuild every
// index from the rows. Layout in doc/format.md. A loader checks the magic, the version,
// every length and a CRC-32 of the whole file before it trusts anything in it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::store {

struct SnapshotContents {
  int64_t collection_id = 0;
  int64_t sequence = 0;    // every change up to this one is in the snapshot
  std::string index_spec;  // JSON of the IndexSpec the index was built with
  int64_t dimension = 0;
  std::vector<int64_t> slot_ids;    // row id per slot
  std::vector<uint8_t> slot_alive;  // 1 for live slots
  std::string index_bytes;          // Index::Serialize (encoding)
  std::string_view index_view;      // the same, decoded: a view into the file's bytes
};

std::string EncodeSnapshot(const SnapshotContents& contents);
// The result's index_view points into `bytes`, which must outlive it (a mapped file's
// bytes, say: nothing is copied but the slot tables).
Result<SnapshotContents> DecodeSnapshot(std::string_view bytes);

std::string SnapshotFileName(int64_t collection_id, int64_t sequence);
// The sequence number in a name SnapshotFileName made; -1 for any other name.
int64_t SnapshotSequenceOf(const std::string& file_name);

}  // namespace imgsearch::store
