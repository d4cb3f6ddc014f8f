// Routing, the guards every request passes (token and scope, CORS, metrics), the Milvus
// dialect's envelope, the web page, and the server's lifecycle.
#include "server/server.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "base/log.h"
#include "pipeline/search.h"
#include "server/http_reply.h"
#include "server/server_state.h"
#include "server/web_page.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

enum class Dialect { kNative, kMilvus };

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

// Milvus's envelope for a refusal made before the route runs (401, 403, 404, 413).
void SendMilvusError(httplib::Response& res, int status, int code, const std::string& message) {
  res.status = status;
  SendJson(res, {{"code", code}, {"message", message}});
}

// With milvus_http_status, Milvus error codes also become HTTP statuses.
int ProjectedStatus(int milvus_code) {
  switch (milvus_code) {
    case kMilvusOk:
      return 200;
    case kMilvusCollectionNotFound:
    case kMilvusIndexNotFound:
    case kMilvusDatabaseNotFound:
      return 404;
    case kMilvusCollectionNotLoaded:
      return 409;
    case kMilvusUnexpected:
      return 500;
    default:
      return 400;
  }
}

// The token's scope: -1 refused, 0 read, 1 write. Without configured tokens: write.
int Scope(const ServerOptions& options, const httplib::Request& req) {
  if (options.tokens.empty()) return 1;
  const std::string header = req.get_header_value("Authorization");
  const std::string bearer = "Bearer ";
  if (header.rfind(bearer, 0) != 0) return -1;
  return TokenScope(options.tokens, header.substr(bearer.size()));
}

// CORS: only listed origins get the headers that let a browser page read the answer.
bool AllowOrigin(const ServerOptions& options, const httplib::Request& req,
                 httplib::Response& res) {
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty()) return false;
  const auto& allowed = options.cors_origins;
  if (std::find(allowed.begin(), allowed.end(), origin) == allowed.end()) return false;
  res.set_header("Access-Control-Allow-Origin", origin);
  res.set_header("Vary", "Origin");
  return true;
}

