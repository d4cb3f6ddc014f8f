// The Milvus gRPC transport (milvus.proto.milvus.MilvusService) over the Milvus dialect:
// each request message is translated into the request object of the dialect's route
// (MilvusApi::CallObject), and the route's answer into the response message, so that
// Milvus's semantics (defaults, checks, error codes) exist once for REST and gRPC alike,
// as Milvus's own REST handler builds the messages its gRPC service takes. Vectors are
// read from and written to the messages' binary fields, never through JSON text.
//
// Errors travel as Milvus's do: in the response's common.Status (code and reason), with the
// gRPC status OK. A request message that does not parse is INVALID_ARGUMENT; an RPC that
// imgsearch does not serve is UNIMPLEMENTED with a message naming it; a missing or
// unknown token UNAUTHENTICATED and a read token on a write PERMISSION_DENIED.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"
#include "server/milvus_api.h"
#include "server/server.h"

namespace imgsearch::server {

// gRPC's status codes that the transport answers with (values as in grpc::StatusCode).
enum class GrpcCode : int {
  kOk = 0,
  kUnknown = 2,
  kInvalidArgument = 3,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnauthenticated = 16,
};

struct GrpcAnswer {
  GrpcCode code = GrpcCode::kOk;
  std::string message;   // when code is not kOk
  std::string response;  // the serialized response message, when code is kOk
};

// Who calls: the scope of the caller's token (-1 none or unknown, 0 read, 1 write).
// Answers one call of MilvusService: `method` is the RPC's name ("Search"), `request` the
// serialized request message. Never throws; safe from any number of threads.
GrpcAnswer AnswerMilvusCall(MilvusApi& api, std::string_view method, std::string_view request,
                            int scope);

// Whether `method` changes data (and so needs a write token). Unknown methods: false.
bool MilvusCallWrites(std::string_view method);

// The scope of gRPC metadata "authorization" (Milvus clients send base64 of "user:password"
// or of a token): a configured token, given as the password or whole. Without tokens
// configured every caller may write.
int GrpcScope(const std::vector<Token>& tokens, std::string_view authorization);

// A running gRPC server: MilvusService on host:port, beside the HTTP server; gRPC over
// cleartext HTTP/2 (h2c) on libnghttp2, with its own event loops (milvus_grpc_server.cc).
// Start, port and Stop are safe from any thread.
class MilvusGrpcServer {
 public:
  // Starts serving at once; port 0 picks a free port (see port()).
  static Result<std::unique_ptr<MilvusGrpcServer>> Start(MilvusApi& api, const std::string& host,
                                                         int port, std::vector<Token> tokens,
                                                         size_t max_message_bytes);
  ~MilvusGrpcServer();  // stops, letting running calls finish

  int port() const;
  void Stop();

  struct State;

 private:
  explicit MilvusGrpcServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace imgsearch::server
