// The server's own connection loop (http_connection.h) seen from a raw socket: requests
// that arrive together or in pieces, "Expect: 100-continue", answers larger than the
// write buffer, a refused body on a connection that carries on, the keep-alive count,
// and a stop that does not wait for idle connections.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "server/test_server.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

struct Answer {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  std::string Header(const std::string& name) const {
    size_t at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) return "";
    at += name.size() + 4;
    return head.substr(at, head.find("\r\n", at) - at);
  }
};

// A client that writes bytes exactly as given and reads answers one by one.
class RawClient {
 public:
  explicit RawClient(int port) : sock_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{10, 0};  // a missing answer fails the test instead of hanging it
    setsockopt(sock_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(sock_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { close(sock_); }
  bool connected() const { return connected_; }

  void Send(const std::string& bytes) {
    ASSERT_EQ(send(sock_, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()));
  }

  // The next answer; status 0 when the connection ended or timed out first.
  Answer Read() {
    Answer answer;
    size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return answer;
    }
    answer.head = in_.substr(0, end + 2);
    in_.erase(0, end + 4);
    answer.status = std::stoi(answer.head.substr(9, 3));
    std::string length = answer.Header("Content-Length");
    size_t size = length.empty() ? 0 : std::stoul(length);
    while (in_.size() < size) {
      if (!Fill()) return Answer{};
    }
    answer.body = in_.substr(0, size);
    in_.erase(0, size);
    return answer;
  }

  // Whether the server closed the connection (after what was read).
  bool Closed() {
    while (in_.empty()) {
      char c;
      ssize_t n = recv(sock_, &c, 1, 0);
      if (n == 0) return true;
      if (n < 0) return false;
      in_.push_back(c);
    }
    return false;
  }

 private:
  bool Fill() {
    char buf[65536];
    ssize_t n = recv(sock_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    in_.append(buf, size_t(n));
    return true;
  }

  int sock_;
  bool connected_ = false;
  std::string in_;
};

std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

std::string Post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(HttpConnectionTest, RequestsSentTogetherAreAnsweredInOrder) {
  ServerFixture f;
  RawClient c(f.port());
  ASSERT_TRUE(c.connected());
  c.Send(Get("/api/health") + Post("/v2/vectordb/collections/list", "{}") + Get("/no/such/route") +
         Get("/api/health"));
  Answer health = c.Read();
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json::parse(health.body)["status"], "ok") << health.body;
  Answer list = c.Read();
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(json::parse(list.body)["code"], 0) << list.body;
  Answer missing = c.Read();
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json::parse(missing.body)["error"]["message"], "no such route");
  EXPECT_EQ(c.Read().status, 200);
}

TEST(HttpConnectionTest, ARequestThatArrivesInPiecesIsReadWhole) {
  ServerFixture f;
  RawClient c(f.port());
  std::string request =
      Post("/v2/vectordb/collections/create", R"({"collectionName": "pieces", "dimension": 4})");
  for (size_t at = 0; at < request.size(); at += 7) {
    c.Send(request.substr(at, 7));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Answer created = c.Read();
  ASSERT_EQ(created.status, 200);
  EXPECT_EQ(json::parse(created.body)["code"], 0) << created.body;
  c.Send(Post("/v2/vectordb/collections/has", R"({"collectionName": "pieces"})"));
  EXPECT_EQ(json::parse(c.Read().body)["data"]["has"], true);
}

TEST(HttpConnectionTest, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  ServerFixture f;
  RawClient c(f.port());
  std::string body = R"({"collectionName": "later", "dimension": 4})";
  std::string request = Post("/v2/vectordb/collections/create", body, "Expect: 100-continue\r\n");
  c.Send(request.substr(0, request.size() - body.size()));
  Answer interim = c.Read();  // the server waits for the body only after saying so
  EXPECT_EQ(interim.status, 100);
  c.Send(body);
  Answer created = c.Read();
  EXPECT_EQ(created.status, 200);
  EXPECT_EQ(json::parse(created.body)["code"], 0) << created.body;
}

TEST(HttpConnectionTest, AnswersLargerThanTheWriteBufferArriveWhole) {
  ServerFixture f;
  RawClient c(f.port());
  c.Send(
      Post("/v2/vectordb/collections/create", R"({"collectionName": "wide", "dimension": 256})"));
  ASSERT_EQ(json::parse(c.Read().body)["code"], 0);
  json rows = json::array();
  for (int i = 0; i < 100; ++i) {
    json v = json::array();
    for (int d = 0; d < 256; ++d) v.push_back(0.001 * (i * 256 + d) + 0.123456);
    rows.push_back({{"id", i}, {"vector", v}});
  }
  c.Send(Post("/v2/vectordb/entities/insert",
              json{{"collectionName", "wide"}, {"data", rows}}.dump()));
  ASSERT_EQ(json::parse(c.Read().body)["code"], 0);
  c.Send(Post("/v2/vectordb/entities/query",
              R"({"collectionName": "wide", "filter": "id >= 0", "limit": 100,
                  "outputFields": ["vector"]})") +
         Get("/api/health"));
  Answer query = c.Read();
  ASSERT_EQ(query.status, 200);
  EXPECT_GT(query.body.size(), 128u << 10);  // two write buffers and more
  json answer = json::parse(query.body);
  ASSERT_EQ(answer["data"].size(), 100u);
  EXPECT_EQ(answer["data"][0]["vector"].size(), 256u);
  EXPECT_EQ(c.Read().status, 200);  // and the connection carries on after it
}

TEST(HttpConnectionTest, ARefusedBodyLeavesTheConnectionUsable) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  ServerFixture f(options);
  RawClient c(f.port());
  c.Send(Post("/v2/vectordb/collections/list", "{" + std::string(5000, ' ') + "}") +
         Get("/api/health"));
  Answer refused = c.Read();
  EXPECT_EQ(refused.status, 413);
  EXPECT_EQ(json::parse(refused.body)["message"], "request body too large");
  EXPECT_EQ(c.Read().status, 200);
}

TEST(HttpConnectionTest, KeepAliveEndsAfterItsMaximumCount) {
  ServerFixture f;
  RawClient c(f.port());
  for (int i = 1; i < 1000; ++i) {
    c.Send(Get("/api/health"));
    Answer a = c.Read();
    ASSERT_EQ(a.status, 200) << "request " << i;
    ASSERT_EQ(a.Header("Keep-Alive"), "timeout=5, max=1000") << "request " << i;
  }
  c.Send(Get("/api/health"));
  Answer last = c.Read();
  EXPECT_EQ(last.status, 200);
  EXPECT_EQ(last.Header("Connection"), "close");
  EXPECT_TRUE(c.Closed());
}

TEST(HttpConnectionTest, StopDoesNotWaitForIdleKeepAliveConnections) {
  ServerFixture f;
  RawClient c(f.port());
  c.Send(Get("/api/health"));
  ASSERT_EQ(c.Read().status, 200);
  // The connection now waits for a next request for up to its keep-alive timeout (5 s).
  auto started = std::chrono::steady_clock::now();
  f.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));
  EXPECT_TRUE(c.Closed());
}

}  // namespace
}  // namespace imgsearch::server
