// The Milvus store against answers shaped as Milvus 2.4/2.5 gives them: errors with HTTP
// 200 and a code, time-outs as HTTP 408 with code 10001, Int64 values as strings, JSON
// fields as JSON text, search hits keyed "id", at most 16,384 rows per query in no order.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>

#include "remote/milvus_client.h"
#include "remote/milvus_collection.h"
#include "remote/milvus_database.h"
#include "remote/milvus_rows.h"

namespace imgsearch::remote {
namespace {

using json = nlohmann::json;

struct Request {
  std::string path;
  json body;
  std::string token;
  size_t bytes = 0;
};

// Canned answers by route, in order; the last one repeats.
class CannedTransport final : public MilvusTransport {
 public:
  CannedTransport(std::map<std::string, std::vector<HttpAnswer>>* answers,
                  std::vector<Request>* requests)
      : answers_(answers), requests_(requests) {}
  Result<HttpAnswer> Post(const std::string& path, const std::string& body,
                          const std::string& token) override {
    requests_->push_back({path, json::parse(body), token, body.size()});
    std::string route = path.substr(std::string("/v2/vectordb/").size());
    auto& list = (*answers_)[route];
    if (list.empty()) return Status::IOError("connection refused");
    HttpAnswer answer = list.front();
    if (list.size() > 1) list.erase(list.begin());
    return answer;
  }

 private:
  std::map<std::string, std::vector<HttpAnswer>>* answers_;
  std::vector<Request>* requests_;
};

HttpAnswer Ok(json data) {
  return {200, json{{"code", 0}, {"data", std::move(data)}}.dump()};
}

class MilvusClientTest : public ::testing::Test {
 protected:
  MilvusClient Client(MilvusOptions options = {}) {
    MilvusClient client(std::make_unique<CannedTransport>(&answers_, &requests_), options,
                        "milvus://h:1");
    client.SetSleepForTesting([this](double s) { sleeps_.push_back(s); });
    return client;
  }
  std::map<std::string, std::vector<HttpAnswer>> answers_;
  std::vector<Request> requests_;
  std::vector<double> sleeps_;
};

TEST_F(MilvusClientTest, AnErrorWithHttp200NamesRouteCodeAndMessage) {
  answers_["entities/query"] = {{200, R"({"code":1100,"message":"invalid parameter[expr]"})"}};
  auto answer = Client().Call("entities/query", {{"collectionName", "c"}});
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), StatusCode::kInvalidArgument);
  for (const char* part : {"entities/query", "1100", "invalid parameter[expr]", "milvus://h:1"})
    EXPECT_NE(answer.status().message().find(part), std::string::npos) << answer.status().message();
  EXPECT_EQ(requests_.size(), 1u);  // not retried
  answers_["collections/describe"] = {{200, R"({"code":100,"message":"collection not found"})"}};
  EXPECT_EQ(Client().Call("collections/describe", json::object()).status().code(),
            StatusCode::kNotFound);
}

TEST_F(MilvusClientTest, TimeoutsAndRateLimitsAreTriedAgainWithGrowingWaits) {
  answers_["entities/search"] = {{408, R"({"code":10001,"message":"request timeout"})"},
                                 {200, R"({"code":8,"message":"rate limit exceeded"})"},
                                 {503, "upstream unavailable"},
                                 Ok(json::array())};
  auto answer = Client().Call("entities/search", json::object());
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  EXPECT_EQ(requests_.size(), 4u);
  ASSERT_EQ(sleeps_.size(), 3u);
  EXPECT_LT(sleeps_[0], sleeps_[1]);
  EXPECT_LT(sleeps_[1], sleeps_[2]);
}

TEST_F(MilvusClientTest, RetriesStopAtTheLimitWithTheLastReason) {
  answers_["entities/upsert"] = {{408, R"({"code":10001,"message":"request timeout"})"}};
  MilvusOptions options;
  options.max_attempts = 3;
  auto answer = Client(options).Call("entities/upsert", json::object());
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(answer.status().message().find("timed out"), std::string::npos);
  EXPECT_EQ(requests_.size(), 3u);
}

