// Writing JSON answers with cpp-httplib: the native API's {"error": {"code", "message"}}
// shape and the status each kind of failure gets.
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

inline void SendJson(httplib::Response& res, const nlohmann::json& body) {
  res.set_content(body.dump(), "application/json");
}

inline void SendError(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  SendJson(res, {{"error", {{"code", status}, {"message", message}}}});
}

inline void SendStatus(httplib::Response& res, const Status& s) {
  SendError(res, HttpStatusFor(s), s.message());
}

}  // namespace imgsearch::server
