#include "remote/milvus_client.h"

#include <httplib.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "base/json.h"
#include "base/log.h"
#include "remote/milvus_codes.h"

namespace imgsearch::remote {
namespace {

using json = nlohmann::json;

// Each scheme: its prefix, TLS, REST (else gRPC). The first of each kind is the one
// Describe() writes.
struct Scheme {
  const char* prefix;
  bool tls;
  bool rest;
};
constexpr Scheme kSchemes[] = {{"milvus://", false, false},
                               {"milvus+https://", true, false},
                               {"milvus+grpcs://", true, false},
                               {"milvus+rest://", false, true},
                               {"milvus+rest+https://", true, true}};

bool StartsWith(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

// Milvus's codes (merr) for a refusal that a later try may not meet: not ready (1),
// unavailable (2), too many requests (4), rate limit (8), resources short (12), collection
// not fully loaded (103). The request was not carried out.
bool RefusedForNow(int code) {
  static const std::set<int> codes = {1, 2, 4, 8, 12, 103};
  return codes.count(code) > 0;
}

// Keeps idle connections for the next requests (a TLS handshake per request would cost
// more than most requests); an httplib::Client serves one request at a time.
class HttplibTransport final : public MilvusTransport {
 public:
  HttplibTransport(MilvusEndpoint endpoint, double timeout_seconds)
      : endpoint_(std::move(endpoint)), timeout_seconds_(timeout_seconds) {}

  Result<HttpAnswer> Post(const std::string& path, const std::string& body,
                          const std::string& token) override {
    std::unique_ptr<httplib::Client> client = Take();
    httplib::Headers headers = {{"Accept-Type-Allow-Int64", "true"},
                                {"Request-Timeout", std::to_string(int(timeout_seconds_))}};
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto result = client->Post(path, headers, body, "application/json");
    if (!result) {
      return Status::IOError("cannot reach " + endpoint_.Describe() + ": " +
                             httplib::to_string(result.error()));
    }
    HttpAnswer answer{result->status, result->body};
    Give(std::move(client));
    return answer;
  }

 private:
  std::unique_ptr<httplib::Client> Take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        auto client = std::move(idle_.back());
        idle_.pop_back();
        return client;
      }
    }
    std::string base = (endpoint_.tls ? "https://" : "http://") + endpoint_.host + ":" +
                       std::to_string(endpoint_.port);
    auto client = std::make_unique<httplib::Client>(base);
    auto seconds = std::chrono::duration<double>(timeout_seconds_);
    client->set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(
        std::min(seconds, std::chrono::duration<double>(10))));
    client->set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
    client->set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);  // a request is one write; do not wait for ACKs
    return client;
  }

  void Give(std::unique_ptr<httplib::Client> client) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.size() < 16) idle_.push_back(std::move(client));
  }

  MilvusEndpoint endpoint_;
  double timeout_seconds_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;
};

struct Attempt {
  Result<json> result = json();
  bool retry = false;  // worth another try
  int code = 0;        // Milvus's code, when it answered one
};

std::string TokenOf(const MilvusOptions& options) {
  if (!options.token.empty()) return options.token;
  const char* env = std::getenv("IMGSEARCH_MILVUS_TOKEN");
  return env != nullptr ? env : "";
}

Status MilvusError(const std::string& where, int code, const std::string& message) {
  std::string text = where + ": Milvus code " + std::to_string(code) + ": " + message;
  switch (code) {
    case 100:  // collection not found
    case 700:  // index not found
    case 800:  // database not found
      return Status::NotFound(text);
    case 1100:
    case 1801:
    case 1802:
    case 1804:
      return Status::InvalidArgument(text);
    default:
      return Status::Internal(text);
  }
}

// What one answer means: Milvus's data, a failure, and whether to try again.
Attempt Judge(const std::string& where, const RouteAnswer& answer, Retry retry) {
  const json& body = answer.body;
  int code = -1;
  if (body.is_object() && body.contains("code")) {
    std::optional<int64_t> c = Int64Of(body["code"]);
    if (c) code = static_cast<int>(*c);
  }
  std::string message = body.is_object() && body.contains("message") && body["message"].is_string()
                            ? body["message"].get<std::string>()
                            : answer.text.substr(0, 300);
  bool timed_out = answer.status == 408 || code == kMilvusTimeout;
  if (answer.status == 200 && code == 0) return {body, false};
  Attempt attempt;
  if (timed_out) {
    attempt.result = Status::IOError(where + ": timed out (HTTP " + std::to_string(answer.status) +
                                     "): " + message);
    attempt.retry = retry == Retry::kAlways;
    return attempt;
  }
  attempt.code = code;
  if (answer.status == 429 || RefusedForNow(code)) {
    attempt.result =
        MilvusError(where, code, message + " (HTTP " + std::to_string(answer.status) + ")");
    attempt.retry = true;
    return attempt;
  }
  if (answer.status >= 500) {
    attempt.result =
        Status::IOError(where + ": HTTP " + std::to_string(answer.status) + ": " + message);
    attempt.retry = retry == Retry::kAlways;
    return attempt;
  }
  if (answer.status == 401 || answer.status == 403 || code == 1800) {
    attempt.result =
        Status::InvalidArgument(where + ": not authorised (HTTP " + std::to_string(answer.status) +
                                ", code " + std::to_string(code) + "): " + message +
                                "; give a token with --milvus-token or IMGSEARCH_MILVUS_TOKEN");
    return attempt;
  }
  if (code > 0) {
    attempt.result = MilvusError(where, code, message);
    return attempt;
  }
  attempt.result = Status::Internal(where + ": unexpected answer (HTTP " +
                                    std::to_string(answer.status) + "): " + message);
  return attempt;
}

}  // namespace

