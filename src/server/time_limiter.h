// The per-request time limit for reads. The work runs on its own thread while the HTTP
// worker waits up to the limit; past it the worker answers at once (503) and the work
// finishes in the background with its result dropped. Only reads run here, so giving up
// on one loses nothing; writes always finish (their acknowledgement is their durability).
// The destructor waits for abandoned work, which may still use the database.
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace imgsearch::server {

class TimeLimiter {
 public:
  ~TimeLimiter() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return running_ == 0; });
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
      ++running_;
    }
    std::thread([this, outcome, work = std::move(work)] {
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
      std::lock_guard<std::mutex> lock(mutex_);
      if (--running_ == 0) idle_.notify_all();
    }).detach();
    std::unique_lock<std::mutex> lock(outcome->mutex);
    if (!outcome->done_cv.wait_for(lock, limit, [&] { return outcome->done; })) return {};
    if (outcome->error) std::rethrow_exception(outcome->error);
    return std::move(outcome->value);
  }

 private:
  std::mutex mutex_;
  std::condition_variable idle_;
  int running_ = 0;
};

}  // namespace imgsearch::server
