#include "server/time_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace imgsearch::server {
namespace {

using std::chrono::milliseconds;

TEST(TimeLimiterTest, AnswersValuesAndRethrowsErrors) {
  TimeLimiter limiter(2);
  EXPECT_EQ(limiter.Run<int>([] { return 42; }, milliseconds(10000)), 42);
  EXPECT_THROW(
      limiter.Run<int>([]() -> int { throw std::runtime_error("no"); }, milliseconds(10000)),
      std::runtime_error);
}

TEST(TimeLimiterTest, WorkPastTheLimitIsAbandonedButFinishedBeforeDestruction) {
  std::atomic<bool> finished{false};
  {
    TimeLimiter limiter(2);
    auto answer = limiter.Run<int>(
        [&] {
          std::this_thread::sleep_for(milliseconds(200));
          finished = true;
          return 1;
        },
        milliseconds(1));
    EXPECT_FALSE(answer.has_value());
    EXPECT_FALSE(finished);
  }
  EXPECT_TRUE(finished);
}

TEST(TimeLimiterTest, MoreCallersThanWorkersAllGetAnswers) {
  TimeLimiter limiter(2);
  std::atomic<int> answered{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&, i] {
      auto answer = limiter.Run<int>(
          [i] {
            std::this_thread::sleep_for(milliseconds(5));
            return i;
          },
          milliseconds(60000));
      if (answer == i) ++answered;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(answered, 8);
}

TEST(TimeLimiterTest, OneCallerAtATimeKeepsToOneWarmWorker) {
  TimeLimiter limiter(8);
  std::vector<std::thread::id> ran;
  for (int i = 0; i < 5; ++i) {
    // Time for the worker to go idle again before the next call.
    std::this_thread::sleep_for(milliseconds(50));
    ran.push_back(*limiter.Run<std::thread::id>([] { return std::this_thread::get_id(); },
                                                milliseconds(60000)));
  }
  for (const auto& id : ran) EXPECT_EQ(id, ran[0]);
}

}  // namespace
}  // namespace imgsearch::server
