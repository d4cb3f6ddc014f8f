// The gRPC server. Every unary RPC of MilvusService is a raw callback method (request
// bytes in, response bytes out), so that the request decoding is AnswerMilvusCall's alone
// (one path, fuzzed as a whole) and gRPC hands the request over with the call and sends
// the answer with the status: one round of completions per call. Other paths go to a
// generic service that answers with their name. Searches and describes are answered on
// the gRPC callback thread that took the call: a hand-off to another thread cost more CPU
// than a search (bench/milvus_bench.sh). Writes, which may take seconds (an insert of
// thousands of rows, an index build), and queries (a filter may scan every row) run on a
// pool of the server's, so that they never hold up gRPC's few callback threads.
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>

#include <atomic>
#include <deque>

#include "base/thread_pool.h"
#include "server/grpc/milvus_grpc.h"

namespace imgsearch::server {

namespace {

constexpr std::string_view kServicePrefix = "/milvus.proto.milvus.MilvusService/";

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

// MilvusService's unary RPCs, each a raw callback method answered by AnswerMilvusCall.
class RawMilvusService : public grpc::Service {
 public:
  explicit RawMilvusService(MilvusGrpcServer::State& state);

 private:
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* ctx, std::string_view method,
                                 bool writes, const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response);

  MilvusGrpcServer::State& state_;
  std::deque<std::string> paths_;  // gRPC keeps pointers to the method paths
};

struct MilvusGrpcServer::State : grpc::CallbackGenericService {
  MilvusApi* api = nullptr;
  std::vector<Token> tokens;
  std::unique_ptr<base::ThreadPool> pool;
  std::unique_ptr<RawMilvusService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::atomic<bool> stopped{false};

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;
  // The scope of the token the call carries (GrpcScope).
  int ScopeOf(const grpc::ServerContextBase& ctx) const;
};

int MilvusGrpcServer::State::ScopeOf(const grpc::ServerContextBase& ctx) const {
  const auto& metadata = ctx.client_metadata();
  auto auth = metadata.find("authorization");
  std::string_view authorization = auth == metadata.end()
                                       ? std::string_view()
                                       : std::string_view(auth->second.data(), auth->second.size());
  return GrpcScope(tokens, authorization);
}

namespace {

// The request's bytes: in place when gRPC holds them in one slice, else copied together.
std::string_view RequestBytes(const grpc::ByteBuffer& buffer, grpc::Slice* single,
                              std::string* joined) {
  if (buffer.TrySingleSlice(single).ok())
    return std::string_view(reinterpret_cast<const char*>(single->begin()), single->size());
  *joined = Bytes(buffer);
  return *joined;
}

}  // namespace

RawMilvusService::RawMilvusService(MilvusGrpcServer::State& state) : state_(state) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "milvus.proto.milvus.MilvusService");
  for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service->method(i);
    if (method->client_streaming() || method->server_streaming()) continue;  // the generic one's
    const std::string& path = paths_.emplace_back(std::string(kServicePrefix) + method->name());
    std::string_view name = std::string_view(path).substr(kServicePrefix.size());
    // Writes, and queries (a filter may scan every row, count(*) too), go to the pool.
    bool writes = MilvusCallWrites(name) || name == "Query";
    AddMethod(new grpc::internal::RpcServiceMethod(path.c_str(),
                                                   grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    MarkMethodRawCallback(
        int(paths_.size() - 1),
        new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
            [this, name, writes](grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) {
              return Call(ctx, name, writes, request, response);
            }));
  }
}

grpc::ServerUnaryReactor* RawMilvusService::Call(grpc::CallbackServerContext* ctx,
                                                 std::string_view method, bool writes,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto answer = [this, ctx, method, request, response, reactor] {
    grpc::Slice single;
    std::string joined;
    GrpcAnswer answer = AnswerMilvusCall(
        *state_.api, method, RequestBytes(*request, &single, &joined), state_.ScopeOf(*ctx));
    if (answer.code != GrpcCode::kOk) {
      reactor->Finish(grpc::Status(grpc::StatusCode(int(answer.code)), answer.message));
      return;
    }
    grpc::Slice slice(answer.response);
    *response = grpc::ByteBuffer(&slice, 1);
    reactor->Finish(grpc::Status::OK);
  };
  if (writes) {
    state_.pool->Submit(std::move(answer));
  } else {
    answer();
  }
  return reactor;
}

namespace {

// A call of a path that RawMilvusService does not have: read the request and answer with
// the path's name (or, for a streaming RPC of MilvusService, AnswerMilvusCall's refusal).
class UnaryCall : public grpc::ServerGenericBidiReactor {
 public:
  UnaryCall(MilvusGrpcServer::State& state, grpc::GenericCallbackServerContext* ctx)
      : state_(state), ctx_(ctx) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    Answer();
  }

  void OnWriteDone(bool) override {}
  void OnDone() override { delete this; }

 private:
  void Answer() {
    const std::string& path = ctx_->method();
    if (path.compare(0, kServicePrefix.size(), kServicePrefix) != 0) {
      Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          "imgsearch serves milvus.proto.milvus.MilvusService only, not " + path));
      return;
    }
    std::string_view method = std::string_view(path).substr(kServicePrefix.size());
    GrpcAnswer answer =
        AnswerMilvusCall(*state_.api, method, Bytes(request_), state_.ScopeOf(*ctx_));
    if (answer.code != GrpcCode::kOk) {
      Finish(grpc::Status(grpc::StatusCode(int(answer.code)), answer.message));
      return;
    }
    grpc::Slice slice(answer.response);
    response_ = grpc::ByteBuffer(&slice, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  MilvusGrpcServer::State& state_;
  grpc::GenericCallbackServerContext* ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

}  // namespace

grpc::ServerGenericBidiReactor* MilvusGrpcServer::State::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  return new UnaryCall(*this, ctx);
}

Result<std::unique_ptr<MilvusGrpcServer>> MilvusGrpcServer::Start(MilvusApi& api,
                                                                  const std::string& host, int port,
                                                                  std::vector<Token> tokens,
                                                                  size_t max_message_bytes) {
  auto state = std::make_unique<State>();
  state->api = &api;
  state->tokens = std::move(tokens);
  state->pool = std::make_unique<base::ThreadPool>(8);
  grpc::ServerBuilder builder;
  std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  // gRPC binds with SO_REUSEPORT by default: a second server on a taken port would start
  // and share its calls. Without it, a taken port is an error, as for HTTP.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &state->port);
  builder.SetMaxReceiveMessageSize(int(std::min<size_t>(max_message_bytes, INT32_MAX)));
  builder.SetMaxSendMessageSize(INT32_MAX);
  state->service = std::make_unique<RawMilvusService>(*state);
  builder.RegisterService(state->service.get());
  builder.RegisterCallbackGenericService(state.get());
  state->server = builder.BuildAndStart();
  if (state->server == nullptr || state->port == 0)
    return Status::IOError("cannot serve gRPC on " + address + " (is the port in use?)");
  return std::unique_ptr<MilvusGrpcServer>(new MilvusGrpcServer(std::move(state)));
}

MilvusGrpcServer::MilvusGrpcServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

MilvusGrpcServer::~MilvusGrpcServer() {
  Stop();
}

int MilvusGrpcServer::port() const {
  return state_->port;
}

void MilvusGrpcServer::Stop() {
  if (state_->stopped.exchange(true)) return;
  // Running calls get a moment to finish; the pool then drains what they queued.
  state_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  state_->pool.reset();
}

}  // namespace imgsearch::server
