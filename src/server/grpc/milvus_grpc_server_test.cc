// The gRPC server over real sockets, with grpc++'s client (the one the milvus:// store
// uses) and with raw bytes: answers and errors as gRPC's framing says, an oversized
// message refused with RESOURCE_EXHAUSTED, a slow write that does not hold up a search on
// the same connection, many concurrent calls, hostile HTTP/2 that closes only its own
// connection, and a Stop that lets a running call finish.
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "milvus.grpc.pb.h"
#include "milvus.pb.h"
#include "server/grpc/grpc_h2_connection.h"
#include "server/grpc/milvus_grpc.h"
#include "server/milvus_test_fixture.h"

namespace imgsearch::server {
namespace {

namespace milvuspb = milvus::proto::milvus;
namespace commonpb = milvus::proto::common;
namespace schemapb = milvus::proto::schema;

constexpr size_t kMaxMessage = 1 << 20;

milvuspb::SearchRequest SearchFor(const std::vector<float>& query) {
  commonpb::PlaceholderGroup group;
  commonpb::PlaceholderValue* p = group.add_placeholders();
  p->set_tag("$0");
  p->set_type(commonpb::FloatVector);
  p->add_values(std::string(reinterpret_cast<const char*>(query.data()), query.size() * 4));
  milvuspb::SearchRequest request;
  request.set_collection_name("f");
  request.set_placeholder_group(group.SerializeAsString());
  request.set_dsl_type(commonpb::DslType::BoolExprV1);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"anns_field", ""}, {"topk", "2"}, {"params", "{}"}}) {
    commonpb::KeyValuePair* kv = request.add_search_params();
    kv->set_key(key);
    kv->set_value(value);
  }
  return request;
}

milvuspb::InsertRequest InsertOf(int64_t first_id, int rows) {
  milvuspb::InsertRequest request;
  request.set_collection_name("f");
  request.set_num_rows(uint32_t(rows));
  schemapb::FieldData* ids = request.add_fields_data();
  ids->set_field_name("id");
  ids->set_type(schemapb::DataType::Int64);
  schemapb::FieldData* vectors = request.add_fields_data();
  vectors->set_field_name("vector");
  vectors->set_type(schemapb::DataType::FloatVector);
  vectors->mutable_vectors()->set_dim(4);
  for (int i = 0; i < rows; ++i) {
    ids->mutable_scalars()->mutable_long_data()->add_data(first_id + i);
    for (float v : {1.0f, float(i), 0.5f, 0.0f})
      vectors->mutable_vectors()->mutable_float_vector()->add_data(v);
  }
  return request;
}

// A TCP connection to the server that sends raw bytes.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(uint16_t(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  // Best effort: the server may close before it has read everything.
  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(size_t(n));
    }
  }
  // Reads until the server closes (true) or 10 s pass without a byte (false).
  bool ClosedByServer() {
    char buffer[4096];
    for (;;) {
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

// An HTTP/2 frame header and payload.
std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string frame;
  frame.push_back(char(payload.size() >> 16));
  frame.push_back(char(payload.size() >> 8));
  frame.push_back(char(payload.size()));
  frame.push_back(char(type));
  frame.push_back(char(flags));
  for (int shift : {24, 16, 8, 0}) frame.push_back(char((stream >> shift) & 0x7f));
  return frame + std::string(payload);
}

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class MilvusGrpcServerTest : public MilvusApiFixture {
 protected:
  void SetUp() override {
    MilvusApiFixture::SetUp();
    CreateSixRowCollection("f");
    server_ = testing::ValueOrDie(MilvusGrpcServer::Start(*api_, "127.0.0.1", 0, {}, kMaxMessage));
    stub_ = NewStub();
  }
  void TearDown() override {
    stub_.reset();
    server_.reset();
  }

  // A stub on a channel (an HTTP/2 connection) of its own.
  std::unique_ptr<milvuspb::MilvusService::Stub> NewStub() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxSendMessageSize(64 << 20);
    return milvuspb::MilvusService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials(), args));
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }

  // A search that must succeed: the ids found.
  std::vector<int64_t> Search(milvuspb::MilvusService::Stub& stub, std::vector<float> query) {
    milvuspb::SearchResults results;
    grpc::Status status = stub.Search(Context().get(), SearchFor(query), &results);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(results.status().code(), 0) << results.status().reason();
    const auto& ids = results.results().ids().int_id().data();
    return std::vector<int64_t>(ids.begin(), ids.end());
  }

  bool Answers() {
    milvuspb::GetVersionResponse version;
    return stub_->GetVersion(Context().get(), milvuspb::GetVersionRequest(), &version).ok() &&
           !version.version().empty();
  }

  std::unique_ptr<MilvusGrpcServer> server_;
  std::unique_ptr<milvuspb::MilvusService::Stub> stub_;
};

