// The Milvus features real clients use most, with requests shaped as the official SDKs
// send them: dynamic fields, partitions, aliases and rename, hybrid search, count(*),
// VarChar primary keys, and answers shaped as Milvus 2.4/2.5 shapes them.
#include <gtest/gtest.h>

#include <cmath>

#include "server/milvus_test_fixture.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

class MilvusFeaturesTest : public MilvusApiFixture {
 protected:
  // Ids of the rows a query returns, sorted.
  std::vector<int64_t> QueryIds(const json& body, const char* key = "id") {
    std::vector<int64_t> ids;
    for (const json& row : Ok("entities/query", body)) ids.push_back(row[key].get<int64_t>());
    std::sort(ids.begin(), ids.end());
    return ids;
  }
};

// The quick form, as the Node SDK's createCollection sends it (it adds metricType,
// primaryFieldName and vectorFieldName, and dbName to every request).
json QuickCreate(const std::string& name) {
  return {{"collectionName", name},      {"dimension", 2},
          {"metricType", "L2"},          {"primaryFieldName", "id"},
          {"vectorFieldName", "vector"}, {"dbName", "default"}};
}

TEST_F(MilvusFeaturesTest, DynamicFieldsAreKeptReturnedAndFilterable) {
  Ok("collections/create", QuickCreate("d"));  // the quick form has dynamic fields on
  EXPECT_EQ(Ok("collections/describe", {{"collectionName", "d"}})["enableDynamicField"], true);
  Ok("entities/insert",
     {{"collectionName", "d"},
      {"data",
       {{{"id", 1}, {"vector", {0, 0}}, {"color", "red"}, {"size", 3}, {"tags", {"a", "b"}}},
        {{"id", 2}, {"vector", {1, 0}}, {"color", "blue"}, {"size", 7}},
        {{"id", 3}, {"vector", {2, 0}}, {"size", 9}}}}});
  // Filters name dynamic keys as if they were fields; rows without the key do not match.
  EXPECT_EQ(QueryIds({{"collectionName", "d"}, {"filter", "size > 5"}}),
            (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(QueryIds({{"collectionName", "d"}, {"filter", "color == \"red\""}}),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(QueryIds({{"collectionName", "d"}, {"filter", "$meta[\"color\"] == \"blue\""}}),
            (std::vector<int64_t>{2}));
  // Returned flattened into the row: the keys asked for, or all of them with "*".
  json rows = Ok("entities/query",
                 {{"collectionName", "d"}, {"filter", "id == 1"}, {"outputFields", {"color"}}});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], json({{"id", 1}, {"color", "red"}}));
  rows = Ok("entities/get", {{"collectionName", "d"}, {"id", 1}, {"outputFields", {"*"}}});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["tags"], json({"a", "b"}));
  EXPECT_EQ(rows[0]["size"], 3);
  EXPECT_FALSE(rows[0].contains("$meta"));
  EXPECT_FALSE(rows[0].contains("$partition"));
  json hits = Ok("entities/search", {{"collectionName", "d"},
                                     {"data", {{2, 0}}},
                                     {"limit", 1},
                                     {"filter", "size < 9"},
                                     {"outputFields", {"size"}}});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]["id"], 2);
  EXPECT_EQ(hits[0]["size"], 7);
  // A schema-form collection without enableDynamicField refuses keys outside it.
  json schema = json::parse(R"({"fields": [
      {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Ok("collections/create", {{"collectionName", "fixed"}, {"schema", schema}});
  Ok("collections/load", {{"collectionName", "fixed"}});  // a bare schema waits for it
  EXPECT_EQ(Ok("collections/describe", {{"collectionName", "fixed"}})["enableDynamicField"], false);
  Refused("entities/insert",
          {{"collectionName", "fixed"}, {"data", {{{"pk", 1}, {"v", {1, 2}}, {"x", 1}}}}}, 1804,
          "no dynamic fields");
  Refused("entities/query", {{"collectionName", "fixed"}, {"filter", "x > 1"}}, 1100,
          "unknown field");
}

TEST_F(MilvusFeaturesTest, AnswersAreShapedAsMilvusShapesThem) {
  json schema = json::parse(R"({"enableDynamicField": true, "fields": [
      {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "count", "dataType": "Int64"},
      {"fieldName": "info", "dataType": "JSON", "nullable": true},
      {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Ok("collections/create", {{"collectionName", "s"}, {"schema", schema}});
  Ok("collections/load", {{"collectionName", "s"}});  // a bare schema waits for it
  const int64_t big = 9007199254740993;               // 2^53 + 1: JavaScript numbers cannot hold it
  Ok("entities/insert", {{"collectionName", "s"},
                         {"data",
                          {{{"pk", big},
                            {"count", big},
                            {"info", {{"lens", "50mm"}}},
                            {"v", {1, 1}},
                            {"extra", 5}}}}});
  // Search hits carry the key as "id" whatever the field is called, and "distance".
  json hits = Ok(
      "entities/search",
      {{"collectionName", "s"}, {"data", {{1, 1}}}, {"outputFields", {"count", "info", "extra"}}},
      true);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]["id"], std::to_string(big));  // Accept-Type-Allow-Int64: false
  EXPECT_EQ(hits[0]["count"], std::to_string(big));
  EXPECT_EQ(hits[0]["info"], "{\"lens\":\"50mm\"}");  // JSON fields as JSON text
  EXPECT_EQ(hits[0]["extra"], 5);                     // dynamic keys as they were given
  EXPECT_TRUE(hits[0]["distance"].is_number());
  json rows = Ok("entities/query", {{"collectionName", "s"}, {"filter", "count > 0"}});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["pk"], big);  // numbers unless the client asks for strings
  EXPECT_EQ(rows[0]["info"], "{\"lens\":\"50mm\"}");
  // An empty body or null is a request without parameters.
  EXPECT_EQ(api_->Call("collections/list", "", false).code, 0);
  EXPECT_EQ(api_->Call("collections/list", "null", false).ToJson()["data"], json({"s"}));
  EXPECT_EQ(Ok("collections/list", {{"dbName", "default"}}), json({"s"}));
}

