// The gRPC transport's search path without the network (AnswerMilvusCall, as the server
// calls it): query vectors decoded from the PlaceholderGroup straight into the dialect,
// answers equal to the REST dialect's, and every malformed placeholder refused with
// Milvus's code, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "milvus.pb.h"
#include "server/grpc/milvus_grpc.h"
#include "server/milvus_test_fixture.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;
namespace milvuspb = milvus::proto::milvus;
namespace commonpb = milvus::proto::common;

std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::string Group(commonpb::PlaceholderType type, const std::vector<std::string>& values) {
  commonpb::PlaceholderGroup group;
  commonpb::PlaceholderValue* p = group.add_placeholders();
  p->set_tag("$0");
  p->set_type(type);
  for (const std::string& v : values) p->add_values(v);
  return group.SerializeAsString();
}

// A SearchRequest as pymilvus's MilvusClient.search sends it.
milvuspb::SearchRequest Request(const std::string& collection, const std::string& group,
                                int limit = 3) {
  milvuspb::SearchRequest request;
  request.set_collection_name(collection);
  request.set_placeholder_group(group);
  request.set_dsl_type(commonpb::DslType::BoolExprV1);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"anns_field", ""}, {"topk", std::to_string(limit)}, {"params", "{}"}}) {
    commonpb::KeyValuePair* kv = request.add_search_params();
    kv->set_key(key);
    kv->set_value(value);
  }
  return request;
}

class MilvusGrpcCallsTest : public MilvusApiFixture {
 protected:
  void SetUp() override {
    MilvusApiFixture::SetUp();
    CreateSixRowCollection("f");
    json bits = json::array();
    for (int i = 1; i <= 4; ++i) bits.push_back({{"id", i}, {"v", {i, 255 - i}}});
    CreateBinaryCollection("b", 16, bits);
  }

  milvuspb::SearchResults Search(const milvuspb::SearchRequest& request) {
    GrpcAnswer answer = AnswerMilvusCall(*api_, "Search", request.SerializeAsString(), 1);
    EXPECT_EQ(answer.code, GrpcCode::kOk) << answer.message;
    milvuspb::SearchResults results;
    EXPECT_TRUE(results.ParseFromString(answer.response));
    return results;
  }

  // A search that must fail with `code` and a message containing `text`.
  void Refused(const milvuspb::SearchRequest& request, int code, const std::string& text) {
    milvuspb::SearchResults results = Search(request);
    EXPECT_EQ(results.status().code(), code) << results.status().reason();
    EXPECT_NE(results.status().reason().find(text), std::string::npos) << results.status().reason();
    EXPECT_EQ(results.results().ids().int_id().data_size(), 0);
  }
};

TEST_F(MilvusGrpcCallsTest, FloatSearchAnswersAsTheRestDialect) {
  std::vector<std::vector<float>> queries = {{1, 2.2f, 0.5f, 0}, {1, 5.1f, 0.5f, 0}};
  milvuspb::SearchResults results = Search(
      Request("f", Group(commonpb::FloatVector, {FloatBytes(queries[0]), FloatBytes(queries[1])})));
  ASSERT_EQ(results.status().code(), 0) << results.status().reason();
  json rest = MilvusApiFixture::Call("entities/search",
                                     {{"collectionName", "f"}, {"data", queries}, {"limit", 3}});
  ASSERT_EQ(rest["code"], 0) << rest.dump();
  const auto& r = results.results();
  EXPECT_EQ(r.num_queries(), 2);
  EXPECT_EQ(r.top_k(), 3);
  ASSERT_EQ(r.topks_size(), 2);
  EXPECT_EQ(r.topks(0), 3);
  EXPECT_EQ(r.topks(1), 3);
  EXPECT_EQ(r.primary_field_name(), "id");
  EXPECT_EQ(r.fields_data_size(), 0);  // no output fields asked for
  ASSERT_EQ(r.ids().int_id().data_size(), 6);
  ASSERT_EQ(r.scores_size(), 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(r.ids().int_id().data(i), rest["data"][i]["id"]) << i;
    EXPECT_FLOAT_EQ(r.scores(i), rest["data"][i]["distance"].get<float>()) << i;
  }
  EXPECT_EQ(r.ids().int_id().data(0), 2);
  EXPECT_EQ(r.ids().int_id().data(3), 5);
}