std::string MilvusEndpoint::Describe() const {
  for (const Scheme& scheme : kSchemes) {
    if (scheme.tls == tls && scheme.rest == rest)
      return scheme.prefix + host + ":" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

Result<MilvusEndpoint> ParseMilvusLocation(const std::string& location) {
  MilvusEndpoint endpoint;
  std::string rest;
  bool known = false;
  for (const Scheme& scheme : kSchemes) {
    if (StartsWith(location, scheme.prefix)) {
      endpoint.tls = scheme.tls;
      endpoint.rest = scheme.rest;
      rest = location.substr(std::string(scheme.prefix).size());
      known = true;
    }
  }
  if (!known) {
    return Status::InvalidArgument(location +
                                   ": not a milvus:// location (milvus://, milvus+https://, "
                                   "milvus+rest://, milvus+rest+https://)");
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  endpoint.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (colon != std::string::npos) {
    std::string port = rest.substr(colon + 1);
    int value = 0;
    auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || error != std::errc() || end != port.data() + port.size() || value < 1 ||
        value > 65535) {
      return Status::InvalidArgument(location + ": the port must be a number 1..65535");
    }
    endpoint.port = value;
  }
  if (endpoint.host.empty() || endpoint.host.find('/') != std::string::npos)
    return Status::InvalidArgument(location + ": expected milvus://HOST:PORT");
  return endpoint;
}

std::unique_ptr<MilvusTransport> HttpTransport(const MilvusEndpoint& endpoint,
                                               double timeout_seconds) {
  return std::make_unique<HttplibTransport>(endpoint, timeout_seconds);
}

Result<RouteAnswer> MilvusTransport::Call(const std::string& route, const json& body,
                                          const std::string& token) {
  const std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  IMGSEARCH_ASSIGN_OR_RETURN(HttpAnswer answer, Post("/v2/vectordb/" + route, text, token));
  auto parsed = base::ParseJson(answer.body);
  return RouteAnswer{answer.status, parsed.ok() && parsed->is_object() ? *parsed : json(),
                     std::move(answer.body)};
}

MilvusClient::MilvusClient(std::unique_ptr<MilvusTransport> transport, MilvusOptions options,
                           std::string describe)
    : transport_(std::move(transport)),
      options_(std::move(options)),
      describe_(std::move(describe)),
      sleep_([](double seconds) {
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      }) {}

Result<json> MilvusClient::Call(const std::string& route, json body, Retry retry) const {
  if (!options_.database.empty()) body["dbName"] = options_.database;
  const std::string where = describe_ + " /v2/vectordb/" + route;
  const std::string token = TokenOf(options_);
  double backoff = options_.first_backoff_seconds;
  Attempt attempt;
  for (int tries = 1;; ++tries) {
    auto sent = std::chrono::steady_clock::now();
    Result<RouteAnswer> answer = transport_->Call(route, body, token);
    // --log-level debug: one line per request, to count them by route and see their waits.
    IMGSEARCH_LOG_DEBUG(
        "{} {:.1f} ms", where,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count());
    if (!answer.ok()) {
      attempt = {answer.status().WithContext(where), retry == Retry::kAlways};
    } else {
      attempt = Judge(where, *answer, retry);
    }
    // A collection Milvus no longer has loaded (a restarted Milvus recovers loads in the
    // background, or another client released it): load it and try again. Nothing was
    // carried out.
    if (attempt.code == kMilvusCollectionNotLoaded && route != "collections/load" &&
        body.contains("collectionName")) {
      json load = {{"collectionName", body["collectionName"]}};
      if (body.contains("dbName")) load["dbName"] = body["dbName"];
      attempt.retry = LoadAndWait(load, token);
    }
    if (!attempt.retry || tries >= std::max(1, options_.max_attempts)) break;
    IMGSEARCH_LOG_WARN("{} (try {} of {}); trying again in {:.1f} s",
                       attempt.result.status().message(), tries, options_.max_attempts, backoff);
    sleep_(backoff);
    backoff = std::min(backoff * 2, 30.0);
  }
  return std::move(attempt.result);
}

bool MilvusClient::LoadAndWait(const json& collection, const std::string& token) const {
  if (!transport_->Call("collections/load", collection, token).ok()) return false;
  for (double waited = 0; waited < options_.request_timeout_seconds; waited += 0.2) {
    auto state = transport_->Call("collections/get_load_state", collection, token);
    if (!state.ok()) return false;
    if (TextOf(Field(state->body, "data"), "loadState") == "LoadStateLoaded") return true;
    sleep_(0.2);
  }
  return false;
}

const json& Field(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string TextOf(const json& object, const char* key, std::string fallback) {
  const json& v = Field(object, key);
  return v.is_string() ? v.get<std::string>() : fallback;
}

bool FlagOf(const json& object, const char* key, bool fallback) {
  const json& v = Field(object, key);
  return v.is_boolean() ? v.get<bool>() : fallback;
}

std::optional<int64_t> Int64Of(const json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (!value.is_string()) return std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  int64_t out = 0;
  auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (s.empty() || error != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return out;
}

}  // namespace imgsearch::remote
