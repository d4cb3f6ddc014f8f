// Learned fusion, and the evaluation's details, on labelled sets built with known structure: the
// images collection of a library, and model collections whose vectors are class centres plus noise
// (or noise alone), so the right weights are known in advance.
#include "pipeline/tune.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "pipeline/eval.h"
#include "pipeline/images.h"
#include "test_util.h"

namespace imgsearch::pipeline {
namespace {

using testing::MakeTempDir;
using testing::ValueOrDie;

constexpr int kClasses = 10;
constexpr int kPerClass = 12;
constexpr int kDimension = 16;
const char* kRoot = "/photos/labelled";

// A library's collections without files or embedders: what Tune and search by id read.
struct LabelledSet {
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> images;
  std::vector<BoundModel> models;
};

LabelledSet MakeImages() {
  LabelledSet set;
  set.db = ValueOrDie(Database::Open(MakeTempDir() + "/lib"));
  set.images = ValueOrDie(OpenImages(*set.db));
  std::vector<Row> rows;
  for (int c = 0; c < kClasses; ++c) {
    for (int i = 0; i < kPerClass; ++i) {
      ImageInfo image;
      image.id = 1 + c * kPerClass + i;
      image.path =
          std::string(kRoot) + "/class" + std::to_string(c) + "/" + std::to_string(i) + ".jpg";
      image.hash = std::to_string(image.id);
      rows.push_back(ImageRow(image));
    }
  }
  EXPECT_TRUE(set.images->Insert(rows).ok());
  return set;
}

// A model whose vector of image i is its class's centre scaled by `signal`, plus unit
// Gaussian noise (signal 0: noise alone).
void AddModel(LabelledSet* set, const std::string& name, double signal, unsigned seed,
              bool unit = false) {
  CollectionSchema schema;
  schema.name = name;
  schema.auto_id = false;
  schema.dimension = kDimension;
  ASSERT_TRUE(set->db->CreateCollection(schema, {"FLAT", "L2"}).ok());
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, 1);
  std::vector<Row> rows;
  for (int64_t id = 1; id <= kClasses * kPerClass; ++id) {
    Row row;
    row.id = id;
    row.vector.resize(kDimension);
    for (float& v : row.vector) v = noise(rng);
    row.vector[(id - 1) / kPerClass] += static_cast<float>(signal);
    if (unit) {  // as the library's models make them
      double norm = 0;
      for (float v : row.vector) norm += double(v) * v;
      for (float& v : row.vector) v = static_cast<float>(v / std::sqrt(norm));
    }
    rows.push_back(std::move(row));
  }
  auto collection = ValueOrDie(set->db->GetCollection(name));
  ASSERT_TRUE(collection->Insert(rows).ok());
  BoundModel model;
  model.source = {name, name};
  model.collection = collection;
  set->models.push_back(std::move(model));
}

TuneOptions Options() {
  TuneOptions options;
  options.dir = kRoot;
  options.k = 10;
  return options;
}

// The evaluation's details (curves, per class, agreement, disagreeing queries) against
// the summary figures computed apart from them.
TEST(EvalTest, TheDetailsAgreeWithTheSummaries) {
  LabelledSet set = MakeImages();
  AddModel(&set, "informative", 4.0, 1);
  AddModel(&set, "noise", 0.0, 2);
  EvalOptions options;
  options.dir = kRoot;
  options.k = 10;
  EvalReport report = ValueOrDie(Evaluate(set.models, *set.images, options));
  ASSERT_EQ(report.models.size(), 3u);  // and "fused"
  for (const auto& [name, scores] : report.models) {
    const EvalCurve& curve = report.curves.at(name);
    ASSERT_EQ(curve.precision.size(), 10u) << name;
    EXPECT_NEAR(curve.precision.back(), scores.precision, 1e-9) << name;
    EXPECT_NEAR(curve.recall.back(), scores.recall, 1e-9) << name;
    EXPECT_TRUE(std::is_sorted(curve.recall.begin(), curve.recall.end())) << name;
    double class_mean = 0;  // every class has as many queries
    for (const auto& [label, map] : report.class_map.at(name)) class_mean += map;
    EXPECT_NEAR(class_mean / kClasses, scores.map, 1e-9) << name;
  }
  for (const auto& [label, map] : report.class_map.at("informative"))
    EXPECT_GT(map, report.class_map.at("noise").at(label)) << label;
  EXPECT_EQ(report.agreement.at("noise").at("noise"), 1.0);
  double across = report.agreement.at("informative").at("noise");
  EXPECT_EQ(across, report.agreement.at("noise").at("informative"));
  EXPECT_LT(across, 0.5);
  ASSERT_EQ(report.disagreements.size(), 8u);
  for (size_t i = 0; i < report.disagreements.size(); ++i) {
    const EvalDisagreement& d = report.disagreements[i];
    if (i > 0) {
      EXPECT_GE(d.agreement, report.disagreements[i - 1].agreement);
    }
    EXPECT_LE(d.agreement, across);  // the least agreeing are below the mean
    EXPECT_NE(d.path.find("/" + d.label + "/"), std::string::npos);
    ASSERT_EQ(d.hits.at("informative").size(), 5u);
    for (const auto& hit : d.hits.at("noise"))
      EXPECT_EQ(hit.relevant, hit.path.find("/" + d.label + "/") != std::string::npos);
  }
  std::string page = report.ToHtml();
  size_t curves = 0;
  for (size_t at = page.find("class=curve"); at != std::string::npos;
       at = page.find("class=curve", at + 1))
    ++curves;
  EXPECT_EQ(curves, 3u);
}

TEST(TuneTest, AnInformativeModelOutweighsNoiseAndFusionIsNoWorseThanIt) {
  LabelledSet set = MakeImages();
  AddModel(&set, "informative", 3.0, 1);
  AddModel(&set, "noise", 0.0, 2);
  TuneReport report = ValueOrDie(Tune(set.models, *set.images, Options())).report;
  EXPECT_EQ(report.queries, static_cast<size_t>(kClasses * kPerClass));
  EXPECT_EQ(report.best_model, "informative");
  EXPECT_EQ(report.weights["informative"], 1.0);
  EXPECT_LE(report.weights["noise"], 0.1);
  // No model's weight is 0 (a weak one may be strong on other classes), so the fusion can
  // sit a hair below the informative model; never more than half a point.
  EXPECT_GE(report.map, report.best_model_map - 0.005);
  EXPECT_GT(report.best_model_map, report.rrf_map + 0.05) << "noise should drag equal RRF down";
  // On classes not tuned on: never more than half a point below the best model.
  EXPECT_GE(report.held_out_map, report.held_out_best_model_map - 0.005);
}

TEST(TuneTest, TwoComparablyStrongModelsFuseAboveEither) {
  LabelledSet set = MakeImages();
  AddModel(&set, "first", 2.5, 3);
  AddModel(&set, "second", 2.5, 4);
  AddModel(&set, "noise", 0.0, 5);
  TuneReport report = ValueOrDie(Tune(set.models, *set.images, Options())).report;
  EXPECT_GT(report.map, report.best_model_map + 0.01);
  EXPECT_GT(report.held_out_map, report.held_out_best_model_map);
  EXPECT_LT(report.weights["noise"], report.weights["first"]);
  EXPECT_LT(report.weights["noise"], report.weights["second"]);
}

// The search's fusion (FuseStandardized over the stored setting) ranks as the tuning's
// in-memory scoring did: evaluating the stored fusion gives the tuned mAP.
TEST(TuneTest, TheStoredFusionSearchesAsTuned) {
  LabelledSet set = MakeImages();
  AddModel(&set, "first", 2.0, 8);
  AddModel(&set, "second", 1.5, 9);
  Tuned tuned = ValueOrDie(Tune(set.models, *set.images, Options()));
  ASSERT_TRUE(set.db
                  ->Transact([&](Transaction& txn) {
                    return txn.PutSetting(kFusionSetting,
                                          FusionSetting(set.models, tuned.fusion, 10));
                  })
                  .ok());
  std::optional<TunedFusion> stored = ValueOrDie(StoredFusion(*set.db, set.models));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->weights, tuned.fusion.weights);
  ASSERT_EQ(stored->scales.size(), 2u);
  EXPECT_TRUE(stored->scales[0].root);  // the models are L2
  EXPECT_DOUBLE_EQ(stored->scales[1].spread, tuned.fusion.scales[1].spread);
  EvalOptions options;
  options.dir = kRoot;
  options.k = 10;
  EvalReport report = ValueOrDie(Evaluate(set.models, *set.images, options, &*stored));
  EXPECT_NEAR(report.models.at("tuned").map, tuned.report.map, 1e-9);
}