TEST_F(MilvusGrpcCallsTest, OutputFieldsComeAsTypedColumns) {
  milvuspb::SearchRequest request =
      Request("f", Group(commonpb::FloatVector, {FloatBytes({1, 3, 0.5f, 0})}), 2);
  request.add_output_fields("tag");
  request.add_output_fields("id");
  milvuspb::SearchResults results = Search(request);
  ASSERT_EQ(results.status().code(), 0) << results.status().reason();
  const auto& r = results.results();
  ASSERT_EQ(r.ids().int_id().data_size(), 2);
  EXPECT_EQ(r.ids().int_id().data(0), 3);
  std::map<std::string, const milvus::proto::schema::FieldData*> columns;
  for (const auto& f : r.fields_data()) columns[f.field_name()] = &f;
  // "tag" is a dynamic key of the quick collection: it comes in the $meta column.
  ASSERT_EQ(columns.size(), 2u);
  ASSERT_EQ(columns.count("id"), 1u);
  ASSERT_EQ(columns.count("$meta"), 1u);
  EXPECT_EQ(columns["id"]->scalars().long_data().data(0), 3);
  ASSERT_EQ(columns["$meta"]->scalars().json_data().data_size(), 2);
  EXPECT_EQ(json::parse(columns["$meta"]->scalars().json_data().data(0)), json({{"tag", 30}}));
}

TEST_F(MilvusGrpcCallsTest, BinarySearchAnswersAsTheRestDialect) {
  std::string query = {char(2), char(253)};
  milvuspb::SearchResults results = Search(Request("b", Group(commonpb::BinaryVector, {query})));
  ASSERT_EQ(results.status().code(), 0) << results.status().reason();
  json rest = MilvusApiFixture::Call("entities/search",
                                     {{"collectionName", "b"}, {"data", {{2, 253}}}, {"limit", 3}});
  ASSERT_EQ(rest["code"], 0) << rest.dump();
  ASSERT_EQ(results.results().ids().int_id().data_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(results.results().ids().int_id().data(i), rest["data"][i]["id"]) << i;
    EXPECT_FLOAT_EQ(results.results().scores(i), rest["data"][i]["distance"].get<float>());
  }
  EXPECT_EQ(results.results().ids().int_id().data(0), 2);
  EXPECT_EQ(results.results().scores(0), 0);
}

TEST_F(MilvusGrpcCallsTest, MalformedPlaceholdersAreRefusedWithMilvusCodes) {
  // Wrong dimension, for float and for binary vectors.
  Refused(Request("f", Group(commonpb::FloatVector, {FloatBytes({1, 2, 3})})), 1804,
          "the vector has 3 values but the collection's dimension is 4");
  Refused(Request("b", Group(commonpb::BinaryVector, {std::string(3, 'x')})), 1804,
          "the vector has 24 bits but the collection's dimension is 16");
  // Bytes that are no whole float32 values (a truncated vector).
  Refused(Request("f", Group(commonpb::FloatVector, {FloatBytes({1, 2, 3, 4}).substr(0, 15)})),
          1100, "whole float32 values");
  // The type of vector the collection does not hold, either way round.
  Refused(Request("f", Group(commonpb::BinaryVector, {std::string(16, 'x')})), 1100,
          "holds float vectors");
  Refused(Request("b", Group(commonpb::FloatVector, {FloatBytes({1, 2, 3, 4})})), 1100,
          "holds binary vectors");
  // Types imgsearch does not search with.
  Refused(Request("f", Group(commonpb::Int64, {FloatBytes({1, 2, 3, 4})})), 1100,
          "float or binary vectors");
  Refused(Request("f", Group(commonpb::SparseFloatVector, {"abc"})), 1100,
          "float or binary vectors");
  // No vectors, two placeholders, and bytes that are no PlaceholderGroup at all.
  Refused(Request("f", Group(commonpb::FloatVector, {})), 1801, "non-empty");
  commonpb::PlaceholderGroup two;
  two.ParseFromString(Group(commonpb::FloatVector, {FloatBytes({1, 2, 3, 4})}));
  *two.add_placeholders() = two.placeholders(0);
  Refused(Request("f", two.SerializeAsString()), 1100, "one placeholder");
  std::string group = Group(commonpb::FloatVector, {FloatBytes({1, 2, 3, 4})});
  Refused(Request("f", group.substr(0, group.size() - 5)), 1801, "not a PlaceholderGroup");
  Refused(Request("f", "\xff\xff\xff"), 1801, "not a PlaceholderGroup");
  // Values JSON cannot carry.
  Refused(Request("f", Group(commonpb::FloatVector,
                             {FloatBytes({1, std::numeric_limits<float>::quiet_NaN(), 3, 4})})),
          1804, "finite");
  Refused(Request("f", Group(commonpb::FloatVector,
                             {FloatBytes({1, std::numeric_limits<float>::infinity(), 3, 4})})),
          1804, "finite");
  // The second vector of two is the bad one: it is named.
  Refused(Request("f", Group(commonpb::FloatVector, {FloatBytes({1, 2, 3, 4}), "xyzw"})), 1804,
          "query vector 1:");
  // A collection that does not exist.
  Refused(Request("none", Group(commonpb::FloatVector, {FloatBytes({1, 2, 3, 4})})), 100,
          "collection not found");
}

