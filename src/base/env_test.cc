#include "base/env.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "test_util.h"

namespace imgsearch::base {
namespace {

using imgsearch::testing::MakeTempDir;
using imgsearch::testing::ValueOrDie;

TEST(EnvTest, WriteFileAtomicThenReadBack) {
  std::string path = MakeTempDir() + "/file";
  Env* env = Env::Default();
  ASSERT_TRUE(env->WriteFileAtomic(path, std::string("abc\0def", 7)).ok());
  auto read = env->ReadFile(path, 100);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, std::string("abc\0def", 7));
  ASSERT_TRUE(env->WriteFileAtomic(path, "replaced").ok());
  EXPECT_EQ(*env->ReadFile(path, 100), "replaced");
  EXPECT_FALSE(env->FileExists(path + ".tmp"));
  EXPECT_EQ(*env->FileSize(path), 8u);
}

// A mapping shows the file's bytes, and keeps showing them after the file is replaced by
// rename (as snapshots are): the mapped inode lives on.
TEST(EnvTest, MapFileShowsTheBytesAndOutlivesAReplacement) {
  std::string path = MakeTempDir() + "/file";
  Env* env = Env::Default();
  ASSERT_TRUE(env->WriteFileAtomic(path, std::string("abc\0def", 7)).ok());
  auto mapped = env->MapFile(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  EXPECT_EQ((*mapped)->contents(), std::string_view("abc\0def", 7));
  ASSERT_TRUE(env->WriteFileAtomic(path, "replaced").ok());
  EXPECT_EQ((*mapped)->contents(), std::string_view("abc\0def", 7));
  ASSERT_TRUE(env->WriteFileAtomic(path, "").ok());
  EXPECT_TRUE(ValueOrDie(env->MapFile(path))->contents().empty());
  auto missing = env->MapFile(path + ".missing");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(env->MapFile(MakeTempDir()).ok());
}

TEST(EnvTest, ReadFileOverLimitIsRefusedUnread) {
  std::string path = MakeTempDir() + "/big";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, std::string(1000, 'x')).ok());
  auto read = Env::Default()->ReadFile(path, 999);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(read.status().message().find(path), std::string::npos);
}

TEST(EnvTest, MissingFileIsNotFoundAndNamesThePath) {
  auto read = Env::Default()->ReadFile("/nonexistent/imgsearch/file", 10);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_NE(read.status().message().find("/nonexistent/imgsearch/file"), std::string::npos);
}

TEST(EnvTest, ReadingADirectoryIsAnError) {
  auto read = Env::Default()->ReadFile(MakeTempDir(), 10);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("directory"), std::string::npos);
}

// Files under /proc report a size of 0 and are read to their end, still within the limit.
TEST(EnvTest, ReadsFilesThatReportNoSize) {
  auto cmdline = Env::Default()->ReadFile("/proc/self/cmdline", 1 << 20);
  ASSERT_TRUE(cmdline.ok()) << cmdline.status().ToString();
  EXPECT_NE(cmdline->find("base_test"), std::string::npos);
  auto status = Env::Default()->ReadFile("/proc/self/status", 10);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kResourceExhausted);
}

TEST(EnvTest, WriteIntoMissingDirectoryFailsCleanly) {
  Status s = Env::Default()->WriteFileAtomic("/nonexistent/imgsearch/dir/file", "x");
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace imgsearch::base

namespace imgsearch::base {
namespace {

// What a FileWatch reports within a second, as (kind, path, is_directory) strings.
std::vector<std::string> Heard(FileWatch& watch) {
  std::vector<WatchEvent> events;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(watch.Wait(100, &events).ok());
  std::vector<std::string> out;
  for (const WatchEvent& e : events) {
    out.push_back(std::to_string(static_cast<int>(e.kind)) + " " + e.path +
                  (e.is_directory ? "/" : ""));
  }
  return out;
}

std::string Event(WatchEvent::Kind kind, const std::string& path) {
  return std::to_string(static_cast<int>(kind)) + " " + path;
}

// inotify through the Env: a write and its close, a rename in, a removal, a folder made;
// a folder no longer watched reports nothing.
TEST(EnvTest, FileWatchReportsWritesClosesMovesAndRemovals) {
  using Kind = WatchEvent::Kind;
  Env* env = Env::Default();
  std::string dir = MakeTempDir();
  auto watch = ValueOrDie(env->NewFileWatch());
  ASSERT_TRUE(watch->Add(dir).ok());
  EXPECT_TRUE(watch->Watching(dir));
  EXPECT_EQ(watch->size(), 1u);
  std::string outside = MakeTempDir() + "/b.jpg";
  imgsearch::testing::WriteFileBytes(dir + "/a.jpg", "bytes");
  imgsearch::testing::WriteFileBytes(outside, "other bytes");
  ASSERT_EQ(std::rename(outside.c_str(), (dir + "/b.jpg").c_str()), 0);
  ASSERT_TRUE(env->RemoveFile(dir + "/a.jpg").ok());
  ASSERT_TRUE(env->CreateDirs(dir + "/sub").ok());
  std::vector<std::string> heard = Heard(*watch);
  for (const std::string& expected :
       {Event(Kind::kWritten, dir + "/a.jpg"), Event(Kind::kClosed, dir + "/a.jpg"),
        Event(Kind::kMovedIn, dir + "/b.jpg"), Event(Kind::kRemoved, dir + "/a.jpg"),
        Event(Kind::kWritten, dir + "/sub") + "/"}) {
    EXPECT_NE(std::find(heard.begin(), heard.end(), expected), heard.end()) << expected;
  }
  FileStat st = ValueOrDie(env->Stat(dir + "/b.jpg"));
  EXPECT_TRUE(st.is_regular);
  EXPECT_EQ(st.size, 11);
  EXPECT_TRUE(ValueOrDie(env->Stat(dir + "/sub")).is_directory);
  EXPECT_EQ(env->Stat(dir + "/a.jpg").status().code(), StatusCode::kNotFound);

  // Removing a folder's watch removes those inside it, not a sibling sharing its prefix.
  ASSERT_TRUE(watch->Add(dir + "/sub").ok());
  const std::string sibling = dir + "-sibling";
  ASSERT_TRUE(env->CreateDirs(sibling).ok());
  ASSERT_TRUE(watch->Add(sibling).ok());
  EXPECT_EQ(watch->size(), 3u);
  watch->Remove(dir);
  EXPECT_FALSE(watch->Watching(dir));
  EXPECT_FALSE(watch->Watching(dir + "/sub"));
  EXPECT_TRUE(watch->Watching(sibling));
  EXPECT_EQ(watch->size(), 1u);
  imgsearch::testing::WriteFileBytes(dir + "/c.jpg", "bytes");
  EXPECT_TRUE(Heard(*watch).empty());

  EXPECT_FALSE(st.is_link);
  ASSERT_EQ(::symlink((dir + "/sub").c_str(), (dir + "/link").c_str()), 0);
  FileStat link = ValueOrDie(env->Stat(dir + "/link"));
  EXPECT_TRUE(link.is_link);
  EXPECT_TRUE(link.is_directory);  // the target's type
  ASSERT_EQ(::symlink((dir + "/nowhere").c_str(), (dir + "/dangling").c_str()), 0);
  EXPECT_EQ(env->Stat(dir + "/dangling").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace imgsearch::base
