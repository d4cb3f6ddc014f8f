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

TEST(SearchRequestTest, CutoffsOrderPagingAndCropFromJsonAndMultipart) {
  auto call = ParseJsonSearch(
      R"({"id": 7, "max_distance": {"phash": 10, "color_layout": 0.5}, "min_score": 0.8,
          "min_fused_score": 0.02, "order": "-date", "date_field": "taken", "offset": 20,
          "crop": [1, 2, 30, 40]})");
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  const SearchOptions& o = call->options;
  EXPECT_EQ(o.max_distance, (std::map<std::string, double>{{"phash", 10}, {"color_layout", 0.5}}));
  EXPECT_EQ(o.min_score, (std::map<std::string, double>{{"", 0.8}}));
  EXPECT_EQ(o.min_fused_score.value_or(-1), 0.02);
  EXPECT_EQ(o.order, "-date");
  EXPECT_EQ(o.date_field, "taken");
  EXPECT_EQ(o.offset, 20);
  ASSERT_TRUE(o.crop.has_value());
  EXPECT_EQ(o.crop->x + o.crop->y * 10 + o.crop->width * 100 + o.crop->height * 1000, 43021);

  httplib::MultipartFormDataMap parts;
  parts.insert({"image", {"image", "bytes", "a.jpg", "image/jpeg"}});
  parts.insert({"max_distance", {"max_distance", "{\"phash\": 9}", "", ""}});
  parts.insert({"min_fused_score", {"min_fused_score", "0.5", "", ""}});
  parts.insert({"order", {"order", "date", "", ""}});
  parts.insert({"offset", {"offset", "8", "", ""}});
  parts.insert({"crop", {"crop", "5,6,7,8", "", ""}});
  auto multipart = ParseMultipartSearch(parts);
  ASSERT_TRUE(multipart.ok()) << multipart.status().ToString();
  EXPECT_EQ(multipart->options.max_distance, (std::map<std::string, double>{{"phash", 9}}));
  EXPECT_EQ(multipart->options.min_fused_score.value_or(-1), 0.5);
  EXPECT_EQ(multipart->options.order, "date");
  EXPECT_EQ(multipart->options.offset, 8);
  ASSERT_TRUE(multipart->options.crop.has_value());
  EXPECT_EQ(multipart->options.crop->height, 8);

  for (const char* body :
       {R"({"id": 1, "max_distance": "10"})", R"({"id": 1, "min_score": {"a": "x"}})",
        R"({"id": 1, "min_fused_score": []})", R"({"id": 1, "order": 3})",
        R"({"id": 1, "offset": -1})", R"({"id": 1, "offset": 1.5})",
        R"({"id": 1, "crop": [1, 2, 3]})", R"({"id": 1, "crop": [1, 2, 3, -4]})",
        R"({"id": 1, "crop": "1,2,3,4"})"}) {
    auto refused = ParseJsonSearch(body);
    ASSERT_FALSE(refused.ok()) << body;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << body;
  }
  parts.erase("crop");
  parts.insert({"crop", {"crop", "5,6,x,8", "", ""}});
  EXPECT_FALSE(ParseMultipartSearch(parts).ok());
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
                                       {"confirm_model", "none"},
                                       {"rotations", "false"}});
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->hash_distance, 20);
  EXPECT_EQ(options->min_similarity, 0.75);
  EXPECT_EQ(options->hash_model, "phash");
  EXPECT_EQ(options->confirm_model, "none");
  EXPECT_FALSE(options->rotations);
  EXPECT_TRUE(ParseDuplicatesQuery({})->rotations);
  EXPECT_EQ(ParseDuplicatesQuery({})->hash_distance, DuplicateOptions{}.hash_distance);
  for (const httplib::Params& bad :
       std::vector<httplib::Params>{{{"hash_distance", "-1"}},
                                    {{"hash_distance", "99999"}},
                                    {{"hash_distance", ""}},
                                    {{"similarity", "1e400"}},
                                    {{"similarity", "0.9 "}},
                                    {{"similarity", ""}},
                                    {{"k", "3"}},
                                    {{"rotations", "yes"}},
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
