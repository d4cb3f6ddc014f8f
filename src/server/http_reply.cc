#include "server/http_reply.h"

#include <atomic>
#include <cstdio>
#include <random>

#include "base/log.h"

namespace imgsearch::server {

std::string NewRequestId() {
  static const std::string prefix = [] {
    char text[9];
    std::snprintf(text, sizeof(text), "%08x", static_cast<unsigned>(std::random_device()()));
    return std::string(text);
  }();
  static std::atomic<uint64_t> counter{0};
  return prefix + "-" + std::to_string(++counter);
}

std::string LogInternalError(httplib::Response& res, const std::string& message) {
  std::string id = res.get_header_value(kRequestIdHeader);
  if (id.empty()) {
    id = NewRequestId();
    res.set_header(kRequestIdHeader, id);
  }
  IMGSEARCH_LOG_ERROR("request {}: internal error: {}", id, message);
  return id;
}

}  // namespace imgsearch::server
