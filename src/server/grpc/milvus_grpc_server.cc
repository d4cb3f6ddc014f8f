// The gRPC server, on gRPC's asynchronous API: a few threads, each waiting on its own
// completion queue, take the calls and answer reads (searches, describes) inline, on the
// thread that took the call. gRPC's callback API, used before, handed every call from the
// thread that polled the socket to another one: 4.4 thread switches and 0.10 ms of CPU
// per no-op call, against 0.8 switches and 0.065 ms here (doc/milvus.md, the benchmark).
// With gRPC's default poller (epoll1) any thread may read any connection and then wake
// the thread whose queue the call belongs to; UseGrpcPollEngine keeps each connection
// with one queue's thread.
//
// Every unary RPC of MilvusService is a raw method (request bytes in, response bytes
// out), so that the request decoding is AnswerMilvusCall's alone (one path, fuzzed as a
// whole) and gRPC hands the request over with the call: one round of completions per
// call. Other paths go to a generic service that answers with their name. Writes, which
// may take seconds (an insert of thousands of rows, an index build), and queries (a
// filter may scan every row) run on a pool of the server's, so that they never hold up
// the threads that take calls.
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_unary_call.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <thread>

#include "base/thread_pool.h"
#include "server/grpc/milvus_grpc.h"

namespace imgsearch::server {

namespace {

constexpr std::string_view kServicePrefix = "/milvus.proto.milvus.MilvusService/";
// Threads taking calls, each with its own completion queue; a connection stays with one of
// them. A search holds its thread, and the calls of every other connection of that thread
// wait for it even when a core is free: with 8 pymilvus clients on 2 cores, 2 threads
// answered 2,000-2,550 q/s and 8 threads 2,770-3,050, at the same CPU per call. So at
// least 8, one per core beyond that.
int CallThreads() {
  return int(std::clamp(std::thread::hardware_concurrency(), 8u, 64u));
}

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// The request's bytes: in place when gRPC holds them in one slice, else copied together.
std::string_view RequestBytes(const grpc::ByteBuffer& buffer, grpc::Slice* single,
                              std::string* joined) {
  if (buffer.TrySingleSlice(single).ok())
    return std::string_view(reinterpret_cast<const char*>(single->begin()), single->size());
  *joined = Bytes(buffer);
  return *joined;
}

// What a completion queue hands back: the call that a finished operation belongs to.
class Tag {
 public:
  virtual ~Tag() = default;
  virtual void Proceed(bool ok) = 0;
};

// MilvusService with every unary RPC a raw asynchronous method.
class RawMilvusService : public grpc::Service {
 public:
  struct Method {
    std::string path;
    std::string_view name;  // the RPC's name, inside path
    bool writes;            // answered on the pool
  };

  RawMilvusService();
  const std::deque<Method>& methods() const { return methods_; }
  void Request(int index, grpc::ServerContext* ctx, grpc::ByteBuffer* request,
               grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>* responder,
               grpc::ServerCompletionQueue* cq, Tag* tag) {
    RequestAsyncUnary(index, ctx, request, responder, cq, cq, tag);
  }

 private:
  std::deque<Method> methods_;  // gRPC keeps pointers to the method paths
};

RawMilvusService::RawMilvusService() {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "milvus.proto.milvus.MilvusService");
  for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service->method(i);
    if (method->client_streaming() || method->server_streaming()) continue;  // the generic one's
    Method& m = methods_.emplace_back();
    m.path = std::string(kServicePrefix) + method->name();
    m.name = std::string_view(m.path).substr(kServicePrefix.size());
    // Writes, and queries (a filter may scan every row, count(*) too), go to the pool.
    m.writes = MilvusCallWrites(m.name) || m.name == "Query";
    AddMethod(new grpc::internal::RpcServiceMethod(m.path.c_str(),
                                                   grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    MarkMethodRaw(int(methods_.size() - 1));
  }
}

}  // namespace

struct MilvusGrpcServer::State {
  MilvusApi* api = nullptr;
  std::vector<Token> tokens;
  std::unique_ptr<base::ThreadPool> pool;
  RawMilvusService service;
  grpc::AsyncGenericService generic;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  std::vector<std::thread> threads;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::atomic<bool> stopped{false};

  // The scope of the token the call carries (GrpcScope).
  int ScopeOf(const grpc::ServerContextBase& ctx) const;
  // The answer to one call; `answer` is the serialized response.
  GrpcAnswer Answer(std::string_view method, const grpc::ByteBuffer& request,
                    const grpc::ServerContextBase& ctx) const;
};

int MilvusGrpcServer::State::ScopeOf(const grpc::ServerContextBase& ctx) const {
  const auto& metadata = ctx.client_metadata();
  auto auth = metadata.find("authorization");
  std::string_view authorization = auth == metadata.end()
                                       ? std::string_view()
                                       : std::string_view(auth->second.data(), auth->second.size());
  return GrpcScope(tokens, authorization);
}

GrpcAnswer MilvusGrpcServer::State::Answer(std::string_view method, const grpc::ByteBuffer& request,
                                           const grpc::ServerContextBase& ctx) const {
  grpc::Slice single;
  std::string joined;
  return AnswerMilvusCall(*api, method, RequestBytes(request, &single, &joined), ScopeOf(ctx));
}

namespace {

grpc::Status StatusOf(const GrpcAnswer& answer) {
  return answer.code == GrpcCode::kOk
             ? grpc::Status::OK
             : grpc::Status(grpc::StatusCode(int(answer.code)), answer.message);
}

// One call of a method of RawMilvusService: waits for the call, answers it, and is deleted
// when the answer is sent (or the server shuts down). Taking a call puts the next one of
// the method in its place on the same queue.
class MethodCall : public Tag {
 public:
  MethodCall(MilvusGrpcServer::State& state, int index, grpc::ServerCompletionQueue* cq)
      : state_(state), index_(index), cq_(cq), responder_(&ctx_) {
    state_.service.Request(index_, &ctx_, &request_, &responder_, cq_, this);
  }

