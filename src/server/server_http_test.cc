// The server's other faces over a real socket: the Milvus dialect on the wire, CORS, the
// time limit, the web page, and searches running alongside writes.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "base/log.h"
#include "server/milvus_api.h"
#include "server/test_server.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

httplib::Result Milvus(httplib::Client& c, const std::string& route, const json& body) {
  return c.Post(("/v2/vectordb/" + route).c_str(), body.dump(), "application/json");
}

json RandomRows(int count, int dimension, int first_id, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1, 1);
  json rows = json::array();
  for (int i = 0; i < count; ++i) {
    json v = json::array();
    for (int d = 0; d < dimension; ++d) v.push_back(value(rng));
    rows.push_back({{"id", first_id + i}, {"vector", v}});
  }
  return rows;
}

TEST(ServerHttpTest, MilvusRoundTripWithTokensOnTheWire) {
  ServerOptions options;
  options.tokens = {{kReader, false}, {kWriter, true}};
  ServerFixture f(options);
  auto writer = f.Client(kWriter);
  auto reader = f.Client(kReader);
  auto anonymous = f.Client();

  auto refused = Milvus(anonymous, "collections/list", json::object());
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(Body(refused)["code"], kMilvusNeedAuthenticate);
  auto forbidden =
      Milvus(reader, "collections/create", {{"collectionName", "v"}, {"dimension", 3}});
  EXPECT_EQ(forbidden->status, 403);
  EXPECT_NE(Body(forbidden)["message"].get<std::string>().find("read but not write"),
            std::string::npos);

  auto created = Milvus(writer, "collections/create", {{"collectionName", "v"}, {"dimension", 3}});
  ASSERT_EQ(created->status, 200);
  EXPECT_EQ(Body(created), json::parse(R"({"code": 0, "data": {}})"));
  json rows = json::parse(R"([{"id": 1, "vector": [1, 0, 0]}, {"id": 2, "vector": [0, 1, 0]},
                              {"id": 3, "vector": [0.9, 0.1, 0]}])");
  auto inserted = Milvus(writer, "entities/insert", {{"collectionName", "v"}, {"data", rows}});
  EXPECT_EQ(Body(inserted)["data"]["insertCount"], 3);

  auto searched = Milvus(reader, "entities/search",
                         {{"collectionName", "v"}, {"data", {{1, 0, 0}}}, {"limit", 2}});
  json hits = Body(searched)["data"];
  ASSERT_EQ(hits.size(), 2u) << searched->body;
  EXPECT_EQ(hits[0]["id"], 1);
  EXPECT_EQ(hits[1]["id"], 3);
  auto queried = Milvus(reader, "entities/query", {{"collectionName", "v"}, {"filter", "id < 3"}});
  EXPECT_EQ(Body(queried)["data"].size(), 2u);
  // The JavaScript convention: ids as strings when asked.
  httplib::Headers as_strings = {{"Accept-Type-Allow-Int64", "false"}};
  auto got = writer.Post("/v2/vectordb/entities/get", as_strings,
                         json{{"collectionName", "v"}, {"id", 2}}.dump(), "application/json");
  EXPECT_EQ(Body(got)["data"][0]["id"], "2");
  auto deleted =
      Milvus(writer, "entities/delete", {{"collectionName", "v"}, {"filter", "id == 1"}});
  EXPECT_EQ(Body(deleted)["code"], 0);
  auto stats = Milvus(reader, "collections/get_stats", {{"collectionName", "v"}});
  EXPECT_EQ(Body(stats)["data"]["rowCount"], 2);
  // The library's collections (images and one per model) are collections too.
  auto list = Body(Milvus(reader, "collections/list", json::object()))["data"];
  EXPECT_EQ(list.size(), 4u);

  // Errors come back as Milvus sends them: HTTP 200, the code in the body.
  auto missing = Milvus(reader, "collections/describe", {{"collectionName", "nope"}});
  EXPECT_EQ(missing->status, 200);
  EXPECT_EQ(Body(missing)["code"], kMilvusCollectionNotFound);
  auto malformed = writer.Post("/v2/vectordb/entities/insert", "{oops", "application/json");
  EXPECT_EQ(Body(malformed)["code"], kMilvusIncorrectParameterFormat);
  auto unknown = writer.Post("/v2/vectordb/collections/compact", "{}", "application/json");
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(Body(unknown)["message"], "no such route");
}