// Classes as noisy clusters: expanding a query with its nearest neighbours pulls it
// towards its class's centre, so re-ranking helps on classes held out and is kept, stored
// beside the weights; without it allowed, none is tried or stored.
TEST(TuneTest, QueryExpansionIsKeptWhenItHelpsOnHeldOutClasses) {
  LabelledSet set = MakeImages();
  AddModel(&set, "first", 2.2, 12, /*unit=*/true);
  AddModel(&set, "second", 2.2, 13, /*unit=*/true);
  Tuned tuned = ValueOrDie(Tune(set.models, *set.images, Options()));
  const TuneReport& report = tuned.report;
  EXPECT_FALSE(report.rerank_tried.empty());
  ASSERT_NE(report.rerank, "off") << report.held_out_rerank_map << " vs " << report.held_out_map;
  EXPECT_GT(report.held_out_rerank_map, report.held_out_map);
  EXPECT_GT(report.rerank_map, report.map);
  EXPECT_EQ(tuned.fusion.rerank.ToString(), report.rerank);
  ASSERT_TRUE(set.db
                  ->Transact([&](Transaction& txn) {
                    return txn.PutSetting(kFusionSetting,
                                          FusionSetting(set.models, tuned.fusion, 10));
                  })
                  .ok());
  std::optional<TunedFusion> stored = ValueOrDie(StoredFusion(*set.db, set.models));
  EXPECT_EQ(stored->rerank, tuned.fusion.rerank);
  // Evaluated with the stored fusion and re-ranking: the re-ranked fusion is scored too.
  EvalOptions eval;
  eval.dir = kRoot;
  eval.k = 10;
  EvalReport evaluated =
      ValueOrDie(Evaluate(set.models, *set.images, eval, &*stored, stored->rerank));
  EXPECT_GT(evaluated.models.at("tuned+qe").map, evaluated.models.at("tuned").map);
  EXPECT_TRUE(evaluated.models.count("first+qe"));
  EXPECT_NE(evaluated.ToHtml().find("data-model=\"tuned+qe\""), std::string::npos);

  TuneOptions without = Options();
  without.rerank = false;
  Tuned plain = ValueOrDie(Tune(set.models, *set.images, without));
  EXPECT_EQ(plain.report.rerank, "off");
  EXPECT_TRUE(plain.report.rerank_tried.empty());
  EXPECT_FALSE(plain.fusion.rerank.on());
  EXPECT_EQ(plain.fusion.weights, tuned.fusion.weights);
  EXPECT_EQ(FusionSetting(set.models, plain.fusion, 10).find("rerank"), std::string::npos);
}

