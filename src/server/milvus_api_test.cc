// The Milvus REST v2 dialect, call by call: shapes as Milvus documents them, round trips,
// and every refusal with its code and message.
#include "server/milvus_api.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/milvus_test_fixture.h"
#include "test_util.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

class MilvusApiTest : public MilvusApiFixture {
 protected:
  // A refusal carries no data.
  void Refused(const std::string& route, const json& body, int code, const std::string& text) {
    EXPECT_FALSE(MilvusApiFixture::Refused(route, body, code, text).contains("data"));
  }
  const std::string& db_dir() const { return dir_; }
};

TEST_F(MilvusApiTest, QuickCreateInsertSearchQueryDeleteRoundTrip) {
  Ok("collections/create", {{"collectionName", "quick"}, {"dimension", 4}});
  EXPECT_EQ(Ok("collections/list", json::object()), json::array({"quick"}));
  EXPECT_EQ(Ok("collections/has", {{"collectionName", "quick"}})["has"], true);
  EXPECT_EQ(Ok("collections/has", {{"collectionName", "other"}})["has"], false);

  json described = Ok("collections/describe", {{"collectionName", "quick"}});
  EXPECT_EQ(described["collectionName"], "quick");
  EXPECT_EQ(described["autoId"], false);
  EXPECT_EQ(described["load"], "LoadStateLoaded");
  ASSERT_EQ(described["fields"].size(), 2u);
  EXPECT_EQ(described["fields"][0]["name"], "id");
  EXPECT_EQ(described["fields"][0]["primaryKey"], true);
  EXPECT_EQ(described["fields"][1]["type"], "FloatVector");
  EXPECT_EQ(described["fields"][1]["params"][0], json({{"key", "dim"}, {"value", "4"}}));
  EXPECT_EQ(described["indexes"][0]["metricType"], "COSINE");  // Milvus's quick default

  json rows = json::array();
  for (int i = 1; i <= 5; ++i) {
    rows.push_back({{"id", i * 10}, {"vector", {1.0, double(i), 0.0, 0.0}}});
  }
  json inserted = Ok("entities/insert", {{"collectionName", "quick"}, {"data", rows}});
  EXPECT_EQ(inserted["insertCount"], 5);
  EXPECT_EQ(inserted["insertIds"], json({10, 20, 30, 40, 50}));
  EXPECT_EQ(Ok("collections/get_stats", {{"collectionName", "quick"}})["rowCount"], 5);

  // Two queries: hits are flat, "topks" says how many belong to each.
  json reply = Call("entities/search", {{"collectionName", "quick"},
                                        {"data", {{1.0, 3.0, 0.0, 0.0}, {1.0, 5.0, 0.0, 0.0}}},
                                        {"limit", 2},
                                        {"outputFields", {"vector"}}});
  ASSERT_EQ(reply["code"], 0) << reply.dump();
  EXPECT_EQ(reply["topks"], json({2, 2}));
  ASSERT_EQ(reply["data"].size(), 4u);
  EXPECT_EQ(reply["data"][0]["id"], 30);
  EXPECT_NEAR(reply["data"][0]["distance"].get<double>(), 1.0, 1e-6);  // COSINE: similarity
  EXPECT_EQ(reply["data"][0]["vector"], json({1.0, 3.0, 0.0, 0.0}));
  EXPECT_EQ(reply["data"][2]["id"], 50);

  json got = Ok("entities/get", {{"collectionName", "quick"}, {"id", {20, 999, 40}}});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["id"], 20);
  EXPECT_EQ(got[1]["id"], 40);
  json queried =
      Ok("entities/query", {{"collectionName", "quick"}, {"filter", "id >= 30"}, {"limit", 2}});
  EXPECT_EQ(queried, json::parse(R"([{"id": 30}, {"id": 40}])"));

  Ok("entities/upsert",
     {{"collectionName", "quick"}, {"data", {{{"id", 20}, {"vector", {0.0, 0.0, 1.0, 0.0}}}}}});
  json upserted =
      Ok("entities/get", {{"collectionName", "quick"}, {"id", 20}, {"outputFields", {"*"}}});
  EXPECT_EQ(upserted[0]["vector"], json({0.0, 0.0, 1.0, 0.0}));

  EXPECT_EQ(Ok("entities/delete",
               {{"collectionName", "quick"}, {"filter", "id in [10, 20]"}})["deleteCount"],
            2);
  EXPECT_EQ(Ok("collections/get_stats", {{"collectionName", "quick"}})["rowCount"], 3);
  Ok("collections/drop", {{"collectionName", "quick"}});
  EXPECT_EQ(Ok("collections/list", json::object()), json::array());
}

