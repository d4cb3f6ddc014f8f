// The gRPC server: gRPC over cleartext HTTP/2 (h2c with prior knowledge, as gRPC clients
// open an insecure channel) on libnghttp2, with its own event loops. grpc++'s server, used
// before, cost serve 0.07 ms of CPU per no-op call (its call objects, combiners, filter
// stacks, Abseil mutexes and a thread switch per call); this one 0.03 ms, most of it the
// kernel's (a wake-up, recv, send), and a pymilvus search 0.05 ms less (doc/milvus.md,
// the benchmark). The grpc++ client (the milvus:// store) is unchanged.
//
// Threads (at least 8) each run an epoll loop over their own connections; the listening sockets
// are in every loop's epoll with EPOLLEXCLUSIVE, so a new connection goes to a loop that
// is waiting, and stays with it. Each connection is a GrpcH2Connection (HTTP/2 and gRPC's
// framing). Reads (searches, describes, gets) are answered inline, on the loop's thread,
// as their request completes: no thread switch. Writes, which may take seconds (an insert
// of thousands of rows, an index build), and queries (a filter may scan every row) run on
// a pool of the server's; their answers come back to the connection's loop through an
// eventfd, so a slow call never holds up the others, on its connection or on its loop.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/thread_pool.h"
#include "server/grpc/grpc_h2_connection.h"
#include "server/grpc/milvus_grpc.h"

namespace imgsearch::server {

namespace {

// Loops, each with its own connections. A search holds its loop, and the calls of every
// other connection of that loop wait for it even when a core is free: with 8 pymilvus
// clients on 2 cores, 2 threads answered 2,000-2,550 q/s and 8 threads 2,770-3,050 (with
// grpc++, at the same CPU per call). So at least 8, one per core beyond that.
int LoopThreads() {
  return int(std::clamp(std::thread::hardware_concurrency(), 8u, 64u));
}

constexpr size_t kReadBytes = 256 << 10;              // one recv
constexpr size_t kSendBytes = 256 << 10;              // output taken from nghttp2 at a time
constexpr auto kStopGrace = std::chrono::seconds(5);  // for running calls, at Stop
constexpr uint64_t kWakeKey = 0;                      // epoll keys: the eventfd,
constexpr uint64_t kListenerKey = 1;                  // listeners 1.., connections
constexpr uint64_t kFirstConnection = 1 << 20;        // from here on

// Whether a call runs on the pool rather than on its loop: writes, and queries (a filter
// may scan every row, count(*) too).
bool RunsOnPool(std::string_view method) {
  return MilvusCallWrites(method) || method == "Query";
}

struct Completion {
  uint64_t connection;
  int32_t stream;
  GrpcAnswer answer;
};

// One thread's connections and its epoll loop.
class EventLoop {
 public:
  explicit EventLoop(MilvusGrpcServer::State& state) : state_(state), buffer_(kReadBytes) {}
  ~EventLoop();
  Status Init(const std::vector<int>& listeners);
  void Run();
  // From any thread:
  void Post(Completion completion);
  void RequestStop();

 private:
  struct Connection {
    int fd = -1;
    uint64_t id = 0;
    std::unique_ptr<GrpcH2Connection> h2;
    std::string out;
    size_t out_sent = 0;
    bool watching_out = false;  // EPOLLOUT is on
  };

  void Accept(int listener);
  void Read(Connection& c);
  void Flush(Connection& c);
  void Close(Connection& c);
  void Wake();
  void BeginStop();
  bool Drained() const;
  std::optional<GrpcAnswer> Handle(uint64_t id, GrpcRequest& request);

  MilvusGrpcServer::State& state_;
  int epoll_ = -1;
  int wake_ = -1;
  std::vector<int> listeners_;
  std::vector<char> buffer_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  uint64_t next_id_ = kFirstConnection;
  size_t on_pool_ = 0;  // calls of this loop running on the pool
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;

  std::mutex mutex_;  // guards what other threads hand over:
  std::vector<Completion> completions_;
  bool stop_requested_ = false;
};

}  // namespace

struct MilvusGrpcServer::State {
  MilvusApi* api = nullptr;
  std::vector<Token> tokens;
  size_t max_message_bytes = 0;
  std::vector<int> listeners;
  int port = 0;
  std::vector<std::unique_ptr<EventLoop>> loops;
  std::unique_ptr<base::ThreadPool> pool;  // after loops: its calls post to them
  std::vector<std::thread> threads;
  std::atomic<bool> stopped{false};

