// `imgsearch index` and `imgsearch search` end to end, on generated images in classes.
#include <gtest/gtest.h>
#include <httplib.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include <thread>

#include "image/encode.h"
#include "image/resize.h"
#include "imgsearch/image.h"
#include "serve_process.h"
#include "test_util.h"

namespace imgsearch {
namespace {

namespace fs = std::filesystem;
using testing::FixturePath;
using testing::MakeTempDir;
using testing::ReadFileBytes;
using testing::RunImgsearch;
using testing::WriteFileBytes;

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

// The models belong to the library: a model file that changes under the same name is
// refused until every image is embedded again with it, never mixed in silently.
TEST(PipelineCliTest, AChangedModelFileIsRefusedUntilReembedded) {
  std::string images = CopyClasses(), db = MakeTempDir() + "/db", models = MakeTempDir();
  std::string model = models + "/tiny.onnx";
  WriteFileBytes(model, ReadFileBytes(FixturePath("mean_nchw.onnx")));
  WriteFileBytes(models + "/tiny.json", R"({"preprocess": {"width": 8, "height": 8,
      "resize": "stretch", "interpolation": "nearest", "scale": 1.0, "layout": "nchw"},
      "normalize": "l2"})");
  auto first = IndexJson({images, "--db", db, "--model", "tiny=" + model});
  ASSERT_GT(first["added"].get<int>(), 0);
  EXPECT_FALSE(fs::exists(db + "/models.json"));  // the list lives in the database
  SearchJson({"id:1", "--db", db});
  IndexJson({images, "--db", db});  // unchanged: nothing to say

  // Another file under the same name (same output size, other bytes).
  WriteFileBytes(model, ReadFileBytes(FixturePath("fixed_batch1.onnx")));
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"search", "id:1", "--db", db},
        std::vector<std::string>{"index", images, "--db", db}}) {
    auto refused = RunImgsearch(command);
    EXPECT_EQ(refused.exit_code, 1) << command[0];
    EXPECT_NE(refused.err.find("changed since the library's images were embedded"),
              std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("--reembed"), std::string::npos) << refused.err;
  }
  auto again = IndexJson({images, "--db", db, "--reembed"});
  EXPECT_EQ(again["updated"], first["added"]);  // every image, under its own id
  EXPECT_EQ(again["added"], 0);
  SearchJson({"id:1", "--db", db});
  EXPECT_EQ(IndexJson({images, "--db", db})["unchanged"], first["added"]);
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

TEST(PipelineCliTest, SearchCutsOffOrdersPagesAndCrops) {
  std::string images = CopyClasses(), db = MakeTempDir() + "/db";
  IndexJson({images, "--db", db});
  std::string query = images + "/blue/blue_1.png";
  auto all =
      SearchJson({query, "--db", db, "-k", "10", "-m", "color_layout"})["results"]["color_layout"];
  ASSERT_GE(all.size(), 6u);
  double cutoff = all[2]["distance"].get<double>();
  auto cut =
      SearchJson({query, "--db", db, "-k", "10", "-m", "color_layout", "--max-distance",
                  "color_layout=" + std::to_string(cutoff + 1e-6)})["results"]["color_layout"];
  ASSERT_EQ(cut.size(), 3u);
  for (const auto& hit : cut) EXPECT_LE(hit["distance"].get<double>(), cutoff + 1e-5);
  auto page = SearchJson({query, "--db", db, "-k", "2", "--offset", "2", "-m",
                          "color_layout"})["results"]["color_layout"];
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0]["id"], all[2]["id"]);
  EXPECT_EQ(page[0]["rank"], 3);
  auto newest = SearchJson({query, "--db", db, "-k", "10", "-m", "color_layout", "--order",
                            "-date"})["results"]["color_layout"];
  ASSERT_EQ(newest.size(), all.size());
  for (size_t i = 1; i < newest.size(); ++i)
    EXPECT_GE(newest[i - 1]["mtime_ns"].get<int64_t>(), newest[i]["mtime_ns"].get<int64_t>());
  auto cropped = SearchJson({query, "--db", db, "-k", "3", "--crop", "10,20,30,20"});
  EXPECT_EQ(cropped["results"]["phash"].size(), 3u);
  auto outside = RunImgsearch({"search", query, "--db", db, "--crop", "70,50,20,20"});
  EXPECT_EQ(outside.exit_code, 1);
  EXPECT_NE(outside.err.find("crop box"), std::string::npos) << outside.err;
  auto wrong_kind = RunImgsearch({"search", query, "--db", db, "--min-score", "phash=3"});
  EXPECT_EQ(wrong_kind.exit_code, 1);
  EXPECT_NE(wrong_kind.err.find("max_distance"), std::string::npos) << wrong_kind.err;
  EXPECT_EQ(RunImgsearch({"search", query, "--db", db, "--max-distance", "x"}).exit_code, 2);
  EXPECT_EQ(RunImgsearch({"search", query, "--db", db, "--crop", "1,2"}).exit_code, 2);
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

