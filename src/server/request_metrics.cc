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

}  // namespace imgsearch::server
