// A real `imgsearch serve` process under write load: SIGTERM drains running requests and
// flushes; SIGKILL loses nothing acknowledged. Acknowledged = the client got code 0.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "imgsearch/database.h"
#include "serve_process.h"
#include "test_util.h"

namespace imgsearch {
namespace {

using json = nlohmann::json;
using testing::MakeTempDir;
using testing::ServeProcess;

json Call(httplib::Client& c, const std::string& route, const json& body) {
  auto r = c.Post(("/v2/vectordb/" + route).c_str(), body.dump(), "application/json");
  if (!r) return {{"code", -1}};
  return json::parse(r->body, nullptr, false);
}

std::vector<float> VectorOf(int64_t id) {
  return {float(id), float(id % 7), float(id % 13), 1.0f};
}

// Writers insert batches until the server goes away; returns the acknowledged ids.
std::vector<int64_t> WriteUntilGone(int port, std::function<void()> after_a_while) {
  std::mutex mutex;
  std::vector<int64_t> acknowledged;
  std::atomic<bool> gone{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      httplib::Client c("127.0.0.1", port);
      for (int64_t batch = 0; !gone; ++batch) {
        json rows = json::array();
        std::vector<int64_t> ids;
        for (int i = 0; i < 20; ++i) {
          int64_t id = (batch * 4 + w) * 20 + i + 1;
          rows.push_back({{"id", id}, {"vector", VectorOf(id)}});
          ids.push_back(id);
        }
        json reply = Call(c, "entities/insert", {{"collectionName", "durable"}, {"data", rows}});
        if (reply.is_discarded() || reply["code"] != 0) {
          gone = true;
          break;
        }
        std::lock_guard<std::mutex> lock(mutex);
        acknowledged.insert(acknowledged.end(), ids.begin(), ids.end());
      }
    });
  }
  after_a_while();
  for (auto& t : writers) t.join();
  return acknowledged;
}

// Every acknowledged row is in the database with its exact vector.
void ExpectAllPresent(const std::string& db_dir, const std::vector<int64_t>& acknowledged) {
  auto db = testing::ValueOrDie(Database::Open(db_dir));
  auto collection = testing::ValueOrDie(db->GetCollection("durable"));
  auto rows = testing::ValueOrDie(collection->Get(acknowledged, {"vector"}));
  ASSERT_EQ(rows.size(), acknowledged.size());
  for (const Row& row : rows) ASSERT_EQ(row.vector, VectorOf(row.id)) << row.id;
  EXPECT_GE(collection->Count(), int64_t(acknowledged.size()));  // in-flight ones may land
}

std::string IndexedDatabase() {
  std::string images = MakeTempDir() + "/images", db = MakeTempDir() + "/db";
  std::filesystem::copy(testing::FixturePath("classes"), images,
                        std::filesystem::copy_options::recursive);
  EXPECT_EQ(testing::RunImgsearch({"index", images, "--db", db}).exit_code, 0);
  return db;
}

void CreateCollection(int port) {
  httplib::Client c("127.0.0.1", port);
  ASSERT_EQ(
      Call(c, "collections/create", {{"collectionName", "durable"}, {"dimension", 4}})["code"], 0);
}

// `imgsearch serve` prints where it listens, and SIGTERM stops it cleanly (exit 0).
TEST(ServeDurabilityTest, ServeStopsCleanlyOnSigterm) {
  ServeProcess serve(IndexedDatabase());
  EXPECT_NE(serve.first_line().find("on http://127.0.0.1:"), std::string::npos);
  serve.Signal(SIGTERM);
  std::string rest = serve.RestOfOutput();
  int status = serve.Wait();
  ASSERT_TRUE(WIFEXITED(status)) << rest;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(rest.find("imgsearch stopped"), std::string::npos) << rest;
}

TEST(ServeDurabilityTest, SigtermDrainsRequestsAndFlushes) {
  std::string db = IndexedDatabase();
  ServeProcess serve(db);
  ASSERT_GT(serve.port(), 0);
  CreateCollection(serve.port());
  std::vector<int64_t> acknowledged = WriteUntilGone(serve.port(), [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    serve.Signal(SIGTERM);
  });
  int status = serve.Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_GT(acknowledged.size(), 0u);
  std::printf("%zu rows acknowledged before SIGTERM\n", acknowledged.size());
  ExpectAllPresent(db, acknowledged);
  // Flushed on the way out: the index snapshot on disk holds every change.
  auto reopened = testing::ValueOrDie(Database::Open(db));
  CollectionStats stats = testing::ValueOrDie(reopened->GetCollection("durable"))->Stats();
  EXPECT_EQ(stats.snapshot_sequence, stats.last_sequence);
}

TEST(ServeDurabilityTest, SigkillLosesNothingAcknowledged) {
  std::string db = IndexedDatabase();
  std::vector<int64_t> acknowledged;
  {
    ServeProcess serve(db);
    ASSERT_GT(serve.port(), 0);
    CreateCollection(serve.port());
    acknowledged = WriteUntilGone(serve.port(), [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      serve.Signal(SIGKILL);
    });
    int status = serve.Wait();
    ASSERT_TRUE(WIFSIGNALED(status));
  }
  ASSERT_GT(acknowledged.size(), 0u);
  std::printf("%zu rows acknowledged before SIGKILL\n", acknowledged.size());
  ExpectAllPresent(db, acknowledged);
  // And a restarted server answers for them.
  ServeProcess again(db);
  httplib::Client c("127.0.0.1", again.port());
  json got = Call(c, "entities/get", {{"collectionName", "durable"}, {"id", acknowledged.back()}});
  ASSERT_EQ(got["code"], 0) << got.dump();
  EXPECT_EQ(got["data"].size(), 1u);
}

}  // namespace
}  // namespace imgsearch