TEST(PipelineCliTest, FusedRankingAndComparePage) {
  std::string images = CopyClasses(), db = MakeTempDir() + "/db";
  auto indexed = testing::RunImgsearch({"index", images, "--db", db});
  ASSERT_EQ(indexed.exit_code, 0) << indexed.err;
  auto fused = testing::RunImgsearch(
      {"search", "--json", images + "/green/green_2.png", "--db", db, "--fuse", "rrf", "-k", "3"});
  ASSERT_EQ(fused.exit_code, 0) << fused.err;
  auto j = nlohmann::json::parse(fused.out);
  ASSERT_EQ(j["fused"].size(), 3u);
  EXPECT_NE(j["fused"][0]["path"].get<std::string>().find("green_2.png"), std::string::npos);
  // Ranked first by both models: 1/61 + 1/61.
  EXPECT_NEAR(j["fused"][0]["score"].get<double>(), 2.0 / 61, 1e-9);

  std::string page = testing::MakeTempDir() + "/compare.html";
  auto compared = testing::RunImgsearch(
      {"compare", "--json", images + "/green/green_2.png", "--db", db, "-k", "4", "--html", page});
  ASSERT_EQ(compared.exit_code, 0) << compared.err;
  auto c = nlohmann::json::parse(compared.out);
  ASSERT_EQ(c["pairs"].size(), 1u);
  for (const char* key : {"overlap", "jaccard", "spearman", "kendall"}) {
    EXPECT_GE(c["pairs"][0][key].get<double>(), -1.0);
    EXPECT_LE(c["pairs"][0][key].get<double>(), 1.0);
  }
  EXPECT_EQ(c["models"]["color_layout"]["distance"]["min"], 0.0);
  std::string html = testing::ReadFileBytes(page);
  EXPECT_NE(html.find("<h3>phash</h3>"), std::string::npos);
  EXPECT_NE(html.find("<h3>color_layout</h3>"), std::string::npos);
  // 1 query + 4 results x 2 models, all embedded: the page needs no other file.
  size_t thumbnails = 0;
  for (size_t at = html.find("data:image/jpeg;base64,"); at != std::string::npos;
       at = html.find("data:image/jpeg;base64,", at + 1))
    ++thumbnails;
  EXPECT_EQ(thumbnails, 9u);
  EXPECT_NE(html.find("Kendall"), std::string::npos);
}

