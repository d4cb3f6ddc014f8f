// Multipart uploads: the body of a multipart/form-data POST as the server receives it,
// parsed by cpp-httplib and then read by our code (ParseMultipartSearch for
// /api/search, ParseUploadFields and the "image" part for /api/images).
// Why this way: Debian's cpp-httplib is a compiled library whose header does not declare
// its multipart parser (detail::MultipartFormDataParser lives in the .so), so the parser
// is reached through the public path that leads to it without a socket:
// Server::process_request (protected, hence the subclass) over an in-memory Stream. The
// library is not instrumented, so the fuzzer sees coverage of our handlers only; ASan
// still catches what it does to memory through its interceptors, and a crash is a crash.
// Input: the first byte picks the route (even: search, odd: upload), the rest is the body
// sent with boundary "XyZ" and its exact Content-Length.
// Checks: every request is answered with an HTTP status line; every part handed to us
// holds bytes that were in the body; a parsed search carries the "image" part's bytes and
// a k in [0, 999999] and a label that can go into JSON (UTF-8); model names are non-empty and hold
// no comma; upload fields are an object or absent.
#include <httplib.h>

#include <cstring>

#include "base/json.h"
#include "fuzz_check.h"
#include "server/search_request.h"

namespace {

constexpr const char* kBoundary = "XyZ";

// The request's bytes in, the response's bytes out.
class MemoryStream : public httplib::Stream {
 public:
  explicit MemoryStream(std::string request) : request_(std::move(request)) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, request_.size() - position_);
    std::memcpy(ptr, request_.data() + position_, n);
    position_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    response_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  const std::string& response() const { return response_; }

 private:
  std::string request_;
  size_t position_ = 0;
  std::string response_;
};

// httplib's Server with its request processing reachable for one in-memory request.
class MemoryServer : public httplib::Server {
 public:
  bool Process(httplib::Stream& stream) {
    bool closed = false;
    return process_request(stream, /*close_connection=*/true, closed, nullptr);
  }
};

std::string_view current_body;  // the current input's body, for the handlers' checks

void CheckParts(const httplib::Request& req) {
  for (const auto& [name, part] : req.files) {
    FUZZ_CHECK(current_body.find(part.content) != std::string_view::npos,
               "a part holds bytes that are not in the body");
  }
}

void Search(const httplib::Request& req, httplib::Response& res) {
  CheckParts(req);
  auto call = imgsearch::server::ParseMultipartSearch(req.files);
  if (!call.ok()) return;
  FUZZ_CHECK(call->query.bytes == req.get_file_value("image").content,
             "the query is not the image part");
  FUZZ_CHECK(call->options.k >= 0 && call->options.k <= 999999, "k out of range");
  FUZZ_CHECK(imgsearch::base::IsValidUtf8(call->label), "the answer's label is not UTF-8");
  for (const std::string& model : call->options.only)
    FUZZ_CHECK(!model.empty() && model.find(',') == std::string::npos, "a bad model name");
  res.set_content("{}", "application/json");
}

void Upload(const httplib::Request& req, httplib::Response& res) {
  CheckParts(req);
  auto fields = imgsearch::server::ParseUploadFields(req.files);
  if (!fields.ok()) return;
  FUZZ_CHECK(fields->is_object() || fields->is_null(), "upload fields are not an object");
  FUZZ_CHECK(fields->is_null() == !req.has_file("fields"), "upload fields lost or invented");
  res.set_content("{}", "application/json");
}

MemoryServer& TheServer() {
  static MemoryServer* server = [] {
    auto* s = new MemoryServer;
    s->Post("/api/search", Search);
    s->Post("/api/images", Upload);
    return s;
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  current_body = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string request = std::string("POST ") + (data[0] % 2 ? "/api/images" : "/api/search") +
                        " HTTP/1.1\r\nHost: localhost\r\n"
                        "Content-Type: multipart/form-data; boundary=" +
                        kBoundary + "\r\nContent-Length: " + std::to_string(current_body.size()) +
                        "\r\n\r\n" + std::string(current_body);
  MemoryStream stream(std::move(request));
  TheServer().Process(stream);
  FUZZ_CHECK(stream.response().rfind("HTTP/1.1 ", 0) == 0, "a request got no HTTP answer");
  return 0;
}