TEST_F(MilvusClientTest, AnInsertThatMayHaveBeenAppliedIsNotSentTwice) {
  answers_["entities/insert"] = {{408, R"({"code":10001,"message":"request timeout"})"},
                                 Ok(json::object())};
  EXPECT_FALSE(Client().Call("entities/insert", json::object(), Retry::kOnlyIfNotApplied).ok());
  EXPECT_EQ(requests_.size(), 1u);
  // A rate limit refused it: sending it again is safe.
  answers_["entities/insert"] = {{200, R"({"code":8,"message":"rate limit exceeded"})"},
                                 Ok(json::object())};
  EXPECT_TRUE(Client().Call("entities/insert", json::object(), Retry::kOnlyIfNotApplied).ok());
}

TEST_F(MilvusClientTest, TokenAndDatabaseGoWithEveryRequest) {
  answers_["collections/list"] = {Ok(json::array())};
  MilvusOptions options;
  options.token = "root:Milvus";
  options.database = "images_db";
  ASSERT_TRUE(Client(options).Call("collections/list", json::object()).ok());
  EXPECT_EQ(requests_[0].token, "root:Milvus");
  EXPECT_EQ(requests_[0].body["dbName"], "images_db");
  EXPECT_EQ(requests_[0].path, "/v2/vectordb/collections/list");
}

TEST(MilvusLocationTest, ParsesSchemesHostsAndPorts) {
  auto plain = ParseMilvusLocation("milvus://10.0.0.5:19531");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->host, "10.0.0.5");
  EXPECT_EQ(plain->port, 19531);
  EXPECT_FALSE(plain->rest);  // milvus:// speaks gRPC
  auto tls = ParseMilvusLocation("milvus+https://db.example.com");
  ASSERT_TRUE(tls.ok());
  EXPECT_TRUE(tls->tls);
  EXPECT_FALSE(tls->rest);
  EXPECT_EQ(tls->port, 19530);
  EXPECT_EQ(tls->Describe(), "milvus+https://db.example.com:19530");
  auto grpcs = ParseMilvusLocation("milvus+grpcs://h:1");
  ASSERT_TRUE(grpcs.ok());
  EXPECT_TRUE(grpcs->tls && !grpcs->rest);
  auto rest = ParseMilvusLocation("milvus+rest://h:8080");
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(rest->rest && !rest->tls);
  EXPECT_EQ(rest->Describe(), "milvus+rest://h:8080");
  auto rest_tls = ParseMilvusLocation("milvus+rest+https://h");
  ASSERT_TRUE(rest_tls.ok());
  EXPECT_TRUE(rest_tls->rest && rest_tls->tls);
  for (const char* bad : {"milvus://", "milvus://h:0", "milvus://h:x", "http://h:1",
                          "milvus://h/p:1", "milvus+ftp://h:1"})
    EXPECT_FALSE(ParseMilvusLocation(bad).ok()) << bad;
  EXPECT_TRUE(IsMilvusLocation("milvus+https://h:1"));
  EXPECT_FALSE(IsMilvusLocation("/tmp/milvus://"));
}

CollectionSchema ImagesLike() {
  CollectionSchema s;
  s.name = "pics";
  s.primary_field = "pk";  // not "id": Milvus still names a hit's key "id"
  s.auto_id = false;
  s.vector_field = "v";
  s.dimension = 2;
  s.scalar_fields = {
      {"path", DataType::kVarChar}, {"size", DataType::kInt64}, {"fields", DataType::kJson}};
  return s;
}

TEST(MilvusRowsTest, ReadsInt64AsStringsJsonAsTextAndHitKeysAsId) {
  CollectionSchema s = ImagesLike();
  auto row = RowFromMilvus(s, json::parse(R"({"pk":"9007199254740993","size":"42",
      "fields":"{\"label\":\"cat\"}","path":"a.png","v":[0.5,1.5]})"));
  ASSERT_TRUE(row.ok()) << row.status().message();
  EXPECT_EQ(row->id, 9007199254740993);
  EXPECT_EQ(row->fields["size"], 42);
  EXPECT_EQ(row->fields["fields"]["label"], "cat");
  EXPECT_EQ(row->vector, (std::vector<float>{0.5f, 1.5f}));
  auto hit = RowFromMilvus(s, json::parse(R"({"id":"7","distance":0.25,"path":"b.png"})"));
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(hit->id, 7);
  EXPECT_FALSE(hit->fields.contains("distance"));
  EXPECT_FALSE(RowFromMilvus(s, json::parse(R"({"size":"x","pk":1})")).ok());
  EXPECT_FALSE(RowFromMilvus(s, json::parse(R"({"pk":1,"v":[1]})")).ok());  // wrong dimension
}

