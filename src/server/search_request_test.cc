#include "server/search_request.h"

#include <gtest/gtest.h>

namespace imgsearch::server {
namespace {

TEST(SearchRequestTest, JsonSearchReadsEveryKey) {
  auto call = ParseJsonSearch(
      R"({"id": 7, "k": 3, "filter": "width > 1", "fuse": "rrf", "models": ["phash"],
          "exclude_self": true, "rerank": "qe:3"})");
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->query.id, 7);
  EXPECT_EQ(call->label, "id:7");
  EXPECT_EQ(call->options.k, 3);
  EXPECT_EQ(call->options.filter, "width > 1");
  EXPECT_EQ(call->options.fuse, "rrf");
  EXPECT_EQ(call->options.only, std::vector<std::string>{"phash"});
  EXPECT_TRUE(call->options.exclude_self);
  EXPECT_EQ(call->options.rerank, "qe:3");
}

// Found by fuzz/native_api_fuzzer: a k of 3e49 converted to int (undefined behaviour), and
// a body holding 1e400 threw out of the JSON parser.
TEST(SearchRequestTest, BadKAndHugeNumbersAreRefused) {
  for (const char* body :
       {R"({"id": 1, "k": 3e49})", R"({"id": 1, "k": 2.5})", R"({"id": 1, "k": 4294967299})",
        R"({"id": 1, "k": -1})", R"({"id": 1, "k": "5"})", R"({"id": 1e400})", "1e400{"}) {
    auto call = ParseJsonSearch(body);
    ASSERT_FALSE(call.ok()) << body;
    EXPECT_EQ(call.status().code(), StatusCode::kInvalidArgument) << body;
  }
}

TEST(SearchRequestTest, DuplicatesQueryReadsEveryParameterAndRefusesOthers) {
  auto options = ParseDuplicatesQuery({{"hash_distance", "20"},
                                       {"similarity", "0.75"},
                                       {"hash_model", "phash"},
                                       {"confirm_model", "none"}});
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->hash_distance, 20);
  EXPECT_EQ(options->min_similarity, 0.75);
  EXPECT_EQ(options->hash_model, "phash");
  EXPECT_EQ(options->confirm_model, "none");
  EXPECT_EQ(ParseDuplicatesQuery({})->hash_distance, DuplicateOptions{}.hash_distance);
  for (const httplib::Params& bad :
       std::vector<httplib::Params>{{{"hash_distance", "-1"}},
                                    {{"hash_distance", "99999"}},
                                    {{"hash_distance", ""}},
                                    {{"similarity", "1e400"}},
                                    {{"similarity", "0.9 "}},
                                    {{"similarity", ""}},
                                    {{"k", "3"}},
                                    {{"hash_model", "a"}, {"hash_model", "b"}}}) {
    auto refused = ParseDuplicatesQuery(bad);
    ASSERT_FALSE(refused.ok()) << bad.begin()->first << "=" << bad.begin()->second;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(SearchRequestTest, MultipartFieldsAndAFileNameThatIsNotUtf8) {
  httplib::MultipartFormDataMap parts;
  parts.insert({"image", {"image", "bytes", "caf\xe9.jpg", "image/jpeg"}});
  parts.insert({"k", {"k", "4", "", ""}});
  parts.insert({"models", {"models", "a,,b", "", ""}});
  parts.insert({"models", {"models", "c", "", ""}});
  auto call = ParseMultipartSearch(parts);
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->query.bytes, "bytes");
  EXPECT_EQ(call->label, "upload");  // the answer's JSON could not hold the name
  EXPECT_EQ(call->options.k, 4);
  EXPECT_EQ(call->options.only, (std::vector<std::string>{"a", "b", "c"}));
  auto fields = ParseUploadFields(parts);
  ASSERT_TRUE(fields.ok());
  EXPECT_TRUE(fields->is_null());
  parts.insert({"fields", {"fields", "[1]", "", ""}});
  EXPECT_FALSE(ParseUploadFields(parts).ok());
}

}  // namespace
}  // namespace imgsearch::server
