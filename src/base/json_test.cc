#include "base/json.h"

#include <gtest/gtest.h>

namespace imgsearch::base {
namespace {

std::string Nested(int levels, char open, char close) {
  return std::string(levels, open) + "1" + std::string(levels, close);
}

TEST(JsonTest, NestingDepthSkipsStringsAndStopsEarly) {
  EXPECT_EQ(JsonNestingDepth(R"({"a": [1, {"b": 2}], "c": "[[[{{{"})"), 3);
  EXPECT_EQ(JsonNestingDepth(R"(["\"[[[", "\\", [[]]])"), 3);
  EXPECT_EQ(JsonNestingDepth("42"), 0);
  EXPECT_EQ(JsonNestingDepth(Nested(100000, '[', ']'), 300), 300);
}

TEST(JsonTest, ParsesWithinTheLimitAndRefusesDeeper) {
  auto ok = ParseJson(Nested(kMaxJsonNesting, '[', ']'));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  nlohmann::json copy = *ok;  // copying recurses: fine at this depth
  EXPECT_EQ(copy, *ok);
  for (const std::string& deep : {Nested(kMaxJsonNesting + 1, '[', ']'), Nested(100000, '[', ']'),
                                  std::string(100000, '[') /* unclosed as well */}) {
    auto refused = ParseJson(deep);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("nested more than 256 levels"), std::string::npos);
  }
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_FALSE(ParseJson(objects + "1" + std::string(100000, '}')).ok());
}

TEST(JsonTest, MalformedJsonNamesTheByte) {
  auto bad = ParseJson(R"({"a": 1,})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("at byte 9"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(ParseJson("").ok());
}

// Found by fuzz/native_api_fuzzer: a number too large for a double made nlohmann throw
// out_of_range, which ParseJson let through to every caller (request bodies, sidecars,
// the MANIFEST).
TEST(JsonTest, NumberOverflowIsInvalidArgumentNotAnException) {
  for (const char* text : {"1e400", R"({"k": -1e400})", "[1, 2e999]"}) {
    auto bad = ParseJson(text);
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(JsonTest, Utf8IsCheckedAsTheSerializerDoes) {
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));
  EXPECT_TRUE(IsValidUtf8(""));
  for (const char* bad :
       {"\xff", "\xc3", "\xc0\xaf" /* overlong */, "\xed\xa0\x80" /* surrogate */})
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
}

}  // namespace
}  // namespace imgsearch::base
