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

TEST(Crc32cTest, ExtendingOverPiecesEqualsTheWhole) {
  std::string data = "a file written in several pieces, checksummed as it goes";
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    uint32_t head = Crc32c(data.data(), cut);
    EXPECT_EQ(Crc32cExtend(head, data.data() + cut, data.size() - cut),
              Crc32c(data.data(), data.size()));
    EXPECT_EQ(Crc32cPortable(data.data() + cut, data.size() - cut, head),
              Crc32c(data.data(), data.size()));
  }
}

}  // namespace
}  // namespace imgsearch::base
