// The HTTP API through a real socket on loopback: every route, bad input, tokens, limits.
#include "server/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "server/test_server.h"
#include "test_util.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;
using testing::FixturePath;
using testing::MakeTempDir;

TEST(ServerTest, DuplicatesAnswersTheGroupsAndRefusesABadQuery) {
  ServerFixture f;
  auto c = f.Client();
  auto groups = c.Get("/api/duplicates?rotations=false");
  ASSERT_EQ(groups->status, 200) << groups->body;
  json j = Body(groups);
  EXPECT_EQ(j["hash_model"], "phash");
  EXPECT_EQ(j["confirm_model"], "color_layout");
  EXPECT_EQ(j["rotations"], false);
  EXPECT_EQ(j["images"], 10);
  // Upright, the byte-identical copy is the one group; a hash match of another colour is not.
  ASSERT_EQ(j["groups"].size(), 1u);
  std::set<std::string> names;
  for (const json& image : j["groups"][0]["images"])
    names.insert(std::filesystem::path(image["path"].get<std::string>()).filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"red_0.png", "copy_of_red_0.png"}));
  EXPECT_GT(j["candidate_pairs"].get<int>(), j["confirmed_pairs"].get<int>());
  // By default mirrored copies count too: green_2 is green_0 flipped top to bottom (its
  // rectangle moves from rows 10-30 to 30-50 of a flat green).
  json turned = Body(c.Get("/api/duplicates"));
  EXPECT_EQ(turned["rotations"], true);
  std::set<std::set<std::string>> turned_groups;
  for (const json& group : turned["groups"]) {
    std::set<std::string> members;
    for (const json& image : group["images"])
      members.insert(std::filesystem::path(image["path"].get<std::string>()).filename().string());
    turned_groups.insert(members);
  }
  EXPECT_EQ(turned_groups, (std::set<std::set<std::string>>{{"red_0.png", "copy_of_red_0.png"},
                                                            {"green_0.png", "green_2.png"}}));

  auto hash_only = Body(c.Get("/api/duplicates?confirm_model=none&hash_distance=20"));
  EXPECT_EQ(hash_only["confirm_model"], "none");
  EXPECT_EQ(hash_only["confirmed_pairs"], hash_only["candidate_pairs"]);
  for (const char* bad :
       {"similarity=abc", "similarity=0.9x", "hash_distance=-1", "hash_distance=1&hash_distance=2",
        "colour=1", "hash_model=color_layout", "similarity=2", "rotations=maybe"})
    EXPECT_EQ(c.Get(std::string("/api/duplicates?") + bad)->status, 400) << bad;
  EXPECT_EQ(c.Get("/api/duplicates?confirm_model=resnet")->status, 404);
}

TEST(ServerTest, HealthCollectionsAndSearch) {
  ServerFixture f;
  auto c = f.Client();
  auto health = c.Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Body(health)["images"], 10);
  auto collections = c.Get("/api/collections");
  EXPECT_EQ(Body(collections).size(), 3u);  // the images and one per model

  auto by_id = c.Post("/api/search", R"({"id": 1, "k": 3, "fuse": "rrf"})", "application/json");
  ASSERT_EQ(by_id->status, 200) << by_id->body;
  json j = Body(by_id);
  EXPECT_EQ(j["results"]["phash"][0]["id"], 1);
  EXPECT_EQ(j["fused"][0]["id"], 1);

  std::string bytes = testing::ReadFileBytes(f.images() + "/blue/blue_2.png");
  httplib::MultipartFormDataItems upload = {{"image", bytes, "blue_2.png", "image/png"},
                                            {"k", "2", "", ""}};
  auto by_upload = c.Post("/api/search", upload);
  ASSERT_EQ(by_upload->status, 200) << by_upload->body;
  j = Body(by_upload);
  EXPECT_EQ(j["query"], "blue_2.png");
  EXPECT_NE(j["results"]["color_layout"][0]["path"].get<std::string>().find("blue_2.png"),
            std::string::npos);
  EXPECT_EQ(j["results"]["color_layout"].size(), 2u);
}