TEST_F(MilvusGrpcServerTest, AnswersReadsAndWrites) {
  EXPECT_TRUE(Answers());
  EXPECT_EQ(Search(*stub_, {1, 3.1f, 0.5f, 0}), (std::vector<int64_t>{3, 4}));
  milvuspb::MutationResult inserted;
  ASSERT_TRUE(stub_->Insert(Context().get(), InsertOf(100, 3), &inserted).ok());
  EXPECT_EQ(inserted.status().code(), 0) << inserted.status().reason();
  EXPECT_EQ(inserted.insert_cnt(), 3);
  milvuspb::QueryResults query;
  milvuspb::QueryRequest request;
  request.set_collection_name("f");
  request.set_expr("id >= 100");
  request.add_output_fields("count(*)");
  ASSERT_TRUE(stub_->Query(Context().get(), request, &query).ok());
  ASSERT_EQ(query.fields_data_size(), 1);
  EXPECT_EQ(query.fields_data(0).scalars().long_data().data(0), 3);
}

TEST_F(MilvusGrpcServerTest, RefusalsComeAsGrpcStatuses) {
  // A request that does not parse: Trailers-Only with INVALID_ARGUMENT.
  grpc::GenericStub generic(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                                grpc::InsecureChannelCredentials()));
  auto call = [&](const std::string& path, const std::string& bytes) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    std::promise<grpc::Status> done;
    auto ctx = Context();
    generic.UnaryCall(ctx.get(), path, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) { done.set_value(s); });
    return done.get_future().get();
  };
  grpc::Status bad =
      call("/milvus.proto.milvus.MilvusService/Search", "\xff\xff\xff\xff\x0f garbage");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("SearchRequest"), std::string::npos) << bad.error_message();
  grpc::Status other = call("/other.Service/Method", "");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(other.error_message().find("not /other.Service/Method"), std::string::npos);
  // A message that needs percent-encoding in grpc-message arrives decoded.
  grpc::Status named = call("/milvus.proto.milvus.MilvusService/Caf\xc3\xa9%", "");
  EXPECT_EQ(named.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(named.error_message().find("MilvusService/Caf\xc3\xa9%"), std::string::npos)
      << named.error_message();
  EXPECT_TRUE(Answers());
}

