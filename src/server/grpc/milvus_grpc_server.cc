// The gRPC server: one generic service that takes every call as bytes, so that the
// request decoding is AnswerMilvusCall's alone (one path, fuzzed as a whole) and an RPC
// imgsearch does not serve is answered with its name. Reads (searches, queries,
// describes) are answered on the gRPC callback thread that read the request: a hand-off
// to another thread cost more CPU than a search (bench/milvus_bench.sh). Writes, which
// may take seconds (an insert of thousands of rows, an index build), run on a pool of
// the server's, so that they never hold up gRPC's few callback threads.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <atomic>

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

struct MilvusGrpcServer::State : grpc::CallbackGenericService {
  MilvusApi* api = nullptr;
  std::vector<Token> tokens;
  std::unique_ptr<base::ThreadPool> pool;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::atomic<bool> stopped{false};

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;
};

namespace {

// One unary call: read the request, answer it on the pool, write the response and finish.
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
    const std::string& path = ctx_->method();
    bool writes = path.compare(0, kServicePrefix.size(), kServicePrefix) == 0 &&
                  MilvusCallWrites(std::string_view(path).substr(kServicePrefix.size()));
    if (writes) {
      state_.pool->Submit([this] { Answer(); });
    } else {
      Answer();
    }
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
    const auto& metadata = ctx_->client_metadata();
    auto auth = metadata.find("authorization");
    std::string_view authorization =
        auth == metadata.end() ? std::string_view()
                               : std::string_view(auth->second.data(), auth->second.size());
    GrpcAnswer answer = AnswerMilvusCall(*state_.api, method, Bytes(request_),
                                         GrpcScope(state_.tokens, authorization));
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
