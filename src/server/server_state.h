// Internal to the server: what a running server holds, shared by the native API
// (native_api.cc) and the routing, guards and lifecycle (server.cc).
#pragma once

#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "imgsearch/library.h"
#include "remote/redis_mirror.h"
#include "server/grpc/milvus_grpc.h"
#include "server/http_connection.h"
#include "server/milvus_api.h"
#include "server/request_metrics.h"
#include "server/server.h"
#include "server/time_limiter.h"

namespace imgsearch::server {

struct Server::State {
  ServerOptions options;
  std::unique_ptr<Library> library;
  std::unique_ptr<MilvusApi> milvus;
  RequestMetrics metrics;
  // After db and models: its destructor finishes abandoned reads, which use them.
  std::unique_ptr<TimeLimiter> limiter;
  HttpServer http;
  std::unique_ptr<MilvusGrpcServer> grpc;  // when serving gRPC; after `milvus`, which it calls
  std::unique_ptr<Watcher> watcher;        // with watched folders; after `library`, which it uses

  // Stop() may come before Run() has started listening (a SIGTERM right at start):
  // whichever of the two sees the other's flag acts on it.
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> run_entered{false};
  std::atomic<bool> listening_ended{false};

  // The Redis mirror, if any. A failed update is logged and marks it stale; the next
  // update then syncs it in full.
  std::mutex mirror_mutex;
  std::unique_ptr<remote::RedisMirror> mirror;
  bool mirror_stale = false;
  void MirrorImage(int64_t id, bool removed);

  std::mutex thumbnails_mutex;
  std::map<int64_t, std::string> thumbnails;

  // --- native API (native_api.cc) ---
  void Health(httplib::Response& res) const;
  void Search(const httplib::Request& req, httplib::Response& res);
  void Image(const httplib::Request& req, httplib::Response& res) const;
  void Thumbnail(const httplib::Request& req, httplib::Response& res);
  void Upload(const httplib::Request& req, httplib::Response& res);
  void Delete(const httplib::Request& req, httplib::Response& res);
  void Duplicates(const httplib::Request& req, httplib::Response& res);

  // --- routing (server.cc) ---
  void Routes();
  void Milvus(const MilvusRoute& route, const httplib::Request& req, httplib::Response& res);
  // The time limit for this request: the server's, or a shorter "Request-Timeout".
  std::chrono::milliseconds TimeLimit(const httplib::Request& req) const;
  // Runs a read under the time limit; nothing if it ran out.
  template <typename T>
  std::optional<T> WithinTimeLimit(const httplib::Request& req, std::function<T()> work) {
    return limiter->Run<T>(std::move(work), TimeLimit(req));
  }
  std::string TimeLimitMessage(const httplib::Request& req) const;
};

}  // namespace imgsearch::server
