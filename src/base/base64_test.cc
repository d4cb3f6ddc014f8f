#include "base/base64.h"

#include <gtest/gtest.h>

#include <random>

namespace imgsearch::base {
namespace {

TEST(Base64Test, KnownVectorsFromRfc4648) {
  const std::pair<const char*, const char*> cases[] = {{"", ""},
                                                       {"f", "Zg=="},
                                                       {"fo", "Zm8="},
                                                       {"foo", "Zm9v"},
                                                       {"foob", "Zm9vYg=="},
                                                       {"fooba", "Zm9vYmE="},
                                                       {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::string(plain));
  }
}

TEST(Base64Test, RoundTripsEveryByteValueAndLength) {
  std::mt19937 rng(7);
  for (size_t n = 0; n < 64; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = char(rng() & 0xff);
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes) << n;
  }
}

TEST(Base64Test, RefusesMalformedText) {
  EXPECT_FALSE(Base64Decode("Zg=").has_value());       // not a multiple of 4
  EXPECT_FALSE(Base64Decode("Z!==").has_value());      // outside the alphabet
  EXPECT_FALSE(Base64Decode("=Zg=").has_value());      // padding in the middle
  EXPECT_FALSE(Base64Decode("Zg==Zg==").has_value());  // padding before the end
  EXPECT_FALSE(Base64Decode("Zg=a").has_value());      // a character after padding
}

}  // namespace
}  // namespace imgsearch::base