TEST_F(MilvusApiTest, SchemaFormWithScalarFieldsFiltersAndAutoId) {
  json schema = json::parse(R"({
    "autoID": true,
    "fields": [
      {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "emb", "dataType": "FloatVector", "elementTypeParams": {"dim": "3"}},
      {"fieldName": "color", "dataType": "VarChar", "elementTypeParams": {"max_length": 16}},
      {"fieldName": "price", "dataType": "Double", "nullable": true},
      {"fieldName": "stock", "dataType": "Int64"}
    ]})");
  json index = json::parse(
      R"([{"fieldName": "emb", "indexName": "emb_hnsw", "metricType": "L2",
           "params": {"index_type": "HNSW", "M": "8", "efConstruction": 64}}])");
  Ok("collections/create",
     {{"collectionName", "products"}, {"schema", schema}, {"indexParams", index}});
  json described = Ok("collections/describe", {{"collectionName", "products"}});
  EXPECT_EQ(described["autoId"], true);
  EXPECT_EQ(described["fields"][2]["params"][0]["value"], "16");
  EXPECT_EQ(described["indexes"][0]["indexName"], "emb_hnsw");

  json rows = json::parse(R"([
    {"emb": [0, 0, 0], "color": "red", "price": 9.5, "stock": 3},
    {"emb": [1, 0, 0], "color": "blue", "price": null, "stock": 0},
    {"emb": [2, 0, 0], "color": "red", "price": 20, "stock": 7}])");
  json ids = Ok("entities/insert", {{"collectionName", "products"}, {"data", rows}})["insertIds"];
  ASSERT_EQ(ids.size(), 3u);

  json hits =
      Ok("entities/search", {{"collectionName", "products"},
                             {"data", {{2.0, 0.0, 0.0}}},
                             {"annsField", "emb"},
                             {"filter", "color == \"red\" and stock > 0"},
                             {"limit", 5},
                             {"outputFields", {"color", "stock"}},
                             {"searchParams", {{"metricType", "L2"}, {"params", {{"ef", 32}}}}}});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0]["pk"], ids[2]);
  EXPECT_EQ(hits[0]["distance"], 0.0);
  EXPECT_EQ(hits[1]["distance"], 4.0);  // L2 is squared, as in Milvus
  EXPECT_EQ(hits[1]["color"], "red");
  EXPECT_FALSE(hits[1].contains("price"));

  // Range search: L2 radius is an exclusive upper bound.
  json near = Ok("entities/search", {{"collectionName", "products"},
                                     {"data", {{0.0, 0.0, 0.0}}},
                                     {"searchParams", {{"params", {{"radius", 2.0}}}}}});
  EXPECT_EQ(near.size(), 2u);

  json idx = Ok("indexes/describe", {{"collectionName", "products"}, {"indexName", "emb_hnsw"}});
  EXPECT_EQ(idx[0]["indexType"], "HNSW");
  EXPECT_EQ(idx[0]["params"]["M"], 8);  // "8" from the client became a number
  EXPECT_EQ(idx[0]["totalRows"], 3);
  EXPECT_EQ(idx[0]["indexState"], "Finished");
}