TEST(ServerTest, BadInputGetsA4xxWithAMessage) {
  ServerFixture f;
  auto c = f.Client();
  struct Case {
    std::string body;
    int status;
    const char* expect;
  };
  for (const Case& k :
       {Case{"not json", 400, "must be a JSON object"}, Case{"[1]", 400, "must be a JSON object"},
        Case{R"({"k": 3})", 400, "give \"id\""}, Case{R"({"id": "seven"})", 400, "give \"id\""},
        Case{R"({"id": 1, "k": "many"})", 400, "k must be a positive integer"},
        Case{R"({"id": 1, "filter": "width >"})", 400, "invalid filter at position"},
        Case{R"({"id": 1, "models": ["resnet"]})", 404, "model \"resnet\""},
        Case{R"({"id": 999})", 404, "id 999"}, Case{R"({"id": 1, "k": 0})", 400, "k must be"},
        Case{R"({"id": 1, "fuse": "max"})", 400, "fuse must be"}}) {
    auto r = c.Post("/api/search", k.body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, k.status) << k.body << " -> " << r->body;
    EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find(k.expect), std::string::npos)
        << r->body;
  }
  httplib::MultipartFormDataItems not_image = {
      {"image", "plain text, no picture", "notes.png", "image/png"}};
  auto r = c.Post("/api/search", not_image);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("not an image"), std::string::npos);
  httplib::MultipartFormDataItems no_file = {{"k", "3", "", ""}};
  EXPECT_EQ(c.Post("/api/search", no_file)->status, 400);
  auto route = c.Get("/api/nothing");
  EXPECT_EQ(route->status, 404);
  EXPECT_EQ(Body(route)["error"]["message"], "no such route");
  EXPECT_EQ(c.Get("/api/images/abc")->status, 404);  // ids only: no path reaches the disk
  EXPECT_EQ(c.Get("/api/images/..%2F..%2Fetc%2Fpasswd")->status, 404);
}

