#include "server/server.h"

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/env.h"
#include "image/encode.h"
#include "pipeline/ingest.h"
#include "pipeline/search.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

constexpr size_t kThumbnailCacheEntries = 4096;

int HttpCode(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kCorruption:
    case StatusCode::kUnsupported:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kResourceExhausted:
      return 413;
    default:
      return 500;
  }
}

void SendError(httplib::Response& res, int code, const std::string& message) {
  res.status = code;
  res.set_content(json{{"error", {{"code", code}, {"message", message}}}}.dump(),
                  "application/json");
}

void SendStatus(httplib::Response& res, const Status& s) {
  SendError(res, HttpCode(s), s.message());
}

void SendJson(httplib::Response& res, const json& body) {
  res.set_content(body.dump(), "application/json");
}

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

const char* ContentType(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kPng:
      return "image/png";
    case ImageFormat::kWebp:
      return "image/webp";
    case ImageFormat::kBmp:
      return "image/bmp";
    case ImageFormat::kTiff:
      return "image/tiff";
    case ImageFormat::kGif:
      return "image/gif";
    default:
      return "application/octet-stream";
  }
}

Result<int64_t> IdFromPath(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("image id must be a non-negative integer");
  }
  return std::stoll(text);
}

}  // namespace

struct Server::State {
  ServerOptions options;
  std::string db_dir;
  std::unique_ptr<Database> db;
  std::vector<pipeline::BoundModel> models;
  httplib::Server http;
  std::mutex thumbnails_mutex;
  std::map<int64_t, std::string> thumbnails;
  std::mutex ingest_mutex;  // one upload ingested at a time: ids are allocated per ingest

  // Request counts and time per route and status, for /metrics.
  struct RouteStats {
    std::map<int, uint64_t> by_status;
    double seconds = 0;
    uint64_t count = 0;
  };
  std::mutex metrics_mutex;
  std::map<std::string, RouteStats> route_stats;

  // The token's scope: -1 refused, 0 read, 1 write. Without configured tokens: write.
  int Scope(const httplib::Request& req) const {
    if (options.tokens.empty()) return 1;
    std::string header = req.get_header_value("Authorization");
    const std::string bearer = "Bearer ";
    if (header.rfind(bearer, 0) != 0) return -1;
    std::string value = header.substr(bearer.size());
    for (const Token& t : options.tokens) {
      if (t.value == value) return t.write ? 1 : 0;
    }
    return -1;
  }

