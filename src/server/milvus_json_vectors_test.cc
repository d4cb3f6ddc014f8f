// REST's query vectors read straight into floats (SplitQueryVectors): what it takes and
// what it leaves to the JSON parser, and every search body answered exactly as the
// dialect answers the same body parsed as JSON.
#include "server/milvus_json_vectors.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/json.h"
#include "server/milvus_test_fixture.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

TEST(SplitQueryVectorsTest, TakesFloatArraysAndLeavesTheRest) {
  auto split = SplitQueryVectors(
      R"( { "collectionName" : "c", "data" :[ [1.5,-2, 3e2 ] ,[0.25,1E-1,-0.0]] , "limit":3 } )");
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(split->rest, R"( { "collectionName" : "c", "data" :null , "limit":3 } )");
  EXPECT_TRUE(split->vectors.from_json);
  EXPECT_FALSE(split->vectors.binary);
  ASSERT_EQ(split->vectors.values.size(), 2u);
  EXPECT_EQ(Floats(split->vectors.values[0]), std::vector<float>({1.5f, -2.f, 300.f}));
  EXPECT_EQ(Floats(split->vectors.values[1]), std::vector<float>({0.25f, 0.1f, -0.f}));

  // Other keys may hold anything, "data" among their own keys included.
  split = SplitQueryVectors(
      R"({"filter": "x == \"data\" or y in [1, 2]", "searchParams": {"data": [[1.5]],)"
      R"( "params": {"ef": 10}}, "n": null, "t": true, "data": [[0.5]]})");
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(Floats(split->vectors.values.at(0)), std::vector<float>({0.5f}));
}

TEST(SplitQueryVectorsTest, LeavesEverythingElseToTheParser) {
  for (const char* body : {
           "",
           "[]",
           "{}",
           R"({"collectionName": "c"})",
           R"({"data": []})",
           R"({"data": [[]]})",
           R"({"data": [[1, 2, 3]]})",         // integers only: perhaps a binary vector's bytes
           R"({"data": [[1.5, 2], [1, 2]]})",  // the second one, so
           R"({"data": ["AQI="]})",            // base64
           R"({"data": [1.5, 2.5]})",          // not an array of arrays
           R"({"data": [[1.5, "2"]]})",
           R"({"data": [[1.5, 2.5]], "data": [[1.5]]})",  // twice
           R"({"d\u0061ta": [[1.5]], "data": [[1.5]]})",  // escapes in a key
           R"({"data": [[1e39]]})",                       // beyond float's range
           R"({"data": [[01.5]]})",                       // no JSON number
           R"({"data": [[1.]]})",
           R"({"data": [[.5]]})",
           R"({"data": [[+1.5]]})",
           R"({"data": [[NaN]]})",
           R"({"data": [[1.5e]]})",
           R"({"data": [[1.5],]})",
           R"({"data": [[1.5]])",  // unterminated
           R"({"a": [}, "data": [[1.5]]})",
       }) {
    auto split = SplitQueryVectors(body);
    // The last one scans (its brackets are wrong where the scan only counts them): its
    // rest is no JSON either, and the caller parses the whole body then.
    if (std::string(body) == R"({"a": [}, "data": [[1.5]]})") {
      ASSERT_TRUE(split.has_value());
      EXPECT_FALSE(json::accept(split->rest));
      continue;
    }
    EXPECT_FALSE(split.has_value()) << body;
  }
}

class JsonVectorsSearchTest : public MilvusApiFixture {
 protected:
  void SetUp() override {
    MilvusApiFixture::SetUp();
    Ok("collections/create", {{"collectionName", "f"}, {"dimension", 3}, {"metricType", "L2"}});
    json rows = json::array();
    for (int i = 1; i <= 5; ++i) rows.push_back({{"id", i}, {"vector", {0.5, double(i), 0.25}}});
    Ok("entities/insert", {{"collectionName", "f"}, {"data", rows}});
    CreateBinaryCollection("b", 16, json::array({{{"id", 1}, {"v", {1, 2}}}}));
  }

  // The reply to `body` as REST text, and as the same body parsed as JSON first.
  void ExpectSameAnswer(const std::string& body) {
    json text = api_->Call("entities/search", body, false).ToJson();
    Result<json> parsed = base::ParseJson(body);
    if (!parsed.ok()) {  // the whole body's problem, where it is
      EXPECT_EQ(text, json({{"code", kMilvusIncorrectParameterFormat},
                            {"message", "the request body must be a JSON object: " +
                                            parsed.status().message()}}))
          << body;
      return;
    }
    EXPECT_EQ(text, api_->CallObject("entities/search", *parsed, false).ToJson()) << body;
  }
};

TEST_F(JsonVectorsSearchTest, AnswersAsTheParsedBody) {
  for (const char* body : {
           R"({"collectionName": "f", "data": [[0.5, 2.2, 0.25]], "limit": 2})",
           R"({"collectionName": "f", "data": [[0.5, 2.2, 0.25], [0.5, 4.9, 0.25]],
               "limit": 3, "outputFields": ["*"]})",
           R"({"data": [[5e-1, 22e-1, 2.5E-1]], "collectionName": "f"})",
           R"({"collectionName": "f", "data": [[0.5, 2.2]]})",               // wrong dimension
           R"({"collectionName": "f", "data": [[0.5, 2.2, 0.25, 1.0]]})",    // wrong dimension
           R"({"collectionName": "f", "data": [[0.5, 2, 0]], "limit": 0})",  // bad limit
           R"({"collectionName": "f", "data": [[1, 2, 3]]})",                // integers
           R"({"collectionName": "f", "data": [[1e39, 2.5, 1.5]]})",
           R"({"collectionName": "b", "data": [[1.5, 2.5]]})",  // floats for bytes
           R"({"collectionName": "b", "data": [[1, 2]]})",
           R"({"collectionName": "none", "data": [[0.5, 2.2, 0.25]]})",
           R"({"data": [[0.5, 2.2, 0.25]]})",
           R"({"collectionName": "f", "data": [[0.5, 2.2, 0.25]], "groupingField": "id"})",
           R"({"collectionName": "f", "data": [[0.5, 2.2, 0.25]], "limit": 2,)",  // no JSON
           R"({"collectionName": "f", "data": [[0.5, 2.2, 0.25]]} trailing)",
           R"({"collectionName": "f", "data": [[0.5, 2.2, 0.25]], "limit": [}])",
       }) {
    ExpectSameAnswer(body);
  }
}

}  // namespace
}  // namespace imgsearch::server
