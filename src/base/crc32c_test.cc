#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace imgsearch::base {
namespace {

TEST(Crc32cTest, StandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

TEST(Crc32cTest, HardwareMatchesPortableOnEveryLengthAndAlignment) {
  std::mt19937 rng(5);
  std::string data(300, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t size = 0; start + size <= data.size(); size += 7) {
      EXPECT_EQ(Crc32c(data.data() + start, size), Crc32cPortable(data.data() + start, size));
    }
  }
}

}  // namespace
}  // namespace imgsearch::base
