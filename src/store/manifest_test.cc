#include <gtest/gtest.h>

#include "store/storage.h"

namespace imgsearch::store {
namespace {

TEST(ManifestTest, PrintsAndParsesBack) {
  ManifestEntries entries = {{1, "1.5.idx"}, {42, "42.9000.idx"}};
  auto parsed = ParseManifest(ManifestText(entries));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, entries);
}

// Found by fuzz/store_files_fuzzer: values of the wrong type made nlohmann throw, and a
// 20-digit id made std::stoll throw, out of Database::Open.
TEST(ManifestTest, WrongTypesAndHugeIdsAreCorruptionNotExceptions) {
  for (const char* text :
       {R"({"magic": 7, "version": 1})", R"({"magic": "imgsearch-manifest", "version": "1"})",
        R"({"magic": "imgsearch-manifest", "version": 1, "snapshots": [1]})",
        R"({"magic": "imgsearch-manifest", "version": 1,
            "snapshots": {"99999999999999999999": "1.1.idx"}})",
        "[]", "garbage"}) {
    EXPECT_FALSE(ParseManifest(text).ok()) << text;
  }
}

// Found by fuzz/store_files_fuzzer: the loader read the file a MANIFEST names and a newer
// snapshot deleted it, so a name with a path reached any file ("/dev/zero" hung the open).
TEST(ManifestTest, EntriesNameOnlyTheirOwnSnapshotFiles) {
  for (const char* file :
       {"../imgsearch.db", "../../../../dev/zero", "/etc/passwd", "1.x.idx", "2.5.idx", ".", ""}) {
    std::string text = std::string(R"({"magic": "imgsearch-manifest", "version": 1, )") +
                       R"("snapshots": {"1": ")" + file + R"("}})";
    EXPECT_FALSE(ParseManifest(text).ok()) << file;
  }
}

}  // namespace
}  // namespace imgsearch::store
