#include "server/http_connection.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

namespace imgsearch::server {
namespace {

// Enough for a search request with a 1,024-float vector as JSON text in one recv.
constexpr size_t kReadBufferBytes = 64 * 1024;
// Answers up to this size leave in one send; larger ones in as few as it takes.
constexpr size_t kWriteBufferBytes = 64 * 1024;
// An idle keep-alive connection looks this often whether the server is stopping.
constexpr int kIdleSliceMs = 100;

// A socket address as httplib reports it: numeric host and port.
void ReadAddress(const sockaddr_storage& addr, socklen_t length, std::string& ip, int& port) {
  if (addr.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  } else if (addr.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  } else {
    return;
  }
  std::array<char, NI_MAXHOST> host{};
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), length, host.data(), host.size(),
                  nullptr, 0, NI_NUMERICHOST) == 0) {
    ip = host.data();
  }
}

// One accepted connection: a read buffer that outlives a request, and an answer buffer
// sent when the request is done or when the connection is about to wait for its peer.
class Connection final : public httplib::Stream {
 public:
  Connection(socket_t sock, time_t read_timeout_sec, time_t read_timeout_usec)
      : sock_(sock),
        read_timeout_ms_(static_cast<int>(read_timeout_sec * 1000 + read_timeout_usec / 1000)),
        in_(new char[kReadBufferBytes]) {}

  // Whether a request has come within `timeout_sec` (bytes already read count), while
  // the server still listens.
  bool AwaitRequest(time_t timeout_sec, const std::atomic<socket_t>& listener) const {
    if (begin_ < end_) return true;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_sec);
    while (listener != INVALID_SOCKET) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return false;
      int ready = Poll(static_cast<int>(std::min<int64_t>(left, kIdleSliceMs)));
      if (ready != 0) return ready > 0;
    }
    return false;
  }

  // Sends what is buffered; false if the peer cannot take it.
  bool Flush() { return Send(nullptr, 0); }

  bool is_readable() const override { return begin_ < end_ || Poll(read_timeout_ms_) > 0; }
  // A failed send shows in write() or Flush(); the socket's SO_SNDTIMEO bounds it.
  bool is_writable() const override { return true; }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      // The peer may wait for what was written (a "100 Continue") before it sends more.
      if (!Flush()) return -1;
      ssize_t n;
      do {
        n = recv(sock_, in_.get(), kReadBufferBytes, 0);  // SO_RCVTIMEO bounds the wait
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, in_.get() + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (out_.size() + size <= kWriteBufferBytes) {
      out_.append(ptr, size);
    } else if (!Send(ptr, size)) {
      return -1;
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ReadAddresses();
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ReadAddresses();
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return sock_; }

 private:
  // poll() for input: > 0 ready (or closed, which the next read shows), 0 timed out,
  // < 0 failed.
  int Poll(int timeout_ms) const {
    pollfd fd{sock_, POLLIN, 0};
    int ready;
    do {
      ready = poll(&fd, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    return ready;
  }

  // The buffered bytes, then `size` bytes at `extra`, in as few sends as the socket takes.
  bool Send(const char* extra, size_t size) {
    iovec parts[2] = {{out_.data(), out_.size()}, {const_cast<char*>(extra), size}};
    size_t first = 0;  // the first part not sent in full
    bool ok = true;
    for (;;) {
      while (first < 2 && parts[first].iov_len == 0) ++first;
      if (first == 2) break;
      msghdr message{};
      message.msg_iov = parts + first;
      message.msg_iovlen = 2 - first;
      ssize_t sent = sendmsg(sock_, &message, MSG_NOSIGNAL);  // SO_SNDTIMEO bounds it
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) {
        ok = false;
        break;
      }
      for (size_t n = static_cast<size_t>(sent); n > 0; ++first) {
        size_t taken = std::min(n, parts[first].iov_len);
        parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + taken;
        parts[first].iov_len -= taken;
        n -= taken;
        if (parts[first].iov_len > 0) break;
      }
    }
    out_.clear();
    return ok;
  }

  void ReadAddresses() const {
    if (addresses_read_) return;
    addresses_read_ = true;
    sockaddr_storage addr;
    socklen_t length = sizeof(addr);
    if (getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &length) == 0)
      ReadAddress(addr, length, remote_ip_, remote_port_);
    length = sizeof(addr);
    if (getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &length) == 0)
      ReadAddress(addr, length, local_ip_, local_port_);
  }

  socket_t sock_;
  int read_timeout_ms_;
  std::unique_ptr<char[]> in_;
  size_t begin_ = 0, end_ = 0;  // the unread bytes of in_
  std::string out_;
  mutable bool addresses_read_ = false;
  mutable std::string remote_ip_, local_ip_;
  mutable int remote_port_ = -1, local_port_ = -1;
};

}  // namespace

// As httplib's loop: up to keep_alive_max_count_ requests, each awaited up to
// keep_alive_timeout_sec_, the last one answered with "Connection: close".
bool HttpServer::process_and_close_socket(socket_t sock) {
  bool ok = false;
  {
    Connection connection(sock, read_timeout_sec_, read_timeout_usec_);
    for (size_t left = keep_alive_max_count_;
         svr_sock_ != INVALID_SOCKET && left > 0 &&
         connection.AwaitRequest(keep_alive_timeout_sec_, svr_sock_);
         --left) {
      bool connection_closed = false;
      ok = process_request(connection, left == 1, connection_closed, nullptr);
      ok = connection.Flush() && ok;
      if (!ok || connection_closed) break;
    }
  }
  shutdown(sock, SHUT_RDWR);
  close(sock);
  return ok;
}

}  // namespace imgsearch::server