TEST_F(MilvusApiTest, IndexesCreateDescribeListDrop) {
  json schema = json::parse(R"({"fields": [
      {"fieldName": "id", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "vector", "dataType": "FloatVector", "elementTypeParams": {"dim": 8}}]})");
  Ok("collections/create", {{"collectionName", "c"}, {"schema", schema}});
  Ok("collections/load", {{"collectionName", "c"}});  // a bare schema waits for it
  EXPECT_EQ(Ok("indexes/list", {{"collectionName", "c"}}), json::array());  // none yet
  Refused("indexes/describe", {{"collectionName", "c"}, {"indexName", "vector"}}, 700,
          "index not found");

  json ivf = json::parse(R"([{"fieldName": "vector", "indexName": "ivf", "metricType": "IP",
                              "indexType": "IVF_FLAT", "params": {"nlist": 4}}])");
  Ok("indexes/create", {{"collectionName", "c"}, {"indexParams", ivf}});
  Ok("indexes/create", {{"collectionName", "c"}, {"indexParams", ivf}});  // the same: no-op
  EXPECT_EQ(Ok("indexes/list", {{"collectionName", "c"}}), json::array({"ivf"}));
  json other = ivf;
  other[0]["indexName"] = "second";
  Refused("indexes/create", {{"collectionName", "c"}, {"indexParams", other}}, 1100,
          "drop index \"ivf\" first");

  // As in Milvus, an index is dropped only from a released collection.
  Refused("indexes/drop", {{"collectionName", "c"}, {"indexName", "ivf"}}, 1100, "release");
  Ok("collections/release", {{"collectionName", "c"}});
  EXPECT_EQ(Ok("collections/get_load_state", {{"collectionName", "c"}})["loadState"],
            "LoadStateNotLoad");
  Refused("entities/query", {{"collectionName", "c"}, {"filter", "id > 0"}}, 101, "not loaded");
  Ok("indexes/drop", {{"collectionName", "c"}, {"indexName", "ivf"}});
  EXPECT_EQ(Ok("indexes/list", {{"collectionName", "c"}}), json::array());
  Ok("collections/load", {{"collectionName", "c"}});
  json state = Ok("collections/get_load_state", {{"collectionName", "c"}});
  EXPECT_EQ(state["loadState"], "LoadStateLoaded");
  EXPECT_EQ(state["loadProgress"], 100);

  // The index survives a restart, name and all.
  Ok("indexes/create", {{"collectionName", "c"}, {"indexParams", other}});
  api_.reset();
  db_.reset();
  db_ = testing::ValueOrDie(Database::Open(db_dir()));
  api_ = std::make_unique<MilvusApi>(*db_);
  EXPECT_EQ(Ok("indexes/list", {{"collectionName", "c"}}), json::array({"second"}));
}

TEST_F(MilvusApiTest, BinaryVectorsWithHamming) {
  json schema = json::parse(R"({"fields": [
      {"fieldName": "id", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "bits", "dataType": "BinaryVector", "elementTypeParams": {"dim": 16}}]})");
  Ok("collections/create", {{"collectionName", "hashes"}, {"schema", schema}});
  Ok("collections/load", {{"collectionName", "hashes"}});  // a bare schema waits for it
  EXPECT_EQ(Ok("collections/describe", {{"collectionName", "hashes"}})["fields"][1]["type"],
            "BinaryVector");
  // Bytes as an array, or base64 as Go sends []byte.
  Ok("entities/insert",
     {{"collectionName", "hashes"},
      {"data", {{{"id", 1}, {"bits", {255, 0}}}, {{"id", 2}, {"bits", "AAA="}}}}});
  json hits = Ok("entities/search", {{"collectionName", "hashes"},
                                     {"data", {{255, 1}}},
                                     {"limit", 2},
                                     {"outputFields", {"bits"}}});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0]["id"], 1);
  EXPECT_EQ(hits[0]["distance"], 1.0);  // one differing bit
  EXPECT_EQ(hits[0]["bits"], "/wA=");   // 0xff 0x00, base64
  EXPECT_EQ(hits[1]["distance"], 9.0);
}