TEST(MilvusRowsTest, BinaryVectorsComeAsBase64AndGoAsBytes) {
  CollectionSchema s = ImagesLike();
  s.vector_type = DataType::kBinaryVector;
  s.dimension = 16;
  auto row = RowFromMilvus(s, json::parse(R"({"pk":1,"v":"/wE="})"));  // base64 of ff 01
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->binary_vector, (std::vector<uint8_t>{0xff, 0x01}));
  json out = RowToMilvus(s, *row);
  EXPECT_EQ(out["v"], json::array({255, 1}));
  EXPECT_EQ(out["pk"], 1);
}

TEST(MilvusRowsTest, SchemaRoundTripsThroughDescribe) {
  CollectionSchema s = ImagesLike();
  json form = SchemaToMilvus(s);
  // collections/describe answers with "name"/"type"/"primaryKey" and key-value params.
  json described = {{"collectionName", "pics"}, {"fields", json::array()}};
  for (const json& f : form["fields"]) {
    json params = json::array();
    if (f.contains("elementTypeParams"))
      for (const auto& [k, v] : f["elementTypeParams"].items())
        params.push_back({{"key", k}, {"value", v}});
    described["fields"].push_back({{"name", f["fieldName"]},
                                   {"type", f["dataType"]},
                                   {"primaryKey", f.value("isPrimary", false)},
                                   {"params", params}});
  }
  auto back = SchemaFromMilvus(described);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->primary_field, "pk");
  EXPECT_EQ(back->vector_field, "v");
  EXPECT_EQ(back->dimension, 2);
  ASSERT_EQ(back->scalar_fields.size(), 3u);
  EXPECT_EQ(back->scalar_fields[2].type, DataType::kJson);
}

// A Milvus collection of `count` rows that answers queries on key ranges with at most
// `limit` rows, largest keys first: paging must not rely on the order.
class RangeMilvus {
 public:
  explicit RangeMilvus(int64_t count) {
    for (int64_t i = 0; i < count; ++i) keys_.push_back(i * 7919 % 1000003 * 1000 + 3);
  }
  HttpAnswer Query(const json& body) const {
    std::string filter = body.value("filter", "");
    int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    std::smatch m;
    if (std::regex_search(filter, m, std::regex(R"(pk >= (-?\d+))"))) lo = std::stoll(m[1]);
    if (std::regex_search(filter, m, std::regex(R"(pk <= (-?\d+))"))) hi = std::stoll(m[1]);
    std::vector<int64_t> in;
    bool by_key = body.contains("id");  // entities/get
    if (by_key) {
      for (const json& id : body["id"]) in.push_back(id.get<int64_t>());
    } else if (std::regex_search(filter, m, std::regex(R"(pk in \[([-0-9,]*)\])"))) {
      std::string list = m[1];
      for (size_t at = 0; at < list.size();) {
        size_t comma = list.find(',', at);
        in.push_back(std::stoll(list.substr(at, comma - at)));
        at = comma == std::string::npos ? list.size() : comma + 1;
      }
    }
    std::vector<int64_t> keys = keys_;
    std::sort(keys.rbegin(), keys.rend());
    json rows = json::array();
    for (int64_t k : keys) {
      if (k < lo || k > hi) continue;
      if ((by_key || filter.find(" in [") != std::string::npos) &&
          std::find(in.begin(), in.end(), k) == in.end())
        continue;
      if (static_cast<int64_t>(rows.size()) >= body.value("limit", int64_t{16384})) break;
      rows.push_back({{"pk", std::to_string(k)}, {"path", "p" + std::to_string(k)}});
    }
    return Ok(rows);
  }
  std::vector<int64_t> keys_;
};

class RangeTransport final : public MilvusTransport {
 public:
  explicit RangeTransport(const RangeMilvus* milvus, int* queries)
      : milvus_(milvus), queries_(queries) {}
  Result<HttpAnswer> Post(const std::string& path, const std::string& body,
                          const std::string&) override {
    if (path != "/v2/vectordb/entities/query" && path != "/v2/vectordb/entities/get")
      return Status::IOError("unexpected " + path);
    json request = json::parse(body);
    EXPECT_EQ(request["consistencyLevel"], "Strong");
    if (request.contains("limit")) {
      EXPECT_LE(request["limit"].get<int64_t>(), 16384);
    }
    ++*queries_;
    return milvus_->Query(request);
  }

