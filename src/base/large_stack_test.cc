#include "base/large_stack.h"

#include <gtest/gtest.h>

#include <cstring>

namespace imgsearch::base {
namespace {

// Touches `bytes` of stack through a frame of its own.
size_t UseStack(size_t bytes) {
  volatile char block[1 << 20];
  std::memset(const_cast<char*>(block), 1, sizeof(block));
  return block[0] + (bytes > sizeof(block) ? UseStack(bytes - sizeof(block)) : 0);
}

TEST(LargeStackTest, RunsWorkThatNeedsMoreThanTheMainStack) {
  size_t touched = 0;
  // 64 MiB is eight times the usual main-thread stack.
  Status status = RunOnLargeStack(size_t{80} << 20, [&] { touched = UseStack(size_t{64} << 20); });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_GE(touched, 64u);
}

TEST(LargeStackTest, CommandLineBytesCountsThisProcess) {
  EXPECT_GT(CommandLineBytes(), std::strlen("large_stack_test"));
}

}  // namespace
}  // namespace imgsearch::base
