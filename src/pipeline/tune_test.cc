// Learned fusion, and the evaluation's details, on labelled sets built with known structure: the
// images collection of a library, and model collections whose vectors are class centres plus noise
// (or noise alone), so the right weights are known in advance.
#include "pipeline/tune.h"

#include <gtest/gtest.h>

#include <algorithm>
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
void AddModel(LabelledSet* set, const std::string& name, double signal, unsigned seed) {
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
  TuneReport report = ValueOrDie(Tune(set.models, *set.images, Options()));
  EXPECT_EQ(report.queries, static_cast<size_t>(kClasses * kPerClass));
  EXPECT_EQ(report.best_model, "informative");
  EXPECT_GT(report.weights["informative"], report.weights["noise"]);
  EXPECT_GE(report.map, report.best_model_map);
  EXPECT_GT(report.best_model_map, report.rrf_map + 0.05) << "noise should drag equal RRF down";
  // On classes not tuned on: never more than half a point below the best model.
  EXPECT_GE(report.held_out_map, report.held_out_best_model_map - 0.005);
}

TEST(TuneTest, TwoComparablyStrongModelsFuseAboveEither) {
  LabelledSet set = MakeImages();
  AddModel(&set, "first", 2.5, 3);
  AddModel(&set, "second", 2.5, 4);
  AddModel(&set, "noise", 0.0, 5);
  TuneReport report = ValueOrDie(Tune(set.models, *set.images, Options()));
  EXPECT_GT(report.map, report.best_model_map + 0.01);
  EXPECT_GT(report.held_out_map, report.held_out_best_model_map);
  EXPECT_LT(report.weights["noise"], report.weights["first"]);
  EXPECT_LT(report.weights["noise"], report.weights["second"]);
}

TEST(TuneTest, StoredWeightsFollowTheModelsByNameAndNeedTwoClasses) {
  LabelledSet set = MakeImages();
  AddModel(&set, "a", 1.0, 6);
  AddModel(&set, "b", 1.0, 7);
  EXPECT_FALSE(ValueOrDie(StoredFusionWeights(*set.db, set.models)).has_value());
  ASSERT_TRUE(set.db
                  ->Transact([](Transaction& txn) {
                    return txn.PutSetting(kFusionSetting, R"({"weights": {"b": 0.5, "gone": 1}})");
                  })
                  .ok());
  EXPECT_EQ(*ValueOrDie(StoredFusionWeights(*set.db, set.models)), (std::vector<double>{0, 0.5}));
  TuneOptions one_class = Options();
  one_class.classes = {"class3"};
  EXPECT_EQ(Tune(set.models, *set.images, one_class).status().code(), StatusCode::kInvalidArgument);
  TuneOptions unknown = Options();
  unknown.classes = {"no-such-class"};
  EXPECT_FALSE(Tune(set.models, *set.images, unknown).ok());
}

}  // namespace
}  // namespace imgsearch::pipeline
