// Watched folders with real processes: `imgsearch serve --watch DIR` and `imgsearch index
// DIR --watch` follow files that appear, change, move, vanish and arrive in a burst; a
// file written half-way is not read until it is complete; a restart catches up with what
// changed while nothing watched. The library is read back through the server (its
// search and the Milvus query of the images collection) or, without a server, by opening
// it in this process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "image/encode.h"
#include "imgsearch/database.h"
#include "imgsearch/library.h"
#include "serve_process.h"
#include "test_util.h"
#include "tiny_images.h"

namespace imgsearch {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using testing::ChildProcess;
using testing::Eventually;
using testing::MakeTempDir;
using testing::MakeTinyImages;
using testing::ReadFileBytes;
using testing::ServeProcess;
using testing::ValueOrDie;
using testing::WriteFileBytes;

// What a child printed on stderr so far ("" before it opened the file).
std::string ErrOf(const ChildProcess& child) {
  try {
    return child.err();
  } catch (const std::exception&) {
    return "";
  }
}

// The library's images as the server's Milvus query of the images collection gives them:
// path -> content hash.
std::map<std::string, std::string> ServedImages(int port) {
  httplib::Client c("127.0.0.1", port);
  json body = {{"collectionName", kImagesCollectionName},
               {"filter", "id >= 0"},
               {"outputFields", json::array({"path", "hash"})},
               {"limit", 16384}};
  auto r = c.Post("/v2/vectordb/entities/query", body.dump(), "application/json");
  std::map<std::string, std::string> images;
  if (!r || r->status != 200) return images;
  const json answer = json::parse(r->body);
  for (const json& row : answer["data"])
    images[row["path"].get<std::string>()] = row["hash"].get<std::string>();
  return images;
}

// The id of the image at `path`, through the server's Milvus query (-1 when none).
int64_t ServedId(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  json body = {{"collectionName", kImagesCollectionName},
               {"filter", "path == \"" + path + "\""},
               {"outputFields", json::array({"path"})}};
  auto r = c.Post("/v2/vectordb/entities/query", body.dump(), "application/json");
  if (!r || r->status != 200) return -1;
  const json answer = json::parse(r->body);
  return answer["data"].size() == 1 ? answer["data"][0]["id"].get<int64_t>() : -1;
}

// The library's images, read by opening it here (no server running): path -> hash.
std::map<std::string, std::string> StoredImages(const std::string& db) {
  auto library = Database::Open(db);
  std::map<std::string, std::string> images;
  if (!library.ok()) return images;
  QueryRequest all;
  all.limit = 1 << 30;
  all.output_fields = {"path", "hash", "width"};
  auto collection = (*library)->GetCollection(kImagesCollectionName);
  if (!collection.ok()) return images;
  for (const Row& row : ValueOrDie((*collection)->Query(all)))
    images[row.fields["path"].get<std::string>()] = row.fields["hash"].get<std::string>();
  return images;
}

// The library's content hash of a file's bytes (FNV-1a, 64 bits, as hex).
std::string HashOf(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(h));
  return text;
}

// Whether the server finds `path` when searched with its own bytes: the nearest image
// under the path filter, at distance 0.
bool Searchable(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  httplib::MultipartFormDataItems form = {{"image", ReadFileBytes(path), "query.jpg", "image/jpeg"},
                                          {"k", "1", "", ""},
                                          {"models", "color_layout", "", ""},
                                          {"filter", "path == \"" + path + "\"", "", ""}};
  auto r = c.Post("/api/search", form);
  if (!r || r->status != 200) return false;
  const json hits = json::parse(r->body)["results"]["color_layout"];
  return hits.size() == 1 && hits[0]["path"] == path && hits[0]["distance"].get<double>() < 1e-6;
}

std::string MetricsText(int port) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/metrics");
  return r ? r->body : "no answer";
}

// A metric's value from /metrics (-1 when missing).
double Metric(int port, const std::string& name) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/metrics");
  if (!r) return -1;
  size_t at = r->body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::atof(r->body.c_str() + at + name.size() + 2);
}

// Image files in a folder, by path, with their content hashes.
std::map<std::string, std::string> FilesIn(const std::string& folder) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file()) files[entry.path().string()] = HashOf(ReadFileBytes(entry.path()));
  }
  return files;
}

std::string NewFolder(const std::string& name) {
  std::string folder = MakeTempDir() + "/" + name;
  fs::create_directories(folder);
  return folder;
}

