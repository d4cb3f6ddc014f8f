#include "server/request_metrics.h"

namespace imgsearch::server {

void RequestMetrics::Record(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  RouteStats& stats = routes_[route];
  ++stats.by_status[status];
  stats.seconds += seconds;
  ++stats.count;
}

std::string RequestMetrics::Prometheus(const Database& db) const {
  std::string requests =
      "# HELP imgsearch_requests_total HTTP requests by route and status.\n"
      "# TYPE imgsearch_requests_total counter\n";
  std::string seconds =
      "# HELP imgsearch_request_seconds Time spent answering, by route.\n"
      "# TYPE imgsearch_request_seconds summary\n";
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [route, s] : routes_) {
      for (const auto& [status, n] : s.by_status) {
        requests += "imgsearch_requests_total{route=\"" + route + "\",status=\"" +
                    std::to_string(status) + "\"} " + std::to_string(n) + "\n";
      }
      seconds += "imgsearch_request_seconds_sum{route=\"" + route + "\"} " +
                 std::to_string(s.seconds) + "\n";
      seconds += "imgsearch_request_seconds_count{route=\"" + route + "\"} " +
                 std::to_string(s.count) + "\n";
    }
  }
  std::string rows =
      "# HELP imgsearch_rows Live rows per collection.\n# TYPE imgsearch_rows gauge\n";
  std::string pending =
      "# HELP imgsearch_pending_rows Rows searched exactly until indexed.\n"
      "# TYPE imgsearch_pending_rows gauge\n";
  std::string lag =
      "# HELP imgsearch_snapshot_lag Changes not yet in the index snapshot on disk.\n"
      "# TYPE imgsearch_snapshot_lag gauge\n";
  for (const std::string& name : db.ListCollections()) {
    auto collection = db.GetCollection(name);
    if (!collection.ok()) continue;  // dropped meanwhile
    CollectionStats s = (*collection)->Stats();
    std::string label = "{collection=\"" + name + "\"} ";
    rows += "imgsearch_rows" + label + std::to_string(s.row_count) + "\n";
    pending += "imgsearch_pending_rows" + label + std::to_string(s.pending_rows) + "\n";
    lag += "imgsearch_snapshot_lag" + label +
           std::to_string(s.last_sequence - s.snapshot_sequence) + "\n";
  }
  return requests + seconds + rows + pending + lag;
}

std::string WatchPrometheus(const WatchStats& stats) {
  struct Metric {
    const char* name;
    const char* type;
    const char* help;
    uint64_t value;
  };
  const Metric metrics[] = {
      {"indexed_total", "counter", "Files added or updated by the watcher.", stats.indexed},
      {"removed_total", "counter", "Images removed because their file went away.", stats.removed},
      {"moved_total", "counter", "Images whose file was renamed or moved (not embedded again).",
       stats.moved},
      {"errors_total", "counter", "Files the watcher could not index, and failed batches.",
       stats.failed},
      {"batches_total", "counter", "Batches of changes handed to the library.", stats.batches},
      {"rescans_total", "counter", "Rescans of the watched folders (start, periodic, fallback).",
       stats.rescans},
      {"overflows_total", "counter", "Times change notifications were lost (then a rescan).",
       stats.overflows},
      {"pending", "gauge", "Files waiting to settle or to be indexed.", stats.pending},
      {"watched_folders", "gauge", "Folders watched by change notification.", stats.watched},
      {"unwatched_folders", "gauge", "Folders left to rescans (fallback: no watch possible).",
       stats.unwatched},
      {"caught_up", "gauge", "1 once the rescan at start is done.", stats.caught_up ? 1u : 0u},
  };
  std::string text;
  for (const Metric& m : metrics) {
    std::string name = std::string("imgsearch_watch_") + m.name;
    text += "# HELP " + name + " " + m.help + "\n# TYPE " + name + " " + m.type + "\n" + name +
            " " + std::to_string(m.value) + "\n";
  }
  return text;
}

}  // namespace imgsearch::server
