// cpp-httplib's server with its socket loop replaced, to cut the system calls of a
// keep-alive request. httplib 0.11 polls before every read and every write, asks the
// kernel for both addresses of the connection on every request, sends a response's
// headers and body in two TCP segments, and starts each request with an empty read
// buffer. Here one connection keeps one read buffer (a request and its body usually
// arrive in one recv), answers go out in one send, the addresses are read once per
// connection, and the socket's SO_RCVTIMEO / SO_SNDTIMEO (which httplib sets on every
// accepted socket from its read and write timeouts) bound the blocking calls instead of
// a poll before each. Parsing, routing, handlers, limits and error answers stay
// httplib's own (Server::process_request), as httplib's SSLServer does it.
// Thread-safe as httplib::Server is.
#pragma once

#include <httplib.h>

namespace imgsearch::server {

class HttpServer : public httplib::Server {
 private:
  bool process_and_close_socket(socket_t sock) override;
};

}  // namespace imgsearch::server
