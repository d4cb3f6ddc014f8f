// The per-request time limit for reads. The work runs on a pool thread while the HTTP
// worker waits up to the limit; past it the worker answers at once (503) and the work
// finishes in the background with its result dropped. Only reads run here, so giving up
// on one loses nothing; writes always finish (their acknowledgement is their durability).
// Time spent queued for a pool thread counts against the limit, so an overloaded server
// sheds reads instead of queueing them without end. The destructor finishes queued and
// abandoned work, which may still use the database, before it returns.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace imgsearch::server {

class TimeLimiter {
 public:
  explicit TimeLimiter(int threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~TimeLimiter() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  // The work's result, or nothing if it took longer than `limit`. An exception thrown by
  // the work is rethrown here.
  template <typename T>
  std::optional<T> Run(std::function<T()> work, std::chrono::milliseconds limit) {
    struct Outcome {
      std::mutex mutex;
      std::condition_variable done_cv;
      bool done = false;
      std::optional<T> value;
      std::exception_ptr error;
    };
    auto outcome = std::make_shared<Outcome>();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back([outcome, work = std::move(work)] {
        std::optional<T> value;
        std::exception_ptr error;
        try {
          value = work();
        } catch (...) {
          error = std::current_exception();
        }
        {
          std::lock_guard<std::mutex> lock(outcome->mutex);
          outcome->value = std::move(value);
          outcome->error = error;
          outcome->done = true;
        }
        outcome->done_cv.notify_all();
      });
    }
    wake_.notify_one();
    std::unique_lock<std::mutex> lock(outcome->mutex);
    if (!outcome->done_cv.wait_for(lock, limit, [&] { return outcome->done; })) return {};
    if (outcome->error) std::rethrow_exception(outcome->error);
    return std::move(outcome->value);
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left to finish
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace imgsearch::server
