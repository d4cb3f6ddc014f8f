// The library in Milvus, end to end: every command with --db milvus://HOST:PORT against an
// `imgsearch serve` started on an empty folder as the stand-in Milvus, once over its gRPC
// port (milvus://) and once over its REST v2 dialect (milvus+rest://), checked against the
// same commands on an embedded library. tests/milvus-grpc/ runs such commands against
// real Milvus servers.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "serve_process.h"
#include "test_util.h"

namespace imgsearch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::FixturePath;
using testing::MakeTempDir;
using testing::ReadFileBytes;
using testing::RunImgsearch;

std::string CopyClasses() {
  std::string dir = MakeTempDir() + "/images";
  fs::copy(FixturePath("classes"), dir, fs::copy_options::recursive);
  return dir;
}

json RunJson(std::vector<std::string> args) {
  args.push_back("--json");
  auto r = RunImgsearch(args);
  EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
  auto parsed = json::parse(r.out, nullptr, false);
  return parsed.is_discarded() ? json() : parsed;
}

// A stand-in Milvus: imgsearch serve on an empty folder, reached over gRPC or REST.
struct StandIn {
  explicit StandIn(bool rest) : rest(rest) {}
  bool rest;
  testing::ServeProcess serve{MakeTempDir() + "/standin"};
  std::string location() const {
    return rest ? "milvus+rest://127.0.0.1:" + std::to_string(serve.port())
                : "milvus://127.0.0.1:" + std::to_string(serve.grpc_port());
  }
};

class MilvusStoreCliTest : public ::testing::TestWithParam<bool> {};  // REST: true

// Hits as distance -> paths. Ids differ between the stores (and break ties between equal
// distances), so the group at the cut-off distance is left out: K may cut it differently.
std::map<float, std::set<std::string>> ByDistance(const json& hits) {
  std::map<float, std::set<std::string>> groups;
  for (const json& hit : hits) groups[hit["distance"].get<float>()].insert(hit["path"]);
  if (!groups.empty()) groups.erase(std::prev(groups.end()));
  return groups;
}

