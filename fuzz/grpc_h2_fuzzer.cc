// The gRPC server's connection (GrpcH2Connection) as a peer drives it: the input is the
// raw bytes a client sends on one connection (HTTP/2 preface, frames, HPACK, gRPC's
// length-prefixed messages), given in two parts so that frames and messages arrive split.
// The calls are answered without the Milvus dialect (fuzzed by milvus_grpc): a method
// whose name has an even length at once, with its request message echoed as the
// response; the others later, after the input, some with an error (so deferred answers,
// Trailers-Only and streams reset meanwhile are exercised).
// Checks: nothing crashes or leaks; a call reaches the handler only with a message no
// larger than the limit (1 KB here) and on a stream id the peer may open (odd); and the
// bytes sent back are whole HTTP/2 frames, the server's SETTINGS first.
#include <cstring>
#include <optional>
#include <vector>

#include "fuzz_check.h"
#include "server/grpc/grpc_h2_connection.h"

namespace {

using imgsearch::server::GrpcAnswer;
using imgsearch::server::GrpcCode;
using imgsearch::server::GrpcH2Connection;
using imgsearch::server::GrpcRequest;

constexpr size_t kMaxMessage = 1024;

// Takes every byte the connection has to send and checks that they are whole frames.
void Drain(GrpcH2Connection& connection, bool* first) {
  std::string out;
  for (int rounds = 0; rounds < 64; ++rounds) {
    out.clear();
    if (!connection.Send(&out, 1 << 16) || out.empty()) return;
    size_t at = 0;
    while (at < out.size()) {
      FUZZ_CHECK(out.size() - at >= 9, "a frame header is cut short");
      auto byte = [&](size_t i) { return size_t(static_cast<unsigned char>(out[at + i])); };
      size_t length = byte(0) << 16 | byte(1) << 8 | byte(2);
      if (*first) FUZZ_CHECK(byte(3) == 4, "the server's first frame is not SETTINGS");
      *first = false;
      FUZZ_CHECK(out.size() - at - 9 >= length, "a frame's payload is cut short");
      at += 9 + length;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::pair<int32_t, bool>> deferred;  // stream, answer with an error
  GrpcH2Connection connection(kMaxMessage, [&](GrpcRequest& request) -> std::optional<GrpcAnswer> {
    FUZZ_CHECK(request.message.size() <= kMaxMessage, "a message over the limit was taken");
    FUZZ_CHECK(request.stream > 0 && request.stream % 2 == 1, "a call on a server's stream id");
    if (request.method.size() % 2 == 0) return GrpcAnswer{GrpcCode::kOk, "", request.message};
    deferred.emplace_back(request.stream, request.message.size() % 3 == 0);
    return std::nullopt;
  });
  bool first = true;
  Drain(connection, &first);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t split =
      input.empty() ? 0 : size_t(static_cast<unsigned char>(input[0])) * 97 % input.size();
  for (std::string_view part : {input.substr(0, split), input.substr(split)}) {
    if (!connection.Receive(part)) break;
    Drain(connection, &first);
  }
  for (const auto& [stream, error] : deferred) {
    connection.Answer(stream, error ? GrpcAnswer{GrpcCode::kInvalidArgument, "no\n%", ""}
                                    : GrpcAnswer{GrpcCode::kOk, "", std::string(300, 'r')});
  }
  Drain(connection, &first);
  connection.Shutdown();
  Drain(connection, &first);
  return 0;
}
