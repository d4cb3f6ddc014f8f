#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>

namespace imgsearch::base {
namespace {

TEST(ThreadPoolTest, ParallelForRunsEveryIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.ParallelFor(hits.size(), [&](size_t i) { hits[i]++; });
  for (const auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPoolTest, SubmitReturnsTheTaskResult) {
  ThreadPool pool(2);
  auto a = pool.Submit([] { return 6 * 7; });
  auto b = pool.Submit([] { return std::string("done"); });
  EXPECT_EQ(a.get(), 42);
  EXPECT_EQ(b.get(), "done");
}

TEST(ThreadPoolTest, DestructorFinishesQueuedTasks) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(1);
    for (int i = 0; i < 50; ++i) pool.Submit([&] { ran++; });
  }
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace imgsearch::base