TEST_P(MilvusStoreCliTest, EveryCommandWorksAsOnTheEmbeddedStore) {
  StandIn milvus(GetParam());
  ASSERT_GT(milvus.serve.port(), 0) << milvus.serve.ErrorOutput();
  std::string images = CopyClasses(), local = MakeTempDir() + "/db", remote = milvus.location();

  json first = RunJson({"index", images, "--db", remote});
  EXPECT_EQ(first["scanned"], 11);
  EXPECT_EQ(first["added"], 10);
  EXPECT_EQ(first["duplicates"], 1);
  EXPECT_EQ(first["failures"].size(), 1u);
  RunJson({"index", images, "--db", local});
  EXPECT_EQ(RunJson({"index", images, "--db", remote})["unchanged"], 10);

  // The same answers as the embedded store, image for image.
  std::string query = images + "/blue/blue_1.png";
  json far = RunJson({"search", query, "--db", remote, "-k", "5", "--fuse", "rrf"});
  json near = RunJson({"search", query, "--db", local, "-k", "5", "--fuse", "rrf"});
  for (const char* model : {"phash", "color_layout"}) {
    ASSERT_EQ(far["results"][model].size(), 5u) << model;
    EXPECT_EQ(ByDistance(far["results"][model]), ByDistance(near["results"][model])) << model;
    EXPECT_NEAR(far["results"][model][0]["distance"].get<double>(), 0.0, 1e-5);
  }
  EXPECT_EQ(far["fused"].size(), 5u);
  int64_t id = far["results"]["phash"][0]["id"];
  json by_id = RunJson({"search", "id:" + std::to_string(id), "--db", remote, "--exclude-self",
                        "--filter", "path like \"%/blue/%\""});
  for (const json& hit : by_id["results"]["color_layout"]) {
    EXPECT_NE(hit["id"], id);
    EXPECT_NE(hit["path"].get<std::string>().find("/blue/"), std::string::npos);
  }
  json compared = RunJson({"compare", query, "--db", remote});
  EXPECT_TRUE(compared.contains("pairs")) << compared.dump();
  json evaluated = RunJson({"eval", images, "--db", remote, "-k", "2"});
  json evaluated_near = RunJson({"eval", images, "--db", local, "-k", "2"});
  EXPECT_EQ(evaluated["queries"], evaluated_near["queries"]);
  EXPECT_GT(evaluated["models"]["color_layout"]["map"].get<double>(), 0.5) << evaluated.dump();

  // A changed file is embedded again under its id; a removed one is pruned.
  fs::copy_file(images + "/green/green_1.png", images + "/red/red_2.png",
                fs::copy_options::overwrite_existing);
  fs::last_write_time(images + "/red/red_2.png",
                      fs::file_time_type::clock::now() + std::chrono::seconds(5));
  fs::remove(images + "/blue/blue_0.png");
  json changed = RunJson({"index", images, "--db", remote, "--prune"});
  EXPECT_EQ(changed["updated"], 1);
  EXPECT_EQ(changed["pruned"], 1);
  EXPECT_EQ(changed["unchanged"], 8);
  json moved =
      RunJson({"search", images + "/green/green_1.png", "--db", remote, "-k", "2", "-m", "phash"});
  std::set<std::string> twins;
  for (const json& hit : moved["results"]["phash"]) twins.insert(fs::path(hit["path"]).filename());
  EXPECT_EQ(twins, (std::set<std::string>{"green_1.png", "red_2.png"}));

  EXPECT_EQ(RunJson({"delete", images + "/red/red_1.png", "--db", remote})["deleted"], 1);
  json collections = RunJson({"collections", "--db", remote});
  std::map<std::string, int64_t> rows;
  for (const json& c : collections) rows[c["name"]] = c["rows"];
  EXPECT_EQ(rows["images"], 8);
  EXPECT_EQ(rows["phash"], 8);
  EXPECT_EQ(rows["color_layout"], 8);
  EXPECT_FALSE(rows.count("imgsearch_settings"));
  EXPECT_EQ(RunJson({"stats", "--db", remote})["images"]["rows"], 8);

  std::string out = MakeTempDir() + "/phash.jsonl";
  auto exported = RunImgsearch({"export", "--db", remote, "-m", "phash", "-o", out});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::string lines = ReadFileBytes(out);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 8);
  EXPECT_NE(lines.find("green_1.png"), std::string::npos);
}

