// Server: imgsearch over HTTP. A native JSON API for images (search by upload or id,
// upload, images and thumbnails by id, delete), the Milvus REST v2 dialect under
// /v2/vectordb/, a web page at /, and Prometheus metrics. Safe by default: binds
// 127.0.0.1; refuses any other address unless tokens are configured; every request needs
// a token when tokens exist (read scope for reads, write scope for changes); request
// bodies and image sizes are limited; reads have a time limit; images are served by id
// only, so no path from a request reaches the file system; CORS is off unless origins are
// listed; every error is JSON with a message. Thread-safe; Stop() may be called from any
// thread and lets running requests finish, then Run() flushes every collection.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "imgsearch/database.h"
#include "imgsearch/status.h"
#include "imgsearch/watch.h"

namespace imgsearch::server {

struct Token {
  std::string value;
  bool write = false;  // read scope always; write scope when set
};

// The scope a credential gives: -1 none, 0 read, 1 write. Without configured tokens,
// everybody may write.
int TokenScope(const std::vector<Token>& tokens, const std::string& credential);

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see Bind)
  std::vector<Token> tokens;
  size_t max_body_bytes = 32u << 20;       // larger requests get 413
  uint64_t max_image_pixels = 50'000'000;  // uploads over this get 413
  int socket_timeout_seconds = 30;         // a client this slow to send or read is dropped
  // Reads (searches, queries, gets) answer 503 past this (the Milvus dialect 408 with
  // code 10001, as Milvus does); a Milvus client's "Request-Timeout" header may shorten it.
  double request_time_limit_seconds = 30;
  std::vector<std::string> cors_origins;  // browsers' origins allowed to call; none: no CORS
  // The Milvus dialect answers errors with HTTP 200 and the code in the body, as Milvus
  // does; set this to also carry them in the HTTP status (4xx/5xx).
  bool milvus_http_status = false;
  int threads = 32;  // connections served at once (keep-alive connections hold one each)
  // With a URL (redis://HOST:PORT/DB), id -> path and fields are mirrored into Redis as
  // `imgsearch index --redis-url` does: in full at start, then upload by upload.
  std::string redis_url;
  // A library in Milvus (db milvus://HOST:PORT): how to reach it, and the folder that
  // keeps uploads (every serve process in front of one Milvus should share it).
  MilvusOptions milvus;
  std::string uploads_dir;
  // Milvus's gRPC protocol (MilvusService) on its own port, beside HTTP: 0 off, -1 any
  // free port (see Server::grpc_port). When the port is taken, Bind fails if
  // grpc_required, else the server goes on without gRPC and says so in the log.
  int grpc_port = 0;
  bool grpc_required = true;
  size_t max_grpc_message_bytes = 256u << 20;  // Milvus's own limit for a request
  // Folders kept in step with the library while serving (none: no watcher); their
  // progress shows in /metrics as imgsearch_watch_*.
  WatchOptions watch;
};

class Server {
 public:
  // Opens the database and its models (those recorded by `imgsearch index`).
  static Result<std::unique_ptr<Server>> Create(const std::string& db_dir,
                                                const ServerOptions& options);
  ~Server();

  // Binds the socket and starts gRPC (if asked); returns the HTTP port (useful with 0).
  Result<int> Bind();
  // The port gRPC serves on; 0 when it does not.
  int grpc_port() const;
  // Serves until Stop().
  void Run();
  // Makes Run return, or not start serving if it has not yet; from any thread, at any time.
  void Stop();

 private:
  struct State;
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace imgsearch::server