// Vectors at 0, 1, 2 and 4 on a line: pair distances 1, 2, 4, 1, 3, 2 -> median 2 (the
// upper middle of six), deviations 1, 0, 2, 1, 1, 0 -> median 1, spread 1.4826.
TEST(TuneTest, DistanceScaleIsTheMedianAndSpreadOfPairs) {
  LabelledSet set = MakeImages();
  CollectionSchema schema;
  schema.name = "line";
  schema.auto_id = false;
  schema.dimension = 2;
  ASSERT_TRUE(set.db->CreateCollection(schema, {"FLAT", "L2"}).ok());
  auto collection = ValueOrDie(set.db->GetCollection("line"));
  std::vector<Row> rows;
  for (float x : {0.0f, 1.0f, 2.0f, 4.0f}) {
    Row row;
    row.id = static_cast<int64_t>(rows.size()) + 1;
    row.vector = {x, 0};
    rows.push_back(row);
  }
  ASSERT_TRUE(collection->Insert(rows).ok());
  BoundModel model;
  model.source = {"line", "line"};
  model.collection = collection;
  DistanceScale scale = ValueOrDie(MeasureDistanceScale(model, {1, 2, 3, 4, 99}));
  EXPECT_TRUE(scale.root);
  EXPECT_DOUBLE_EQ(scale.center, 2.0);
  EXPECT_NEAR(scale.spread, 1.4826, 1e-9);
  EXPECT_EQ(MeasureDistanceScale(model, {1}).status().code(), StatusCode::kInvalidArgument);
}

TEST(TuneTest, StoredFusionFollowsTheModelsByNameAndNeedsTwoClasses) {
  LabelledSet set = MakeImages();
  AddModel(&set, "a", 1.0, 6);
  AddModel(&set, "b", 1.0, 7);
  EXPECT_FALSE(ValueOrDie(StoredFusion(*set.db, set.models)).has_value());
  auto store = [&](const std::string& setting) {
    return set.db->Transact(
        [&](Transaction& txn) { return txn.PutSetting(kFusionSetting, setting); });
  };
  // A library tuned before scales were kept: weighted RRF, by name.
  ASSERT_TRUE(store(R"({"method": "weighted-rrf", "weights": {"b": 0.5, "gone": 1}})").ok());
  std::optional<TunedFusion> old = ValueOrDie(StoredFusion(*set.db, set.models));
  EXPECT_EQ(old->weights, (std::vector<double>{0, 0.5}));
  EXPECT_TRUE(old->scales.empty());
  // A model with weight but no scale, or a scale of the wrong type, is an error, not a throw.
  ASSERT_TRUE(store(R"({"method": "standardized", "weights": {"a": 1, "b": 1},
                        "scales": {"a": {"center": 1, "spread": 1}}})")
                  .ok());
  EXPECT_EQ(StoredFusion(*set.db, set.models).status().code(), StatusCode::kCorruption);
  ASSERT_TRUE(store(R"({"method": "standardized", "weights": {"a": 1, "b": 0},
                        "scales": {"a": {"center": "x", "spread": -1}}})")
                  .ok());
  EXPECT_EQ(StoredFusion(*set.db, set.models).status().code(), StatusCode::kCorruption);
  TuneOptions one_class = Options();
  one_class.classes = {"class3"};
  EXPECT_EQ(Tune(set.models, *set.images, one_class).status().code(), StatusCode::kInvalidArgument);
  TuneOptions unknown = Options();
  unknown.classes = {"no-such-class"};
  EXPECT_FALSE(Tune(set.models, *set.images, unknown).ok());
}

}  // namespace
}  // namespace imgsearch::pipeline