TEST_P(MilvusStoreCliTest, ShardsCoverTheFolderOnceAndPruneOnlyTheirShare) {
  StandIn milvus(GetParam());
  ASSERT_GT(milvus.serve.port(), 0) << milvus.serve.ErrorOutput();
  std::string images = CopyClasses(), remote = milvus.location();
  json a = RunJson({"index", images, "--db", remote, "--shard", "0/2"});
  json b = RunJson({"index", images, "--db", remote, "--shard", "1/2"});
  EXPECT_EQ(a["scanned"].get<int>() + b["scanned"].get<int>(), 11);
  EXPECT_EQ(a["added"].get<int>() + b["added"].get<int>(), 10);
  EXPECT_GT(a["scanned"].get<int>(), 0);
  EXPECT_GT(b["scanned"].get<int>(), 0);
  EXPECT_EQ(RunJson({"index", images, "--db", remote})["unchanged"], 10);  // no file twice

  // Every file gone: a share's prune removes its own images and no others.
  for (const char* folder : {"red", "green", "blue"}) fs::remove_all(images + "/" + folder);
  json second = RunJson({"index", images, "--db", remote, "--shard", "1/2", "--prune"});
  EXPECT_EQ(second["pruned"], b["added"]);
  json left = RunJson({"collections", "--db", remote});
  for (const json& c : left) {
    if (c["name"] == "images") {
      EXPECT_EQ(c["rows"], a["added"]);
    }
  }
  json first = RunJson({"index", images, "--db", remote, "--shard", "0/2", "--prune"});
  EXPECT_EQ(first["pruned"], a["added"]);

  auto bad = RunImgsearch({"index", images, "--db", remote, "--shard", "2/2"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("0 <= I < N"), std::string::npos) << bad.err;
}

// A run cut short between a chunk's vectors and its images' rows (simulated by removing
// images rows behind imgsearch's back) is repaired by the next run: the files come back
// under the same ids, their vectors are overwritten, not doubled.
TEST_P(MilvusStoreCliTest, ARunCutShortIsRepairedByTheNext) {
  StandIn milvus(GetParam());
  ASSERT_GT(milvus.serve.port(), 0) << milvus.serve.ErrorOutput();
  std::string images = CopyClasses(), remote = milvus.location();
  RunJson({"index", images, "--db", remote});
  httplib::Client standin("127.0.0.1", milvus.serve.port());
  auto cut =
      standin.Post("/v2/vectordb/entities/delete",
                   json{{"collectionName", "images"}, {"filter", "path like \"%/green/%\""}}.dump(),
                   "application/json");
  ASSERT_TRUE(cut);
  ASSERT_EQ(json::parse(cut->body)["code"], 0) << cut->body;
  std::map<std::string, int64_t> before;
  for (const json& c : RunJson({"collections", "--db", remote})) before[c["name"]] = c["rows"];
  EXPECT_EQ(before["images"], 7);
  EXPECT_EQ(before["phash"], 10);  // the vectors stayed behind

  json again = RunJson({"index", images, "--db", remote});
  EXPECT_EQ(again["added"], 3);
  EXPECT_EQ(again["unchanged"], 7);
  for (const json& c : RunJson({"collections", "--db", remote})) EXPECT_EQ(c["rows"], 10) << c;
}

TEST_P(MilvusStoreCliTest, ServeInFrontOfMilvusIsStateless) {
  StandIn milvus(GetParam());
  ASSERT_GT(milvus.serve.port(), 0) << milvus.serve.ErrorOutput();
  std::string images = CopyClasses(), remote = milvus.location();
  RunJson({"index", images, "--db", remote});
  // Two front ends over the one store, each answering from it.
  std::string uploads = MakeTempDir() + "/uploads";
  testing::ServeProcess front_a(remote, {"--uploads", uploads});
  testing::ServeProcess front_b(remote, {"--uploads", uploads});
  ASSERT_GT(front_a.port(), 0) << front_a.ErrorOutput();
  ASSERT_GT(front_b.port(), 0) << front_b.ErrorOutput();
  httplib::Client a("127.0.0.1", front_a.port()), b("127.0.0.1", front_b.port());
  std::string bytes = ReadFileBytes(images + "/green/green_2.png");
  httplib::MultipartFormDataItems upload = {{"image", bytes, "green_2_again.png", "image/png"}};
  auto added = a.Post("/api/images", upload);
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 201) << added->body;
  int64_t id = json::parse(added->body)["id"];
  auto found = b.Post("/api/search", json{{"id", id}, {"k", 3}}.dump(), "application/json");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->status, 200) << found->body;
  json results = json::parse(found->body)["results"]["color_layout"];
  ASSERT_FALSE(results.empty());
  // The upload and green_2.png (the same picture) both at distance 0.
  bool found_upload = false;
  for (const json& hit : results)
    found_upload = found_upload || (hit["id"] == id && hit["distance"].get<double>() < 1e-5);
  EXPECT_TRUE(found_upload) << results.dump();
  auto image = b.Get("/api/images/" + std::to_string(id));
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 200);
  EXPECT_EQ(image->body, bytes);
}

INSTANTIATE_TEST_SUITE_P(Transports, MilvusStoreCliTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Rest" : "Grpc"; });

}  // namespace
}  // namespace imgsearch