// Requests exactly as the official SDKs put them on the wire: the Node SDK's HttpClient
// sends "Authorization: Bearer " with no token, "Accept-Type-Allow-Int64: false", a body
// typed text/plain (its "ContentType" header is not Content-Type), and dbName "default";
// pymilvus's MilvusClient sends "Bearer None" without a token, and some clients send an
// empty body or null for collections/list.
TEST(ServerHttpTest, MilvusRequestsAsTheSdksSendThem) {
  ServerFixture f;
  auto c = f.Client();
  httplib::Headers node_sdk = {{"Authorization", "Bearer "},
                               {"Accept", "application/json"},
                               {"ContentType", "application/json"},
                               {"Accept-Type-Allow-Int64", "false"}};
  auto post = [&](const std::string& route, const std::string& body,
                  const httplib::Headers& headers, const char* type = "text/plain;charset=UTF-8") {
    return c.Post(("/v2/vectordb/" + route).c_str(), headers, body, type);
  };
  auto created = post("collections/create",
                      R"({"collectionName": "sdk", "dimension": 2, "metricType": "L2",
                          "primaryFieldName": "id", "vectorFieldName": "vector",
                          "dbName": "default"})",
                      node_sdk);
  ASSERT_EQ(Body(created)["code"], 0) << created->body;
  auto inserted = post("entities/insert",
                       R"({"collectionName": "sdk", "dbName": "default",
                           "data": [{"id": 9007199254740993, "vector": [1, 2], "tag": "x"}]})",
                       node_sdk);
  ASSERT_EQ(Body(inserted)["code"], 0) << inserted->body;
  EXPECT_EQ(Body(inserted)["data"]["insertIds"], json({"9007199254740993"}));
  auto searched = post("entities/search",
                       R"({"collectionName": "sdk", "dbName": "default", "data": [[1, 2]],
                           "limit": 1, "outputFields": ["tag"]})",
                       node_sdk);
  ASSERT_EQ(Body(searched)["code"], 0) << searched->body;
  EXPECT_EQ(Body(searched)["data"][0]["id"], "9007199254740993");
  EXPECT_EQ(Body(searched)["data"][0]["tag"], "x");
  EXPECT_EQ(Body(searched)["topks"], json({1}));
  // Milvus reads the header with Go's ParseBool: "False" and "0" mean false too.
  for (const char* no : {"False", "0"}) {
    httplib::Headers headers = {{"Accept-Type-Allow-Int64", no}};
    auto got = post("entities/get", R"({"collectionName": "sdk", "id": [9007199254740993]})",
                    headers, "application/json");
    EXPECT_EQ(Body(got)["data"][0]["id"], "9007199254740993") << no << " -> " << got->body;
  }
  httplib::Headers pymilvus = {{"Authorization", "Bearer None"}};
  for (const char* body : {"", "null", "{}", R"({"dbName": "default"})"}) {
    auto listed = post("collections/list", body, pymilvus, "application/json");
    EXPECT_EQ(listed->status, 200) << body;
    EXPECT_EQ(Body(listed)["code"], 0) << body << " -> " << listed->body;
    EXPECT_NE(Body(listed)["data"].dump().find("sdk"), std::string::npos) << body;
  }
  // Users, roles and import: a clear refusal with Milvus's "service unimplemented".
  for (const char* route : {"users/list", "roles/create", "jobs/import/create"}) {
    auto refused = post(route, "{}", node_sdk, "application/json");
    EXPECT_EQ(refused->status, 200) << route;
    EXPECT_EQ(Body(refused)["code"], kMilvusServiceUnimplemented) << route;
  }
}

TEST(ServerHttpTest, MilvusErrorsCanAlsoBeHttpStatuses) {
  ServerOptions options;
  options.milvus_http_status = true;
  ServerFixture f(options);
  auto c = f.Client();
  auto missing = Milvus(c, "collections/describe", {{"collectionName", "nope"}});
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(Body(missing)["code"], kMilvusCollectionNotFound);
  auto bad = Milvus(c, "collections/create", {{"collectionName", "x"}});
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(Milvus(c, "collections/list", json::object())->status, 200);
}