TEST_F(MilvusGrpcCallsTest, TruncatedSearchRequestsAreInvalidArguments) {
  std::string bytes =
      Request("f", Group(commonpb::FloatVector, {FloatBytes({1, 2, 3, 4})})).SerializeAsString();
  for (size_t cut = 1; cut < bytes.size(); cut += 7) {
    GrpcAnswer answer = AnswerMilvusCall(*api_, "Search", bytes.substr(0, cut), 1);
    if (answer.code == GrpcCode::kOk) {
      // A prefix that still parses is a request that lacks something: a Milvus error.
      milvuspb::SearchResults results;
      ASSERT_TRUE(results.ParseFromString(answer.response));
      EXPECT_NE(results.status().code(), 0) << cut;
      EXPECT_NE(results.status().code(), 65535) << cut << results.status().reason();
    } else {
      EXPECT_EQ(answer.code, GrpcCode::kInvalidArgument) << cut;
    }
  }
}

TEST_F(MilvusGrpcCallsTest, HybridSearchTakesEachRequestsVectors) {
  milvuspb::HybridSearchRequest request;
  request.set_collection_name("f");
  *request.add_requests() =
      Request("f", Group(commonpb::FloatVector, {FloatBytes({1, 2, 0.5f, 0})}));
  *request.add_requests() =
      Request("f", Group(commonpb::FloatVector, {FloatBytes({1, 6, 0.5f, 0})}));
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"strategy", "rrf"}, {"params", "{\"k\": 60}"}, {"limit", "2"}}) {
    commonpb::KeyValuePair* kv = request.add_rank_params();
    kv->set_key(key);
    kv->set_value(value);
  }
  GrpcAnswer answer = AnswerMilvusCall(*api_, "HybridSearch", request.SerializeAsString(), 1);
  ASSERT_EQ(answer.code, GrpcCode::kOk) << answer.message;
  milvuspb::SearchResults results;
  ASSERT_TRUE(results.ParseFromString(answer.response));
  ASSERT_EQ(results.status().code(), 0) << results.status().reason();
  // Each search's best hit ranks first in its own list: rrf ties them, the smaller id first.
  ASSERT_EQ(results.results().ids().int_id().data_size(), 2);
  EXPECT_EQ(results.results().ids().int_id().data(0), 2);
  EXPECT_EQ(results.results().ids().int_id().data(1), 6);

  // A bad vector in the second request is named as in a search.
  *request.mutable_requests(1) = Request("f", Group(commonpb::FloatVector, {FloatBytes({1})}));
  answer = AnswerMilvusCall(*api_, "HybridSearch", request.SerializeAsString(), 1);
  ASSERT_EQ(answer.code, GrpcCode::kOk);
  ASSERT_TRUE(results.ParseFromString(answer.response));
  EXPECT_EQ(results.status().code(), 1804) << results.status().reason();
}

TEST_F(MilvusGrpcCallsTest, ASuccessCarriesItsStatusAsMilvusDoes) {
  milvuspb::DescribeCollectionRequest describe;
  describe.set_collection_name("f");
  GrpcAnswer answer =
      AnswerMilvusCall(*api_, "DescribeCollection", describe.SerializeAsString(), 1);
  ASSERT_EQ(answer.code, GrpcCode::kOk) << answer.message;
  milvuspb::DescribeCollectionResponse described;
  ASSERT_TRUE(described.ParseFromString(answer.response));
  EXPECT_TRUE(described.has_status());
  EXPECT_EQ(described.status().code(), 0);
  EXPECT_EQ(described.collection_name(), "f");

  milvuspb::GetLoadingProgressRequest progress;
  progress.set_collection_name("f");
  answer = AnswerMilvusCall(*api_, "GetLoadingProgress", progress.SerializeAsString(), 1);
  ASSERT_EQ(answer.code, GrpcCode::kOk) << answer.message;
  milvuspb::GetLoadingProgressResponse loading;
  ASSERT_TRUE(loading.ParseFromString(answer.response));
  EXPECT_TRUE(loading.has_status());
  EXPECT_EQ(loading.status().code(), 0);
}

}  // namespace
}  // namespace imgsearch::server
