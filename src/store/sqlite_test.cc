// The SQLite layer: failures surface as Statuses, binds included.
#include "store/sqlite.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace imgsearch::store {
namespace {

using testing::MakeTempDir;
using testing::ValueOrDie;

std::unique_ptr<SqliteDb> OpenWithTable() {
  auto db = ValueOrDie(SqliteDb::Open(MakeTempDir() + "/t.db", true));
  EXPECT_TRUE(db->Exec("CREATE TABLE t (a INTEGER NOT NULL, b TEXT)").ok());
  return db;
}

int64_t CountRows(SqliteDb* db) {
  auto count = ValueOrDie(db->Prepare("SELECT count(*) FROM t"));
  EXPECT_TRUE(ValueOrDie(count.Step()));
  return count.Int(0);
}

int64_t PageSize(SqliteDb* db) {
  auto size = ValueOrDie(db->Prepare("PRAGMA page_size"));
  EXPECT_TRUE(ValueOrDie(size.Step()));
  return size.Int(0);
}

// Connections read pages with pread, not through a memory map: each map counts the file's
// pages in the process's RSS again (eight pooled readers of HNSW_SQ re-ranks: 2.3 GB).
TEST(SqliteTest, ConnectionsDoNotMapTheFile) {
  auto db = OpenWithTable();
  auto mmap_size = ValueOrDie(db->Prepare("PRAGMA mmap_size"));
  ASSERT_TRUE(ValueOrDie(mmap_size.Step()));
  EXPECT_EQ(mmap_size.Int(0), 0);
}

// New databases get 8 KB pages (three 512-d vector rows to a page, not one); a database
// made with SQLite's default 4 KB, as earlier versions made them, keeps its pages and its
// rows, and takes writes.
TEST(SqliteTest, NewDatabasesHave8KPagesAndOlderOnesKeepTheirs) {
  EXPECT_EQ(PageSize(OpenWithTable().get()), 8192);
  const std::string path = MakeTempDir() + "/old.db";
  {
    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &handle), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(handle,
                           "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t (a "
                           "INTEGER NOT NULL, b TEXT); INSERT INTO t VALUES (1, 'old')",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(handle);
  }
  auto db = ValueOrDie(SqliteDb::Open(path, false));
  EXPECT_EQ(PageSize(db.get()), 4096);
  auto insert = ValueOrDie(db->Prepare("INSERT INTO t (a, b) VALUES (?, ?)"));
  EXPECT_TRUE(insert.Bind(1, 2).Bind(2, "new").Run().ok());
  EXPECT_EQ(CountRows(db.get()), 2);
}

// Regression: sqlite3_bind_* results were ignored, so a statement ran with a value
// missing (here NULL for b, silently) and reported success.
TEST(SqliteTest, AFailedBindFailsTheRunAndWritesNothing) {
  auto db = OpenWithTable();
  auto insert = ValueOrDie(db->Prepare("INSERT INTO t (a, b) VALUES (?, ?)"));
  Status run = insert.Bind(1, 7).Bind(3, "no such parameter").Bind(2, "kept").Run();
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.message().find("binding parameter 3"), std::string::npos) << run.message();
  EXPECT_NE(run.message().find("INSERT INTO t"), std::string::npos) << run.message();
  EXPECT_EQ(CountRows(db.get()), 0);
}

TEST(SqliteTest, StepAlsoReturnsAFailedBind) {
  auto db = OpenWithTable();
  auto select = ValueOrDie(db->Prepare("SELECT a FROM t WHERE a = ?"));
  Result<bool> row = select.Bind(2, 1).Step();
  ASSERT_FALSE(row.ok());
  EXPECT_NE(row.status().message().find("binding parameter 2"), std::string::npos);
}

// The failure belongs to one use of the statement: after Reset it runs again.
TEST(SqliteTest, ResetForgetsAFailedBind) {
  auto db = OpenWithTable();
  auto insert = ValueOrDie(db->Prepare("INSERT INTO t (a, b) VALUES (?, ?)"));
  ASSERT_FALSE(insert.Bind(0, 1).Run().ok());
  EXPECT_TRUE(insert.Bind(1, 1).Bind(2, "x").Run().ok());
  EXPECT_EQ(CountRows(db.get()), 1);
}

TEST(SqliteTest, AFailedStepNamesTheStatement) {
  auto db = OpenWithTable();
  auto insert = ValueOrDie(db->Prepare("INSERT INTO t (a, b) VALUES (?, ?)"));
  Status run = insert.BindNull(1).Bind(2, "x").Run();  // a is NOT NULL
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.message().find("INSERT INTO t"), std::string::npos) << run.message();
  EXPECT_NE(run.message().find("NOT NULL"), std::string::npos) << run.message();
  EXPECT_TRUE(insert.Bind(1, 2).Bind(2, "y").Run().ok());  // and the statement still works
}

// A statement that ended goes back to its connection for reuse: reused, it starts with
// no values bound and no read of its own, so a row another connection commits meanwhile
// is seen; and while one use of some SQL is live, a second one gets a statement of its own.
TEST(SqliteTest, AKeptStatementIsResetUnboundAndSeesNewerCommits) {
  const std::string path = MakeTempDir() + "/t.db";
  auto writer = ValueOrDie(SqliteDb::Open(path, true));
  ASSERT_TRUE(writer->Exec("CREATE TABLE t (a INTEGER NOT NULL, b TEXT)").ok());
  ASSERT_TRUE(writer->Exec("INSERT INTO t VALUES (1, 'one')").ok());
  auto reader = ValueOrDie(SqliteDb::Open(path, false));
  const std::string sql = "SELECT count(*), (SELECT b FROM t WHERE a = ?) FROM t";
  {
    auto select = ValueOrDie(reader->Prepare(sql));
    ASSERT_TRUE(ValueOrDie(select.Bind(1, 1).Step()));
    EXPECT_EQ(select.Int(0), 1);
    EXPECT_EQ(select.Text(1), "one");
    // Left mid-read (a row pending): ending it must still end the read.
  }
  ASSERT_TRUE(writer->Exec("INSERT INTO t VALUES (2, 'two')").ok());
  auto again = ValueOrDie(reader->Prepare(sql));
  ASSERT_TRUE(ValueOrDie(again.Step()));
  EXPECT_EQ(again.Int(0), 2);    // the newer commit
  EXPECT_TRUE(again.IsNull(1));  // nothing bound: NULL, not the 1 of its last use
  auto nested = ValueOrDie(reader->Prepare(sql));
  ASSERT_TRUE(ValueOrDie(nested.Bind(1, 2).Step()));
  EXPECT_EQ(nested.Text(1), "two");
  EXPECT_EQ(again.Int(0), 2);  // the first use is undisturbed
}

// More distinct statements than a connection keeps: each still works when prepared again.
TEST(SqliteTest, ManyDistinctStatementsAllKeepWorking) {
  auto db = OpenWithTable();
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (5, 'five')").ok());
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 40; ++i) {
      auto select = ValueOrDie(db->Prepare("SELECT a + " + std::to_string(i) + " FROM t"));
      ASSERT_TRUE(ValueOrDie(select.Step()));
      EXPECT_EQ(select.Int(0), 5 + i);
    }
  }
}

}  // namespace
}  // namespace imgsearch::store
