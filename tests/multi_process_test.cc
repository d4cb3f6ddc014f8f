// One library, many processes, with real ones: `imgsearch serve` taking uploads while
// `imgsearch index` adds a folder and `imgsearch delete` removes images, each of them
// killed with SIGKILL at random moments and started again. Afterwards every acknowledged
// image is in every model exactly once, nothing deleted came back, and the server finds
// the command line's images. Before the library was safe for several processes, the two
// writers handed out the same ids and overwrote each other's images.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "imgsearch/database.h"
#include "imgsearch/library.h"
#include "serve_process.h"
#include "test_util.h"
#include "tiny_images.h"

namespace imgsearch {
namespace {

using json = nlohmann::json;
using testing::ChildProcess;
using testing::MakeTempDir;
using testing::MakeTinyImages;
using testing::ServeProcess;
using testing::ValueOrDie;

const std::vector<std::string> kModels = {"color_layout", "phash"};

// Uploads one image; its id once the server acknowledged it.
std::optional<int64_t> Upload(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  httplib::MultipartFormDataItems form = {
      {"image", testing::ReadFileBytes(path), "photo.jpg", "image/jpeg"}};
  auto r = c.Post("/api/images", form);
  if (!r || (r->status != 200 && r->status != 201)) return std::nullopt;
  return json::parse(r->body)["id"].get<int64_t>();
}

std::string FolderOf(const std::vector<std::string>& paths) {
  return std::filesystem::path(paths[0]).parent_path().string();
}

// Each path is one image, and every model holds a vector for exactly the library's
// images; returns path -> id.
std::map<std::string, int64_t> CheckModelsAgree(const std::string& db_dir) {
  auto db = ValueOrDie(Database::Open(db_dir));
  QueryRequest all;
  all.limit = 1 << 30;
  all.output_fields = {"path"};
  std::map<std::string, int64_t> by_path;
  std::set<int64_t> image_ids;
  for (const Row& row :
       ValueOrDie(ValueOrDie(db->GetCollection(kImagesCollectionName))->Query(all))) {
    EXPECT_TRUE(by_path.emplace(row.fields["path"].get<std::string>(), row.id).second)
        << "path " << row.fields["path"] << " twice";
    image_ids.insert(row.id);
  }
  all.output_fields = {};
  for (const std::string& model : kModels) {
    std::set<int64_t> ids;
    for (const Row& row : ValueOrDie(ValueOrDie(db->GetCollection(model))->Query(all)))
      ids.insert(row.id);
    EXPECT_EQ(ids, image_ids) << model << " and the images differ";
  }
  return by_path;
}

std::set<int64_t> Ids(const std::map<std::string, int64_t>& by_path) {
  std::set<int64_t> ids;
  for (const auto& [path, id] : by_path) ids.insert(id);
  return ids;
}

void ExpectServerFinds(int port, int64_t id) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/api/search", json{{"id", id}, {"k", 3}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto hits = json::parse(r->body)["results"]["color_layout"];
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0]["id"], id) << r->body;
}

TEST(MultiProcessTest, IndexWhileServingGivesEveryImageOneIdInEveryModel) {
  std::string db = MakeTempDir() + "/new-library";
  std::vector<std::string> folder = MakeTinyImages(60, 1), uploads = MakeTinyImages(20, 2);
  ServeProcess serve(db);
  ASSERT_GT(serve.port(), 0);
  EXPECT_NE(serve.ErrorOutput().find("created an empty imgsearch library"), std::string::npos)
      << serve.ErrorOutput();
  std::map<std::string, int64_t> uploaded;
  std::thread uploader([&] {
    for (const std::string& path : uploads) {
      auto id = Upload(serve.port(), path);
      ASSERT_TRUE(id) << path;
      uploaded[path] = *id;
    }
  });
  auto indexed = testing::RunImgsearch({"index", FolderOf(folder), "--db", db, "--json"});
  uploader.join();
  ASSERT_EQ(indexed.exit_code, 0) << indexed.err;
  EXPECT_EQ(json::parse(indexed.out)["added"], 60);

  std::map<std::string, int64_t> by_path = CheckModelsAgree(db);
  EXPECT_EQ(by_path.size(), 80u);
  for (const std::string& path : folder) EXPECT_TRUE(by_path.count(path)) << path;
  std::set<int64_t> ids = Ids(by_path);
  httplib::Client c("127.0.0.1", serve.port());
  for (const auto& [path, id] : uploaded) {
    EXPECT_TRUE(ids.count(id)) << "upload " << id << " was overwritten";
    auto image = c.Get(("/api/images/" + std::to_string(id)).c_str());
    ASSERT_TRUE(image);
    EXPECT_EQ(image->body, testing::ReadFileBytes(path)) << "id " << id;
  }
  auto collections = json::parse(c.Get("/api/collections")->body);
  ASSERT_EQ(collections.size(), kModels.size() + 1) << collections;  // and the images
  for (const auto& collection : collections) EXPECT_EQ(collection["rows"], 80) << collections;
  ExpectServerFinds(serve.port(), by_path.at(folder[17]));
}