  ~State() {
    pool.reset();
    loops.clear();
    for (int fd : listeners) close(fd);
  }
};

namespace {

EventLoop::~EventLoop() {
  for (auto& [id, c] : connections_) close(c->fd);
  if (epoll_ >= 0) close(epoll_);
  if (wake_ >= 0) close(wake_);
}

Status EventLoop::Init(const std::vector<int>& listeners) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_ < 0 || wake_ < 0)
    return Status::IOError("gRPC server: " + std::string(strerror(errno)));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeKey;
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event) != 0)
    return Status::IOError("gRPC server: " + std::string(strerror(errno)));
  listeners_ = listeners;
  for (size_t i = 0; i < listeners.size(); ++i) {
    event.events = EPOLLIN | EPOLLEXCLUSIVE;
    event.data.u64 = kListenerKey + i;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, listeners[i], &event) != 0)
      return Status::IOError("gRPC server: " + std::string(strerror(errno)));
  }
  return Status::Ok();
}

void EventLoop::Run() {
  epoll_event events[64];
  while (!stopping_ || !Drained()) {
    int timeout = stopping_ ? 50 : -1;
    int n = epoll_wait(epoll_, events, int(std::size(events)), timeout);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      uint64_t key = events[i].data.u64;
      if (key == kWakeKey) {
        Wake();
      } else if (key < kFirstConnection) {
        if (!stopping_) Accept(listeners_[key - kListenerKey]);
      } else if (auto it = connections_.find(key); it != connections_.end()) {
        Connection& c = *it->second;
        if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
          Read(c);
        } else {
          Flush(c);
        }
      }
    }
  }
  while (!connections_.empty()) Close(*connections_.begin()->second);
}

bool EventLoop::Drained() const {
  if (std::chrono::steady_clock::now() > stop_deadline_) return true;
  if (on_pool_ > 0) return false;
  for (const auto& [id, c] : connections_) {
    if (c->h2->open_streams() > 0 || c->out_sent < c->out.size()) return false;
  }
  return true;
}

void EventLoop::Accept(int listener) {
  for (int i = 0; i < 16; ++i) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: another loop took it; or a transient error
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->id = next_id_++;
    uint64_t id = c->id;
    c->h2 = std::make_unique<GrpcH2Connection>(
        state_.max_message_bytes, [this, id](GrpcRequest& request) { return Handle(id, request); });
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
      close(fd);
      continue;
    }
    Connection& added = *connections_.emplace(id, std::move(c)).first->second;
    Flush(added);  // the server's SETTINGS
  }
}

void EventLoop::Read(Connection& c) {
  ssize_t n = recv(c.fd, buffer_.data(), buffer_.size(), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    Close(c);
    return;
  }
  if (!c.h2->Receive(std::string_view(buffer_.data(), size_t(n)))) {
    // A peer that broke HTTP/2: its GOAWAY, if the socket takes it at once, then close.
    c.h2->Send(&c.out, kSendBytes);
    if (c.out_sent < c.out.size()) {
      ssize_t ignored = send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)ignored;
    }
    Close(c);
    return;
  }
  Flush(c);
}

void EventLoop::Flush(Connection& c) {
  if (c.out_sent == c.out.size()) {
    c.out.clear();
    c.out_sent = 0;
    if (!c.h2->Send(&c.out, kSendBytes)) return Close(c);
  }
  while (c.out_sent < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      return Close(c);
    }
    c.out_sent += size_t(n);
    if (c.out_sent == c.out.size()) {
      c.out.clear();
      c.out_sent = 0;
      if (!c.h2->Send(&c.out, kSendBytes)) return Close(c);
    }
  }
  bool pending = c.out_sent < c.out.size();
  if (!pending && c.h2->done()) return Close(c);
  if (pending != c.watching_out) {
    epoll_event event{};
    event.events = EPOLLIN | (pending ? EPOLLOUT : 0u);
    event.data.u64 = c.id;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &event);
    c.watching_out = pending;
  }
}

void EventLoop::Close(Connection& c) {
  epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  connections_.erase(c.id);  // deletes c
}

std::optional<GrpcAnswer> EventLoop::Handle(uint64_t id, GrpcRequest& request) {
  int scope = GrpcScope(state_.tokens, request.authorization);
  if (!RunsOnPool(request.method))
    return AnswerMilvusCall(*state_.api, request.method, request.message, scope);
  ++on_pool_;
  state_.pool->Submit([this, id, stream = request.stream, method = std::string(request.method),
                       message = std::move(request.message), scope] {
    Post({id, stream, AnswerMilvusCall(*state_.api, method, message, scope)});
  });
  return std::nullopt;
}