  Result<std::string> PathOf(int64_t id) const {
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, models[0].collection->Get({id}, {"path"}));
    if (rows.empty()) return Status::NotFound("no image with id " + std::to_string(id));
    return rows[0].fields.at("path").get<std::string>();
  }

  void Health(httplib::Response& res) const {
    json models_json = json::array();
    for (const auto& m : models) models_json.push_back(m.source.name);
    SendJson(
        res,
        {{"status", "ok"}, {"models", models_json}, {"images", models[0].collection->Count()}});
  }

  void Search(const httplib::Request& req, httplib::Response& res) {
    pipeline::Query query;
    pipeline::SearchOptions search;
    std::string label;
    if (req.is_multipart_form_data()) {
      if (!req.has_file("image"))
        return SendError(res, 400, "multipart search needs a file field \"image\"");
      query.bytes = req.get_file_value("image").content;
      query.path = label = req.get_file_value("image").filename.empty()
                               ? "upload"
                               : req.get_file_value("image").filename;
      auto field = [&](const char* name) {
        return req.has_file(name) ? req.get_file_value(name).content : "";
      };
      if (!field("k").empty()) search.k = std::atoi(field("k").c_str());
      search.filter = field("filter");
      search.fuse = field("fuse");
      search.exclude_self = field("exclude_self") == "true";
    } else {
      json body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object())
        return SendError(res, 400, "request body must be a JSON object");
      try {
        if (!body.contains("id") || !body["id"].is_number_integer()) {
          return SendError(
              res, 400, "give \"id\" (an integer) or upload an image as multipart field \"image\"");
        }
        query.id = body["id"].get<int64_t>();
        label = "id:" + std::to_string(query.id);
        search.k = body.value("k", 10);
        search.filter = body.value("filter", "");
        search.fuse = body.value("fuse", "");
        search.exclude_self = body.value("exclude_self", false);
        if (body.contains("models")) search.only = body["models"].get<std::vector<std::string>>();
      } catch (const json::exception& e) {
        return SendError(res, 400, std::string("malformed search request: ") + e.what());
      }
    }
    auto results = pipeline::SearchModels(models, query, search);
    if (!results.ok()) return SendStatus(res, results.status());
    SendJson(res, pipeline::SearchResultsJson(label, *results));
  }

  void Image(const httplib::Request& req, httplib::Response& res) {
    auto id = IdFromPath(req.matches[1]);
    if (!id.ok()) return SendStatus(res, id.status());
    auto path = PathOf(*id);
    if (!path.ok()) return SendStatus(res, path.status());
    auto bytes = base::Env::Default()->ReadFile(*path, 256u << 20);
    if (!bytes.ok())
      return SendError(res, 410,
                       "image " + std::to_string(*id) + " is indexed but its file is gone");
    res.set_content(*bytes, ContentType(DetectImageFormat(*bytes)));
  }

  void Thumbnail(const httplib::Request& req, httplib::Response& res) {
    auto id = IdFromPath(req.matches[1]);
    if (!id.ok()) return SendStatus(res, id.status());
    {
      std::lock_guard<std::mutex> lock(thumbnails_mutex);
      if (auto it = thumbnails.find(*id); it != thumbnails.end())
        return res.set_content(it->second, "image/jpeg");
    }
    auto path = PathOf(*id);
    if (!path.ok()) return SendStatus(res, path.status());
    auto image = LoadImage(*path);
    if (!image.ok())
      return SendError(res, 410, "image " + std::to_string(*id) + " cannot be read any more");
    auto jpeg = image::EncodeJpeg(image::Thumbnail(*image, 256), 80);
    if (!jpeg.ok()) return SendStatus(res, jpeg.status());
    std::lock_guard<std::mutex> lock(thumbnails_mutex);
    if (thumbnails.size() >= kThumbnailCacheEntries) thumbnails.erase(thumbnails.begin());
    thumbnails[*id] = *jpeg;
    res.set_content(*jpeg, "image/jpeg");
  }

  // Stores an uploaded image under DIR/uploads/<content hash>.<ext> and ingests it into
  // every model; the same content uploaded twice is one image.
  void Upload(const httplib::Request& req, httplib::Response& res) {
    if (!req.is_multipart_form_data() || !req.has_file("image")) {
      return SendError(res, 400, "upload an image as multipart field \"image\"");
    }
    const std::string& bytes = req.get_file_value("image").content;
    DecodeOptions limits;
    limits.max_pixels = options.max_image_pixels;
    auto image = DecodeImage(bytes, "upload", limits);
    if (!image.ok()) return SendStatus(res, image.status());
    static const std::map<ImageFormat, const char*> kExtensions = {
        {ImageFormat::kJpeg, ".jpg"}, {ImageFormat::kPng, ".png"},  {ImageFormat::kWebp, ".webp"},
        {ImageFormat::kBmp, ".bmp"},  {ImageFormat::kTiff, ".tif"}, {ImageFormat::kGif, ".gif"}};
    std::string dir = db_dir + "/uploads";
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    std::string path = std::filesystem::absolute(dir + "/" + pipeline::ContentHash(bytes) +
                                                 kExtensions.at(DetectImageFormat(bytes)))
                           .lexically_normal()
                           .string();
    std::lock_guard<std::mutex> lock(ingest_mutex);
    if (!base::Env::Default()->FileExists(path)) {
      Status written = base::Env::Default()->WriteFileAtomic(path, bytes);
      if (!written.ok()) return SendStatus(res, written);
    }
    pipeline::IngestOptions ingest;
    ingest.roots = {path};
    auto report = pipeline::Ingest(models, ingest);
    if (!report.ok()) return SendStatus(res, report.status());
    if (!report->failures.empty()) return SendError(res, 400, report->failures[0].reason);
    QueryRequest by_path;
    by_path.filter = "path == " + json(path).dump();
    auto rows = models[0].collection->Query(by_path);
    if (!rows.ok() || rows->empty())
      return SendError(res, 500, "the upload was stored but not found again");
    res.status = report->added > 0 ? 201 : 200;
    SendJson(res, {{"id", (*rows)[0].id},
                   {"created", report->added > 0},
                   {"width", image->width},
                   {"height", image->height}});
  }

  void Metrics(httplib::Response& res) {
    std::string requests =
        "# HELP imgsearch_requests_total HTTP requests by route and status.\n"
        "# TYPE imgsearch_requests_total counter\n";
    std::string seconds =
        "# HELP imgsearch_request_seconds Time spent answering, by route.\n"
        "# TYPE imgsearch_request_seconds summary\n";
    {
      std::lock_guard<std::mutex> lock(metrics_mutex);
      for (const auto& [route, s] : route_stats) {
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
        "# HELP imgsearch_pending_rows Rows searched exactly until indexed.\n# TYPE "
        "imgsearch_pending_rows gauge\n";
    std::string lag =
        "# HELP imgsearch_snapshot_lag Changes not yet in the index snapshot on disk.\n"
        "# TYPE imgsearch_snapshot_lag gauge\n";
    for (const auto& m : models) {
      CollectionStats s = m.collection->Stats();
      std::string label = "{collection=\"" + m.source.name + "\"} ";
      rows += "imgsearch_rows" + label + std::to_string(s.row_count) + "\n";
      pending += "imgsearch_pending_rows" + label + std::to_string(s.pending_rows) + "\n";
      lag += "imgsearch_snapshot_lag" + label +
             std::to_string(s.last_sequence - s.snapshot_sequence) + "\n";
    }
    res.set_content(requests + seconds + rows + pending + lag, "text/plain; version=0.0.4");
  }

  void Delete(const httplib::Request& req, httplib::Response& res) {
    auto id = IdFromPath(req.matches[1]);
    if (!id.ok()) return SendStatus(res, id.status());
    int64_t deleted = 0;
    for (auto& m : models) {
      auto n = m.collection->Delete({*id});
      if (!n.ok()) return SendStatus(res, n.status());
      deleted = std::max(deleted, *n);
    }
    if (deleted == 0) return SendError(res, 404, "no image with id " + std::to_string(*id));
    std::lock_guard<std::mutex> lock(thumbnails_mutex);
    thumbnails.erase(*id);
    SendJson(res, {{"deleted", *id}});
  }

  // Wraps a handler with the token check for the scope it needs, and counts it.
  httplib::Server::Handler Guard(
      const std::string& route, bool needs_write,
      std::function<void(const httplib::Request&, httplib::Response&)> f) {
    return [this, route, needs_write, f](const httplib::Request& req, httplib::Response& res) {
      auto started = std::chrono::steady_clock::now();
      int scope = Scope(req);
      if (scope < 0) {
        SendError(res, 401, "a valid \"Authorization: Bearer <token>\" header is required");
      } else if (needs_write && scope < 1) {
        SendError(res, 403, "this token may read but not write");
      } else {
        f(req, res);
      }
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::lock_guard<std::mutex> lock(metrics_mutex);
      RouteStats& stats = route_stats[route];
      ++stats.by_status[res.status > 0 ? res.status : 200];  // httplib sets 200 afterwards
      stats.seconds += seconds;
      ++stats.count;
    };
  }

  void Routes() {
    using R = const httplib::Request&;
    using W = httplib::Response&;
    http.Get("/api/health", Guard("health", false, [this](R, W res) { Health(res); }));
    http.Get("/api/collections", Guard("collections", false, [this](R, W res) {
               SendJson(res, pipeline::DescribeCollections(*db));
             }));
    http.Post("/api/search", Guard("search", false, [this](R req, W res) { Search(req, res); }));
    http.Post("/api/images", Guard("upload", true, [this](R req, W res) { Upload(req, res); }));
    http.Get(R"(/api/images/(\d+))",
             Guard("image", false, [this](R req, W res) { Image(req, res); }));
    http.Get(R"(/api/images/(\d+)/thumb)",
             Guard("thumb", false, [this](R req, W res) { Thumbnail(req, res); }));
    http.Delete(R"(/api/images/(\d+))",
                Guard("delete", true, [this](R req, W res) { Delete(req, res); }));
    http.Get("/metrics", Guard("metrics", false, [this](R, W res) { Metrics(res); }));
    http.set_payload_max_length(options.max_body_bytes);
    http.set_read_timeout(options.request_timeout_seconds, 0);
    http.set_write_timeout(options.request_timeout_seconds, 0);
    // Whatever httplib itself answers (404, 413, ...) is JSON too.
    http.set_error_handler([](R, W res) {
      if (!res.body.empty()) return;
      const char* message = res.status == 404   ? "no such route"
                            : res.status == 413 ? "request body too large"
                                                : "request failed";
      SendError(res, res.status, message);
    });
    http.set_exception_handler(
        [](R, W res, std::exception_ptr) { SendError(res, 500, "internal error"); });
  }
};

Result<std::unique_ptr<Server>> Server::Create(const std::string& db_dir,
                                               const ServerOptions& options) {
  if (!IsLoopback(options.host) && options.tokens.empty()) {
    return Status::InvalidArgument("binding to " + options.host +
                                   " needs at least one --token (only loopback may go without)");
  }
  auto state = std::make_unique<State>();
  state->options = options;
  state->db_dir = db_dir;
  DatabaseOptions db_options;
  db_options.create_if_missing = false;
  IMGSEARCH_ASSIGN_OR_RETURN(state->db, Database::Open(db_dir, db_options));
  IMGSEARCH_ASSIGN_OR_RETURN(state->models,
                             pipeline::OpenModelSet(*state->db, db_dir, {}, EmbedderOptions()));
  state->Routes();
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}
Server::~Server() {
  Stop();
}

Result<int> Server::Bind() {
  int port = state_->options.port == 0
                 ? state_->http.bind_to_any_port(state_->options.host)
                 : (state_->http.bind_to_port(state_->options.host, state_->options.port)
                        ? state_->options.port
                        : -1);
  if (port < 0) {
    return Status::IOError("cannot listen on " + state_->options.host + ":" +
                           std::to_string(state_->options.port));
  }
  return port;
}

void Server::Run() {
  state_->http.listen_after_bind();
}
void Server::Stop() {
  state_->http.stop();
}

}  // namespace imgsearch::server
