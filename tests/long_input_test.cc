// Regression tests for "crashes on deep or long input": thousands of image paths on the
// command line, a 100,000-line --files-from list, and a filter nested 30,000 levels deep,
// each under the default stack limit. Before the fix, 500 paths crashed embed and index
// with SIGSEGV while ONNX Runtime was starting, and the deep filter crashed search.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tiny_images.h"

namespace imgsearch {
namespace {

using testing::MakeTempDir;
using testing::MakeTinyImages;
using testing::RunImgsearch;
using testing::WriteFileBytes;

size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::string DeepFilter(int levels) {
  return std::string(levels, '(') + "width > 1" + std::string(levels, ')');
}

TEST(LongInputTest, EmbedAndIndexTake5000PathsOnTheCommandLine) {
  std::vector<std::string> images = MakeTinyImages(5000);
  std::vector<std::string> embed = {"embed", "--model", "phash"};
  embed.insert(embed.end(), images.begin(), images.end());
  auto embedded = RunImgsearch(embed);
  ASSERT_EQ(embedded.signal, 0) << embedded.err;
  ASSERT_EQ(embedded.exit_code, 0) << embedded.err;
  EXPECT_EQ(CountLines(embedded.out), 5000u);

  std::vector<std::string> index = {"index", "--json", "--db", MakeTempDir() + "/db"};
  index.insert(index.end(), images.begin(), images.end());
  auto indexed = RunImgsearch(index);
  ASSERT_EQ(indexed.signal, 0) << indexed.err;
  ASSERT_EQ(indexed.exit_code, 0) << indexed.err;
  auto report = nlohmann::json::parse(indexed.out);
  EXPECT_EQ(report["scanned"], 5000);
  EXPECT_EQ(report["added"], 5000);
}

TEST(LongInputTest, FilesFromTakesA100000LineListFromAFileOrStandardInput) {
  std::vector<std::string> images = MakeTinyImages(500);
  std::string list;
  for (size_t line = 0; line < 100000; ++line) list += images[line % images.size()] + "\n";
  std::string list_file = MakeTempDir() + "/list.txt";
  WriteFileBytes(list_file, list);

  auto embedded = RunImgsearch({"embed", "--model", "phash", "--files-from", list_file});
  ASSERT_EQ(embedded.exit_code, 0) << embedded.err;
  EXPECT_EQ(CountLines(embedded.out), 100000u);  // one line per listed path

  std::string db = MakeTempDir() + "/db";
  auto indexed = RunImgsearch({"index", "--json", "--db", db, "--files-from", "-"}, list);
  ASSERT_EQ(indexed.exit_code, 0) << indexed.err;
  auto report = nlohmann::json::parse(indexed.out);
  EXPECT_EQ(report["scanned"], 500);  // the same file listed twice is indexed once
  EXPECT_EQ(report["added"], 500);

  // The command line and the list together; a list that names nothing is a usage error.
  auto both = RunImgsearch({"index", "--json", "--db", db, images[0], "--files-from", list_file});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(nlohmann::json::parse(both.out)["unchanged"], 500);
  std::string empty_list = MakeTempDir() + "/empty.txt";
  WriteFileBytes(empty_list, "\n\n");
  auto empty = RunImgsearch({"embed", "--files-from", empty_list});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("lists no paths"), std::string::npos) << empty.err;
  auto missing = RunImgsearch({"index", "--db", db, "--files-from", db + "/no-such-list"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no-such-list"), std::string::npos) << missing.err;
  EXPECT_EQ(RunImgsearch({"embed"}).exit_code, 2);
}

TEST(LongInputTest, AFilterNested30000DeepIsAClearErrorOnTheCommandLine) {
  std::vector<std::string> images = MakeTinyImages(3);
  std::string db = MakeTempDir() + "/db";
  ASSERT_EQ(RunImgsearch({"index", "--db", db, images[0], images[1], images[2]}).exit_code, 0);
  auto deep = RunImgsearch({"search", "id:1", "--db", db, "--filter", DeepFilter(30000)});
  EXPECT_EQ(deep.signal, 0);
  EXPECT_EQ(deep.exit_code, 1);
  EXPECT_NE(deep.err.find("nested more than 256 levels"), std::string::npos) << deep.err;
  auto shallow = RunImgsearch({"search", "id:1", "--db", db, "--filter", DeepFilter(200)});
  EXPECT_EQ(shallow.exit_code, 0) << shallow.err;
}

}  // namespace
}  // namespace imgsearch