TEST_F(MilvusApiTest, Int64AsStringsForJavaScriptClients) {
  Ok("collections/create", {{"collectionName", "js"}, {"dimension", 2}, {"autoID", true}});
  json reply = Call("entities/insert", {{"collectionName", "js"}, {"data", {{{"vector", {1, 0}}}}}},
                    /*int64_as_string=*/true);
  ASSERT_EQ(reply["code"], 0) << reply.dump();
  ASSERT_TRUE(reply["data"]["insertIds"][0].is_string());
  std::string id = reply["data"]["insertIds"][0];
  // A string id is accepted back.
  json got = Call("entities/get", {{"collectionName", "js"}, {"id", id}}, true);
  EXPECT_EQ(got["data"][0]["id"], id);
}

// As lenient as Milvus: keys Milvus does not read are ignored (its own REST tests send
// primaryField and vectorField), and creating the same collection twice succeeds.
TEST_F(MilvusApiTest, KeysMilvusIgnoresAreIgnoredAndAnIdenticalCreateSucceeds) {
  json create = {{"collectionName", "lenient"},
                 {"dimension", 2},
                 {"primaryField", "id"},
                 {"vectorField", "vector"},
                 {"somethingElse", {1, 2}}};
  Ok("collections/create", create);
  Ok("collections/create", create);
  Ok("entities/insert", {{"collectionName", "lenient"},
                         {"data", {{{"id", 1}, {"vector", {1, 0}}}}},
                         {"vectorField", "vector"}});
  json hits =
      Ok("entities/search",
         {{"collectionName", "lenient"}, {"data", {{1, 0}}}, {"primaryField", "id"}, {"limit", 1}});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]["id"], 1);
  // ... but a key that Milvus reads and imgsearch cannot honour is refused by name.
  Refused("entities/search", {{"collectionName", "lenient"}, {"data", {{1, 0}}}, {"groupSize", 2}},
          1100, "groupSize");
  // Booleans written as text are read as Milvus reads them (Go's strconv.ParseBool).
  Ok("collections/create", {{"collectionName", "textual"}, {"dimension", 2}, {"autoID", "true"}});
  json ids =
      Ok("entities/insert", {{"collectionName", "textual"}, {"data", {{{"vector", {1, 0}}}}}});
  EXPECT_EQ(ids["insertCount"], 1);
  Refused("collections/create", {{"collectionName", "t2"}, {"dimension", 2}, {"autoID", "yes"}},
          1801, "true or false");
}