// A round: the server, an index run and an uploader start together; some of the
// processes are killed with SIGKILL at a random moment.
TEST(MultiProcessTest, KillsOfEveryWriterLoseNothingAcknowledged) {
  std::string db = MakeTempDir() + "/library";
  std::vector<std::string> folder = MakeTinyImages(400, 3), uploads = MakeTinyImages(40, 4);
  std::mt19937 rng(20261123);
  std::map<std::string, int64_t> acknowledged;  // upload path -> id
  std::set<int64_t> deleted, maybe_deleted;
  int processes = 0, kills = 0;
  for (int round = 0; round < 10; ++round) {
    ServeProcess serve(db);
    ChildProcess index({"index", FolderOf(folder), "--db", db});
    processes += 2;
    ASSERT_GT(serve.port(), 0) << serve.ErrorOutput();
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::thread uploader([&] {
      for (const std::string& path : uploads) {
        if (stop) break;
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (acknowledged.count(path)) continue;
        }
        auto id = Upload(serve.port(), path);
        if (!id) break;  // the server was killed
        std::lock_guard<std::mutex> lock(mutex);
        acknowledged[path] = *id;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 500));
    int64_t victim = 0;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!acknowledged.empty())
        victim = std::next(acknowledged.begin(), rng() % acknowledged.size())->second;
    }
    if (victim != 0 && !deleted.count(victim)) {
      // A delete, itself killed now and then: acknowledged only when it exited 0.
      ChildProcess remove({"delete", "id:" + std::to_string(victim), "--db", db});
      ++processes;
      if (rng() % 2 == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 80));
        if (!remove.Exited()) remove.Signal(SIGKILL), ++kills;
      }
      int status = remove.Wait();
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        deleted.insert(victim);
      } else {
        // Killed, so not acknowledged: it may have committed just before the kill.
        maybe_deleted.insert(victim);
      }
    }
    if (rng() % 2 == 0 && !index.Exited()) index.Signal(SIGKILL), ++kills;
    serve.Signal(SIGKILL), ++kills;  // the server dies every round, mid-upload or not
    stop = true;
    uploader.join();
  }
  auto finished = testing::RunImgsearch({"index", FolderOf(folder), "--db", db, "--json"});
  ASSERT_EQ(finished.exit_code, 0) << finished.err;

  std::map<std::string, int64_t> by_path = CheckModelsAgree(db);
  std::set<int64_t> ids = Ids(by_path);
  for (const std::string& path : folder) EXPECT_TRUE(by_path.count(path)) << path;
  size_t checked = 0;
  for (const auto& [path, id] : acknowledged) {
    if (deleted.count(id)) {
      EXPECT_FALSE(ids.count(id)) << "deleted image " << id << " came back";
    } else if (maybe_deleted.count(id)) {
      continue;  // either answer is right for a delete killed midway
    } else {
      EXPECT_TRUE(ids.count(id)) << "acknowledged upload " << id << " is missing";
      ++checked;
    }
  }
  ServeProcess serve(db);
  ExpectServerFinds(serve.port(), by_path.at(folder.back()));
  std::printf(
      "%d processes, %d SIGKILLs; %zu acknowledged uploads present, %zu deleted ones absent, "
      "%zu indexed files each once in %zu models\n",
      processes + 1, kills, checked, deleted.size(), folder.size(), kModels.size());
  EXPECT_GT(kills, 0);
  EXPECT_GT(checked, 0u);
}

}  // namespace
}  // namespace imgsearch