 private:
  const RangeMilvus* milvus_;
  int* queries_;
};

TEST(MilvusCollectionTest, QueriesPastTheWindowReturnEveryRowOnceInOrder) {
  RangeMilvus milvus(40000);
  int queries = 0;
  auto client = std::make_shared<MilvusClient>(std::make_unique<RangeTransport>(&milvus, &queries),
                                               MilvusOptions{}, "milvus://h:1");
  MilvusCollection collection(client, ImagesLike(), IndexSpec("HNSW", "L2"));
  QueryRequest all;
  auto rows = collection.Query(all);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  std::vector<int64_t> want = milvus.keys_;
  std::sort(want.begin(), want.end());
  ASSERT_EQ(rows->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ((*rows)[i].id, want[i]);
  EXPECT_LT(queries, 40);

  // Offset and limit count in key order; fields come from a fetch by key.
  QueryRequest page;
  page.offset = 20000;
  page.limit = 3;
  page.output_fields = {"path"};
  auto some = collection.Query(page);
  ASSERT_TRUE(some.ok()) << some.status().message();
  ASSERT_EQ(some->size(), 3u);
  EXPECT_EQ((*some)[0].id, want[20000]);
  EXPECT_EQ((*some)[2].fields["path"], "p" + std::to_string(want[20002]));
}

// A filtered query whose rows fit in one answer is one request (over Milvus each read
// waits for Strong consistency: index looks up a chunk's paths and hashes this way); one
// whose answer comes back full walks the keys, and still returns every row once.
TEST(MilvusCollectionTest, AFilteredQueryThatFitsIsOneRequestAndAFullOneWalksTheKeys) {
  RangeMilvus milvus(40000);
  int queries = 0;
  auto client = std::make_shared<MilvusClient>(std::make_unique<RangeTransport>(&milvus, &queries),
                                               MilvusOptions{}, "milvus://h:1");
  MilvusCollection collection(client, ImagesLike(), IndexSpec("HNSW", "L2"));
  std::vector<int64_t> want = milvus.keys_;
  std::sort(want.begin(), want.end());
  QueryRequest few;
  few.filter = "pk >= " + std::to_string(want[100]) + " and pk <= " + std::to_string(want[149]);
  few.output_fields = {"path"};
  auto rows = collection.Query(few);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ(queries, 1);
  ASSERT_EQ(rows->size(), 50u);
  for (size_t i = 0; i < 50; ++i) {
    ASSERT_EQ((*rows)[i].id, want[100 + i]);  // in key order, as from the walk
    EXPECT_EQ((*rows)[i].fields["path"], "p" + std::to_string(want[100 + i]));
  }

  queries = 0;
  QueryRequest many;
  many.filter = "path like \"p%\"";  // every row (the stand-in reads only key bounds)
  many.output_fields = {"path"};
  many.offset = 30000;
  many.limit = 2;
  auto page = collection.Query(many);
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_GT(queries, 2);  // the full answer, then the walk and the fetch
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, want[30000]);
  EXPECT_EQ((*page)[1].fields["path"], "p" + std::to_string(want[30001]));
}

class MilvusStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<MilvusCollection> Collection(CollectionSchema schema) {
    auto client = std::make_shared<MilvusClient>(
        std::make_unique<CannedTransport>(&answers_, &requests_), MilvusOptions{}, "milvus://h:1");
    return std::make_unique<MilvusCollection>(client, std::move(schema), IndexSpec("HNSW", "L2"));
  }
  std::map<std::string, std::vector<HttpAnswer>> answers_;
  std::vector<Request> requests_;
};

TEST_F(MilvusStoreTest, UpsertsGoInBatchesWellUnderMilvusRequestLimit) {
  CollectionSchema s = ImagesLike();
  s.dimension = 2048;
  auto c = Collection(s);
  answers_["entities/upsert"] = {Ok({{"upsertCount", 1}})};
  std::vector<Row> rows;
  for (int i = 0; i < 600; ++i) {
    Row r;
    r.id = i;
    r.vector.assign(2048, 0.123456f);
    r.fields = {{"path", "x"}, {"size", 1}, {"fields", json::object()}};
    rows.push_back(r);
  }
  auto ids = c->Upsert(rows);
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  EXPECT_EQ(ids->size(), 600u);
  EXPECT_GT(requests_.size(), 2u);
  size_t rows_sent = 0;
  for (const Request& r : requests_) {
    EXPECT_LT(r.bytes, size_t{8} << 20);
    rows_sent += r.body["data"].size();
  }
  EXPECT_EQ(rows_sent, 600u);
}