// Copies a generated picture in the way a user's copy does: written, then closed.
void CopyPicture(const std::string& from, const std::string& to) {
  WriteFileBytes(to, ReadFileBytes(from));
}

TEST(WatchProcessTest, ServeFollowsFilesThatAppearChangeMoveVanishAndArriveInABurst) {
  std::vector<std::string> pictures = MakeTinyImages(12, 51);
  std::string folder = NewFolder("photos");
  for (int i = 0; i < 3; ++i)
    CopyPicture(pictures[i], folder + "/start-" + std::to_string(i) + ".jpg");
  std::string db = MakeTempDir() + "/lib";
  ServeProcess serve(db, {"--watch", folder, "--grpc-port", "0", "--rescan", "0"});
  ASSERT_GT(serve.port(), 0) << serve.ErrorOutput();
  const int port = serve.port();
  ASSERT_TRUE(Eventually([&] { return ServedImages(port).size() == 3; }))
      << serve.ErrorOutput() << MetricsText(port);

  // Appears.
  CopyPicture(pictures[3], folder + "/new.jpg");
  EXPECT_TRUE(Eventually([&] { return Searchable(port, folder + "/new.jpg"); }, 10));
  // Changes: other bytes under the same path.
  CopyPicture(pictures[4], folder + "/start-0.jpg");
  EXPECT_TRUE(Eventually(
      [&] {
        return ServedImages(port)[folder + "/start-0.jpg"] == HashOf(ReadFileBytes(pictures[4]));
      },
      10));
  EXPECT_TRUE(Searchable(port, folder + "/start-0.jpg"));
  // Moves within the folder (the image keeps its id), and a folder moved in from outside.
  const int64_t id = ServedId(port, folder + "/start-1.jpg");
  ASSERT_GE(id, 0);
  fs::rename(folder + "/start-1.jpg", folder + "/renamed.jpg");
  std::string outside = NewFolder("album");
  CopyPicture(pictures[5], outside + "/x.jpg");
  CopyPicture(pictures[6], outside + "/y.jpg");
  fs::rename(outside, folder + "/album");
  // Vanishes.
  fs::remove(folder + "/start-2.jpg");
  EXPECT_TRUE(Eventually([&] { return ServedImages(port) == FilesIn(folder); }, 10))
      << serve.ErrorOutput();
  EXPECT_TRUE(Searchable(port, folder + "/renamed.jpg"));
  EXPECT_EQ(ServedId(port, folder + "/renamed.jpg"), id) << "a rename embedded anew";
  // The watcher counts a batch once its writes are done: the counters may trail the library.
  EXPECT_TRUE(Eventually([&] { return Metric(port, "imgsearch_watch_moved_total") == 1; }, 10))
      << Metric(port, "imgsearch_watch_moved_total");
  EXPECT_TRUE(Searchable(port, folder + "/album/y.jpg"));
  // A whole folder vanishes.
  fs::remove_all(folder + "/album");
  EXPECT_TRUE(Eventually([&] { return ServedImages(port) == FilesIn(folder); }, 10));

  // A burst: a folder made, then 300 pictures copied into it at once.
  double batches_before = Metric(port, "imgsearch_watch_batches_total");
  std::vector<std::string> burst = MakeTinyImages(300, 52);
  fs::create_directories(folder + "/burst");
  for (size_t i = 0; i < burst.size(); ++i)
    CopyPicture(burst[i], folder + "/burst/b" + std::to_string(i) + ".jpg");
  EXPECT_TRUE(Eventually([&] { return ServedImages(port) == FilesIn(folder); }, 40))
      << ServedImages(port).size() << " of " << FilesIn(folder).size();
  EXPECT_TRUE(
      Eventually([&] { return Metric(port, "imgsearch_watch_indexed_total") >= 300 + 6; }, 10));
  double batches = Metric(port, "imgsearch_watch_batches_total") - batches_before;
  EXPECT_GE(batches, 1);
  EXPECT_LT(batches, 60) << "a burst of 300 files should come in batches, not one by one";
  EXPECT_TRUE(Eventually([&] { return Metric(port, "imgsearch_watch_removed_total") >= 3; }, 10));
  EXPECT_EQ(Metric(port, "imgsearch_watch_errors_total"), 0);
  EXPECT_EQ(Metric(port, "imgsearch_watch_caught_up"), 1);
  serve.Signal(SIGTERM);
  int status = serve.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << serve.ErrorOutput();
}

