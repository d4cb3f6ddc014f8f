// One connection of the gRPC server, without its socket: the bytes the peer sent go in
// (Receive), the bytes to send back come out (Send). HTTP/2 itself (frames, HPACK, flow
// control, SETTINGS, PING, GOAWAY, RST_STREAM) is libnghttp2's; this class reads gRPC's
// unary calls out of the streams, as gRPC over HTTP/2 specifies them: the request headers
// (":path", "content-type: application/grpc...", "grpc-encoding", the metadata
// "authorization"), one length-prefixed request message, and it frames each answer as
// HEADERS, DATA and trailers (grpc-status, grpc-message), or as Trailers-Only when the
// call fails. Cleartext HTTP/2 with prior knowledge (h2c), as gRPC clients open an
// insecure channel.
//
// Not thread-safe: one thread owns a connection and makes every call on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/grpc/milvus_grpc.h"

namespace imgsearch::server {

// A complete unary call of MilvusService.
struct GrpcRequest {
  int32_t stream = 0;
  std::string_view method;         // the RPC's name ("Search"); valid during the handler only
  std::string_view authorization;  // the "authorization" metadata, or empty; idem
  std::string message;             // the serialized request message; the handler may take it
};

class GrpcH2Connection {
 public:
  // Answers a call: at once (returns the answer), or later (returns nullopt and calls
  // Answer(request.stream, ...) on the connection's thread when it has the answer).
  using Handler = std::function<std::optional<GrpcAnswer>(GrpcRequest&)>;

  // `max_message_bytes`: a larger request message is refused with RESOURCE_EXHAUSTED as
  // soon as its length prefix arrives, without buffering it.
  GrpcH2Connection(size_t max_message_bytes, Handler handler);
  ~GrpcH2Connection();
  GrpcH2Connection(const GrpcH2Connection&) = delete;
  GrpcH2Connection& operator=(const GrpcH2Connection&) = delete;

  // Takes bytes from the peer; answers the calls they complete. False when the peer broke
  // HTTP/2 so that the connection must close (after Send's last bytes, a GOAWAY, if any).
  bool Receive(std::string_view bytes);

  // The answer to a call its handler deferred. A call whose stream has gone (the peer
  // reset it, or the connection closed) is dropped.
  void Answer(int32_t stream, GrpcAnswer answer);

  // Appends bytes to send to `out` until it holds at least `limit` bytes or nothing is
  // left to send (flow control may hold answers back until the peer reads). False on an
  // internal failure of the session (then close).
  bool Send(std::string* out, size_t limit);

  // Nothing more to read or write: the connection can close.
  bool done() const;

  // Sends GOAWAY: the peer starts no new calls; the running ones go on.
  void Shutdown();

  // Calls received and not yet answered (running, or waiting for their request's end).
  size_t open_streams() const;

  struct Impl;  // nghttp2's session and the streams (grpc_h2_connection.cc)

 private:
  std::unique_ptr<Impl> impl_;
};

// grpc-message's encoding (percent-encoding of bytes outside printable ASCII, and '%').
std::string PercentEncodeGrpcMessage(std::string_view message);

}  // namespace imgsearch::server