// The answer to `request`, and what the server wrote to stderr meanwhile.
template <typename Request>
std::pair<httplib::Result, std::string> WithStderr(Request request) {
  ::testing::internal::CaptureStderr();
  httplib::Result answer = request();
  return {std::move(answer), ::testing::internal::GetCapturedStderr()};
}

// Replaces a folder of the library with a file, so that writing into it fails.
void BreakFolder(const std::string& path) {
  std::filesystem::remove_all(path);
  testing::WriteFileBytes(path, "not a folder");
}

// An internal error is logged with an id that the answer carries in its body and its
// X-Request-Id header, and each gets its own: a user's report leads to the log line.
TEST(ServerHttpTest, InternalErrorsCarryTheRequestIdTheyAreLoggedWith) {
  base::SetLogLevel("warn");  // the logger the CLI installs: stderr
  ServerFixture f;
  auto c = f.Client();
  BreakFolder(f.db_dir() + "/uploads");
  httplib::MultipartFormDataItems upload = {
      {"image", testing::ReadFileBytes(f.images() + "/red/red_0.png"), "x.png", "image/png"}};
  auto [failed, log] = WithStderr([&] { return c.Post("/api/images", upload); });
  ASSERT_EQ(failed->status, 500) << failed->body;
  std::string id = Body(failed)["error"]["request_id"];
  EXPECT_EQ(failed->get_header_value("X-Request-Id"), id);
  EXPECT_NE(log.find("request " + id + ": internal error: "), std::string::npos) << log;
  EXPECT_NE(log.find("cannot create the folder"), std::string::npos) << log;
  EXPECT_NE(Body(c.Post("/api/images", upload))["error"]["request_id"], id);

  // The Milvus dialect's internal error, code 65535, the same way.
  auto created = Milvus(c, "collections/create", {{"collectionName", "v"}, {"dimension", 3}});
  ASSERT_EQ(Body(created)["code"], 0);
  ASSERT_EQ(Body(Milvus(c, "collections/release", {{"collectionName", "v"}}))["code"], 0);
  BreakFolder(f.db_dir() + "/index");  // where index snapshots and their lock live
  auto [dropped, milvus_log] = WithStderr([&] {
    return Milvus(c, "indexes/drop", {{"collectionName", "v"}, {"indexName", "vector"}});
  });
  ASSERT_EQ(Body(dropped)["code"], kMilvusUnexpected) << dropped->body;
  std::string milvus_id = Body(dropped)["request_id"];
  EXPECT_EQ(dropped->get_header_value("X-Request-Id"), milvus_id);
  EXPECT_NE(milvus_log.find("request " + milvus_id + ": internal error: "), std::string::npos)
      << milvus_log;
  // Refusals are not internal errors: no id in the body.
  auto missing = Milvus(c, "collections/describe", {{"collectionName", "nope"}});
  EXPECT_FALSE(Body(missing).contains("request_id"));
}

TEST(ServerHttpTest, CorsIsOffUnlessOriginsAreListed) {
  {
    ServerFixture closed;
    auto c = closed.Client();
    auto r = c.Get("/api/health", {{"Origin", "https://app.example"}});
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
    EXPECT_EQ(c.Options("/api/search", {{"Origin", "https://app.example"}})->status, 403);
  }
  ServerOptions options;
  options.cors_origins = {"https://app.example"};
  ServerFixture open(options);
  auto c = open.Client();
  auto allowed = c.Get("/api/health", {{"Origin", "https://app.example"}});
  EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  auto other = c.Get("/api/health", {{"Origin", "https://evil.example"}});
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
  auto preflight = c.Options("/v2/vectordb/entities/search", {{"Origin", "https://app.example"}});
  EXPECT_EQ(preflight->status, 204);
  EXPECT_NE(preflight->get_header_value("Access-Control-Allow-Headers").find("Authorization"),
            std::string::npos);
  EXPECT_EQ(c.Options("/api/search", {{"Origin", "https://evil.example"}})->status, 403);
}