TEST(PipelineCliTest, EvalFiguresMatchAHandComputation) {
  std::string images = CopyClasses(), db = MakeTempDir() + "/db";
  ASSERT_EQ(testing::RunImgsearch({"index", images, "--db", db}).exit_code, 0);
  auto r = testing::RunImgsearch({"eval", "--json", images, "--db", db, "-k", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["queries"],
            10);  // 4 red (one an exact copy), 3 green, 3 blue; the broken file is not indexed
  EXPECT_EQ(j["classes"], 3);
  const auto& colour = j["models"]["color_layout"];
  // Every query's 2 nearest are of its class: P@2 = 1 and AP@2 = 1. Red queries have 3
  // relevant images (R@2 = 2/3), green and blue 2 (R@2 = 1): (4 * 2/3 + 6) / 10.
  EXPECT_NEAR(colour["precision"].get<double>(), 1.0, 1e-9);
  EXPECT_NEAR(colour["map"].get<double>(), 1.0, 1e-9);
  EXPECT_NEAR(colour["recall"].get<double>(), (4 * 2.0 / 3 + 6) / 10, 1e-9);
  EXPECT_NEAR(colour["index_recall"].get<double>(), 1.0, 1e-9);
  EXPECT_TRUE(j["models"].contains("fused"));
  EXPECT_TRUE(j["models"].contains("phash"));
  auto unlabelled = testing::RunImgsearch({"eval", testing::MakeTempDir(), "--db", db});
  EXPECT_EQ(unlabelled.exit_code, 1);
  EXPECT_NE(unlabelled.err.find("no indexed images in class folders"), std::string::npos);
}

TEST(PipelineCliTest, CollectionsStatsDeleteAndExport) {
  std::string images = CopyClasses(), db = MakeTempDir() + "/db";
  ASSERT_EQ(testing::RunImgsearch({"index", images, "--db", db}).exit_code, 0);
  auto list =
      nlohmann::json::parse(testing::RunImgsearch({"collections", "--db", db, "--json"}).out);
  ASSERT_EQ(list.size(), 3u);  // the images and one collection per model
  EXPECT_EQ(list[0]["name"], "color_layout");
  EXPECT_EQ(list[0]["rows"], 10);
  EXPECT_EQ(list[1]["name"], "images");
  EXPECT_EQ(list[1]["rows"], 10);
  EXPECT_EQ(list[2]["metric"], "HAMMING");
  auto stats = nlohmann::json::parse(testing::RunImgsearch({"stats", "--db", db, "--json"}).out);
  EXPECT_EQ(stats["phash"]["rows"], 10);

  // Delete by path, by id and by filter: from every model's collection.
  auto by_path = testing::RunImgsearch({"delete", "--json", images + "/red/red_1.png", "--db", db});
  ASSERT_EQ(by_path.exit_code, 0) << by_path.err;
  EXPECT_EQ(nlohmann::json::parse(by_path.out)["deleted"], 1);
  auto by_filter = testing::RunImgsearch(
      {"delete", "--json", "--db", db, "--filter", "path like \"%/green/%\""});
  EXPECT_EQ(nlohmann::json::parse(by_filter.out)["deleted"], 3);
  list = nlohmann::json::parse(testing::RunImgsearch({"collections", "--db", db, "--json"}).out);
  EXPECT_EQ(list[0]["rows"], 6);
  EXPECT_EQ(list[1]["rows"], 6);
  EXPECT_EQ(list[2]["rows"], 6);
  EXPECT_EQ(testing::RunImgsearch({"delete", "--db", db}).exit_code, 2);

  // JSON Lines: one row a line with id, fields and vector.
  std::string jsonl = testing::MakeTempDir() + "/rows.jsonl";
  ASSERT_EQ(
      testing::RunImgsearch({"export", "--db", db, "-m", "color_layout", "-o", jsonl}).exit_code,
      0);
  std::istringstream lines(testing::ReadFileBytes(jsonl));
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    auto row = nlohmann::json::parse(line);
    EXPECT_EQ(row["vector"].size(), 32u);
    EXPECT_TRUE(row.contains("id") && row.contains("path") && row.contains("hash"));
  }
  EXPECT_EQ(count, 6);
  // NumPy: header with dtype and shape, then rows x 32 float32.
  std::string npy = testing::MakeTempDir() + "/vectors.npy";
  ASSERT_EQ(testing::RunImgsearch(
                {"export", "--db", db, "-m", "color_layout", "-o", npy, "--format", "npy"})
                .exit_code,
            0);
  std::string bytes = testing::ReadFileBytes(npy);
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  size_t header = 10 + static_cast<uint8_t>(bytes[8]) + 256 * static_cast<uint8_t>(bytes[9]);
  EXPECT_EQ(header % 64, 0u);
  EXPECT_NE(bytes.find("'descr': '<f4'"), std::string::npos);
  EXPECT_NE(bytes.find("'shape': (6, 32)"), std::string::npos);
  EXPECT_EQ(bytes.size(), header + 6 * 32 * 4);
  EXPECT_EQ(testing::ReadFileBytes(npy + ".ids.txt").size() > 0, true);
}