// One request built to be deep must not take the server down: a filter nested 30,000
// levels and a JSON body nested 100,000 levels get a 4xx (or a Milvus error code) naming
// the limit, on the native and the Milvus routes, and the server answers afterwards.
TEST(ServerTest, DeepInputIsRefusedAndTheServerStaysUp) {
  ServerFixture f;
  auto c = f.Client();
  std::string filter = std::string(30000, '(') + "width > 1" + std::string(30000, ')');
  nlohmann::json native = {{"id", 1}, {"k", 3}, {"filter", filter}};
  auto r = c.Post("/api/search", native.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("nested more than 256 levels"), std::string::npos) << r->body;
  for (const char* route : {"/v2/vectordb/entities/query", "/v2/vectordb/entities/search"}) {
    nlohmann::json milvus = {{"collectionName", "color_layout"}, {"filter", filter}, {"limit", 3}};
    if (std::string(route).ends_with("search")) milvus["data"] = {std::vector<float>(32, 0.1f)};
    auto m = c.Post(route, milvus.dump(), "application/json");
    ASSERT_TRUE(m) << route;
    EXPECT_NE(Body(m)["code"], 0) << route;
    EXPECT_NE(m->body.find("nested more than 256 levels"), std::string::npos) << m->body;
  }
  std::string deep_json = std::string(100000, '[') + std::string(100000, ']');
  for (const char* route : {"/api/search", "/v2/vectordb/entities/query"}) {
    auto d = c.Post(route, deep_json, "application/json");
    ASSERT_TRUE(d) << route;
    EXPECT_NE(d->body.find("nested more than 256 levels"), std::string::npos) << d->body;
  }
  auto health = c.Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(ServerTest, ImagesAndThumbnailsById) {
  ServerFixture f;
  auto c = f.Client();
  // An id from a real result (ids are not dense: a file that failed to decode leaves a gap).
  httplib::MultipartFormDataItems upload = {
      {"image", testing::ReadFileBytes(f.images() + "/green/green_1.png"), "green_1.png",
       "image/png"}};
  auto found = Body(c.Post("/api/search", upload));
  int64_t id = found["results"]["phash"][0]["id"];
  std::string path = found["results"]["phash"][0]["path"];
  std::string base = "/api/images/" + std::to_string(id);
  auto original = c.Get(base.c_str());
  ASSERT_EQ(original->status, 200);
  EXPECT_EQ(original->body, testing::ReadFileBytes(path));
  EXPECT_EQ(original->get_header_value("Content-Type"), "image/png");
  auto thumb = c.Get((base + "/thumb").c_str());
  ASSERT_EQ(thumb->status, 200);
  EXPECT_EQ(thumb->get_header_value("Content-Type"), "image/jpeg");
  auto decoded = DecodeImage(thumb->body, "thumb");
  ASSERT_TRUE(decoded.ok());
  EXPECT_LE(std::max(decoded->width, decoded->height), 256);
  EXPECT_EQ(c.Get((base + "/thumb").c_str())->body, thumb->body);  // cached
  EXPECT_EQ(c.Get("/api/images/999")->status, 404);
  std::filesystem::remove(path);
  EXPECT_EQ(c.Get(base.c_str())->status, 410);
}

TEST(ServerTest, TokensAndScopes) {
  ServerOptions options;
  options.tokens = {{kReader, false}, {kWriter, true}};
  ServerFixture f(options);
  EXPECT_EQ(f.Client().Get("/api/health")->status, 401);
  EXPECT_EQ(f.Client("wrong-token-0123456789").Get("/api/health")->status, 401);
  EXPECT_EQ(f.Client(kReader).Get("/api/health")->status, 200);
  auto forbidden = f.Client(kReader).Delete("/api/images/2");
  EXPECT_EQ(forbidden->status, 403);
  EXPECT_EQ(f.Client(kReader).Get("/api/images/2")->status, 200);
  auto deleted = f.Client(kWriter).Delete("/api/images/2");
  ASSERT_EQ(deleted->status, 200) << deleted->body;
  EXPECT_EQ(f.Client(kReader).Get("/api/images/2")->status, 404);
  EXPECT_EQ(f.Client(kWriter).Delete("/api/images/2")->status, 404);
  EXPECT_EQ(Body(f.Client(kReader).Get("/api/health"))["images"], 9);
}

TEST(ServerTest, LimitsAndSafeDefaults) {
  ServerOptions small;
  small.max_body_bytes = 1000;
  ServerFixture f(small);
  auto big = f.Client().Post("/api/search", std::string(5000, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(big->body.find("too large"), std::string::npos);
  ServerOptions open;
  open.host = "0.0.0.0";
  auto refused = Server::Create("/nonexistent", open);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("needs at least one --token"), std::string::npos);
}

TEST(ServerTest, UploadIngestsIntoEveryModelOnce) {
  ServerOptions options;
  options.tokens = {{kReader, false}, {kWriter, true}};
  ServerFixture f(options);
  std::string bytes = testing::ReadFileBytes(FixturePath("rgb.jpg"));
  httplib::MultipartFormDataItems upload = {{"image", bytes, "photo.jpg", "image/jpeg"}};
  EXPECT_EQ(f.Client(kReader).Post("/api/images", upload)->status, 403);
  auto created = f.Client(kWriter).Post("/api/images", upload);
  ASSERT_EQ(created->status, 201) << created->body;
  json j = Body(created);
  EXPECT_EQ(j["width"], 300);
  int64_t id = j["id"];
  auto again = f.Client(kWriter).Post("/api/images", upload);  // same content: same image
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(Body(again)["id"], id);
  EXPECT_EQ(Body(f.Client(kReader).Get("/api/health"))["images"], 11);
  // Searchable at once in every model, and served back byte for byte.
  auto found = Body(
      f.Client(kReader).Post("/api/search", json{{"id", id}, {"k", 1}}.dump(), "application/json"));
  EXPECT_EQ(found["results"]["phash"][0]["id"], id);
  EXPECT_EQ(found["results"]["color_layout"][0]["id"], id);
  EXPECT_EQ(f.Client(kReader).Get(("/api/images/" + std::to_string(id)).c_str())->body, bytes);
  httplib::MultipartFormDataItems junk = {
      {"image", "definitely not an image", "x.jpg", "image/jpeg"}};
  auto refused = f.Client(kWriter).Post("/api/images", junk);
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(Body(refused)["error"]["message"].get<std::string>().find("not an image"),
            std::string::npos);
  EXPECT_EQ(f.Client(kWriter).Post("/api/images", "{}", "application/json")->status, 400);
}

TEST(ServerTest, MetricsInPrometheusFormat) {
  ServerFixture f;
  auto c = f.Client();
  c.Get("/api/health");
  c.Post("/api/search", R"({"id": 1})", "application/json");
  c.Post("/api/search", "bad", "application/json");
  auto metrics = c.Get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  const std::string& text = metrics->body;
  EXPECT_NE(text.find("# TYPE imgsearch_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("imgsearch_requests_total{route=\"search\",status=\"200\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("imgsearch_requests_total{route=\"search\",status=\"400\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("imgsearch_request_seconds_count{route=\"search\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("imgsearch_rows{collection=\"phash\"} 10"), std::string::npos) << text;
  EXPECT_NE(text.find("imgsearch_pending_rows{collection=\"color_layout\"}"), std::string::npos);
}

}  // namespace
}  // namespace imgsearch::server