TEST_F(MilvusApiTest, BadRequestsAreRefusedWithMilvusCodesAndMessages) {
  Ok("collections/create", {{"collectionName", "c"}, {"dimension", 2}});
  EXPECT_EQ(api_->Call("collections/list", "{not json", false).code, 1801);
  EXPECT_EQ(api_->Call("collections/list", "[1, 2]", false).code, 1801);
  Refused("collections/describe", json::object(), 1802, "collectionName");
  Refused("collections/describe", {{"collectionName", 7}}, 1801, "non-empty string");
  Refused("collections/describe", {{"collectionName", "nope"}}, 100, "collection not found");
  Refused("entities/search", {{"collectionName", "nope"}, {"data", {{1, 2}}}}, 100, "nope");
  Refused("collections/create", {{"collectionName", "c"}, {"dimension", 3}}, 1100,
          "already exists with another schema");
  Refused("collections/create", {{"collectionName", "d"}}, 1802, "dimension");
  Refused("collections/create", {{"collectionName", "d"}, {"dimension", "1-2"}}, 1801,
          "must be an integer");
  Refused("collections/create", {{"collectionName", "d"}, {"dimension", 2}, {"idType", "UUID"}},
          1100, "Int64 or VarChar");
  Refused("collections/create",
          {{"collectionName", "d"}, {"dimension", 2}, {"params", {{"ttlSeconds", 60}}}}, 1100,
          "ttlSeconds");
  Refused("collections/create",
          {{"collectionName", "d"},
           {"schema",
            {{"enableDynamicField", true},
             {"fields", {{{"fieldName", "$id"}, {"dataType", "Int64"}, {"isPrimary", true}}}}}}},
          1100, "reserved");
  Refused("collections/create",
          {{"collectionName", "d"},
           {"schema",
            {{"fields",
              {{{"fieldName", "id"}, {"dataType", "Int64"}, {"isPrimary", true}},
               {{"fieldName", "n"}, {"dataType", "Int32"}}}}}}},
          1100, "declare it Int64");
  Refused("collections/list", {{"dbName", "analytics"}}, 800, "database");
  Refused("entities/query",
          {{"collectionName", "c"}, {"filter", "id > 0"}, {"partitionNames", {"p1"}}}, 200,
          "partition not found");
  Refused("entities/search", {{"collectionName", "c"}, {"data", {{1, 2}}}, {"groupingField", "id"}},
          1100, "groupingField");
  Refused("entities/insert", {{"collectionName", "c"}, {"data", {{{"id", 1}, {"vector", {1}}}}}},
          1804, "dimension is 2");
  Refused("entities/insert",
          {{"collectionName", "c"}, {"data", {{{"id", 1}, {"vector", {1, 2}}, {"$meta", "x"}}}}},
          1804, "reserved");
  Refused("entities/insert", {{"collectionName", "c"}, {"data", {{{"vector", {1, 2}}}}}}, 1804,
          "lacks the primary key");
  Refused("entities/insert",
          {{"collectionName", "c"}, {"data", {{{"id", "x"}, {"vector", {1, 2}}}}}}, 1806, "Int64");
  Ok("entities/insert", {{"collectionName", "c"}, {"data", {{{"id", 1}, {"vector", {1, 2}}}}}});
  Refused("entities/insert", {{"collectionName", "c"}, {"data", {{{"id", 1}, {"vector", {1, 2}}}}}},
          1804, "exists");
  Refused("entities/query", {{"collectionName", "c"}, {"filter", "id >"}}, 1100, "position");
  Refused("entities/query", {{"collectionName", "c"}}, 1100, "needs a limit");
  Refused("entities/search", {{"collectionName", "c"}, {"data", {{1, 2}}}, {"limit", 0}}, 1100,
          "limit must be");
  Refused("entities/search",
          {{"collectionName", "c"}, {"data", {{1, 2}}}, {"searchParams", {{"metricType", "L2"}}}},
          1100, "metric type not match");
  Refused("entities/search", {{"collectionName", "c"}, {"data", {{1, 2}}}, {"annsField", "v2"}},
          1100, "not a vector field");
  Refused("entities/search", {{"collectionName", "c"}, {"data", {"a", "b"}}}, 1804,
          "must be an array");
  Refused("entities/delete", {{"collectionName", "c"}}, 1802, "filter");
  json bare = json::parse(R"({"fields": [
      {"fieldName": "id", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "vector", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Ok("collections/create", {{"collectionName", "bare"}, {"schema", bare}});
  Ok("collections/load", {{"collectionName", "bare"}});  // a bare schema waits for it
  Refused(
      "indexes/create",
      {{"collectionName", "bare"},
       {"indexParams", {{{"fieldName", "vector"}, {"indexType", "HNSW"}, {"params", {{"M", 0}}}}}}},
      1100, "M");
  Refused("collections/rename", {{"collectionName", "c"}}, 1802, "newCollectionName");
  Refused("collections/compact", {{"collectionName", "c"}}, 1100, "does not serve");
  Refused("users/create", {{"userName", "u"}, {"password", "p"}}, 10, "unimplemented");
  Refused("roles/list", json::object(), 10, "unimplemented");
  Refused("jobs/import/create", {{"collectionName", "c"}}, 10, "unimplemented");
  Refused("entities/query", {{"collectionName", "c"}, {"filter", "id > 0) or (id < 0"}}, 1100,
          "position");
  EXPECT_EQ(Ok("collections/get_stats", {{"collectionName", "c"}})["rowCount"], 1);  // intact
}

}  // namespace
}  // namespace imgsearch::server