  void Proceed(bool ok) override {
    if (answered_ || !ok) {  // sent, or the server shut down before a call came
      delete this;
      return;
    }
    answered_ = true;
    new MethodCall(state_, index_, cq_);
    if (state_.service.methods()[size_t(index_)].writes) {
      state_.pool->Submit([this] { Answer(); });
    } else {
      Answer();
    }
  }

 private:
  void Answer() {
    GrpcAnswer answer =
        state_.Answer(state_.service.methods()[size_t(index_)].name, request_, ctx_);
    if (answer.code != GrpcCode::kOk) {
      responder_.FinishWithError(StatusOf(answer), this);
      return;
    }
    grpc::Slice slice(std::move(answer.response));
    response_ = grpc::ByteBuffer(&slice, 1);
    responder_.Finish(response_, grpc::Status::OK, this);
  }

  MilvusGrpcServer::State& state_;
  const int index_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder_;
  bool answered_ = false;
};

// A call of a path that RawMilvusService does not have: reads the request and answers with
// the path's name (or, for a streaming RPC of MilvusService, AnswerMilvusCall's refusal).
class GenericCall : public Tag {
 public:
  GenericCall(MilvusGrpcServer::State& state, grpc::ServerCompletionQueue* cq)
      : state_(state), cq_(cq), stream_(&ctx_) {
    state_.generic.RequestCall(&ctx_, &stream_, cq_, cq_, this);
  }

  void Proceed(bool ok) override {
    switch (step_) {
      case Step::kWaiting:
        if (!ok) break;
        new GenericCall(state_, cq_);
        step_ = Step::kReading;
        stream_.Read(&request_, this);
        return;
      case Step::kReading:
        step_ = Step::kFinishing;
        if (!ok) {
          stream_.Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"),
                         this);
        } else {
          Answer();
        }
        return;
      case Step::kFinishing:
        break;
    }
    delete this;
  }

 private:
  enum class Step { kWaiting, kReading, kFinishing };

  void Answer() {
    const std::string& path = ctx_.method();
    if (path.compare(0, kServicePrefix.size(), kServicePrefix) != 0) {
      stream_.Finish(
          grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                       "imgsearch serves milvus.proto.milvus.MilvusService only, not " + path),
          this);
      return;
    }
    GrpcAnswer answer =
        state_.Answer(std::string_view(path).substr(kServicePrefix.size()), request_, ctx_);
    if (answer.code != GrpcCode::kOk) {
      stream_.Finish(StatusOf(answer), this);
      return;
    }
    grpc::Slice slice(std::move(answer.response));
    response_ = grpc::ByteBuffer(&slice, 1);
    stream_.WriteAndFinish(response_, grpc::WriteOptions(), grpc::Status::OK, this);
  }

  MilvusGrpcServer::State& state_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::GenericServerContext ctx_;
  grpc::GenericServerAsyncReaderWriter stream_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  Step step_ = Step::kWaiting;
};

// A thread taking calls: every completion of its queue, until the queue shuts down.
void TakeCalls(grpc::ServerCompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) static_cast<Tag*>(tag)->Proceed(ok);
}

}  // namespace

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
  builder.RegisterService(&state->service);
  builder.RegisterAsyncGenericService(&state->generic);
  for (int i = 0, n = CallThreads(); i < n; ++i)
    state->queues.push_back(builder.AddCompletionQueue());
  state->server = builder.BuildAndStart();
  if (state->server == nullptr || state->port == 0) {
    if (state->server != nullptr) state->server->Shutdown();
    for (auto& cq : state->queues) cq->Shutdown();
    for (auto& cq : state->queues) TakeCalls(cq.get());  // nothing was requested: drains
    return Status::IOError("cannot serve gRPC on " + address + " (is the port in use?)");
  }
  for (auto& cq : state->queues) {
    for (int m = 0; m < int(state->service.methods().size()); ++m)
      new MethodCall(*state, m, cq.get());
    new GenericCall(*state, cq.get());
    state->threads.emplace_back(TakeCalls, cq.get());
  }
  return std::unique_ptr<MilvusGrpcServer>(new MilvusGrpcServer(std::move(state)));
}

void UseGrpcPollEngine() {
  setenv("GRPC_POLL_STRATEGY", "poll", 0);  // a value the user set stays
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
  // Running calls get a moment to finish; the pool then drains what they queued, and the
  // queues hand back every call, answered or not, to be deleted.
  state_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  state_->pool.reset();
  for (auto& cq : state_->queues) cq->Shutdown();
  for (std::thread& t : state_->threads) t.join();
}

}  // namespace imgsearch::server