void EventLoop::Post(Completion completion) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    first = completions_.empty();
    completions_.push_back(std::move(completion));
  }
  if (first) {
    uint64_t one = 1;
    ssize_t ignored = write(wake_, &one, sizeof(one));
    (void)ignored;
  }
}

void EventLoop::RequestStop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
  }
  uint64_t one = 1;
  ssize_t ignored = write(wake_, &one, sizeof(one));
  (void)ignored;
}

void EventLoop::Wake() {
  uint64_t count = 0;
  ssize_t ignored = read(wake_, &count, sizeof(count));
  (void)ignored;
  std::vector<Completion> completions;
  bool stop;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    completions.swap(completions_);
    stop = stop_requested_;
  }
  for (Completion& done : completions) {
    --on_pool_;
    auto it = connections_.find(done.connection);
    if (it == connections_.end()) continue;  // closed meanwhile
    it->second->h2->Answer(done.stream, std::move(done.answer));
    Flush(*it->second);
  }
  if (stop && !stopping_) BeginStop();
}

void EventLoop::BeginStop() {
  stopping_ = true;
  stop_deadline_ = std::chrono::steady_clock::now() + kStopGrace;
  for (int fd : listeners_) epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
  std::vector<Connection*> all;
  for (auto& [id, c] : connections_) all.push_back(c.get());
  for (Connection* c : all) {
    c->h2->Shutdown();
    Flush(*c);  // may close it
  }
}

// The listening sockets for host:port: one per address the host resolves to (all on the
// port the first one got, when port is 0). Without SO_REUSEPORT, so that a taken port is
// an error, as for HTTP.
Status Listen(const std::string& host, int port, std::vector<int>* listeners, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string where =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints,
                  &found) != 0) {
    return Status::IOError("cannot serve gRPC on " + where + ": unknown host");
  }
  int count = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) ++count;
  Status status = Status::Ok();
  for (addrinfo* a = found; a != nullptr && status.ok(); a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->ai_family == AF_INET6 && count > 1)
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (*bound_port != 0) {
      if (a->ai_family == AF_INET)
        reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_port = htons(uint16_t(*bound_port));
      if (a->ai_family == AF_INET6)
        reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_port = htons(uint16_t(*bound_port));
    }
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
      int error = errno;
      close(fd);
      // An address family the machine lacks is skipped; a taken port is an error.
      if (error == EADDRINUSE || error == EACCES)
        status = Status::IOError("cannot serve gRPC on " + where +
                                 " (is the port in use?): " + strerror(error));
      continue;
    }
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    *bound_port =
        ntohs(address.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&address)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    listeners->push_back(fd);
  }
  freeaddrinfo(found);
  if (status.ok() && listeners->empty())
    status = Status::IOError("cannot serve gRPC on " + where + ": no address to bind");
  return status;
}

}  // namespace

Result<std::unique_ptr<MilvusGrpcServer>> MilvusGrpcServer::Start(MilvusApi& api,
                                                                  const std::string& host, int port,
                                                                  std::vector<Token> tokens,
                                                                  size_t max_message_bytes) {
  auto state = std::make_unique<State>();
  state->api = &api;
  state->tokens = std::move(tokens);
  state->max_message_bytes = std::min<size_t>(max_message_bytes, UINT32_MAX);
  IMGSEARCH_RETURN_IF_ERROR(Listen(host, port, &state->listeners, &state->port));
  state->pool = std::make_unique<base::ThreadPool>(8);
  for (int i = 0, n = LoopThreads(); i < n; ++i) {
    auto loop = std::make_unique<EventLoop>(*state);
    IMGSEARCH_RETURN_IF_ERROR(loop->Init(state->listeners));
    state->loops.push_back(std::move(loop));
  }
  for (auto& loop : state->loops) state->threads.emplace_back([l = loop.get()] { l->Run(); });
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
  // Each loop stops taking connections, sends GOAWAY, and lets its running calls finish
  // (up to kStopGrace); then the pool drains what is left and the sockets close.
  for (auto& loop : state_->loops) loop->RequestStop();
  for (std::thread& t : state_->threads) t.join();
  state_->pool.reset();
  for (int fd : state_->listeners) close(fd);
  state_->listeners.clear();
}

}  // namespace imgsearch::server
