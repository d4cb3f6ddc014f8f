// Server: imgsearch over HTTP. A native JSON API for images (search by upload or id,
// images and thumbnails by id, delete). Safe by default: binds 127.0.0.1; refuses any
// other address unless tokens are configured; every request needs a token when tokens
// exist (read scope for reads, write scope for changes); request bodies are limited;
// images are served by id only, so no path from a request reaches the file system; every
// error is a JSON object with a message. Thread-safe; Stop() may be called from any
// thread (a signal handler's helper thread, say) and lets running requests finish.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::server {

struct Token {
  std::string value;
  bool write = false;  // read scope always; write scope when set
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see Bind)
  std::vector<Token> tokens;
  size_t max_body_bytes = 32u << 20;       // larger requests get 413
  uint64_t max_image_pixels = 50'000'000;  // uploads over this get 413
  int request_timeout_seconds = 30;
};

class Server {
 public:
  // Opens the database and its models (those recorded by `imgsearch index`).
  static Result<std::unique_ptr<Server>> Create(const std::string& db_dir,
                                                const ServerOptions& options);
  ~Server();

  // Binds the socket; returns the port (useful with port 0).
  Result<int> Bind();
  // Serves until Stop().
  void Run();
  void Stop();

 private:
  struct State;
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace imgsearch::server