TEST(ServerHttpTest, ReadsOverTheTimeLimitAnswer408Or503AndTheServerCarriesOn) {
  ServerOptions options;
  options.request_time_limit_seconds = 0.001;
  ServerFixture f(options);
  auto c = f.Client();
  json schema = json::parse(R"({"fields": [
      {"fieldName": "id", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "vector", "dataType": "FloatVector", "elementTypeParams": {"dim": 32}}]})");
  ASSERT_EQ(Body(Milvus(c, "collections/create",
                        {{"collectionName", "big"}, {"schema", schema}}))["code"],
            0);
  ASSERT_EQ(Body(Milvus(c, "collections/load", {{"collectionName", "big"}}))["code"], 0);
  for (int batch = 0; batch < 4; ++batch) {  // writes are never cut short
    auto r =
        Milvus(c, "entities/insert",
               {{"collectionName", "big"}, {"data", RandomRows(5000, 32, batch * 5000, batch)}});
    ASSERT_EQ(Body(r)["code"], 0) << (r ? r->body.substr(0, 200) : "");
  }
  // 500 exact searches over 20,000 rows: far beyond a millisecond.
  json queries = json::array();
  for (const json& row : RandomRows(500, 32, 0, 99)) queries.push_back(row["vector"]);
  auto slow = Milvus(c, "entities/search", {{"collectionName", "big"}, {"data", queries}});
  // As Milvus's time-out middleware answers: HTTP 408, code 10001.
  EXPECT_EQ(slow->status, 408);
  EXPECT_EQ(Body(slow)["code"], kMilvusTimeout);
  EXPECT_NE(Body(slow)["message"].get<std::string>().find("time limit"), std::string::npos);
  auto slow_native =
      c.Post("/api/search", R"({"id": 1, "filter": "width > 0"})", "application/json");
  EXPECT_TRUE(slow_native->status == 503 || slow_native->status == 200);  // may be quick
  EXPECT_EQ(c.Get("/api/health")->status, 200);  // not a read under the limit
  // Every write landed. (Counted through a route outside the limit: with the abandoned
  // searches still running, even get_stats may not make 1 ms.)
  int64_t rows = -1;
  for (const json& collection : Body(c.Get("/api/collections"))) {
    if (collection["name"] == "big") rows = collection["rows"];
  }
  EXPECT_EQ(rows, 20000);
}

TEST(ServerHttpTest, WebPageIsServedFromTheBinary) {
  ServerFixture f;
  auto page = f.Client().Get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<title>imgsearch</title>"), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);
  EXPECT_EQ(page->body.find("https://"), std::string::npos);  // no CDN, nothing remote
}

TEST(ServerHttpTest, SearchesRunInParallelWithWrites) {
  ServerFixture f;
  {
    auto c = f.Client();
    ASSERT_EQ(Body(Milvus(c, "collections/create",
                          {{"collectionName", "live"}, {"dimension", 8}}))["code"],
              0);
  }
  std::atomic<bool> writing{true};
  std::atomic<int> searches{0}, failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      auto c = f.Client();
      int n = 0;
      while (writing || n < 5) {  // at least a few, all of them during writes if possible
        auto r = t % 2 == 0 ? c.Post("/api/search", R"({"id": 1, "k": 5, "fuse": "rrf"})",
                                     "application/json")
                            : Milvus(c, "entities/search",
                                     {{"collectionName", "live"},
                                      {"data", {RandomRows(1, 8, 0, n)[0]["vector"]}}});
        if (!r || r->status != 200) ++failures;
        ++searches;
        ++n;
      }
    });
  }
  auto writer = f.Client();
  int acknowledged = 0;
  for (int batch = 0; batch < 20; ++batch) {
    auto r = Milvus(writer, "entities/insert",
                    {{"collectionName", "live"}, {"data", RandomRows(50, 8, batch * 50, batch)}});
    if (r && Body(r)["code"] == 0) acknowledged += 50;
  }
  for (const std::string name : {"red/red_0.png", "green/green_0.png"}) {
    httplib::MultipartFormDataItems upload = {
        {"image", testing::ReadFileBytes(f.images() + "/" + name), "x.png", "image/png"}};
    EXPECT_EQ(writer.Post("/api/images", upload)->status, 201);  // a new upload, ingested
  }
  writing = false;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures, 0) << "of " << searches;
  EXPECT_EQ(acknowledged, 1000);
  auto stats = Milvus(writer, "collections/get_stats", {{"collectionName", "live"}});
  EXPECT_EQ(Body(stats)["data"]["rowCount"], 1000);
  EXPECT_EQ(Body(writer.Get("/api/health"))["images"], 12);
}

}  // namespace
}  // namespace imgsearch::server