TEST_F(MilvusStoreTest, SearchReadsHitsKeyedIdWithStrongConsistency) {
  auto c = Collection(ImagesLike());
  answers_["entities/search"] = {Ok(json::parse(
      R"([{"id":"12","distance":0.5,"path":"a.png"},{"id":"4","distance":0.75,"path":"b.png"}])"))};
  SearchRequest request;
  request.vectors = {{0.1f, 0.2f}};
  request.limit = 2;
  request.ids = std::vector<int64_t>{4, 12};
  request.output_fields = {"path"};
  auto hits = c->Search(request);
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  ASSERT_EQ((*hits)[0].size(), 2u);
  EXPECT_EQ((*hits)[0][0].id, 12);
  EXPECT_FLOAT_EQ((*hits)[0][1].distance, 0.75f);
  EXPECT_EQ((*hits)[0][1].row.fields["path"], "b.png");
  const json& body = requests_[0].body;
  EXPECT_EQ(body["consistencyLevel"], "Strong");
  EXPECT_EQ(body["filter"], "pk in [4,12]");
  EXPECT_GE(body["searchParams"]["params"]["ef"].get<int>(), 2);
}

TEST_F(MilvusStoreTest, DeleteCountsTheRowsPresentAndDeletesByFilter) {
  auto c = Collection(ImagesLike());
  answers_["entities/get"] = {Ok(json::parse(R"([{"pk":"3"}])"))};
  answers_["entities/delete"] = {Ok(json::object())};
  auto removed = c->Delete({3, 5});
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(requests_.back().path, "/v2/vectordb/entities/delete");
  EXPECT_EQ(requests_.back().body["filter"], "pk in [3]");
}

TEST_F(MilvusStoreTest, SettingsLiveInTheirCollectionAndThereAreNoCounters) {
  answers_["collections/has"] = {Ok({{"has", true}})};
  answers_["collections/describe"] = {Ok(json::parse(R"({"collectionName":"imgsearch_settings",
      "fields":[{"name":"id","type":"Int64","primaryKey":true},
                {"name":"unused","type":"BinaryVector","params":[{"key":"dim","value":"8"}]},
                {"name":"key","type":"VarChar"},{"name":"value","type":"VarChar"}],
      "indexes":[],"load":"LoadStateLoaded"})"))};
  uint64_t h = 1469598103934665603ull;  // the setting's id: FNV-1a of its key, 63 bits
  h = (h ^ 'k') * 1099511628211ull;
  json stored = {{"id", std::to_string(h >> 1)}, {"key", "k"}, {"value", "v"}};
  answers_["entities/get"] = {Ok(json::array()), Ok(json::array({stored}))};
  answers_["entities/upsert"] = {Ok({{"upsertCount", 1}})};
  DatabaseOptions options;
  auto db = OpenMilvusDatabase("milvus://h:1", options,
                               std::make_unique<CannedTransport>(&answers_, &requests_));
  ASSERT_TRUE(db.ok()) << db.status().message();
  Status done = (*db)->Transact([](Transaction& txn) -> Status {
    EXPECT_EQ(txn.TakeIds("image_id", 3).status().code(), StatusCode::kUnsupported);
    auto before = txn.GetSetting("k");
    EXPECT_TRUE(before.ok() && !*before);
    return txn.PutSetting("k", "v");
  });
  ASSERT_TRUE(done.ok()) << done.message();
  EXPECT_EQ(requests_.back().path, "/v2/vectordb/entities/upsert");
  EXPECT_EQ(requests_.back().body["data"][0]["key"], "k");
  auto after = (*db)->GetSetting("k");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->value_or(""), "v");
  EXPECT_FALSE((*db)->HasCollection(kSettingsCollection));
}

TEST_F(MilvusStoreTest, AStoreIsNotCreatedWhereNoneIsWanted) {
  answers_["collections/has"] = {Ok({{"has", false}})};
  DatabaseOptions options;
  options.create_if_missing = false;
  auto db = OpenMilvusDatabase("milvus://h:1", options,
                               std::make_unique<CannedTransport>(&answers_, &requests_));
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace imgsearch::remote
