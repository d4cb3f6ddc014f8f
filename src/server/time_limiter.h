// The per-request time limit for reads. The work runs on a pool thread while the HTTP
// worker waits up to the limit; past it the worker answers at once (503) and the work
// finishes in the background with its result dropped. Only reads run here, so giving up
// on one loses nothing; writes always finish (their acknowledgement is their durability).
// Time spent queued for a pool thread counts against the limit, so an overloaded server
// sheds reads instead of queueing them without end. The destructor finishes queued and
// abandoned work, which may still use the database, before it returns. Work goes to the
// worker that went idle last: one client's reads keep to one warm thread instead of
// visiting every worker in turn. Thread-safe.
#pragma once

#include <algorithm>
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
    for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
    for (auto& w : workers_) w->thread = std::thread([this, worker = w.get()] { Work(*worker); });
  }
  ~TimeLimiter() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    for (auto& w : workers_) w->wake.notify_one();
    for (auto& w : workers_) w->thread.join();
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
    Hand([outcome, work = std::move(work)] {
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
    std::unique_lock<std::mutex> lock(outcome->mutex);
    if (!outcome->done_cv.wait_for(lock, limit, [&] { return outcome->done; })) return {};
    if (outcome->error) std::rethrow_exception(outcome->error);
    return std::move(outcome->value);
  }

 private:
  struct Worker {
    std::condition_variable wake;
    std::function<void()> task;  // handed to this worker while it was idle
    std::thread thread;
  };

  // To the worker that went idle last (its stack and caches are the warmest), or to the
  // queue when none is idle.
  void Hand(std::function<void()> task) {
    Worker* worker = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (idle_.empty()) {
        queue_.push_back(std::move(task));
        return;
      }
      worker = idle_.back();
      idle_.pop_back();
      worker->task = std::move(task);
    }
    worker->wake.notify_one();
  }

  void Work(Worker& self) {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!queue_.empty()) {
          task = std::move(queue_.front());
          queue_.pop_front();
        } else if (stopping_) {
          return;  // nothing left to finish
        } else {
          idle_.push_back(&self);
          self.wake.wait(lock, [&] { return self.task || stopping_; });
          if (!self.task) {  // stopping: no longer idle, and the queue may hold work
            idle_.erase(std::find(idle_.begin(), idle_.end(), &self));
            continue;
          }
          task = std::move(self.task);
          self.task = nullptr;
        }
      }
      task();
    }
  }

  std::mutex mutex_;
  std::deque<std::function<void()>> queue_;  // work no idle worker could take
  std::vector<Worker*> idle_;                // the worker that went idle last at the back
  bool stopping_ = false;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace imgsearch::server