// A picture written half, a pause longer than any settle time with the file still open,
// then the rest: it is indexed only once complete, and then decodes in full.
TEST(WatchProcessTest, IndexWatchReadsAHalfWrittenFileOnlyOnceItIsComplete) {
  std::string folder = NewFolder("incoming");
  std::string db = MakeTempDir() + "/lib";
  ChildProcess index({"index", folder, "--db", db, "--watch", "--log-level", "info"});
  ASSERT_TRUE(Eventually([&] {
    return ErrOf(index).find("watching 1 folder") != std::string::npos;
  })) << ErrOf(index);

  Image picture{96, 64, std::vector<uint8_t>(96 * 64 * 3)};
  for (size_t p = 0; p < picture.rgb.size(); ++p)
    picture.rgb[p] = static_cast<uint8_t>(p * 7 % 251);
  std::string bytes = ValueOrDie(image::EncodeJpeg(picture, 95));
  std::string path = folder + "/slow.jpg";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  size_t half = bytes.size() / 2;
  ASSERT_EQ(::write(fd, bytes.data(), half), static_cast<ssize_t>(half));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(StoredImages(db).count(path), 0u) << "read half-way:\n" << ErrOf(index);
  ASSERT_EQ(::write(fd, bytes.data() + half, bytes.size() - half),
            static_cast<ssize_t>(bytes.size() - half));
  ASSERT_EQ(::close(fd), 0);
  EXPECT_TRUE(Eventually([&] { return StoredImages(db).count(path) == 1; }, 10)) << ErrOf(index);
  EXPECT_EQ(StoredImages(db)[path], HashOf(bytes));
  auto library = ValueOrDie(Library::Open(db, {}));
  auto ids = ValueOrDie(library->FindImages("width == 96 and height == 64"));
  EXPECT_EQ(ids.size(), 1u) << "indexed, but not decoded in full";

  index.Signal(SIGTERM);
  int status = index.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ErrOf(index);
  EXPECT_NE(ErrOf(index).find("stopped watching: 1 files indexed"), std::string::npos)
      << ErrOf(index);
  EXPECT_EQ(ErrOf(index).find("[warning]"), std::string::npos) << ErrOf(index);
}

// Stopped, the folder changes (files added, changed, renamed, removed); started again,
// the watcher's first rescan brings the library in step.
TEST(WatchProcessTest, ARestartCatchesUpWithWhatChangedWhileNothingWatched) {
  std::vector<std::string> pictures = MakeTinyImages(10, 53);
  std::string folder = NewFolder("library-folder");
  for (int i = 0; i < 5; ++i) CopyPicture(pictures[i], folder + "/p" + std::to_string(i) + ".jpg");
  std::string db = MakeTempDir() + "/lib";
  {
    ChildProcess index({"index", folder, "--db", db, "--watch", "--json"});
    ASSERT_TRUE(Eventually([&] { return ErrOf(index).find("watching") != std::string::npos; }))
        << ErrOf(index);
    index.Signal(SIGINT);
    int status = index.Wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ErrOf(index);
    EXPECT_EQ(json::parse(index.out())["added"], 5);
  }
  ASSERT_EQ(StoredImages(db), FilesIn(folder));

  CopyPicture(pictures[5], folder + "/added.jpg");
  fs::create_directories(folder + "/sub");
  CopyPicture(pictures[6], folder + "/sub/added-too.jpg");
  CopyPicture(pictures[7], folder + "/p0.jpg");  // changed
  fs::rename(folder + "/p1.jpg", folder + "/p1-renamed.jpg");
  fs::remove(folder + "/p2.jpg");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // older than --settle
  ASSERT_NE(StoredImages(db), FilesIn(folder));

  ServeProcess serve(db, {"--watch", folder, "--grpc-port", "0"});
  ASSERT_GT(serve.port(), 0) << serve.ErrorOutput();
  EXPECT_TRUE(Eventually([&] { return Metric(serve.port(), "imgsearch_watch_caught_up") == 1; }));
  EXPECT_EQ(ServedImages(serve.port()), FilesIn(folder)) << serve.ErrorOutput();
  EXPECT_EQ(Metric(serve.port(), "imgsearch_watch_rescans_total"), 1);
}

}  // namespace
}  // namespace imgsearch