TEST_F(MilvusFeaturesTest, CountStarCountsTheMatchingRows) {
  Ok("collections/create", QuickCreate("c"));
  json data = json::array();
  for (int i = 1; i <= 10; ++i) data.push_back({{"id", i}, {"vector", {i, 0}}, {"odd", i % 2}});
  Ok("entities/insert", {{"collectionName", "c"}, {"data", data}});
  json all = Ok("entities/query", {{"collectionName", "c"}, {"outputFields", {"count(*)"}}});
  EXPECT_EQ(all, json::array({{{"count(*)", 10}}}));
  json some =
      Ok("entities/query",
         {{"collectionName", "c"}, {"filter", "odd == 1"}, {"outputFields", {"count(*)"}}}, true);
  EXPECT_EQ(some, json::array({{{"count(*)", "5"}}}));
  Refused("entities/query", {{"collectionName", "c"}, {"outputFields", {"count(*)", "id"}}}, 1100,
          "only output field");
}

TEST_F(MilvusFeaturesTest, PartitionsConfineWritesAndReads) {
  Ok("collections/create", QuickCreate("p"));
  EXPECT_EQ(Ok("partitions/list", {{"collectionName", "p"}}), json({"_default"}));
  Ok("partitions/create", {{"collectionName", "p"}, {"partitionName", "cats"}});
  Ok("partitions/create", {{"collectionName", "p"}, {"partitionName", "dogs"}});
  Ok("partitions/create", {{"collectionName", "p"}, {"partitionName", "dogs"}});  // exists: fine
  EXPECT_EQ(Ok("partitions/list", {{"collectionName", "p"}}), json({"_default", "cats", "dogs"}));
  EXPECT_EQ(Ok("partitions/has", {{"collectionName", "p"}, {"partitionName", "cats"}})["has"],
            true);
  EXPECT_EQ(Ok("partitions/has", {{"collectionName", "p"}, {"partitionName", "cows"}})["has"],
            false);
  Ok("entities/insert",
     {{"collectionName", "p"},
      {"partitionName", "cats"},
      {"data", {{{"id", 1}, {"vector", {0, 0}}}, {{"id", 2}, {"vector", {1, 0}}}}}});
  Ok("entities/insert", {{"collectionName", "p"},
                         {"partitionName", "dogs"},
                         {"data", {{{"id", 3}, {"vector", {0, 1}}}}}});
  Ok("entities/insert", {{"collectionName", "p"}, {"data", {{{"id", 4}, {"vector", {5, 5}}}}}});
  Refused("entities/insert",
          {{"collectionName", "p"},
           {"partitionName", "cows"},
           {"data", {{{"id", 9}, {"vector", {0, 0}}}}}},
          200, "partition not found");
  EXPECT_EQ(QueryIds({{"collectionName", "p"}, {"filter", "id > 0"}, {"partitionNames", {"cats"}}}),
            (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(
      QueryIds({{"collectionName", "p"}, {"filter", "id > 0"}, {"partitionNames", {"_default"}}}),
      (std::vector<int64_t>{4}));
  EXPECT_EQ(QueryIds({{"collectionName", "p"}, {"filter", "id > 0"}}),
            (std::vector<int64_t>{1, 2, 3, 4}));
  json hits =
      Ok("entities/search",
         {{"collectionName", "p"}, {"data", {{0, 1}}}, {"limit", 5}, {"partitionNames", {"cats"}}});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0]["id"], 1);
  EXPECT_EQ(
      Ok("partitions/get_stats", {{"collectionName", "p"}, {"partitionName", "cats"}})["rowCount"],
      2);
  // Get and delete within a partition see only its rows.
  EXPECT_EQ(
      Ok("entities/get", {{"collectionName", "p"}, {"id", {1, 3}}, {"partitionNames", {"dogs"}}})
          .size(),
      1u);
  EXPECT_EQ(Ok("entities/delete", {{"collectionName", "p"},
                                   {"filter", "id in [1, 3]"},
                                   {"partitionName", "dogs"}})["deleteCount"],
            1);
  // Released partitions are not searched; naming one is an error until it is loaded.
  Ok("partitions/release", {{"collectionName", "p"}, {"partitionNames", {"cats"}}});
  EXPECT_EQ(QueryIds({{"collectionName", "p"}, {"filter", "id > 0"}}), (std::vector<int64_t>{4}));
  Refused("entities/query",
          {{"collectionName", "p"}, {"filter", "id > 0"}, {"partitionNames", {"cats"}}}, 201,
          "partition not loaded");
  Ok("partitions/load", {{"collectionName", "p"}, {"partitionNames", {"cats"}}});
  EXPECT_EQ(QueryIds({{"collectionName", "p"}, {"filter", "id > 0"}}),
            (std::vector<int64_t>{1, 2, 4}));
  // A loaded partition is not dropped; released, it goes with its rows.
  Refused("partitions/drop", {{"collectionName", "p"}, {"partitionName", "cats"}}, 1100, "release");
  Refused("partitions/drop", {{"collectionName", "p"}, {"partitionName", "_default"}}, 1100,
          "default partition");
  Ok("partitions/release", {{"collectionName", "p"}, {"partitionNames", {"cats"}}});
  Ok("partitions/drop", {{"collectionName", "p"}, {"partitionName", "cats"}});
  EXPECT_EQ(Ok("partitions/list", {{"collectionName", "p"}}), json({"_default", "dogs"}));
  EXPECT_EQ(Ok("collections/get_stats", {{"collectionName", "p"}})["rowCount"], 1);
  // The partition names are kept with the library.
  Reopen();
  EXPECT_EQ(Ok("partitions/list", {{"collectionName", "p"}}), json({"_default", "dogs"}));
  EXPECT_EQ(Ok("collections/describe", {{"collectionName", "p"}})["partitionsNum"], 2);
}