TEST_F(MilvusGrpcServerTest, AnOversizedMessageIsResourceExhausted) {
  milvuspb::MutationResult inserted;
  grpc::Status status = stub_->Insert(Context().get(), InsertOf(1000, 70000), &inserted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_NE(status.error_message().find("larger than max"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(Search(*stub_, {1, 6, 0.5f, 0}), (std::vector<int64_t>{6, 5}));  // same connection
  // Just under the limit is fine.
  ASSERT_TRUE(stub_->Insert(Context().get(), InsertOf(1000, 30000), &inserted).ok());
  EXPECT_EQ(inserted.insert_cnt(), 30000);
}

// An answer far larger than the client's first flow-control window (64 KB) goes out in
// many DATA frames as the client opens its window.
TEST_F(MilvusGrpcServerTest, ALargeAnswerStreamsOut) {
  milvuspb::MutationResult inserted;
  ASSERT_TRUE(stub_->Insert(Context().get(), InsertOf(1000, 20000), &inserted).ok());
  milvuspb::QueryRequest request;
  request.set_collection_name("f");
  request.set_expr("id >= 1000");
  request.add_output_fields("vector");
  commonpb::KeyValuePair* limit = request.add_query_params();
  limit->set_key("limit");
  limit->set_value("16384");
  milvuspb::QueryResults query;
  grpc::Status status = stub_->Query(Context().get(), request, &query);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(query.status().code(), 0) << query.status().reason();
  EXPECT_GT(query.ByteSizeLong(), size_t(256) << 10);
  size_t floats = 0;
  for (const auto& column : query.fields_data()) {
    if (column.field_name() == "vector")
      floats = size_t(column.vectors().float_vector().data_size());
  }
  EXPECT_EQ(floats, size_t(16384) * 4);
}

// A write held up by a lock on the database (another writer's transaction) does not hold
// up a search sent after it on the same connection; when the lock goes, it finishes.
TEST_F(MilvusGrpcServerTest, ASlowWriteDoesNotHoldUpASearch) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/imgsearch.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE(Answers());  // connected, so that the insert below reaches the server at once
  std::atomic<bool> inserted{false};
  std::promise<grpc::Status> insert_status;
  milvuspb::MutationResult result;
  auto ctx = Context();
  milvuspb::InsertRequest request = InsertOf(500, 10);
  stub_->async()->Insert(ctx.get(), &request, &result, [&](grpc::Status s) {
    inserted = true;
    insert_status.set_value(s);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Search(*stub_, {1, 2, 0.5f, 0}), (std::vector<int64_t>{2, 1}));
  EXPECT_TRUE(Answers());
  EXPECT_FALSE(inserted) << "the search waited for the insert";
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  grpc::Status status = insert_status.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(result.status().code(), 0) << result.status().reason();
  EXPECT_EQ(result.insert_cnt(), 10);
}

TEST_F(MilvusGrpcServerTest, ManyConcurrentCallsOnFewConnections) {
  std::vector<std::unique_ptr<milvuspb::MilvusService::Stub>> stubs;
  for (int i = 0; i < 4; ++i) stubs.push_back(NewStub());
  constexpr int kCalls = 600;  // 150 per connection, in flight at once
  std::mutex mutex;
  std::condition_variable all_done;
  int done = 0, ok = 0;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<milvuspb::SearchRequest> requests(kCalls);
  std::vector<milvuspb::SearchResults> results(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(Context());
    requests[size_t(i)] = SearchFor({1, float(i % 6 + 1), 0.5f, 0});
    stubs[size_t(i % 4)]->async()->Search(
        contexts.back().get(), &requests[size_t(i)], &results[size_t(i)], [&, i](grpc::Status s) {
          std::lock_guard<std::mutex> lock(mutex);
          bool right = s.ok() && results[size_t(i)].results().ids().int_id().data_size() == 2 &&
                       results[size_t(i)].results().ids().int_id().data(0) == i % 6 + 1;
          ok += right ? 1 : 0;
          if (++done == kCalls) all_done.notify_one();
        });
  }
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(all_done.wait_for(lock, std::chrono::seconds(60), [&] { return done == kCalls; }));
  EXPECT_EQ(ok, kCalls);
}

// Bytes that are not HTTP/2, or HTTP/2 that breaks its rules: that connection closes, the
// server goes on answering the others.
TEST_F(MilvusGrpcServerTest, HostileHttp2ClosesOnlyItsConnection) {
  std::string settings = Frame(4, 0, 0, "");
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"HTTP/1.1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"DATA on stream 0", std::string(kPreface) + settings + Frame(0, 0, 0, "abc")},
      {"headers that are no HPACK",
       std::string(kPreface) + settings + Frame(1, 5, 1, std::string(1000, '\xff'))},
      {"a frame longer than the limit",
       std::string(kPreface) + settings + Frame(0, 0, 1, std::string((1 << 20) + 1, 'x'))},
  };
  for (const auto& [name, bytes] : inputs) {
    RawConnection raw(server_->port());
    ASSERT_TRUE(raw.connected());
    raw.Send(bytes);
    EXPECT_TRUE(raw.ClosedByServer()) << name;
    EXPECT_TRUE(Answers()) << name;
  }
  // A connection that opens more calls than its limit of concurrent streams (256) and
  // never sends their messages: the others are served meanwhile.
  RawConnection raw(server_->port());
  std::string opening(kPreface);
  opening += settings;
  // HEADERS without END_STREAM; HPACK: ":method: POST" and ":scheme: http" (static
  // table), ":path" (static name) and "content-type" as literals.
  std::string path = "/milvus.proto.milvus.MilvusService/GetVersion";
  std::string block = "\x83\x86\x04" + std::string(1, char(path.size())) + path +
                      "\x00\x0c"
                      "content-type"
                      "\x10"
                      "application/grpc";
  for (uint32_t stream = 1; stream < 2 * 300; stream += 2) opening += Frame(1, 4, stream, block);
  raw.Send(opening);
  EXPECT_TRUE(Answers());
}

TEST_F(MilvusGrpcServerTest, StopLetsARunningCallFinish) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/imgsearch.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE(Answers());  // connected, so that the insert below reaches the server at once
  std::promise<grpc::Status> insert_status;
  milvuspb::MutationResult result;
  auto ctx = Context();
  milvuspb::InsertRequest request = InsertOf(700, 5);
  stub_->async()->Insert(ctx.get(), &request, &result,
                         [&](grpc::Status s) { insert_status.set_value(s); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  });
  server_->Stop();
  release.join();
  sqlite3_close(other);
  grpc::Status status = insert_status.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(result.insert_cnt(), 5);
}

TEST(GrpcMessageTest, IsPercentEncoded) {
  EXPECT_EQ(PercentEncodeGrpcMessage("plain text: ok"), "plain text: ok");
  EXPECT_EQ(PercentEncodeGrpcMessage("50% caf\xc3\xa9\n"), "50%25 caf%C3%A9%0A");
}

}  // namespace
}  // namespace imgsearch::server