// A private redis-server on a free-ish loopback port, stopped when the test ends.
class RedisServer {
 public:
  RedisServer() : port_(20000 + static_cast<int>(getpid() % 20000)) {
    std::string dir = testing::MakeTempDir();
    std::string command = "redis-server --port " + std::to_string(port_) +
                          " --bind 127.0.0.1 --save '' --appendonly no" +
                          " --daemonize yes --dir " + dir + " --logfile " + dir +
                          "/redis.log >/dev/null 2>&1";
    started_ = std::system(command.c_str()) == 0;
    for (int i = 0; started_ && i < 50 && Cli("PING") != "PONG"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~RedisServer() { Cli("SHUTDOWN NOSAVE"); }
  bool started() const { return started_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  std::string Cli(const std::string& args) const {
    std::string out_file = testing::MakeTempDir() + "/out";
    std::string command =
        "redis-cli -p " + std::to_string(port_) + " " + args + " >" + out_file + " 2>/dev/null";
    (void)std::system(command.c_str());
    std::string out = testing::ReadFileBytes(out_file);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

 private:
  int port_;
  bool started_ = false;
};

TEST(PipelineCliTest, RedisMirrorFollowsInsertsAndDeletes) {
  RedisServer redis;
  ASSERT_TRUE(redis.started()) << "redis-server is missing: scripts/setup.sh installs it";
  ASSERT_EQ(redis.Cli("PING"), "PONG");
  std::string images = CopyClasses(), db = MakeTempDir() + "/db";
  auto indexed = testing::RunImgsearch({"index", images, "--db", db, "--redis-url", redis.url()});
  ASSERT_EQ(indexed.exit_code, 0) << indexed.err;
  EXPECT_EQ(redis.Cli("DBSIZE"), "10");  // one hash per image
  auto search = testing::RunImgsearch(
      {"search", "--json", images + "/green/green_0.png", "--db", db, "-k", "1"});
  int64_t id = nlohmann::json::parse(search.out)["results"]["phash"][0]["id"];
  std::string key = "imgsearch:images:" + std::to_string(id);
  EXPECT_NE(redis.Cli("HGET " + key + " path").find("green_0.png"), std::string::npos);
  EXPECT_EQ(redis.Cli("HGET " + key + " width"), "80");

  // Deleted and pruned images leave the mirror too.
  ASSERT_EQ(testing::RunImgsearch(
                {"delete", "id:" + std::to_string(id), "--db", db, "--redis-url", redis.url()})
                .exit_code,
            0);
  EXPECT_EQ(redis.Cli("EXISTS " + key), "0");
  // Re-indexing the folder adds the deleted image back (its file is still there) and
  // prunes a removed file: 10 - 1 images.
  std::filesystem::remove(images + "/red/red_2.png");
  ASSERT_EQ(
      testing::RunImgsearch({"index", images, "--db", db, "--prune", "--redis-url", redis.url()})
          .exit_code,
      0);
  EXPECT_EQ(redis.Cli("DBSIZE"), "9");

  // A mirror that missed changes is repaired by the next run.
  redis.Cli("DEL imgsearch:images:1");
  redis.Cli("HSET imgsearch:images:999 path stale.jpg");
  ASSERT_EQ(
      testing::RunImgsearch({"index", images, "--db", db, "--redis-url", redis.url()}).exit_code,
      0);
  EXPECT_EQ(redis.Cli("DBSIZE"), "9");
  EXPECT_EQ(redis.Cli("EXISTS imgsearch:images:999"), "0");
  EXPECT_EQ(redis.Cli("EXISTS imgsearch:images:1"), "1");

  auto unreachable =
      testing::RunImgsearch({"index", images, "--db", db, "--redis-url", "redis://127.0.0.1:1"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.err.find("cannot reach Redis"), std::string::npos) << unreachable.err;
  EXPECT_NE(testing::RunImgsearch({"index", images, "--db", db, "--redis-url", "http://x"})
                .err.find("redis://"),
            std::string::npos);
}

// The server keeps the mirror in step too: in full when it starts (the CLI indexed
// without a mirror), then upload by upload and delete by delete.
TEST(PipelineCliTest, ServerUploadsAndDeletesKeepTheRedisMirrorInStep) {
  RedisServer redis;
  ASSERT_TRUE(redis.started()) << "redis-server is missing: scripts/setup.sh installs it";
  std::string images = CopyClasses(), db = MakeTempDir() + "/db";
  ASSERT_EQ(testing::RunImgsearch({"index", images, "--db", db}).exit_code, 0);
  testing::ServeProcess serve(db, {"--redis-url", redis.url()});
  ASSERT_GT(serve.port(), 0) << serve.ErrorOutput();
  EXPECT_EQ(redis.Cli("DBSIZE"), "10");  // one hash per image, mirrored at start
  httplib::Client c("127.0.0.1", serve.port());
  httplib::MultipartFormDataItems upload = {
      {"image", ReadFileBytes(FixturePath("rgb.png")), "rgb.png", "image/png"}};
  auto added = c.Post("/api/images", upload);
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 201) << added->body;
  std::string id = std::to_string(nlohmann::json::parse(added->body)["id"].get<int64_t>());
  EXPECT_NE(redis.Cli("HGET imgsearch:images:" + id + " path").find("/uploads/"),
            std::string::npos);
  EXPECT_EQ(redis.Cli("DBSIZE"), "11");
  ASSERT_EQ(c.Delete(("/api/images/" + id).c_str())->status, 200);
  EXPECT_EQ(redis.Cli("EXISTS imgsearch:images:" + id), "0");
  EXPECT_EQ(redis.Cli("DBSIZE"), "10");
}

// Starts imgsearch with `args`, kills it with SIGKILL after `ms` milliseconds.
void RunAndKill(const std::vector<std::string>& args, int ms) {
  std::vector<char*> argv = {const_cast<char*>(IMGSEARCH_BINARY_FOR_KILL)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

TEST(PipelineCliTest, IndexKilledMidwayResumesWithoutDuplicates) {
  std::string images = testing::MakeTempDir() + "/many", db = testing::MakeTempDir() + "/db";
  std::filesystem::create_directories(images);
  const int n = 400;
  std::vector<std::string> sources = {"rgb.jpg", "rgb.png", "gray.jpg", "palette.png", "large.jpg"};
  for (int i = 0; i < n; ++i) {
    std::filesystem::copy_file(
        testing::FixturePath(sources[i % sources.size()]),
        images + "/img_" + std::to_string(i) +
            std::filesystem::path(sources[i % sources.size()]).extension().string());
  }
  for (int ms : {150, 400, 700}) RunAndKill({"index", images, "--db", db}, ms);
  auto resumed = testing::RunImgsearch({"index", "--json", images, "--db", db});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  auto report = nlohmann::json::parse(resumed.out);
  // A kill between two models' writes of one chunk leaves files known to one model only:
  // the rerun completes them as "updated".
  EXPECT_EQ(
      report["added"].get<int>() + report["updated"].get<int>() + report["unchanged"].get<int>(), n)
      << report.dump();
  EXPECT_EQ(report["failures"].size(), 0u);
  auto list =
      nlohmann::json::parse(testing::RunImgsearch({"collections", "--db", db, "--json"}).out);
  for (const auto& c : list) EXPECT_EQ(c["rows"], n) << c.dump();  // each file exactly once
  std::printf("after 3 kills, %d of %d images were already indexed\n",
              report["unchanged"].get<int>(), n);
}

TEST(PipelineCliTest, DuplicatesGroupsReencodedCopiesAndWritesAPage) {
  std::string dir = MakeTempDir() + "/photos", db = MakeTempDir() + "/db";
  fs::create_directories(dir);
  fs::copy(FixturePath("classes/green/green_2.png"), dir + "/green.png");
  fs::copy(FixturePath("classes/red/red_0.png"), dir + "/red.png");
  Image green = testing::ValueOrDie(LoadImage(dir + "/green.png"));
  WriteFileBytes(dir + "/green-q40.jpg", testing::ValueOrDie(image::EncodeJpeg(green, 40)));
  Image half = image::Resize(green, green.width / 2, green.height / 2, Interpolation::kBilinear);
  WriteFileBytes(dir + "/green-half.jpg", testing::ValueOrDie(image::EncodeJpeg(half)));
  ASSERT_EQ(RunImgsearch({"index", dir, "--db", db}).exit_code, 0);

  std::string page = MakeTempDir() + "/duplicates.html";
  auto r = RunImgsearch({"duplicates", "--json", "--db", db, "--html", page});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["images"], 4);
  ASSERT_EQ(report["groups"].size(), 1u);
  std::set<std::string> names;
  for (const auto& image : report["groups"][0]["images"])
    names.insert(fs::path(image["path"].get<std::string>()).filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"green.png", "green-q40.jpg", "green-half.jpg"}));
  std::string html = ReadFileBytes(page);
  EXPECT_NE(html.find("largest: keep"), std::string::npos);
  EXPECT_NE(html.find("green-half.jpg"), std::string::npos);
  EXPECT_EQ(html.find("red.png"), std::string::npos);

  auto text = RunImgsearch({"duplicates", "--db", db});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("group 1: 3 images"), std::string::npos) << text.out;
  auto wrong = RunImgsearch({"duplicates", "--db", db, "--hash-model", "color_layout"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("binary"), std::string::npos) << wrong.err;
}

}  // namespace
}  // namespace imgsearch