// What an exception that escaped a handler says, for the log.
std::string Describe(std::exception_ptr thrown) {
  try {
    std::rethrow_exception(thrown);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

}  // namespace

int TokenScope(const std::vector<Token>& tokens, const std::string& credential) {
  if (tokens.empty()) return 1;
  for (const Token& t : tokens) {
    if (t.value == credential) return t.write ? 1 : 0;
  }
  return -1;
}

std::chrono::milliseconds Server::State::TimeLimit(const httplib::Request& req) const {
  double seconds = options.request_time_limit_seconds;
  // Milvus clients may send "Request-Timeout: <seconds>"; it can only shorten the limit.
  const std::string header = req.get_header_value("Request-Timeout");
  if (!header.empty() && header.size() < 6 &&
      header.find_first_not_of("0123456789") == std::string::npos) {
    seconds = std::min(seconds, double(std::stoi(header)));
  }
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::string Server::State::TimeLimitMessage(const httplib::Request& req) const {
  return "the request took longer than its time limit of " +
         std::to_string(TimeLimit(req).count()) +
         " ms; narrow it (a smaller limit, a more selective filter) or raise the limit";
}

void Server::State::Milvus(const MilvusRoute& route, const httplib::Request& req,
                           httplib::Response& res) {
  // The false values of Go's strconv.ParseBool, which Milvus reads the header with.
  static const std::set<std::string> kFalse = {"0", "f", "F", "false", "FALSE", "False"};
  bool int64_as_string = kFalse.count(req.get_header_value("Accept-Type-Allow-Int64")) > 0;
  MilvusReply reply;
  int status = 200;
  if (route.writes) {
    // Writes always finish (their acknowledgement is their durability): run in place.
    reply = milvus->Call(route.name, req.body, int64_as_string);
  } else if (auto answer =
                 WithinTimeLimit<MilvusReply>(req, [this, route, body = req.body, int64_as_string] {
                   // The read owns a copy of the body: it may outlive the request.
                   return milvus->Call(route.name, body, int64_as_string);
                 })) {
    reply = std::move(*answer);
  } else {
    // As Milvus's time-out middleware: HTTP 408 with code 10001.
    reply = MilvusReply{kMilvusTimeout, "request timeout: " + TimeLimitMessage(req)};
    status = 408;
  }
  // 65535 ("unexpected") is the dialect's internal error (a time limit aside).
  if (reply.code == kMilvusUnexpected && status == 200)
    reply.extra["request_id"] = LogInternalError(res, reply.message);
  if (options.milvus_http_status && status == 200) status = ProjectedStatus(reply.code);
  res.status = status;
  SendJson(res, reply.ToJson());
}

void Server::State::Routes() {
  using R = const httplib::Request&;
  using W = httplib::Response&;
  using Work = std::function<void(R, W)>;
  // Every route: CORS headers, the token check for the scope it needs, and metrics.
  auto guard = [this](const std::string& route, bool writes, Dialect dialect, Work work) {
    return [this, route, writes, dialect, work](R req, W res) {
      auto started = std::chrono::steady_clock::now();
      res.set_header(kRequestIdHeader, NewRequestId());
      AllowOrigin(options, req, res);
      int scope = Scope(options, req);
      if (scope < 0 || (writes && scope < 1)) {
        int status = scope < 0 ? 401 : 403;
        std::string message = scope < 0
                                  ? "a valid \"Authorization: Bearer <token>\" header is required"
                                  : "this token may read but not write";
        if (dialect == Dialect::kMilvus) {
          SendMilvusError(res, status, kMilvusNeedAuthenticate, message);
        } else {
          SendError(res, status, message);
        }
      } else {
        work(req, res);
      }
      auto elapsed = std::chrono::steady_clock::now() - started;
      // httplib sets 200 only after the handler returns.
      metrics.Record(route, res.status > 0 ? res.status : 200,
                     std::chrono::duration<double>(elapsed).count());
    };
  };
  const Dialect native = Dialect::kNative;
  http.Get("/api/health", guard("health", false, native, [this](R, W res) { Health(res); }));
  http.Get("/api/collections", guard("collections", false, native, [this](R, W res) {
             SendJson(res, pipeline::DescribeCollections(library->database()));
           }));
  http.Post("/api/search",
            guard("search", false, native, [this](R req, W res) { Search(req, res); }));
  http.Post("/api/images",
            guard("upload", true, native, [this](R req, W res) { Upload(req, res); }));
  http.Get(R"(/api/images/(\d+))",
           guard("image", false, native, [this](R req, W res) { Image(req, res); }));
  http.Get(R"(/api/images/(\d+)/thumb)",
           guard("thumb", false, native, [this](R req, W res) { Thumbnail(req, res); }));
  http.Delete(R"(/api/images/(\d+))",
              guard("delete", true, native, [this](R req, W res) { Delete(req, res); }));
  http.Get("/api/duplicates",
           guard("duplicates", false, native, [this](R req, W res) { Duplicates(req, res); }));
  http.Get("/metrics", guard("metrics", false, native, [this](R, W res) {
             std::string text = metrics.Prometheus(library->database());
             if (watcher) text += WatchPrometheus(watcher->stats());
             res.set_content(text, "text/plain; version=0.0.4");
           }));
  // One pattern for the whole dialect, then a map: httplib tries its patterns (std::regex)
  // one by one, which costs more than the search itself when there are twenty of them.
  auto milvus_routes = std::make_shared<std::map<std::string, httplib::Server::Handler>>();
  for (const MilvusRoute& route : MilvusApi::Routes()) {
    (*milvus_routes)[route.name] = guard("milvus:" + route.name, route.writes, Dialect::kMilvus,
                                         [this, route](R req, W res) { Milvus(route, req, res); });
  }
  MilvusApi* milvus_api = milvus.get();
  http.Post(R"(/v2/vectordb/(.+))", [milvus_routes, milvus = milvus_api](R req, W res) {
    auto it = milvus_routes->find(req.matches[1]);
    if (it == milvus_routes->end()) {
      // Routes of Milvus's that imgsearch refuses (users, roles, import): code 10.
      if (MilvusApi::Refused(req.matches[1])) {
        return SendJson(res, milvus->Call(req.matches[1], "", false).ToJson());
      }
      return SendMilvusError(res, 404, kMilvusParameterInvalid, "no such route");
    }
    it->second(req, res);
  });
  // The page holds no data (it calls the API, with the token the user gives it).
  http.Get("/", [](R, W res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; "
                   "script-src 'unsafe-inline'; connect-src 'self'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(std::string(WebPage()), "text/html; charset=utf-8");
  });
  // CORS preflight: allowed origins learn what they may send; others get no CORS headers.
  http.Options(R"(/.*)", [this](R req, W res) {
    if (!AllowOrigin(options, req, res)) return SendError(res, 403, "origin not allowed");
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    res.set_header("Access-Control-Allow-Headers",
                   "Authorization, Content-Type, Accept-Type-Allow-Int64, Request-Timeout");
    res.set_header("Access-Control-Max-Age", "600");
  });

  http.set_payload_max_length(options.max_body_bytes);
  http.set_read_timeout(options.socket_timeout_seconds, 0);
  http.set_write_timeout(options.socket_timeout_seconds, 0);
  http.set_keep_alive_max_count(1000);
  // Small JSON answers go out at once (without this, Nagle's algorithm and delayed ACKs
  // add ~40 ms to every keep-alive request).
  http.set_tcp_nodelay(true);
  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second server bind the
  // same port and silently take half the requests.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const int threads = std::max(2, options.threads);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Whatever httplib itself answers (404, 413, ...) is JSON too, in the route's dialect.
  http.set_error_handler([](R req, W res) {
    if (!res.body.empty()) return;
    const char* message = res.status == 404   ? "no such route"
                          : res.status == 413 ? "request body too large"
                                              : "request failed";
    if (req.path.rfind("/v2/", 0) == 0) {
      SendMilvusError(res, res.status, kMilvusParameterInvalid, message);
    } else {
      SendError(res, res.status, message);
    }
  });
  http.set_exception_handler([](R, W res, std::exception_ptr thrown) {
    SendError(res, 500, "internal error: " + Describe(thrown));
  });
}

Result<std::unique_ptr<Server>> Server::Create(const std::string& db_dir,
                                               const ServerOptions& options) {
  if (!IsLoopback(options.host) && options.tokens.empty()) {
    return Status::InvalidArgument("binding to " + options.host +
                                   " needs at least one --token (only loopback may go without)");
  }
  auto state = std::make_unique<State>();
  state->options = options;
  // A folder without a library gets an empty one, as a Milvus server starts empty;
  // Library::Open refuses a folder that holds other files.
  LibraryOptions library_options;
  library_options.max_upload_pixels = options.max_image_pixels;
  library_options.milvus = options.milvus;
  library_options.uploads_dir = options.uploads_dir;
  IMGSEARCH_ASSIGN_OR_RETURN(state->library, Library::Open(db_dir, library_options));
  state->milvus = std::make_unique<MilvusApi>(state->library->database());
  if (!options.redis_url.empty()) {
    IMGSEARCH_ASSIGN_OR_RETURN(state->mirror, remote::RedisMirror::Connect(options.redis_url));
    IMGSEARCH_ASSIGN_OR_RETURN(auto images,  // in step from the start
                               state->library->database().GetCollection(kImagesCollectionName));
    IMGSEARCH_RETURN_IF_ERROR(state->mirror->Sync(*images).status());
  }
  state->limiter = std::make_unique<TimeLimiter>(std::max(2, options.threads));
  if (!options.watch.folders.empty()) {
    IMGSEARCH_ASSIGN_OR_RETURN(state->watcher, Watcher::Start(*state->library, options.watch));
  }
  state->Routes();
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}
Server::~Server() {
  Stop();
}

Result<int> Server::Bind() {
  const ServerOptions& o = state_->options;
  int port = o.port == 0 ? state_->http.bind_to_any_port(o.host)
                         : (state_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) return Status::IOError("cannot listen on " + o.host + ":" + std::to_string(o.port));
  if (o.grpc_port != 0) {
    auto grpc = MilvusGrpcServer::Start(*state_->milvus, o.host, std::max(0, o.grpc_port), o.tokens,
                                        o.max_grpc_message_bytes);
    if (grpc.ok()) {
      state_->grpc = std::move(grpc).value();
    } else if (o.grpc_required) {
      return grpc.status();
    } else {
      IMGSEARCH_LOG_WARN("serving without Milvus gRPC: {}", grpc.status().message());
    }
  }
  return port;
}

int Server::grpc_port() const {
  return state_->grpc ? state_->grpc->port() : 0;
}

void Server::Run() {
  state_->run_entered = true;
  if (!state_->stop_requested) state_->http.listen_after_bind();
  state_->listening_ended = true;
  if (state_->grpc) state_->grpc->Stop();
  if (state_->watcher) state_->watcher->Stop();
  // Every acknowledged write is committed already; writing the index snapshots now makes
  // the next start quick.
  Database& db = state_->library->database();
  for (const std::string& name : db.ListCollections()) {
    auto collection = db.GetCollection(name);
    if (!collection.ok()) continue;
    Status flushed = (*collection)->Flush();
    if (!flushed.ok()) IMGSEARCH_LOG_WARN("flushing {}: {}", name, flushed.message());
  }
}

void Server::Stop() {
  state_->stop_requested = true;
  if (!state_->run_entered) return;  // Run will see the request and not listen
  // Run is about to listen, or listening: httplib's stop() acts only once it is.
  for (int waited_ms = 0;
       !state_->http.is_running() && !state_->listening_ended && waited_ms < 2000; ++waited_ms)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  state_->http.stop();
  if (state_->grpc) state_->grpc->Stop();
}

}  // namespace imgsearch::server