TEST_F(MilvusFeaturesTest, AliasesNameCollectionsAndFollowRenames) {
  Ok("collections/create", QuickCreate("v1"));
  Ok("collections/create", QuickCreate("v2"));
  Ok("entities/insert", {{"collectionName", "v1"}, {"data", {{{"id", 1}, {"vector", {0, 0}}}}}});
  Ok("entities/insert", {{"collectionName", "v2"}, {"data", {{{"id", 2}, {"vector", {0, 0}}}}}});
  Ok("aliases/create", {{"collectionName", "v1"}, {"aliasName", "live"}});
  EXPECT_EQ(Ok("aliases/describe", {{"aliasName", "live"}}),
            json({{"aliasName", "live"}, {"collectionName", "v1"}, {"dbName", "default"}}));
  EXPECT_EQ(QueryIds({{"collectionName", "live"}, {"filter", "id > 0"}}),
            (std::vector<int64_t>{1}));
  Ok("aliases/alter", {{"collectionName", "v2"}, {"aliasName", "live"}});
  EXPECT_EQ(QueryIds({{"collectionName", "live"}, {"filter", "id > 0"}}),
            (std::vector<int64_t>{2}));
  EXPECT_EQ(Ok("aliases/list", json::object()), json({"live"}));
  EXPECT_EQ(Ok("aliases/list", {{"collectionName", "v1"}}), json::array());
  EXPECT_EQ(Ok("collections/describe", {{"collectionName", "v2"}})["aliases"], json({"live"}));
  Refused("aliases/create", {{"collectionName", "v1"}, {"aliasName", "live"}}, 1602,
          "alias already exist");
  Refused("aliases/create", {{"collectionName", "v1"}, {"aliasName", "v2"}}, 1601, "conflict");
  Refused("aliases/describe", {{"aliasName", "gone"}}, 1600, "alias not found");
  Refused("collections/create", QuickCreate("live"), 1601, "is an alias");
  Refused("collections/drop", {{"collectionName", "v2"}}, 1100, "associated aliases");
  // A rename keeps the rows, the partitions and the aliases.
  Ok("partitions/create", {{"collectionName", "v2"}, {"partitionName", "p"}});
  Ok("collections/rename", {{"collectionName", "v2"}, {"newCollectionName", "v3"}});
  EXPECT_EQ(Ok("collections/has", {{"collectionName", "v2"}})["has"], false);
  EXPECT_EQ(Ok("aliases/describe", {{"aliasName", "live"}})["collectionName"], "v3");
  EXPECT_EQ(QueryIds({{"collectionName", "live"}, {"filter", "id > 0"}}),
            (std::vector<int64_t>{2}));
  EXPECT_EQ(Ok("partitions/list", {{"collectionName", "v3"}}), json({"_default", "p"}));
  Refused("collections/rename", {{"collectionName", "v1"}, {"newCollectionName", "live"}}, 1100,
          "duplicated");
  Refused("collections/rename",
          {{"collectionName", "v1"}, {"newCollectionName", "x"}, {"newDbName", "other"}}, 800,
          "database");
  Ok("aliases/drop", {{"aliasName", "live"}});
  Ok("aliases/drop", {{"aliasName", "live"}});  // as Milvus: dropping a missing alias succeeds
  Ok("collections/drop", {{"collectionName", "v3"}});
  EXPECT_EQ(Ok("collections/list", json::object()), json({"v1"}));
}

