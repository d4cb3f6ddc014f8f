// Database-side augmentation kept in step: after adds, removals and changed vectors, the
// incremental sync leaves exactly the twins a full rebuild makes, having made fewer.
#include "pipeline/dba.h"

#include <gtest/gtest.h>

#include <random>

#include "pipeline/rerank.h"
#include "test_util.h"

namespace imgsearch::pipeline {
namespace {

using testing::MakeTempDir;
using testing::ValueOrDie;

constexpr int kDimension = 10;

Row RandomRow(int64_t id, std::mt19937* rng) {
  std::normal_distribution<float> noise(0, 1);
  Row row;
  row.id = id;
  row.vector.resize(kDimension);
  for (float& v : row.vector) v = noise(*rng);
  row.vector[id % 6] += 2.0f;
  return row;
}

BoundModel AddModel(Database& db, const std::string& name, const std::string& metric, int64_t count,
                    std::mt19937* rng) {
  CollectionSchema schema;
  schema.name = name;
  schema.auto_id = false;
  schema.dimension = kDimension;
  EXPECT_TRUE(db.CreateCollection(schema, {"FLAT", metric}).ok());
  BoundModel model;
  model.source = {name, name};
  model.collection = ValueOrDie(db.GetCollection(name));
  std::vector<Row> rows;
  for (int64_t id = 1; id <= count; ++id) rows.push_back(RandomRow(id, rng));
  EXPECT_TRUE(model.collection->Insert(rows).ok());
  return model;
}

BoundModel AddBinaryModel(Database& db, int64_t count) {
  CollectionSchema schema;
  schema.name = "hash";
  schema.auto_id = false;
  schema.dimension = 64;
  schema.vector_type = DataType::kBinaryVector;
  EXPECT_TRUE(db.CreateCollection(schema, {"BIN_FLAT", "HAMMING"}).ok());
  BoundModel model;
  model.source = {"hash", "hash"};
  model.collection = ValueOrDie(db.GetCollection("hash"));
  std::vector<Row> rows;
  for (int64_t id = 1; id <= count; ++id) {
    Row row;
    row.id = id;
    row.binary_vector.assign(8, static_cast<uint8_t>(id));
    rows.push_back(row);
  }
  EXPECT_TRUE(model.collection->Insert(rows).ok());
  return model;
}

// id -> (vector, fields) of a model's twins.
std::map<int64_t, std::pair<std::vector<float>, nlohmann::json>> Twins(const BoundModel& model) {
  std::map<int64_t, std::pair<std::vector<float>, nlohmann::json>> out;
  for (Row& row : ValueOrDie(AllRows(*model.augmented, {"vector", "neighbours", "kth", "source"})))
    out[row.id] = {row.vector, row.fields};
  return out;
}

TEST(DbaTest, ParsesItsNotation) {
  EXPECT_FALSE(ValueOrDie(ParseDba("off")).on());
  Dba dba = ValueOrDie(ParseDba("4"));
  EXPECT_EQ(dba.n, 4);
  EXPECT_EQ(dba.alpha, kDefaultAlpha);
  EXPECT_EQ(ValueOrDie(ParseDba("2,alpha=0")).ToString(), "2,alpha=0");
  for (const char* bad : {"", "x", "-1", "101", "2,alpha=", "2,beta=1"})
    EXPECT_EQ(ParseDba(bad).status().code(), StatusCode::kInvalidArgument) << bad;
}

TEST(DbaTest, TheTwinIsTheExpandedVectorOfItsNearestOthers) {
  auto db = ValueOrDie(Database::Open(MakeTempDir() + "/lib"));
  std::mt19937 rng(5);
  std::vector<BoundModel> models;
  models.push_back(AddModel(*db, "m", "IP", 60, &rng));
  const Dba dba{3, 2};
  DbaReport report = ValueOrDie(SyncDba(*db, models, dba));
  EXPECT_EQ(report.twins, 60u);
  EXPECT_EQ(report.remade, 60u);
  std::vector<Row> originals = ValueOrDie(AllRows(*models[0].collection, {"vector"}));
  auto twins = Twins(models[0]);
  for (const Row& x : originals) {
    // The reference: its three largest inner products among the others.
    std::vector<std::pair<double, int64_t>> scored;
    for (const Row& y : originals) {
      if (y.id == x.id) continue;
      double dot = 0;
      for (int i = 0; i < kDimension; ++i) dot += double(x.vector[i]) * y.vector[i];
      scored.emplace_back(-dot, y.id);
    }
    std::sort(scored.begin(), scored.end());
    std::vector<std::vector<float>> nearest;
    std::string ids;
    for (int i = 0; i < 3; ++i) {
      nearest.push_back(originals[scored[i].second - 1].vector);
      ids += (i ? "," : "") + std::to_string(scored[i].second);
    }
    const auto& [vector, fields] = twins.at(x.id);
    EXPECT_EQ(fields["neighbours"], ids) << x.id;
    std::vector<float> want = ExpandQuery(index::Metric::kIP, x.vector, nearest, 2);
    for (int i = 0; i < kDimension; ++i) EXPECT_NEAR(vector[i], want[i], 1e-6) << x.id;
  }
}

TEST(DbaTest, IncrementalSyncEqualsAFullRebuildUnderAddsRemovesAndChanges) {
  auto db = ValueOrDie(Database::Open(MakeTempDir() + "/lib"));
  std::mt19937 rng(9);
  std::vector<BoundModel> models;
  models.push_back(AddModel(*db, "l2", "L2", 150, &rng));
  models.push_back(AddModel(*db, "cosine", "COSINE", 150, &rng));
  models.push_back(AddBinaryModel(*db, 150));
  const Dba dba{4, 3};
  ASSERT_TRUE(SyncDba(*db, models, dba).ok());
  EXPECT_FALSE(models[2].augmented) << "a binary model has no twins";
  EXPECT_FALSE(db->HasCollection(DbaCollectionName("hash")));
  for (int round = 0; round < 3; ++round) {
    for (size_t m = 0; m < 2; ++m) {
      Collection& c = *models[m].collection;
      std::vector<Row> added, changed;
      for (int64_t i = 0; i < 8; ++i) added.push_back(RandomRow(1000 + round * 10 + i, &rng));
      ASSERT_TRUE(c.Insert(added).ok());
      ASSERT_TRUE(c.Delete({int64_t(3 + round), int64_t(40 + round), int64_t(77 + round)}).ok());
      for (int64_t id : {int64_t(10 + round), int64_t(90 + round)})
        changed.push_back(RandomRow(id, &rng));
      ASSERT_TRUE(c.Upsert(changed).ok());
    }
    DbaReport step = ValueOrDie(SyncDba(*db, models, dba));
    EXPECT_EQ(step.removed, 6u);
    EXPECT_GE(step.remade, 2u * (8 + 2));
    EXPECT_LT(step.remade, 2u * 100) << "the sync should not redo every twin";
    auto incremental_l2 = Twins(models[0]), incremental_cosine = Twins(models[1]);
    DbaReport full = ValueOrDie(SyncDba(*db, models, dba, /*full=*/true));
    EXPECT_EQ(full.remade, full.twins);
    EXPECT_EQ(incremental_l2, Twins(models[0])) << "round " << round;
    EXPECT_EQ(incremental_cosine, Twins(models[1])) << "round " << round;
    EXPECT_EQ(incremental_l2.size(), size_t(models[0].collection->Count()));
  }
  // Each full rebuild was a new generation; the older ones are gone.
  const DbaState state = ValueOrDie(StoredDbaState(*db));
  EXPECT_EQ(state.generation, 4);
  EXPECT_EQ(models[0].augmented->schema().name, DbaCollectionName("l2", 4));
  auto twin_collections = [&] {
    std::vector<std::string> names;
    for (const std::string& name : db->ListCollections())
      if (name.find("__dba") != std::string::npos) names.push_back(name);
    return names;
  };
  EXPECT_EQ(twin_collections(),
            (std::vector<std::string>{DbaCollectionName("cosine", 4), DbaCollectionName("l2", 4)}));
  ASSERT_TRUE(DropDba(*db, models).ok());
  EXPECT_TRUE(twin_collections().empty());
  EXPECT_FALSE(models[0].augmented);
  EXPECT_EQ(ValueOrDie(StoredDbaState(*db)).generation, 4) << "not to be reused";
}

TEST(DbaTest, TheSettingIsReadBackAndABadOneIsCorruption) {
  auto db = ValueOrDie(Database::Open(MakeTempDir() + "/lib"));
  EXPECT_FALSE(ValueOrDie(StoredDba(*db)).on());
  auto store = [&](const std::string& text) {
    return db->Transact([&](Transaction& txn) { return txn.PutSetting(kDbaSetting, text); });
  };
  ASSERT_TRUE(store(DbaSetting({5, 1.5})).ok());
  Dba back = ValueOrDie(StoredDba(*db));
  EXPECT_EQ(back.n, 5);
  EXPECT_EQ(back.alpha, 1.5);
  for (const char* bad : {"{", R"({"n": "5", "alpha": 1})", R"({"n": 500, "alpha": 1})", "[]"}) {
    ASSERT_TRUE(store(bad).ok());
    EXPECT_EQ(StoredDba(*db).status().code(), StatusCode::kCorruption) << bad;
  }
}

}  // namespace
}  // namespace imgsearch::pipeline
