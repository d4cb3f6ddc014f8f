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

}  // namespace
}  // namespace imgsearch::store