TEST_F(MilvusFeaturesTest, HybridSearchFusesWithRrfAndWeighted) {
  json schema = json::parse(R"({"fields": [
      {"fieldName": "id", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "vector", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Ok("collections/create",
     {{"collectionName", "h"},
      {"schema", schema},
      {"indexParams", {{{"fieldName", "vector"}, {"metricType", "L2"}, {"indexType", "FLAT"}}}}});
  json data = json::array();
  for (int i = 0; i < 5; ++i) data.push_back({{"id", i}, {"vector", {i, 0}}});
  Ok("entities/insert", {{"collectionName", "h"}, {"data", data}});
  // Search A ranks 0,1,2,...; search B ranks 4,3,2,...: with rrf, 2 is in the middle of
  // both and the ends tie; limit 5 returns all.
  json search_a = {{"data", {{0, 0}}}, {"annsField", "vector"}, {"limit", 5}, {"metricType", "L2"}};
  json search_b = {
      {"data", {{4, 0}}}, {"annsField", "vector"}, {"limit", 5}, {"params", json::object()}};
  json hits =
      Ok("entities/hybrid_search", {{"collectionName", "h"},
                                    {"search", {search_a, search_b}},
                                    {"rerank", {{"strategy", "rrf"}, {"params", {{"k", 60}}}}},
                                    {"limit", 5}});
  ASSERT_EQ(hits.size(), 5u);
  // Expected scores computed the simple way.
  auto rrf = [](int rank_a, int rank_b) { return 1.0 / (60 + rank_a) + 1.0 / (60 + rank_b); };
  std::map<int64_t, double> expected;
  for (int i = 0; i < 5; ++i) expected[i] = rrf(i + 1, 5 - i);
  for (const json& hit : hits) {
    EXPECT_NEAR(hit["distance"].get<double>(), expected[hit["id"].get<int64_t>()], 1e-6);
  }
  for (size_t i = 1; i < hits.size(); ++i)
    EXPECT_GE(hits[i - 1]["distance"].get<double>(), hits[i]["distance"].get<double>());
  // Weighted, all weight on B: B's order, scores 1 - 2 atan(d) / pi.
  hits = Ok("entities/hybrid_search",
            {{"collectionName", "h"},
             {"search", {search_a, search_b}},
             {"rerank", {{"strategy", "weighted"}, {"params", {{"weights", {0.0, 1.0}}}}}},
             {"limit", 2},
             {"outputFields", {"vector"}}});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0]["id"], 4);
  EXPECT_EQ(hits[1]["id"], 3);
  EXPECT_NEAR(hits[1]["distance"].get<double>(), 1 - 2 * std::atan(1.0) / M_PI, 1e-6);
  EXPECT_EQ(hits[1]["vector"], json({3.0, 0.0}));
  Refused("entities/hybrid_search",
          {{"collectionName", "h"},
           {"search", {search_a, search_b}},
           {"rerank", {{"strategy", "weighted"}, {"params", {{"weights", {1.0}}}}}}},
          1100, "number of weights");
  Refused("entities/hybrid_search",
          {{"collectionName", "h"}, {"search", {search_a}}, {"rerank", {{"strategy", "magic"}}}},
          1100, "magic");
}

TEST_F(MilvusFeaturesTest, VarCharPrimaryKeysStayUnique) {
  json schema = json::parse(R"({"fields": [
      {"fieldName": "doc", "dataType": "VarChar", "isPrimary": true, "elementTypeParams": {"max_length": 32}},
      {"fieldName": "n", "dataType": "Int64"},
      {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Ok("collections/create", {{"collectionName", "k"}, {"schema", schema}});
  Ok("collections/load", {{"collectionName", "k"}});  // a bare schema waits for it
  json described = Ok("collections/describe", {{"collectionName", "k"}});
  EXPECT_EQ(described["fields"][0]["name"], "doc");
  EXPECT_EQ(described["fields"][0]["type"], "VarChar");
  EXPECT_EQ(described["fields"][0]["primaryKey"], true);
  EXPECT_EQ(described["fields"].size(), 3u);
  json inserted =
      Ok("entities/insert",
         {{"collectionName", "k"},
          {"data",
           {{{"doc", "a\"b"}, {"n", 1}, {"v", {0, 0}}}, {{"doc", "c"}, {"n", 2}, {"v", {1, 0}}}}}});
  EXPECT_EQ(inserted["insertIds"], json({"a\"b", "c"}));
  Refused("entities/insert",
          {{"collectionName", "k"}, {"data", {{{"doc", "c"}, {"n", 3}, {"v", {0, 0}}}}}}, 1804,
          "exists already");
  Refused("entities/insert",
          {{"collectionName", "k"},
           {"data",
            {{{"doc", "x"}, {"n", 3}, {"v", {0, 0}}}, {{"doc", "x"}, {"n", 4}, {"v", {0, 0}}}}}},
          1804, "twice");
  Refused("entities/insert", {{"collectionName", "k"}, {"data", {{{"doc", 5}, {"v", {0, 0}}}}}},
          1806, "non-empty string");
  json upserted =
      Ok("entities/upsert",
         {{"collectionName", "k"},
          {"data",
           {{{"doc", "c"}, {"n", 20}, {"v", {1, 0}}}, {{"doc", "d"}, {"n", 30}, {"v", {2, 0}}}}}});
  EXPECT_EQ(upserted["upsertIds"], json({"c", "d"}));
  EXPECT_EQ(Ok("collections/get_stats", {{"collectionName", "k"}})["rowCount"], 3);
  json got =
      Ok("entities/get", {{"collectionName", "k"}, {"id", {"c", "a\"b"}}, {"outputFields", {"n"}}});
  ASSERT_EQ(got.size(), 2u);
  std::map<std::string, int64_t> n_by_key;
  for (const json& row : got) n_by_key[row["doc"]] = row["n"];
  EXPECT_EQ(n_by_key, (std::map<std::string, int64_t>{{"a\"b", 1}, {"c", 20}}));
  EXPECT_FALSE(got[0].contains("$id"));
  json hits = Ok("entities/search",
                 {{"collectionName", "k"}, {"data", {{2, 0}}}, {"limit", 1}, {"filter", "n > 25"}});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]["id"], "d");
  json rows = Ok("entities/query", {{"collectionName", "k"}, {"filter", "doc in [\"c\", \"d\"]"}});
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(
      Ok("entities/delete", {{"collectionName", "k"}, {"filter", "doc == \"d\""}})["deleteCount"],
      1);
  EXPECT_EQ(Ok("entities/delete", {{"collectionName", "k"}, {"id", {"a\"b"}}})["deleteCount"], 1);
  EXPECT_EQ(Ok("collections/get_stats", {{"collectionName", "k"}})["rowCount"], 1);
  // The quick form's idType VarChar.
  Ok("collections/create", {{"collectionName", "q"},
                            {"dimension", 2},
                            {"idType", "VarChar"},
                            {"params", {{"max_length", 64}}}});
  EXPECT_EQ(Ok("entities/insert", {{"collectionName", "q"},
                                   {"data", {{{"id", "x"}, {"vector", {0, 0}}}}}})["insertIds"],
            json({"x"}));
}

