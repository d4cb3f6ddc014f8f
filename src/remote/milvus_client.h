// MilvusClient: calls to a Milvus 2.4/2.5 server's REST v2 API (/v2/vectordb/...), with
// Milvus's answers as they really are: errors come with HTTP 200 and a non-zero "code",
// time-outs as HTTP 408 (code 10001). Time-outs, 5xx answers, failed connections and
// Milvus's retryable codes (rate limits, not ready, ...) are tried again with exponential
// backoff; any other failure is a Status naming the route, the code and Milvus's message.
// Thread-safe: each call takes its own connection from the transport.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "imgsearch/database.h"
#include "imgsearch/status.h"

namespace imgsearch::remote {

// Where a milvus:// location points.
struct MilvusEndpoint {
  bool tls = false;
  bool rest = false;  // REST v2 instead of gRPC
  std::string host;
  int port = 19530;
  std::string Describe() const;  // "milvus://HOST:PORT" as given
};

// Parses a Milvus location: milvus://HOST:PORT speaks gRPC, milvus+https:// (or
// milvus+grpcs://) gRPC over TLS; milvus+rest://HOST:PORT and milvus+rest+https:// speak
// REST v2. PORT defaults to 19530.
Result<MilvusEndpoint> ParseMilvusLocation(const std::string& location);

struct HttpAnswer {
  int status = 0;  // HTTP status
  std::string body;
};

// A REST v2 route's answer: the HTTP status (or its equivalent) and Milvus's envelope
// ({"code": 0, "data": ...} or {"code": N, "message": ...}); `text` is what came, for
// messages when it was not JSON.
struct RouteAnswer {
  int status = 0;
  nlohmann::json body;
  std::string text;
};

// How calls reach Milvus. Over HTTP, Call posts the request object as JSON text to
// /v2/vectordb/<route> with Post; the gRPC transport (milvus_grpc_transport.h) overrides
// Call and speaks MilvusService instead, with the same routes and envelopes. A
// connection that fails is an IOError; any status is an answer. The client's tests
// replace it with canned answers.
class MilvusTransport {
 public:
  virtual ~MilvusTransport() = default;
  virtual Result<HttpAnswer> Post(const std::string& path, const std::string& body,
                                  const std::string& token) = 0;
  virtual Result<RouteAnswer> Call(const std::string& route, const nlohmann::json& body,
                                   const std::string& token);
};

// Over cpp-httplib (with OpenSSL for milvus+rest+https://).
std::unique_ptr<MilvusTransport> HttpTransport(const MilvusEndpoint& endpoint,
                                               double timeout_seconds);
// The transport an endpoint asks for: gRPC, or REST v2 over HTTP.
std::unique_ptr<MilvusTransport> TransportFor(const MilvusEndpoint& endpoint,
                                              double timeout_seconds);

// Whether a failed call may be tried again: never for a write that is not idempotent
// once it may have reached Milvus (an insert could be applied twice).
enum class Retry { kAlways, kOnlyIfNotApplied };

class MilvusClient {
 public:
  MilvusClient(std::unique_ptr<MilvusTransport> transport, MilvusOptions options,
               std::string describe);

  // POSTs `body` (with "dbName" added) to /v2/vectordb/<route>. Returns Milvus's whole
  // answer ({"code": 0, "data": ..., ...}) when its code is 0.
  Result<nlohmann::json> Call(const std::string& route, nlohmann::json body,
                              Retry retry = Retry::kAlways) const;

  const std::string& describe() const { return describe_; }
  // For tests: replaces the sleep between tries.
  void SetSleepForTesting(std::function<void(double seconds)> sleep) { sleep_ = std::move(sleep); }

 private:
  // Loads a collection Milvus has not loaded (code 101) and waits, at most the request
  // time limit, until it is; whether it is.
  bool LoadAndWait(const nlohmann::json& collection, const std::string& token) const;

  std::unique_ptr<MilvusTransport> transport_;
  MilvusOptions options_;
  std::string describe_;
  std::function<void(double)> sleep_;
};

// Reading Milvus's answers without trusting their shape: a missing key or a value of
// another type reads as null or as the fallback, never as an exception.
const nlohmann::json& Field(const nlohmann::json& object, const char* key);
std::string TextOf(const nlohmann::json& object, const char* key, std::string fallback = "");
bool FlagOf(const nlohmann::json& object, const char* key, bool fallback);

// A JSON integer, or a decimal string of one (Milvus sends Int64 values as strings
// unless asked not to). Nothing for anything else.
std::optional<int64_t> Int64Of(const nlohmann::json& value);

}  // namespace imgsearch::remote
