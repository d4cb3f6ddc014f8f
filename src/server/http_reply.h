// Writing JSON answers with cpp-httplib: the native API's {"error": {"code", "message"}}
// shape, the status each kind of failure gets, and request ids. Every routed request gets
// an id (header X-Request-Id); an internal error (HTTP 500) is logged to stderr with it
// and its body carries it as "request_id", so that a user's report of an answer leads the
// operator to the log line that explains it.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "imgsearch/status.h"

namespace imgsearch::server {

inline int HttpStatusFor(const Status& s) {
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

inline constexpr const char* kRequestIdHeader = "X-Request-Id";

// Unique within the process and, with high likelihood, across processes and restarts: a
// random prefix per process and a counter ("3f9a0c1d-42").
std::string NewRequestId();

// Logs `message` as an internal error of the request answered by `res` and returns the
// request's id (its X-Request-Id, which it sets when the request has none yet).
std::string LogInternalError(httplib::Response& res, const std::string& message);

// The text of a JSON answer. A message may quote a request's bytes, which need not be
// UTF-8 (a multipart field, a filter cut at a byte): those become U+FFFD instead of
// making the serializer throw.
inline std::string JsonText(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline void SendJson(httplib::Response& res, const nlohmann::json& body) {
  res.set_content(JsonText(body), "application/json");
}

inline void SendError(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  nlohmann::json error = {{"code", status}, {"message", message}};
  if (status == 500) error["request_id"] = LogInternalError(res, message);
  SendJson(res, {{"error", std::move(error)}});
}

inline void SendStatus(httplib::Response& res, const Status& s) {
  SendError(res, HttpStatusFor(s), s.message());
}

}  // namespace imgsearch::server