TEST_F(MilvusFeaturesTest, ArraysDefaultValuesAndNullableFields) {
  json schema = json::parse(R"({"fields": [
      {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "tags", "dataType": "Array", "elementDataType": "VarChar",
       "elementTypeParams": {"max_capacity": 4, "max_length": 16}},
      {"fieldName": "rating", "dataType": "Int64", "defaultValue": 3},
      {"fieldName": "note", "dataType": "VarChar", "nullable": true,
       "elementTypeParams": {"max_length": 64}},
      {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Ok("collections/create", {{"collectionName", "t"}, {"schema", schema}});
  Ok("collections/load", {{"collectionName", "t"}});  // a bare schema waits for it
  json fields = Ok("collections/describe", {{"collectionName", "t"}})["fields"];
  std::map<std::string, json> by_name;
  for (const json& f : fields) by_name[f["name"]] = f;
  EXPECT_EQ(by_name["tags"]["type"], "Array");
  EXPECT_EQ(by_name["tags"]["elementType"], "VarChar");
  EXPECT_EQ(by_name["tags"]["params"], json::parse(R"([{"key": "max_capacity", "value": "4"},
                            {"key": "max_length", "value": "16"}])"));
  EXPECT_EQ(by_name["rating"]["defaultValue"], 3);
  EXPECT_EQ(by_name["note"]["nullable"], true);
  Ok("entities/insert",
     {{"collectionName", "t"},
      {"data",
       {{{"pk", 1}, {"tags", {"cat", "red"}}, {"v", {0, 0}}},
        {{"pk", 2}, {"tags", {"dog"}}, {"rating", 5}, {"note", "x"}, {"v", {1, 0}}},
        {{"pk", 3}, {"tags", json::array()}, {"rating", nullptr}, {"v", {2, 0}}}}}});
  json rows = Ok("entities/query", {{"collectionName", "t"},
                                    {"filter", "array_contains(tags, \"cat\") or rating == 5"},
                                    {"outputFields", {"tags", "rating", "note"}}});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0],
            json::parse(R"({"pk": 1, "tags": ["cat", "red"], "rating": 3, "note": null})"));
  EXPECT_EQ(rows[1]["note"], "x");
  EXPECT_EQ(QueryIds({{"collectionName", "t"}, {"filter", "rating == 3"}}, "pk"),
            (std::vector<int64_t>{1, 3}));  // left out and null both take the default
  EXPECT_EQ(QueryIds({{"collectionName", "t"}, {"filter", "note is null"}}, "pk"),
            (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(QueryIds({{"collectionName", "t"}, {"filter", "array_length(tags) == 0"}}, "pk"),
            (std::vector<int64_t>{3}));
  Refused("entities/insert",
          {{"collectionName", "t"},
           {"data", {{{"pk", 4}, {"tags", {"a", "b", "c", "d", "e"}}, {"v", {0, 0}}}}}},
          1804, "max_capacity");
  Refused("entities/insert",
          {{"collectionName", "t"}, {"data", {{{"pk", 4}, {"tags", {1}}, {"v", {0, 0}}}}}}, 1804,
          "must be a string");
  // Arrays need their element type and capacity; defaults must fit their field.
  json no_capacity = json::parse(R"({"fields": [
      {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "tags", "dataType": "Array", "elementDataType": "Int64"},
      {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Refused("collections/create", {{"collectionName", "u"}, {"schema", no_capacity}}, 1100,
          "max_capacity");
  json bad_default = json::parse(R"({"fields": [
      {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "n", "dataType": "Int64", "defaultValue": "three"},
      {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Refused("collections/create", {{"collectionName", "u"}, {"schema", bad_default}}, 1100,
          "default value");
}

TEST_F(MilvusFeaturesTest, SeveralVectorFieldsAreWrittenTogetherAndSearchedApart) {
  json schema = json::parse(R"({"fields": [
      {"fieldName": "doc", "dataType": "VarChar", "isPrimary": true, "elementTypeParams": {"max_length": 16}},
      {"fieldName": "a", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
      {"fieldName": "year", "dataType": "Int64"},
      {"fieldName": "b", "dataType": "FloatVector", "elementTypeParams": {"dim": 3}},
      {"fieldName": "h", "dataType": "BinaryVector", "elementTypeParams": {"dim": 8}}]})");
  json index = json::parse(R"([
      {"fieldName": "a", "indexName": "a_idx", "metricType": "L2", "indexType": "FLAT"},
      {"fieldName": "b", "indexName": "b_idx", "metricType": "IP", "indexType": "FLAT"}])");
  Ok("collections/create", {{"collectionName", "m"}, {"schema", schema}, {"indexParams", index}});
  // The companions are hidden; the fields and indexes are the collection's.
  EXPECT_EQ(Ok("collections/list", json::object()), json({"m"}));
  json described = Ok("collections/describe", {{"collectionName", "m"}});
  std::vector<std::string> names;
  for (const json& f : described["fields"]) names.push_back(f["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"doc", "a", "b", "h", "year"}));
  EXPECT_EQ(described["indexes"].size(), 2u);  // h is not indexed yet
  EXPECT_EQ(Ok("indexes/list", {{"collectionName", "m"}}), json({"a_idx", "b_idx"}));
  Ok("entities/insert",
     {{"collectionName", "m"},
      {"data",
       {{{"doc", "x"}, {"a", {0, 0}}, {"b", {1, 0, 0}}, {"h", {1}}, {"year", 2001}},
        {{"doc", "y"}, {"a", {5, 5}}, {"b", {0, 1, 0}}, {"h", {255}}, {"year", 2002}},
        {{"doc", "z"}, {"a", {1, 1}}, {"b", {0, 0, 1}}, {"h", {3}}, {"year", 2003}}}}});
  // A row must bring every vector; nothing of a refused write is kept.
  Refused(
      "entities/insert",
      {{"collectionName", "m"}, {"data", {{{"doc", "w"}, {"a", {0, 0}}, {"h", {1}}, {"year", 1}}}}},
      1804, "lacks the vector field \"b\"");
  Refused("entities/insert",
          {{"collectionName", "m"},
           {"data", {{{"doc", "w"}, {"a", {0, 0}}, {"b", {1, 0}}, {"h", {1}}, {"year", 1}}}}},
          1804, "3");
  EXPECT_EQ(Ok("collections/get_stats", {{"collectionName", "m"}})["rowCount"], 3);
  Refused("entities/search", {{"collectionName", "m"}, {"data", {{0, 0}}}}, 1100,
          "multiple anns_fields");
  Refused("entities/search", {{"collectionName", "m"}, {"data", {{0, 0}}}, {"annsField", "year"}},
          1100, "not a vector field");
  json by_b = Ok("entities/search", {{"collectionName", "m"},
                                     {"annsField", "b"},
                                     {"data", {{0, 1, 0}}},
                                     {"limit", 2},
                                     {"filter", "year > 2001"},
                                     {"outputFields", {"a", "year"}}});
  ASSERT_EQ(by_b.size(), 2u);
  EXPECT_EQ(by_b[0]["id"], "y");
  EXPECT_EQ(by_b[0]["a"], json({5.0, 5.0}));  // another field's vector, read beside
  EXPECT_EQ(by_b[1]["id"], "z");
  json by_h = Ok("entities/search", {{"collectionName", "m"},
                                     {"annsField", "h"},
                                     {"data", {{2}}},
                                     {"limit", 1},
                                     {"outputFields", {"b"}}});
  EXPECT_EQ(by_h[0]["id"], "z");  // 3 = 0b11 is one bit from 2
  EXPECT_EQ(by_h[0]["b"], json({0.0, 0.0, 1.0}));
  json fused =
      Ok("entities/hybrid_search", {{"collectionName", "m"},
                                    {"search",
                                     {{{"annsField", "a"}, {"data", {{1, 1}}}, {"limit", 3}},
                                      {{"annsField", "b"}, {"data", {{0, 0, 1}}}, {"limit", 3}}}},
                                    {"rerank", {{"strategy", "rrf"}}},
                                    {"limit", 2},
                                    {"outputFields", {"h"}}});
  ASSERT_EQ(fused.size(), 2u);
  EXPECT_EQ(fused[0]["id"], "z");    // first in both
  EXPECT_EQ(fused[0]["h"], "Aw==");  // binary vectors as base64
  json every = Ok("entities/query",
                  {{"collectionName", "m"}, {"filter", "doc == \"z\""}, {"outputFields", {"*"}}});
  EXPECT_EQ(every[0]["a"], json({1.0, 1.0}));  // "*": every vector field
  EXPECT_EQ(every[0]["h"], "Aw==");
  // The companions cannot be reached by name, nor a field named twice.
  Refused("entities/query", {{"collectionName", "$m__b"}, {"filter", "year > 0"}}, 100,
          "not found");
  Refused("collections/create", {{"collectionName", "$m__q"}, {"dimension", 2}}, 1100, "reserved");
  Refused("collections/create", {{"collectionName", "twice"}, {"schema", json::parse(R"({"fields": [
              {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
              {"fieldName": "a", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
              {"fieldName": "a", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})")}},
          1100, "duplicated field name");
  json got =
      Ok("entities/get", {{"collectionName", "m"}, {"id", {"x"}}, {"outputFields", {"a", "b"}}});
  EXPECT_EQ(got[0]["a"], json({0.0, 0.0}));
  EXPECT_EQ(got[0]["b"], json({1.0, 0.0, 0.0}));
  // Upserts and deletes reach every vector field.
  Ok("entities/upsert",
     {{"collectionName", "m"},
      {"data", {{{"doc", "x"}, {"a", {9, 9}}, {"b", {0, 0, 9}}, {"h", {0}}, {"year", 1999}}}}});
  json b_now =
      Ok("entities/query",
         {{"collectionName", "m"}, {"filter", "doc == \"x\""}, {"outputFields", {"b", "year"}}});
  EXPECT_EQ(b_now[0]["b"], json({0.0, 0.0, 9.0}));
  EXPECT_EQ(
      Ok("entities/delete", {{"collectionName", "m"}, {"filter", "year >= 2002"}})["deleteCount"],
      2);
  json left =
      Ok("entities/search",
         {{"collectionName", "m"}, {"annsField", "b"}, {"data", {{0, 1, 0}}}, {"limit", 5}});
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]["id"], "x");
  // Each field's index is its own; renames and drops take the companions along.
  Ok("indexes/create", {{"collectionName", "m"},
                        {"indexParams",
                         {{{"fieldName", "h"},
                           {"indexName", "h_idx"},
                           {"metricType", "HAMMING"},
                           {"indexType", "BIN_FLAT"}}}}});
  EXPECT_EQ(Ok("indexes/list", {{"collectionName", "m"}}), json({"a_idx", "b_idx", "h_idx"}));
  EXPECT_EQ(
      Ok("indexes/describe", {{"collectionName", "m"}, {"indexName", "b_idx"}})[0]["fieldName"],
      "b");
  Ok("collections/rename", {{"collectionName", "m"}, {"newCollectionName", "m2"}});
  Reopen();
  EXPECT_EQ(Ok("entities/get",
               {{"collectionName", "m2"}, {"id", {"x"}}, {"outputFields", {"b"}}})[0]["b"],
            json({0.0, 0.0, 9.0}));
  Ok("collections/drop", {{"collectionName", "m2"}});
  EXPECT_EQ(Ok("collections/list", json::object()), json::array());
  EXPECT_TRUE(db_->ListCollections().empty());  // the companions went with it
}

// Every search reads what it resolves names with (the catalog, aliases, partitions, vector
// fields) from memory that another process's change must reach before its next search
// (ReadTogether, the library's settings cache): here the other process is a second
// handle on the same folder, with its own connections and memory.
TEST_F(MilvusFeaturesTest, ChangesThroughAnotherLibraryHandleAreSeenByTheNextSearch) {
  std::unique_ptr<Database> other_db = testing::ValueOrDie(Database::Open(dir_));
  MilvusApi other(*other_db);
  auto search = [&](const json& body) { return other.Call("entities/search", body.dump(), false); };
  auto hit_ids = [&](const json& body) {
    MilvusReply reply = search(body);
    EXPECT_EQ(reply.code, 0) << body.dump() << " -> " << reply.ToJson().dump();
    std::vector<int64_t> ids;
    for (const json& hit : reply.data) ids.push_back(hit["id"].get<int64_t>());
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto near = [](const std::string& name, json partitions = nullptr) {
    json body = {{"collectionName", name}, {"data", {{0, 0}}}, {"limit", 10}};
    if (!partitions.is_null()) body["partitionNames"] = partitions;
    return body;
  };
  Ok("collections/create", QuickCreate("c1"));
  Ok("collections/create", QuickCreate("c2"));
  Ok("entities/insert", {{"collectionName", "c1"}, {"data", {{{"id", 1}, {"vector", {0, 0}}}}}});
  Ok("entities/insert", {{"collectionName", "c2"}, {"data", {{{"id", 2}, {"vector", {0, 0}}}}}});
  EXPECT_EQ(hit_ids(near("c1")), (std::vector<int64_t>{1}));
  EXPECT_EQ(search(near("live")).code, kMilvusCollectionNotFound);
  // Aliases: created, altered, dropped elsewhere.
  Ok("aliases/create", {{"collectionName", "c1"}, {"aliasName", "live"}});
  EXPECT_EQ(hit_ids(near("live")), (std::vector<int64_t>{1}));
  Ok("aliases/alter", {{"collectionName", "c2"}, {"aliasName", "live"}});
  EXPECT_EQ(hit_ids(near("live")), (std::vector<int64_t>{2}));
  Ok("aliases/drop", {{"aliasName", "live"}});
  EXPECT_EQ(search(near("live")).code, kMilvusCollectionNotFound);
  // Partitions: one created and filled elsewhere is searchable at once.
  EXPECT_EQ(search(near("c1", {"p"})).code, kMilvusPartitionNotFound);
  Ok("partitions/create", {{"collectionName", "c1"}, {"partitionName", "p"}});
  Ok("entities/insert", {{"collectionName", "c1"},
                         {"partitionName", "p"},
                         {"data", {{{"id", 3}, {"vector", {1, 1}}}}}});
  EXPECT_EQ(hit_ids(near("c1", {"p"})), (std::vector<int64_t>{3}));
  EXPECT_EQ(hit_ids(near("c1")), (std::vector<int64_t>{1, 3}));
  // Renamed and dropped elsewhere.
  Ok("collections/rename", {{"collectionName", "c1"}, {"newCollectionName", "c3"}});
  EXPECT_EQ(search(near("c1")).code, kMilvusCollectionNotFound);
  EXPECT_EQ(hit_ids(near("c3", {"p"})), (std::vector<int64_t>{3}));
  Ok("collections/drop", {{"collectionName", "c2"}});
  EXPECT_EQ(search(near("c2")).code, kMilvusCollectionNotFound);
  // Made again elsewhere under the same name with two vector fields: a search must now
  // name one (the vector fields are a setting too).
  Ok("collections/create", {{"collectionName", "c2"}, {"schema", json::parse(R"({"fields": [
          {"fieldName": "id", "dataType": "Int64", "isPrimary": true},
          {"fieldName": "vector", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
          {"fieldName": "more", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})")}});
  MilvusReply two_fields = search(near("c2"));
  EXPECT_EQ(two_fields.code, kMilvusParameterInvalid) << two_fields.ToJson().dump();
  EXPECT_NE(two_fields.message.find("multiple anns_fields"), std::string::npos);
  // Load state is each process's own, as each Milvus cluster's: released here, the other
  // handle still searches; released there, its next search is refused.
  Ok("collections/release", {{"collectionName", "c3"}});
  EXPECT_EQ(hit_ids(near("c3")), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(other.Call("collections/release", json({{"collectionName", "c3"}}).dump(), false).code,
            0);
  EXPECT_EQ(search(near("c3")).code, kMilvusCollectionNotLoaded);
  EXPECT_EQ(other.Call("collections/load", json({{"collectionName", "c3"}}).dump(), false).code, 0);
  EXPECT_EQ(hit_ids(near("c3")), (std::vector<int64_t>{1, 3}));
}

TEST_F(MilvusFeaturesTest, APartitionKeyNamesThePartitionsAndRefusesManualOnes) {
  json schema = json::parse(R"({"fields": [
      {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "owner", "dataType": "VarChar", "isPartitionKey": true,
       "elementTypeParams": {"max_length": 32}},
      {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Ok("collections/create",
     {{"collectionName", "pk"}, {"schema", schema}, {"params", {{"partitionsNum", 4}}}});
  Ok("collections/load", {{"collectionName", "pk"}});
  EXPECT_EQ(Ok("partitions/list", {{"collectionName", "pk"}}),
            json({"_default_0", "_default_1", "_default_2", "_default_3"}));
  json described = Ok("collections/describe", {{"collectionName", "pk"}});
  EXPECT_EQ(described["partitionsNum"], 4);
  EXPECT_EQ(described["fields"][2]["name"], "owner");
  EXPECT_EQ(described["fields"][2]["partitionKey"], true);
  Ok("entities/insert", {{"collectionName", "pk"},
                         {"data",
                          {{{"pk", 1}, {"owner", "ann"}, {"v", {0, 0}}},
                           {{"pk", 2}, {"owner", "bob"}, {"v", {1, 0}}}}}});
  json hits = Ok("entities/search", {{"collectionName", "pk"},
                                     {"data", {{0, 0}}},
                                     {"filter", "owner == \"bob\""},
                                     {"outputFields", {"owner"}}});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]["id"], 2);
  const char* manual = "partition key mode";
  Refused("partitions/create", {{"collectionName", "pk"}, {"partitionName", "p"}}, 1100, manual);
  Refused("entities/insert",
          {{"collectionName", "pk"},
           {"partitionName", "_default_1"},
           {"data", {{{"pk", 3}, {"owner", "cy"}, {"v", {0, 0}}}}}},
          1100, manual);
  Refused("entities/query",
          {{"collectionName", "pk"}, {"filter", "pk > 0"}, {"partitionNames", {"_default_0"}}},
          1100, manual);
  // partitionsNum needs a partition key; the key is Int64 or VarChar, and only one.
  json plain = json::parse(R"({"fields": [
      {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Refused("collections/create",
          {{"collectionName", "x"}, {"schema", plain}, {"params", {{"partitionsNum", 4}}}}, 1100,
          "partition key");
  json double_key = json::parse(R"({"fields": [
      {"fieldName": "pk", "dataType": "Int64", "isPrimary": true},
      {"fieldName": "d", "dataType": "Double", "isPartitionKey": true},
      {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]})");
  Refused("collections/create", {{"collectionName", "x"}, {"schema", double_key}}, 1100,
          "Int64 or VarChar");
  // The key and its partitions follow a rename, and are forgotten with a drop.
  Ok("collections/rename", {{"collectionName", "pk"}, {"newCollectionName", "pk2"}});
  EXPECT_EQ(Ok("partitions/list", {{"collectionName", "pk2"}}).size(), 4u);
  Ok("collections/release", {{"collectionName", "pk2"}});
  Ok("collections/drop", {{"collectionName", "pk2"}});
  Ok("collections/create", QuickCreate("pk2"));
  EXPECT_EQ(Ok("partitions/list", {{"collectionName", "pk2"}}), json({"_default"}));
}

}  // namespace
}  // namespace imgsearch::server
