// Request counts and time per route, and the database's state, in Prometheus's text
// format for GET /metrics. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "imgsearch/database.h"
#include "imgsearch/watch.h"

namespace imgsearch::server {

class RequestMetrics {
 public:
  void Record(const std::string& route, int status, double seconds);
  // Requests and latencies, then rows, pending rows and snapshot lag per collection.
  std::string Prometheus(const Database& db) const;

 private:
  struct RouteStats {
    std::map<int, uint64_t> by_status;
    double seconds = 0;
    uint64_t count = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::string, RouteStats> routes_;
};

// A watcher's progress (serve --watch) in the same format: imgsearch_watch_*.
std::string WatchPrometheus(const WatchStats& stats);

}  // namespace imgsearch::server
