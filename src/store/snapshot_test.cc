// Snapshot files: version 3 puts the index payload at a multiple of 64 bytes, whatever the
// header holds, and version 2 files (no padding) are still read.
#include "store/snapshot.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/crc32c.h"
#include "test_util.h"

namespace imgsearch::store {
namespace {

using testing::ValueOrDie;

SnapshotContents Contents(size_t spec_size, size_t slots) {
  SnapshotContents c;
  c.collection_id = 3;
  c.sequence = 17;
  c.dimension = 4;
  c.index_spec = std::string(spec_size, 's');
  for (size_t i = 0; i < slots; ++i) {
    c.slot_ids.push_back(int64_t(100 + i));
    c.slot_alive.push_back(i % 3 != 0);
  }
  c.index_bytes = "the index payload";
  return c;
}

void ExpectContents(const SnapshotContents& got, const SnapshotContents& want) {
  EXPECT_EQ(got.collection_id, want.collection_id);
  EXPECT_EQ(got.sequence, want.sequence);
  EXPECT_EQ(got.index_spec, want.index_spec);
  EXPECT_EQ(got.slot_ids, want.slot_ids);
  EXPECT_EQ(got.slot_alive, want.slot_alive);
  EXPECT_EQ(got.index_view, want.index_bytes);
}

TEST(SnapshotTest, ThePayloadStartsAtAMultipleOf64) {
  for (size_t spec_size : {0, 1, 7, 63, 64, 100}) {
    for (size_t slots : {0, 1, 5, 64}) {
      const SnapshotContents want = Contents(spec_size, slots);
      const std::string bytes = EncodeSnapshot(want);
      const SnapshotContents got = ValueOrDie(DecodeSnapshot(bytes));
      EXPECT_EQ((got.index_view.data() - bytes.data()) % 64, 0) << spec_size << " " << slots;
      ExpectContents(got, want);
      EXPECT_TRUE(VerifySnapshotChecksum(bytes, nullptr).ok());
    }
  }
}

TEST(SnapshotTest, Version2FilesAreStillRead) {
  const size_t spec_size = 10, slots = 5;
  const SnapshotContents want = Contents(spec_size, slots);
  const std::string v3 = EncodeSnapshot(want);
  // Version 2's header is version 3's without the padding: magic, version, id, sequence,
  // dimension, the spec with its length, the slots with their count, the payload's length.
  const size_t head_size = 8 * 5 + (8 + spec_size) + (8 + 9 * slots) + 8;
  ASSERT_LT(head_size, v3.size());
  std::string v2 = v3.substr(0, head_size);
  const uint64_t version = 2;
  std::memcpy(&v2[8], &version, 8);
  const uint32_t head_crc = base::Crc32c(v2.data(), v2.size());
  v2 += want.index_bytes;
  v2.append(reinterpret_cast<const char*>(&head_crc), 4);
  const uint32_t crc = base::Crc32c(v2.data(), v2.size());
  v2.append(reinterpret_cast<const char*>(&crc), 4);
  ExpectContents(ValueOrDie(DecodeSnapshot(v2)), want);
  ExpectContents(ValueOrDie(DecodeSnapshot(v2, /*defer_payload_check=*/true)), want);
  EXPECT_TRUE(VerifySnapshotChecksum(v2, nullptr).ok());
}

}  // namespace
}  // namespace imgsearch::store
