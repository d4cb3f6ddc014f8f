// Every I/O call of a write, a snapshot and a compaction made to fail in turn (EIO, and
// ENOSPC as a one-off and as a disk that stays full), then a crash simulated by dropping
// what was not synced. Each time: the call reports an error or succeeds (never crashes or
// hangs), every acknowledged change survives, a failed change is there entirely or not
// at all, and the database opens afterwards with its index agreeing with its rows.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "imgsearch/database.h"
#include "store/open_database.h"
#include "store/testing/fault_env.h"
#include "test_util.h"

namespace imgsearch {
namespace {

using store::testing::FaultInjectionEnv;
using testing::MakeTempDir;
using testing::ValueOrDie;

using Contents = std::map<int64_t, std::vector<float>>;  // id -> vector

constexpr const char* kName = "photos";

std::vector<float> VectorOf(int64_t id, int version) {
  return {static_cast<float>(id), static_cast<float>(version), 1, 0};
}

std::vector<Row> RowsOf(const Contents& contents) {
  std::vector<Row> rows;
  for (const auto& [id, vector] : contents) {
    Row row;
    row.id = id;
    row.vector = vector;
    row.fields = {{"tag", "t" + std::to_string(id % 3)}};
    rows.push_back(std::move(row));
  }
  return rows;
}

// What every walk starts from: rows 1..20 (with a snapshot of rows 1..10), HNSW so that
// a snapshot holds a graph worth loading.
Contents Initial() {
  Contents contents;
  for (int64_t id = 1; id <= 20; ++id) contents[id] = VectorOf(id, 0);
  return contents;
}

std::unique_ptr<Database> OpenWithInitialRows(const std::string& dir, base::Env* env) {
  auto db = ValueOrDie(store::OpenDatabase(dir, {}, env));
  CollectionSchema schema;
  schema.name = kName;
  schema.dimension = 4;
  schema.auto_id = false;
  schema.scalar_fields = {{"tag", DataType::kVarChar}};
  EXPECT_TRUE(db->CreateCollection(schema, {"HNSW", "L2", {{"M", 8}}}).ok());
  auto photos = ValueOrDie(db->GetCollection(kName));
  Contents initial = Initial();
  std::vector<Row> rows = RowsOf(initial);
  std::vector<Row> second(rows.begin() + 10, rows.end());
  rows.resize(10);
  EXPECT_TRUE(photos->Insert(rows).ok());
  EXPECT_TRUE(photos->Flush().ok());
  EXPECT_TRUE(photos->Insert(second).ok());
  return db;
}

// The rows as read back, and a check that the index finds each of them where it is.
Contents ReadBack(Database& db) {
  auto photos = ValueOrDie(db.GetCollection(kName));
  QueryRequest all;
  all.limit = 1 << 20;
  all.output_fields = {"*"};
  Contents contents;
  for (const Row& row : ValueOrDie(photos->Query(all))) contents[row.id] = row.vector;
  for (const auto& [id, vector] : contents) {
    SearchRequest near;
    near.vectors = {vector};
    near.limit = 1;
    auto hits = ValueOrDie(photos->Search(near));
    EXPECT_TRUE(!hits[0].empty() && hits[0][0].row.id == id) << "the index lost row " << id;
  }
  EXPECT_EQ(photos->Count(), static_cast<int64_t>(contents.size()));
  SearchRequest everything;
  everything.vectors = {{0, 0, 0, 0}};
  everything.limit = 1000;
  std::set<int64_t> found, expected;
  auto hits = ValueOrDie(photos->Search(everything));
  for (const Hit& hit : hits[0]) found.insert(hit.id);
  for (const auto& entry : contents) expected.insert(entry.first);
  EXPECT_EQ(found, expected) << "the index and the rows disagree";
  return contents;
}

// One fault-injection walk: an operation, and the contents it leads to when it succeeds.
struct Walk {
  std::string name;
  std::function<Status(Database&)> operation;
  Contents after;  // when the operation succeeded; Initial() when it failed
};

struct Fault {
  int error;
  bool sticky;
  const char* name;
};

// "write DIR/imgsearch.db" -> "write imgsearch.db": the same call in every walk.
std::string WithoutFolder(std::string call, const std::string& dir) {
  size_t at = call.find(dir + "/");
  return at == std::string::npos ? call : call.erase(at, dir.size() + 1);
}

struct WalkReport {
  int64_t points = 0;           // I/O calls failed, one per run
  std::set<std::string> kinds;  // which calls they were ("fsync imgsearch.db-wal")
};

// Runs the walk with its nth I/O call failing, for n = 1, 2, ... until the operation
// (and closing the database) makes fewer than n calls.
WalkReport RunWalk(const Walk& walk, const Fault& fault) {
  WalkReport report;
  std::set<std::string>& failed_calls = report.kinds;
  for (int64_t nth = 1;; ++nth) {
    report.points = nth - 1;
    SCOPED_TRACE(walk.name + ", " + fault.name + " at I/O call " + std::to_string(nth));
    std::string dir = MakeTempDir();
    FaultInjectionEnv env(base::Env::Default());
    Status status;
    {
      std::unique_ptr<Database> db = OpenWithInitialRows(dir, &env);
      env.plan().FailAt(nth, fault.error, fault.sticky);
      status = walk.operation(*db);
    }  // closing may make (and fail) I/O calls of its own
    bool fired = env.plan().fired();
    if (fired) failed_calls.insert(WithoutFolder(env.plan().first_failed_call(), dir));
    if (!status.ok()) {
      EXPECT_TRUE(fired) << "failed with no fault injected: " << status.ToString();
      if (fault.error == ENOSPC) {
        EXPECT_EQ(status.code(), StatusCode::kNoSpace) << status.ToString();
      }
    }
    env.plan().Disarm();
    EXPECT_TRUE(env.DropUnsyncedData().ok());
    auto reopened = Database::Open(dir);
    if (!reopened.ok()) {
      ADD_FAILURE() << "does not open after a failure: " << reopened.status().ToString();
      return report;
    }
    Contents found = ReadBack(**reopened);
    if (status.ok()) {
      EXPECT_EQ(found, walk.after) << "an acknowledged change was lost";
    } else {
      EXPECT_TRUE(found == walk.after || found == Initial()) << "a failed change was half made";
    }
    if (!fired) return report;
    if (::testing::Test::HasFailure()) return report;  // one walk's report is enough
  }
}

const Fault kFaults[] = {{EIO, false, "EIO"},
                         {ENOSPC, false, "ENOSPC once"},
                         {ENOSPC, true, "a full disk (ENOSPC from then on)"}};

// Walks every fault; each walk must have met at least `at_least_kinds` kinds of call.
void RunWalkWithEveryFault(const Walk& walk, size_t at_least_kinds) {
  for (const Fault& fault : kFaults) {
    WalkReport report = RunWalk(walk, fault);
    std::printf("%s, %s: %lld I/O calls failed in turn, of %zu kinds\n", walk.name.c_str(),
                fault.name, static_cast<long long>(report.points), report.kinds.size());
    for (const std::string& kind : report.kinds) std::printf("  %s\n", kind.c_str());
    EXPECT_GE(report.kinds.size(), at_least_kinds) << walk.name << ": too few I/O calls";
  }
}

TEST(FaultInjectionTest, AWriteTransactionIsAllOrNothingAndAcknowledgedWritesSurvive) {
  Walk walk;
  walk.name = "insert, upsert and delete in one transaction";
  walk.after = Initial();
  Contents added = {{21, VectorOf(21, 0)}, {22, VectorOf(22, 0)}};
  Contents changed = {{3, VectorOf(3, 1)}, {15, VectorOf(15, 1)}};
  for (const auto& [id, vector] : added) walk.after[id] = vector;
  for (const auto& [id, vector] : changed) walk.after[id] = vector;
  walk.after.erase(4);
  walk.after.erase(16);
  walk.operation = [added, changed](Database& db) {
    return db.Transact([&](Transaction& txn) -> Status {
      IMGSEARCH_RETURN_IF_ERROR(txn.Insert(kName, RowsOf(added)).status());
      IMGSEARCH_RETURN_IF_ERROR(txn.Upsert(kName, RowsOf(changed)).status());
      return txn.Delete(kName, {4, 16}).status();
    });
  };
  RunWalkWithEveryFault(walk, 6);
}

TEST(FaultInjectionTest, ASnapshotThatFailsLeavesTheRowsAndTheOldSnapshotUsable) {
  Walk walk;
  walk.name = "snapshot";
  walk.after = Initial();
  walk.operation = [](Database& db) { return ValueOrDie(db.GetCollection(kName))->Flush(); };
  RunWalkWithEveryFault(walk, 15);
}

TEST(FaultInjectionTest, ACompactionThatFailsNeverBringsDeletedRowsBack) {
  Walk walk;
  walk.name = "delete, then compact";
  walk.after = Initial();
  walk.after.erase(2);
  walk.after.erase(12);
  walk.operation = [](Database& db) {
    auto photos = ValueOrDie(db.GetCollection(kName));
    IMGSEARCH_RETURN_IF_ERROR(photos->Delete({2, 12}).status());
    return photos->Compact();
  };
  // The delete may fail too; then nothing changed, which the walk accepts as well.
  RunWalkWithEveryFault(walk, 15);
}

TEST(FaultInjectionTest, OpeningOnAFullDiskFailsClearlyAndLeavesTheDatabaseAsItWas) {
  std::string dir = MakeTempDir();
  { OpenWithInitialRows(dir, base::Env::Default()); }
  for (int64_t nth = 1;; ++nth) {
    FaultInjectionEnv env(base::Env::Default());
    env.plan().FailAt(nth, ENOSPC, /*sticky=*/true);
    bool opened = store::OpenDatabase(dir, {}, &env).ok();
    bool fired = env.plan().fired();
    env.plan().Disarm();
    EXPECT_TRUE(env.DropUnsyncedData().ok());
    EXPECT_EQ(ReadBack(*ValueOrDie(Database::Open(dir))), Initial()) << "at call " << nth;
    if (!fired) {
      EXPECT_TRUE(opened);
      EXPECT_GE(nth, 3);
      break;
    }
  }
}

}  // namespace
}  // namespace imgsearch
