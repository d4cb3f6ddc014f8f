// One database opened twice, as two processes open it: each handle has its own SQLite
// connections, memory and snapshot lock, so what holds between them holds between
// processes (tests/multi_process_test.cc checks the same with real ones).
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "imgsearch/database.h"
#include "test_util.h"

namespace imgsearch {
namespace {

using testing::MakeTempDir;
using testing::ValueOrDie;

CollectionSchema Schema(const std::string& name, bool auto_id = true) {
  CollectionSchema s;
  s.name = name;
  s.dimension = 4;
  s.auto_id = auto_id;
  s.scalar_fields = {{"tag", DataType::kVarChar}};
  return s;
}

std::vector<Row> Rows(int n, const std::string& tag, int64_t first_id = 0) {
  std::vector<Row> rows;
  for (int i = 0; i < n; ++i) {
    Row r;
    r.id = first_id ? first_id + i : 0;
    r.vector = {static_cast<float>(i), 1, 0, 0};
    r.fields = {{"tag", tag}};
    rows.push_back(std::move(r));
  }
  return rows;
}

struct TwoHandles {
  TwoHandles() : dir(MakeTempDir()) {
    a = ValueOrDie(Database::Open(dir));
    b = ValueOrDie(Database::Open(dir));
  }
  std::string dir;
  std::unique_ptr<Database> a, b;
};

std::set<int64_t> AllIds(const Collection& c) {
  QueryRequest all;
  all.limit = 1 << 30;
  std::set<int64_t> ids;
  for (const Row& r : ValueOrDie(c.Query(all))) ids.insert(r.id);
  return ids;
}

TEST(SharedDatabaseTest, AutoIdsNeverCollideAndEachSeesTheOthersRows) {
  TwoHandles h;
  ASSERT_TRUE(h.a->CreateCollection(Schema("photos"), {}).ok());
  auto in_a = ValueOrDie(h.a->GetCollection("photos"));
  auto in_b = ValueOrDie(h.b->GetCollection("photos"));  // created by the other handle
  std::set<int64_t> acknowledged;
  for (int round = 0; round < 5; ++round) {
    for (int64_t id : ValueOrDie(in_a->Insert(Rows(3, "a")))) acknowledged.insert(id);
    for (int64_t id : ValueOrDie(in_b->Insert(Rows(2, "b")))) acknowledged.insert(id);
  }
  EXPECT_EQ(acknowledged.size(), 25u);  // no id handed out twice
  EXPECT_EQ(AllIds(*in_a), acknowledged);
  EXPECT_EQ(AllIds(*in_b), acknowledged);
  SearchRequest near_b;
  near_b.vectors = {{1, 1, 0, 0}};
  near_b.limit = 25;
  near_b.filter = "tag == \"b\"";
  EXPECT_EQ(ValueOrDie(in_a->Search(near_b))[0].size(), 10u);
}

TEST(SharedDatabaseTest, UpsertsAndDeletesElsewhereAreSeenBeforeTheNextRead) {
  TwoHandles h;
  ASSERT_TRUE(h.a->CreateCollection(Schema("photos", false), {"HNSW", "L2", {{"M", 8}}}).ok());
  auto in_a = ValueOrDie(h.a->GetCollection("photos"));
  auto in_b = ValueOrDie(h.b->GetCollection("photos"));
  ASSERT_TRUE(in_a->Insert(Rows(50, "first", 1)).ok());
  ASSERT_TRUE(in_b->Upsert(Rows(1, "second", 7)).ok());
  ASSERT_EQ(ValueOrDie(in_b->Delete({3, 4, 5})), 3);
  auto seven = ValueOrDie(in_a->Get({7}, {"tag"}));
  ASSERT_EQ(seven.size(), 1u);
  EXPECT_EQ(seven[0].fields["tag"], "second");
  EXPECT_TRUE(ValueOrDie(in_a->Get({3, 4, 5}, {})).empty());
  EXPECT_EQ(in_a->Count(), 47);
  SearchRequest exact;
  exact.vectors = {{3, 1, 0, 0}};  // row 4's vector (i = 3): deleted
  exact.limit = 1;
  EXPECT_NE(ValueOrDie(in_a->Search(exact))[0][0].id, 4);
  // An insert of an id the other handle wrote is refused, as within one handle.
  EXPECT_FALSE(in_b->Insert(Rows(1, "again", 1)).ok());
}

TEST(SharedDatabaseTest, ACompactionElsewhereNeverBringsDeletedRowsBack) {
  TwoHandles h;
  ASSERT_TRUE(h.a->CreateCollection(Schema("photos", false), {}).ok());
  auto in_a = ValueOrDie(h.a->GetCollection("photos"));
  auto in_b = ValueOrDie(h.b->GetCollection("photos"));
  ASSERT_TRUE(in_a->Insert(Rows(20, "x", 1)).ok());
  EXPECT_EQ(in_b->Count(), 20);
  // Handle a looks away while b deletes and purges the tombstones.
  ASSERT_EQ(ValueOrDie(in_b->Delete({1, 2, 3})), 3);
  ASSERT_TRUE(in_b->Compact().ok());
  EXPECT_EQ(in_a->Count(), 17);
  EXPECT_TRUE(ValueOrDie(in_a->Get({1, 2, 3}, {})).empty());
  ASSERT_TRUE(in_a->Insert(Rows(1, "y", 100)).ok());  // writes continue past the purge
  EXPECT_EQ(in_b->Count(), 18);
  auto reopened = ValueOrDie(Database::Open(h.dir));
  EXPECT_EQ(ValueOrDie(reopened->GetCollection("photos"))->Count(), 18);
}

TEST(SharedDatabaseTest, CatalogChangesElsewhereAreTakenIn) {
  TwoHandles h;
  ASSERT_TRUE(h.a->CreateCollection(Schema("photos"), {}).ok());
  auto held_by_b = ValueOrDie(h.b->GetCollection("photos"));
  ASSERT_TRUE(held_by_b->Insert(Rows(10, "x")).ok());
  // A new index made elsewhere: adopted, with every row still found.
  ASSERT_TRUE(ValueOrDie(h.a->GetCollection("photos"))
                  ->CreateIndex({"HNSW", "L2", {{"M", 8}, {"efConstruction", 32}}})
                  .ok());
  EXPECT_TRUE(h.b->HasCollection("photos"));
  EXPECT_EQ(ValueOrDie(h.b->GetCollection("photos"))->index().index_type, "HNSW");
  EXPECT_EQ(ValueOrDie(h.b->GetCollection("photos"))->Count(), 10);
  ASSERT_TRUE(h.a->RenameCollection("photos", "pictures").ok());
  EXPECT_EQ(h.b->ListCollections(), std::vector<std::string>{"pictures"});
  ASSERT_TRUE(h.a->DropCollection("pictures").ok());
  EXPECT_TRUE(h.b->ListCollections().empty());
  EXPECT_FALSE(held_by_b->Insert(Rows(1, "late")).ok());  // its collection is gone
  // Both handles creating the same name: one wins, the other is told.
  ASSERT_TRUE(h.b->CreateCollection(Schema("again"), {}).ok());
  Status twice = h.a->CreateCollection(Schema("again"), {});
  EXPECT_FALSE(twice.ok());
  EXPECT_NE(twice.message().find("exists already"), std::string::npos) << twice.ToString();
}

std::optional<std::string> Setting(const Database& db, const std::string& key) {
  return ValueOrDie(db.GetSetting(key));
}

Status PutSetting(Database& db, const std::string& key, const std::string& value) {
  return db.Transact([&](Transaction& txn) { return txn.PutSetting(key, value); });
}

// Settings are kept in memory between reads (the Milvus dialect reads several per
// request): a change elsewhere must reach the very next read all the same.
TEST(SharedDatabaseTest, SettingsChangedElsewhereAreSeenByTheNextRead) {
  TwoHandles h;
  EXPECT_EQ(Setting(*h.b, "k"), std::nullopt);
  ASSERT_TRUE(PutSetting(*h.a, "k", "1").ok());
  EXPECT_EQ(Setting(*h.b, "k"), "1");
  EXPECT_EQ(Setting(*h.b, "k"), "1");
  ASSERT_TRUE(PutSetting(*h.a, "k", "2").ok());
  EXPECT_EQ(Setting(*h.b, "k"), "2");
  // A write to something else elsewhere changes nothing here.
  ASSERT_TRUE(h.a->CreateCollection(Schema("photos"), {}).ok());
  EXPECT_EQ(Setting(*h.b, "k"), "2");
  ASSERT_TRUE(PutSetting(*h.b, "k", "3").ok());  // and its own writes
  EXPECT_EQ(Setting(*h.b, "k"), "3");
  EXPECT_EQ(Setting(*h.a, "k"), "3");
}

// ReadTogether: one look at the others' changes, when it begins; its own writes inside
// are seen by the reads after them.
TEST(SharedDatabaseTest, ReadTogetherSeesWhatWasCommittedBeforeItAndItsOwnWrites) {
  TwoHandles h;
  ASSERT_TRUE(h.a->CreateCollection(Schema("photos", false), {}).ok());
  auto in_a = ValueOrDie(h.a->GetCollection("photos"));
  auto in_b = ValueOrDie(h.b->GetCollection("photos"));
  ASSERT_TRUE(PutSetting(*h.a, "k", "1").ok());
  EXPECT_EQ(Setting(*h.b, "k"), "1");
  EXPECT_EQ(in_b->Count(), 0);
  ASSERT_TRUE(PutSetting(*h.a, "k", "2").ok());
  ASSERT_TRUE(in_a->Insert(Rows(3, "a", 1)).ok());
  bool ran = false;
  h.b->ReadTogether([&] {
    ran = true;
    EXPECT_EQ(Setting(*h.b, "k"), "2");
    EXPECT_EQ(in_b->Count(), 3);
    EXPECT_TRUE(ValueOrDie(h.b->GetCollection("photos"))->Count() == 3);
    // Written here inside: the next reads poll again, and see it.
    ASSERT_TRUE(PutSetting(*h.b, "k", "3").ok());
    EXPECT_EQ(Setting(*h.b, "k"), "3");
    ASSERT_TRUE(h.b->CreateCollection(Schema("more"), {}).ok());
    EXPECT_TRUE(h.b->HasCollection("more"));
    h.b->ReadTogether([&] { EXPECT_EQ(Setting(*h.b, "k"), "3"); });  // nested
  });
  EXPECT_TRUE(ran);
  // After it, a change elsewhere is seen again by the next read.
  ASSERT_TRUE(PutSetting(*h.a, "k", "4").ok());
  ASSERT_TRUE(h.a->RenameCollection("photos", "pictures").ok());
  h.b->ReadTogether([&] {
    EXPECT_EQ(Setting(*h.b, "k"), "4");
    EXPECT_FALSE(h.b->HasCollection("photos"));
    EXPECT_TRUE(h.b->HasCollection("pictures"));
  });
  // Exceptions pass through, and end it.
  EXPECT_THROW(h.b->ReadTogether([] { throw std::runtime_error("out"); }), std::runtime_error);
  ASSERT_TRUE(PutSetting(*h.a, "k", "5").ok());
  EXPECT_EQ(Setting(*h.b, "k"), "5");
}

TEST(SharedDatabaseTest, TransactWritesEveryCollectionOrNone) {
  TwoHandles h;
  ASSERT_TRUE(h.a->CreateCollection(Schema("left", false), {}).ok());
  ASSERT_TRUE(h.a->CreateCollection(Schema("right", false), {}).ok());
  Status failed = h.a->Transact([](Transaction& txn) -> Status {
    IMGSEARCH_RETURN_IF_ERROR(txn.Upsert("left", Rows(2, "x", 1)).status());
    return Status::InvalidArgument("changed my mind");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(ValueOrDie(h.b->GetCollection("left"))->Count(), 0);
  EXPECT_EQ(ValueOrDie(h.a->GetCollection("left"))->Count(), 0);
  Status bad_second = h.a->Transact([](Transaction& txn) -> Status {
    IMGSEARCH_RETURN_IF_ERROR(txn.Upsert("left", Rows(2, "x", 1)).status());
    return txn.Upsert("nowhere", Rows(2, "x", 1)).status();
  });
  EXPECT_EQ(bad_second.code(), StatusCode::kNotFound);
  EXPECT_EQ(ValueOrDie(h.b->GetCollection("left"))->Count(), 0);
  ASSERT_TRUE(h.a->Transact([](Transaction& txn) -> Status {
                   IMGSEARCH_RETURN_IF_ERROR(txn.Upsert("left", Rows(2, "x", 1)).status());
                   return txn.Upsert("right", Rows(2, "x", 1)).status();
                 })
                  .ok());
  EXPECT_EQ(ValueOrDie(h.b->GetCollection("left"))->Count(), 2);
  EXPECT_EQ(ValueOrDie(h.b->GetCollection("right"))->Count(), 2);
}

TEST(SharedDatabaseTest, CountersAreSharedAndNeverRepeat) {
  TwoHandles h;
  std::set<int64_t> taken;
  for (int round = 0; round < 10; ++round) {
    for (Database* db : {h.a.get(), h.b.get()}) {
      ASSERT_TRUE(db->Transact([&](Transaction& txn) -> Status {
                      IMGSEARCH_ASSIGN_OR_RETURN(int64_t first, txn.TakeIds("image", 3, 5));
                      for (int64_t i = first; i < first + 3; ++i) taken.insert(i);
                      return Status::Ok();
                    }).ok());
    }
  }
  EXPECT_EQ(taken.size(), 60u);
  EXPECT_EQ(*taken.begin(), 5);
  EXPECT_EQ(*taken.rbegin(), 64);
}

TEST(SharedDatabaseTest, ConcurrentWritersFromBothHandlesLoseNothing) {
  TwoHandles h;
  ASSERT_TRUE(h.a->CreateCollection(Schema("photos"), {"HNSW", "L2", {{"M", 8}}}).ok());
  std::mutex mutex;
  std::set<int64_t> acknowledged;
  auto writer = [&](Database* db, const char* tag) {
    auto collection = ValueOrDie(db->GetCollection("photos"));
    for (int i = 0; i < 30; ++i) {
      auto ids = collection->Insert(Rows(2, tag));
      ASSERT_TRUE(ids.ok()) << ids.status().ToString();
      std::lock_guard<std::mutex> lock(mutex);
      for (int64_t id : *ids) EXPECT_TRUE(acknowledged.insert(id).second) << "id " << id;
    }
  };
  std::thread t1(writer, h.a.get(), "a"), t2(writer, h.b.get(), "b"), t3(writer, h.a.get(), "c");
  t1.join(), t2.join(), t3.join();
  EXPECT_EQ(acknowledged.size(), 180u);
  EXPECT_EQ(AllIds(*ValueOrDie(h.a->GetCollection("photos"))), acknowledged);
  EXPECT_EQ(AllIds(*ValueOrDie(h.b->GetCollection("photos"))), acknowledged);
}

TEST(SharedDatabaseTest, SnapshotsFromBothHandlesKeepTheManifestWhole) {
  TwoHandles h;
  ASSERT_TRUE(h.a->CreateCollection(Schema("one"), {"HNSW", "L2", {{"M", 8}}}).ok());
  ASSERT_TRUE(h.a->CreateCollection(Schema("two"), {"HNSW", "L2", {{"M", 8}}}).ok());
  auto one = ValueOrDie(h.a->GetCollection("one"));
  auto two = ValueOrDie(h.b->GetCollection("two"));
  ASSERT_TRUE(one->Insert(Rows(40, "x")).ok());
  ASSERT_TRUE(two->Insert(Rows(30, "y")).ok());
  ASSERT_TRUE(one->Flush().ok());  // handle a writes one's snapshot ...
  ASSERT_TRUE(two->Flush().ok());  // ... handle b two's, each keeping the other's entry
  ASSERT_TRUE(ValueOrDie(h.b->GetCollection("one"))->Flush().ok());  // nothing newer: kept
  auto reopened = ValueOrDie(Database::Open(h.dir));
  for (const char* name : {"one", "two"}) {
    CollectionStats stats = ValueOrDie(reopened->GetCollection(name))->Stats();
    EXPECT_GT(stats.snapshot_sequence, 0) << name << ": loaded from its snapshot";
    EXPECT_EQ(stats.snapshot_sequence, stats.last_sequence) << name;
  }
  EXPECT_EQ(ValueOrDie(reopened->GetCollection("one"))->Count(), 40);
  EXPECT_EQ(ValueOrDie(reopened->GetCollection("two"))->Count(), 30);
}

TEST(SharedDatabaseTest, ANewDatabaseGoesOnlyIntoAnEmptyFolder) {
  std::string dir = MakeTempDir();
  testing::WriteFileBytes(dir + "/thesis.tex", "\\documentclass{article}");
  auto refused = Database::Open(dir);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("holds other files"), std::string::npos);
  EXPECT_NE(refused.status().message().find("thesis.tex"), std::string::npos);
  EXPECT_TRUE(Database::Open(MakeTempDir()).ok());               // empty
  EXPECT_TRUE(Database::Open(MakeTempDir() + "/new/lib").ok());  // missing
}

}  // namespace
}  // namespace imgsearch
