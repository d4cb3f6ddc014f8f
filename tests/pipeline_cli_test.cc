// `imgsearch index` and `imgsearch search` end to end, on generated images in classes.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_util.h"

namespace imgsearch {
namespace {

namespace fs = std::filesystem;
using testing::FixturePath;
using testing::MakeTempDir;
using testing::RunImgsearch;

// A private copy of the class folders, so tests can change files.
std::string CopyClasses() {
  std::string dir = MakeTempDir() + "/images";
  fs::copy(FixturePath("classes"), dir, fs::copy_options::recursive);
  return dir;
}

nlohmann::json IndexJson(const std::vector<std::string>& args) {
  std::vector<std::string> full = {"index", "--json"};
  full.insert(full.end(), args.begin(), args.end());
  auto r = RunImgsearch(full);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

nlohmann::json SearchJson(const std::vector<std::string>& args) {
  std::vector<std::string> full = {"search", "--json"};
  full.insert(full.end(), args.begin(), args.end());
  auto r = RunImgsearch(full);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(PipelineCliTest, IndexIsIncrementalAndReportsBadFiles) {
  std::string images = CopyClasses(), db = MakeTempDir() + "/db";
  auto first = IndexJson({images, "--db", db});
  EXPECT_EQ(first["scanned"], 11);  // 9 images, 1 copy, 1 broken
  EXPECT_EQ(first["added"], 10);
  EXPECT_EQ(first["duplicates"], 1);
  ASSERT_EQ(first["failures"].size(), 1u);
  EXPECT_NE(first["failures"][0]["path"].get<std::string>().find("broken.jpg"), std::string::npos);
  EXPECT_NE(first["failures"][0]["reason"].get<std::string>().find("JPEG"), std::string::npos);
  EXPECT_EQ(first["models"], (nlohmann::json{"phash", "color_layout"}));

  auto again = IndexJson({images, "--db", db});
  EXPECT_EQ(again["added"], 0);
  EXPECT_EQ(again["unchanged"], 10);

  // A changed file is re-embedded under its id; a deleted one is pruned.
  fs::copy_file(images + "/green/green_1.png", images + "/red/red_2.png",
                fs::copy_options::overwrite_existing);
  fs::last_write_time(images + "/red/red_2.png",
                      fs::file_time_type::clock::now() + std::chrono::seconds(5));
  fs::remove(images + "/blue/blue_0.png");
  auto changed = IndexJson({images, "--db", db, "--prune"});
  EXPECT_EQ(changed["updated"], 1);
  EXPECT_EQ(changed["pruned"], 1);
  EXPECT_EQ(changed["unchanged"], 8);
}

TEST(PipelineCliTest, SearchFindsTheImageAndItsClass) {
  std::string images = CopyClasses(), db = MakeTempDir() + "/db";
  IndexJson({images, "--db", db});
  auto results = SearchJson({images + "/blue/blue_1.png", "--db", db, "-k", "3"})["results"];
  for (const char* model : {"phash", "color_layout"}) {
    ASSERT_EQ(results[model].size(), 3u) << model;
    EXPECT_NE(results[model][0]["path"].get<std::string>().find("blue_1.png"), std::string::npos)
        << model;
    EXPECT_NEAR(results[model][0]["distance"].get<double>(), 0.0, 1e-5) << model;
  }
  // The colour descriptor ranks the rest of the class next.
  for (int i = 1; i < 3; ++i) {
    EXPECT_NE(results["color_layout"][i]["path"].get<std::string>().find("/blue/"),
              std::string::npos);
  }
  // By id, leaving the query and its exact copies out.
  int64_t id = results["phash"][0]["id"];
  auto by_id =
      SearchJson({"id:" + std::to_string(id), "--db", db, "--exclude-self", "-m", "color_layout"});
  ASSERT_EQ(by_id["results"].size(), 1u);
  for (const auto& hit : by_id["results"]["color_layout"]) EXPECT_NE(hit["id"], id);
  auto copy = SearchJson({images + "/red/red_0.png", "--db", db, "--exclude-self", "-k", "20"});
  for (const auto& hit : copy["results"]["phash"]) {
    EXPECT_EQ(hit["path"].get<std::string>().find("red_0.png"), std::string::npos) << hit.dump();
  }
  auto none = SearchJson({images + "/red/red_0.png", "--db", db, "--filter", "width > 10000"});
  EXPECT_TRUE(none["results"]["phash"].empty());
}

TEST(PipelineCliTest, ClearErrors) {
  std::string images = CopyClasses(), db = MakeTempDir() + "/db";
  IndexJson({images, "--db", db});
  auto missing_db =
      RunImgsearch({"search", images + "/red/red_0.png", "--db", MakeTempDir() + "/nothing"});
  EXPECT_EQ(missing_db.exit_code, 1);
  EXPECT_NE(missing_db.err.find("no imgsearch database"), std::string::npos) << missing_db.err;
  auto bad_filter =
      RunImgsearch({"search", images + "/red/red_0.png", "--db", db, "--filter", "width >"});
  EXPECT_EQ(bad_filter.exit_code, 1);
  EXPECT_NE(bad_filter.err.find("invalid filter at position"), std::string::npos) << bad_filter.err;
  auto bad_id = RunImgsearch({"search", "id:abc", "--db", db});
  EXPECT_EQ(bad_id.exit_code, 2);
  auto unknown_model = RunImgsearch({"search", "id:1", "--db", db, "-m", "resnet"});
  EXPECT_NE(unknown_model.err.find("model \"resnet\" is not used by"), std::string::npos)
      << unknown_model.err;
  auto not_image = RunImgsearch({"search", images + "/blue/broken.jpg", "--db", db});
  EXPECT_EQ(not_image.exit_code, 1);
  EXPECT_NE(not_image.err.find("broken.jpg"), std::string::npos);
}

}  // namespace
}  // namespace imgsearch
