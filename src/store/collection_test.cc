// Collections through the public API: operations, persistence, indexes, filters.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "imgsearch/database.h"
#include "store/snapshot.h"
#include "store/vector_column.h"
#include "test_util.h"

namespace imgsearch {
namespace {

using json = nlohmann::json;
using testing::MakeTempDir;
using testing::ValueOrDie;

CollectionSchema PhotoSchema(const std::string& name, int dim, bool auto_id = true) {
  CollectionSchema s;
  s.name = name;
  s.dimension = dim;
  s.auto_id = auto_id;
  s.scalar_fields = {
      {"path", DataType::kVarChar}, {"width", DataType::kInt64}, {"meta", DataType::kJson, true}};
  return s;
}

std::vector<float> RandomVector(std::mt19937& rng, int dim) {
  std::normal_distribution<float> dist;
  std::vector<float> v(dim);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<Row> MakeRows(int n, int dim, uint32_t seed, int64_t first_id = 0) {
  std::mt19937 rng(seed);
  std::vector<Row> rows;
  for (int i = 0; i < n; ++i) {
    Row r;
    r.id = first_id ? first_id + i : 0;
    r.vector = RandomVector(rng, dim);
    r.fields = {
        {"path", "img/" + std::to_string(i) + ".jpg"}, {"width", 100 + i}, {"meta", {{"i", i}}}};
    rows.push_back(std::move(r));
  }
  return rows;
}

std::shared_ptr<Collection> MakeCollection(Database& db, const CollectionSchema& schema,
                                           IndexSpec index = {}) {
  Status created = db.CreateCollection(schema, index);
  EXPECT_TRUE(created.ok()) << created.ToString();
  return ValueOrDie(db.GetCollection(schema.name));
}

TEST(CollectionTest, CreateListRenameDrop) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  MakeCollection(*db, PhotoSchema("a", 4));
  MakeCollection(*db, PhotoSchema("b", 4));
  EXPECT_EQ(db->ListCollections(), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(db->CreateCollection(PhotoSchema("a", 4), {}).ok());
  ASSERT_TRUE(db->RenameCollection("a", "c").ok());
  EXPECT_TRUE(db->HasCollection("c"));
  EXPECT_FALSE(db->HasCollection("a"));
  EXPECT_EQ(ValueOrDie(db->GetCollection("c"))->schema().name, "c");
  auto b = ValueOrDie(db->GetCollection("b"));
  ASSERT_TRUE(db->DropCollection("b").ok());
  EXPECT_FALSE(db->HasCollection("b"));
  EXPECT_EQ(b->Insert(MakeRows(1, 4, 1)).status().code(),
            StatusCode::kNotFound);  // dropped meanwhile
  EXPECT_EQ(db->DropCollection("b").code(), StatusCode::kNotFound);
  CollectionSchema bad = PhotoSchema("1bad", 4);
  EXPECT_FALSE(db->CreateCollection(bad, {}).ok());
  CollectionSchema binary = PhotoSchema("bits", 12);
  binary.vector_type = DataType::kBinaryVector;
  auto bits = db->CreateCollection(binary, {"BIN_FLAT", "HAMMING", json::object()});
  EXPECT_NE(bits.message().find("multiple of 8"), std::string::npos);
  auto wrong_metric =
      db->CreateCollection(PhotoSchema("m", 8), {"FLAT", "HAMMING", json::object()});
  EXPECT_NE(wrong_metric.message().find("does not apply to float"), std::string::npos);
}

TEST(CollectionTest, InsertGetUpsertDeleteCount) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", 8));
  auto ids = ValueOrDie(c->Insert(MakeRows(5, 8, 1)));
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(c->Count(), 5);
  auto rows = ValueOrDie(c->Get({3, 99, 1}, {"path", "vector"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, 3);
  EXPECT_EQ(rows[0].fields["path"], "img/2.jpg");
  EXPECT_FALSE(rows[0].fields.contains("width"));
  EXPECT_EQ(rows[0].vector, MakeRows(5, 8, 1)[2].vector);
  // Upsert replaces by id.
  Row replacement = MakeRows(1, 8, 9)[0];
  replacement.id = 3;
  replacement.fields["path"] = "replaced.jpg";
  EXPECT_EQ(ValueOrDie(c->Upsert({replacement})), std::vector<int64_t>{3});
  EXPECT_EQ(ValueOrDie(c->Get({3}, {"*"}))[0].fields["path"], "replaced.jpg");
  EXPECT_EQ(c->Count(), 5);
  // Delete by ids and by filter.
  EXPECT_EQ(ValueOrDie(c->Delete({1, 1, 42})), 1);
  EXPECT_EQ(ValueOrDie(c->DeleteWhere("width >= 103")), 2);  // rows 4 and 5
  EXPECT_EQ(c->Count(), 2);
  EXPECT_TRUE(ValueOrDie(c->Get({1, 4, 5}, {})).empty());
  // Bad rows are refused whole.
  auto bad = MakeRows(2, 8, 3);
  bad[1].vector.pop_back();
  auto refused = c->Insert(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("row 1: vector must have 8 values"), std::string::npos);
  auto missing = MakeRows(1, 8, 3);
  missing[0].fields.erase("width");
  EXPECT_NE(c->Insert(missing).status().message().find("\"width\" is missing"), std::string::npos);
  auto typed = MakeRows(1, 8, 3);
  typed[0].fields["width"] = "wide";
  EXPECT_NE(c->Insert(typed).status().message().find("must be an integer"), std::string::npos);
  auto extra = MakeRows(1, 8, 3);
  extra[0].fields["colour"] = "red";
  EXPECT_NE(c->Insert(extra).status().message().find("not in the schema"), std::string::npos);
  EXPECT_EQ(c->Count(), 2);
}

// ReadVectors packs what Get returns: every row, a few ids (looked up one by one) and many
// (a scan of the table), with deleted and unknown ids left out; binary vectors too.
TEST(CollectionTest, ReadVectorsAgreesWithGet) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", 6));
  ASSERT_TRUE(c->Insert(MakeRows(100, 6, 4)).ok());
  ASSERT_EQ(ValueOrDie(c->Delete({7, 50})), 2);
  auto expect_same = [&](const std::vector<int64_t>& asked, size_t expected_rows) {
    store::VectorColumn column = ValueOrDie(store::ReadVectors(*c, asked));
    // The default for other stores (through Get and Query) gives the same.
    store::VectorColumn through_rows = ValueOrDie(store::ReadVectorsThroughRows(*c, asked));
    EXPECT_EQ(through_rows.ids, column.ids);
    EXPECT_EQ(through_rows.bytes, column.bytes);
    ASSERT_EQ(column.bytes_per_vector, 6 * sizeof(float));
    ASSERT_EQ(column.ids.size(), expected_rows);
    ASSERT_EQ(column.bytes.size(), expected_rows * column.bytes_per_vector);
    EXPECT_TRUE(std::is_sorted(column.ids.begin(), column.ids.end()));
    std::vector<Row> rows = ValueOrDie(c->Get(column.ids, {"vector"}));
    ASSERT_EQ(rows.size(), expected_rows);
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].id, column.ids[i]);
      EXPECT_EQ(std::memcmp(rows[i].vector.data(), column.bytes.data() + i * 6 * sizeof(float),
                            6 * sizeof(float)),
                0)
          << "row " << rows[i].id;
    }
  };
  expect_same({}, 98);                  // every row
  expect_same({90, 3, 7, 3, 1000}, 2);  // a few, unsorted, repeated, deleted, unknown
  std::vector<int64_t> many;
  for (int64_t id = 100; id >= 1; id -= 2) many.push_back(id);  // half of them: a scan
  expect_same(many, 49);                                        // 50 is deleted
  CollectionSchema s = PhotoSchema("hashes", 16);
  s.vector_type = DataType::kBinaryVector;
  auto h = MakeCollection(*db, s, {"BIN_FLAT", "HAMMING", json::object()});
  std::vector<Row> codes(2);
  codes[0].binary_vector = {0x12, 0x34};
  codes[1].binary_vector = {0xAB, 0xCD};
  for (auto& r : codes) r.fields = {{"path", "h"}, {"width", 1}};
  ASSERT_TRUE(h->Insert(codes).ok());
  store::VectorColumn column = ValueOrDie(store::ReadVectors(*h, {}));
  EXPECT_EQ(column.ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(column.bytes, (std::vector<uint8_t>{0x12, 0x34, 0xAB, 0xCD}));
}

TEST(CollectionTest, GivenIdsMustBeNew) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", 4, /*auto_id=*/false));
  EXPECT_EQ(ValueOrDie(c->Insert(MakeRows(3, 4, 1, 100))), (std::vector<int64_t>{100, 101, 102}));
  auto again = c->Insert(MakeRows(1, 4, 2, 101));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("exists already"), std::string::npos);
  auto twice = MakeRows(2, 4, 2, 200);
  twice[1].id = 200;
  EXPECT_NE(c->Insert(twice).status().message().find("appears twice"), std::string::npos);
  EXPECT_EQ(c->Count(), 3);
}

TEST(CollectionTest, QueryWithFilterLimitOffsetAndOutputFields) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", 4));
  ASSERT_TRUE(c->Insert(MakeRows(20, 4, 1)).ok());
  QueryRequest q;
  q.filter = "width >= 110 and path like \"img/1%\"";
  q.output_fields = {"width"};
  auto rows = ValueOrDie(c->Query(q));
  ASSERT_EQ(rows.size(), 10u);  // widths 110..119
  EXPECT_EQ(rows[0].id, 11);
  EXPECT_EQ(rows[0].fields, (json{{"width", 110}}));
  q.limit = 3;
  q.offset = 2;
  rows = ValueOrDie(c->Query(q));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].id, 13);
  QueryRequest by_ids;
  by_ids.ids = {5, 2, 2, 99};
  by_ids.filter = "meta[\"i\"] < 4";
  rows = ValueOrDie(c->Query(by_ids));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, 2);
  QueryRequest bad;
  bad.filter = "width >> 3";
  EXPECT_NE(c->Query(bad).status().message().find("invalid filter at position"), std::string::npos);
  QueryRequest everything;
  EXPECT_FALSE(c->Query(everything).ok());  // no filter, ids or limit
  QueryRequest unknown_output;
  unknown_output.limit = 1;
  unknown_output.output_fields = {"colour"};
  EXPECT_FALSE(c->Query(unknown_output).ok());
}

// Search against a brute-force scan computed here, for each float metric.
// An indexed field answers "==" and "in" filters from its hash index; the answers must be
// those of a scan, through upserts that change the value, deletes, a reopen from the
// snapshot, and writes by another handle (as another process would).
TEST(CollectionTest, IndexedFieldLookupsAgreeWithAScan) {
  std::string dir = MakeTempDir();
  auto db = ValueOrDie(Database::Open(dir));
  CollectionSchema plain = PhotoSchema("plain", 4, /*auto_id=*/false);
  CollectionSchema indexed = PhotoSchema("indexed", 4, /*auto_id=*/false);
  indexed.scalar_fields[0].indexed = true;  // path
  indexed.scalar_fields[1].indexed = true;  // width
  MakeCollection(*db, plain);
  MakeCollection(*db, indexed);
  auto write_both = [](Database& d, const std::function<Status(Collection&)>& write) {
    for (const char* name : {"plain", "indexed"})
      ASSERT_TRUE(write(*ValueOrDie(d.GetCollection(name))).ok());
  };
  write_both(*db, [](Collection& c) { return c.Insert(MakeRows(60, 4, 7, 1)).status(); });
  auto moved = MakeRows(10, 4, 8, 5);  // ids 5..14 move to other paths, some shared
  for (size_t i = 0; i < moved.size(); ++i)
    moved[i].fields["path"] = "img/" + std::to_string(i % 3) + ".jpg";
  write_both(*db, [&](Collection& c) { return c.Upsert(moved).status(); });
  write_both(*db, [](Collection& c) { return c.Delete({1, 2, 30}).status(); });

  const std::vector<std::string> filters = {
      R"(path == "img/1.jpg")",
      R"("img/2.jpg" == path)",
      R"(path in ["img/0.jpg", "img/40.jpg", "img/30.jpg", "none"])",
      R"(path == "img/1.jpg" and width > 100)",
      R"(width == 150 and path like "img/%")",
      R"(width in [101, 102, 103] or path == "img/50.jpg")",
      R"(path != "img/1.jpg")",
      R"(path == "nowhere")"};
  auto agree = [&](Database& d, const std::string& when) {
    for (const std::string& filter : filters) {
      QueryRequest q;
      q.filter = filter;
      q.output_fields = {"path", "width"};
      auto a = ValueOrDie(ValueOrDie(d.GetCollection("plain"))->Query(q));
      auto b = ValueOrDie(ValueOrDie(d.GetCollection("indexed"))->Query(q));
      ASSERT_EQ(a.size(), b.size()) << when << ": " << filter;
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].id, b[i].id) << when << ": " << filter;
        EXPECT_EQ(a[i].fields, b[i].fields) << when << ": " << filter;
      }
    }
    // A shared path finds every row holding it: ids 5, 8, 11, 14 moved to img/0.jpg.
    QueryRequest q;
    q.filter = R"(path == "img/0.jpg")";
    std::set<int64_t> ids;
    for (const Row& r : ValueOrDie(ValueOrDie(d.GetCollection("indexed"))->Query(q)))
      ids.insert(r.id);
    EXPECT_EQ(ids, (std::set<int64_t>{5, 8, 11, 14})) << when;
  };
  agree(*db, "after writes");
  ASSERT_TRUE(ValueOrDie(db->GetCollection("indexed"))->Flush().ok());
  db.reset();
  db = ValueOrDie(Database::Open(dir));
  agree(*db, "after reopening from the snapshot");
  auto other = ValueOrDie(Database::Open(dir));  // another writer on the same folder
  auto more = MakeRows(3, 4, 9, 100);
  for (Row& r : more) r.fields["path"] = "img/0.jpg";
  write_both(*other, [&](Collection& c) { return c.Insert(more).status(); });
  write_both(*other, [](Collection& c) { return c.Delete({5}).status(); });
  QueryRequest q;
  q.filter = R"(path == "img/0.jpg")";
  std::set<int64_t> ids;
  for (const Row& r : ValueOrDie(ValueOrDie(db->GetCollection("indexed"))->Query(q)))
    ids.insert(r.id);
  EXPECT_EQ(ids, (std::set<int64_t>{8, 11, 14, 100, 101, 102})) << "another handle's writes";

  // Searches restricted to ids (and a filter) see only those rows.
  SearchRequest search;
  search.vectors = {MakeRows(1, 4, 7, 1)[0].vector};
  search.limit = 10;
  search.ids = std::vector<int64_t>{3, 4, 8, 11, 999};
  search.filter = R"(path == "img/0.jpg")";
  auto hits = ValueOrDie(ValueOrDie(db->GetCollection("indexed"))->Search(search))[0];
  std::set<int64_t> found;
  for (const Hit& h : hits) found.insert(h.id);
  EXPECT_EQ(found, (std::set<int64_t>{8, 11}));
  search.ids = std::vector<int64_t>{};
  EXPECT_TRUE(ValueOrDie(ValueOrDie(db->GetCollection("indexed"))->Search(search))[0].empty());
}

TEST(CollectionTest, OnlyIntegerAndStringFieldsCanBeIndexed) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  CollectionSchema s = PhotoSchema("s", 4);
  s.scalar_fields[2].indexed = true;  // meta, JSON
  Status created = db->CreateCollection(s, {});
  EXPECT_NE(created.message().find("only Int64 and VarChar fields can be indexed"),
            std::string::npos)
      << created.ToString();
}

TEST(CollectionTest, DefaultValuesAndArrayFieldsAreCheckedFilledAndKept) {
  auto dir = MakeTempDir();
  CollectionSchema s = PhotoSchema("tagged", 4);
  FieldSchema rating{"rating", DataType::kInt64, true};
  rating.default_value = 3;
  FieldSchema tags{"tags", DataType::kArray};
  tags.element_type = DataType::kVarChar;
  tags.max_capacity = 3;
  tags.max_length = 8;
  s.scalar_fields.push_back(rating);
  s.scalar_fields.push_back(tags);
  {
    auto db = ValueOrDie(Database::Open(dir));
    // Defaults must fit their field; JSON and Array fields take none.
    CollectionSchema bad = s;
    bad.name = "bad";
    bad.scalar_fields[3].default_value = "three";
    EXPECT_EQ(db->CreateCollection(bad, {}).code(), StatusCode::kInvalidArgument);
    bad.scalar_fields[3].default_value = nullptr;
    bad.scalar_fields[4].default_value = json::array();
    EXPECT_EQ(db->CreateCollection(bad, {}).code(), StatusCode::kInvalidArgument);
    bad.scalar_fields[4].default_value = nullptr;
    bad.scalar_fields[4].max_capacity = 0;
    EXPECT_EQ(db->CreateCollection(bad, {}).code(), StatusCode::kInvalidArgument);

    auto c = MakeCollection(*db, s);
    std::vector<Row> rows = MakeRows(3, 4, 7);
    rows[0].fields["tags"] = {"cat", "red"};
    rows[1].fields["tags"] = json::array();
    rows[1].fields["rating"] = nullptr;  // null takes the default, as in Milvus
    rows[2].fields["tags"] = {"dog"};
    rows[2].fields["rating"] = 5;
    ValueOrDie(c->Insert(rows));
    for (auto [tags_value, problem] :
         std::vector<std::pair<json, std::string>>{{json{"a", "b", "c", "d"}, "max_capacity"},
                                                   {json{1}, "must be a string"},
                                                   {json{"much too long"}, "max_length"},
                                                   {json("cat"), "must be an array"}}) {
      Row row = MakeRows(1, 4, 8)[0];
      row.fields["tags"] = tags_value;
      Result<std::vector<int64_t>> refused = c->Insert({row});
      ASSERT_FALSE(refused.ok()) << tags_value.dump();
      EXPECT_NE(refused.status().message().find(problem), std::string::npos)
          << refused.status().message();
    }
  }
  // Reopened: the schema keeps the default and the array's element type and capacity.
  auto db = ValueOrDie(Database::Open(dir));
  auto c = ValueOrDie(db->GetCollection("tagged"));
  const FieldSchema* kept = c->schema().FindScalar("tags");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->element_type, DataType::kVarChar);
  EXPECT_EQ(kept->max_capacity, 3);
  EXPECT_EQ(c->schema().FindScalar("rating")->default_value, 3);
  QueryRequest q;
  q.filter = "array_contains(tags, \"cat\") or rating == 3";
  q.output_fields = {"rating", "tags"};
  std::vector<Row> found = ValueOrDie(c->Query(q));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].fields["rating"], 3);
  EXPECT_EQ(found[0].fields["tags"], json({"cat", "red"}));
  EXPECT_EQ(found[1].fields["rating"], 3);
  EXPECT_EQ(found[1].fields["tags"], json::array());
}

TEST(CollectionTest, SearchMatchesBruteForceForEveryMetric) {
  const int dim = 16, n = 300;
  for (const char* metric : {"L2", "IP", "COSINE"}) {
    auto db = ValueOrDie(Database::Open(MakeTempDir()));
    auto c = MakeCollection(*db, PhotoSchema("photos", dim), {"FLAT", metric, json::object()});
    auto rows = MakeRows(n, dim, 5);
    ASSERT_TRUE(c->Insert(rows).ok());
    std::mt19937 rng(11);
    SearchRequest req;
    req.vectors = {RandomVector(rng, dim), RandomVector(rng, dim)};
    req.limit = 5;
    req.output_fields = {"path"};
    auto results = ValueOrDie(c->Search(req));
    ASSERT_EQ(results.size(), 2u);
    for (size_t q = 0; q < 2; ++q) {
      std::vector<std::pair<float, int64_t>> truth;
      for (int i = 0; i < n; ++i) {
        const auto& a = req.vectors[q];
        const auto& b = rows[i].vector;
        double l2 = 0, ip = 0, na = 0, nb = 0;
        for (int d = 0; d < dim; ++d)
          l2 += (a[d] - b[d]) * (a[d] - b[d]), ip += a[d] * b[d], na += a[d] * a[d],
              nb += b[d] * b[d];
        double score = std::string(metric) == "L2"   ? l2
                       : std::string(metric) == "IP" ? -ip
                                                     : -ip / std::sqrt(na * nb);
        truth.emplace_back(static_cast<float>(score), i + 1);
      }
      std::sort(truth.begin(), truth.end());
      ASSERT_EQ(results[q].size(), 5u);
      for (int r = 0; r < 5; ++r) {
        EXPECT_EQ(results[q][r].id, truth[r].second) << metric;
        float reported = std::string(metric) == "L2" ? truth[r].first : -truth[r].first;
        EXPECT_NEAR(results[q][r].distance, reported, 1e-3) << metric;
        EXPECT_EQ(results[q][r].row.fields["path"],
                  "img/" + std::to_string(truth[r].second - 1) + ".jpg");
      }
    }
  }
}

TEST(CollectionTest, RangeSearchAndOffset) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", 8));
  ASSERT_TRUE(c->Insert(MakeRows(200, 8, 2)).ok());
  std::mt19937 rng(3);
  SearchRequest req;
  req.vectors = {RandomVector(rng, 8)};
  req.limit = 20;
  auto all = ValueOrDie(c->Search(req))[0];
  req.params = {{"radius", all[15].distance}, {"range_filter", all[4].distance}};
  auto band = ValueOrDie(c->Search(req))[0];
  ASSERT_EQ(band.size(), 11u);  // distances in [d4, d15)
  for (size_t i = 0; i < band.size(); ++i) EXPECT_EQ(band[i].id, all[4 + i].id);
  req.params = json::object();
  req.limit = 5;
  req.offset = 3;
  auto paged = ValueOrDie(c->Search(req))[0];
  ASSERT_EQ(paged.size(), 5u);
  EXPECT_EQ(paged[0].id, all[3].id);
  req.params = {{"range_filter", 1.0}};
  EXPECT_FALSE(c->Search(req).ok());
  req.params = {{"radius", 1.0}, {"range_filter", 2.0}};
  EXPECT_NE(c->Search(req).status().message().find("range_filter must be less than radius"),
            std::string::npos);
  req.params = {{"efSearch", 10}};
  EXPECT_NE(c->Search(req).status().message().find("not supported"), std::string::npos);
  req.params = json::object();
  req.vectors = {{1, 2, 3}};
  EXPECT_NE(c->Search(req).status().message().find("has 3 values"), std::string::npos);
}

// Every index through the store: recall@10 against FLAT >= 0.95 at default parameters;
// IVF_PQ included, because the store re-ranks lossy candidates exactly.
TEST(CollectionTest, EveryIndexKeepsRecallAgainstFlat) {
  const int dim = 32, n = 6000, queries = 50;
  std::mt19937 rng(21);
  std::normal_distribution<float> dist;
  std::vector<std::vector<float>> centres(60, std::vector<float>(dim));
  for (auto& c : centres)
    for (float& x : c) x = dist(rng) * 3;
  auto sample = [&] {
    auto v = centres[rng() % centres.size()];
    for (float& x : v) x += dist(rng);
    return v;
  };
  std::vector<Row> rows(n);
  for (auto& r : rows) r.vector = sample(), r.fields = {{"path", "p"}, {"width", 1}};
  std::vector<std::vector<float>> qs(queries);
  for (auto& q : qs) q = sample();
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto flat = MakeCollection(*db, PhotoSchema("flat", dim));
  ASSERT_TRUE(flat->Insert(rows).ok());
  SearchRequest req;
  req.vectors = qs;
  req.limit = 10;
  auto truth = ValueOrDie(flat->Search(req));
  for (IndexSpec spec :
       {IndexSpec{"HNSW", "L2", json::object()}, IndexSpec{"IVF_FLAT", "L2", {{"nlist", 64}}},
        IndexSpec{"IVF_SQ8", "L2", {{"nlist", 64}}},
        IndexSpec{"IVF_PQ", "L2", {{"nlist", 32}, {"m", 16}, {"nbits", 6}}},
        IndexSpec{"HNSW_SQ", "L2", {{"sq_type", "SQ8"}}},
        IndexSpec{"HNSW_SQ", "L2", {{"sq_type", "BF16"}, {"refine", true}}}}) {
    std::string name = "c_" + spec.index_type + std::to_string(spec.params.size());
    auto c = MakeCollection(*db, PhotoSchema(name, dim), spec);
    ASSERT_TRUE(c->Insert(rows).ok());
    ASSERT_TRUE(c->Flush().ok());
    EXPECT_EQ(c->Stats().pending_rows, 0);
    auto got = ValueOrDie(c->Search(req));
    size_t hits = 0;
    for (int q = 0; q < queries; ++q) {
      std::set<int64_t> want;
      for (const auto& h : truth[q]) want.insert(h.id);
      for (const auto& h : got[q]) hits += want.count(h.id);
    }
    double recall = static_cast<double>(hits) / (queries * 10);
    std::printf("%s recall@10 through the store: %.3f\n", spec.index_type.c_str(), recall);
    EXPECT_GE(recall, 0.95) << spec.index_type;
  }
}

// IVF_SQ8's candidates are re-ranked from the stored rows: its hits come in the exact
// order with the exact distances, and a row rewritten since an earlier search is re-ranked
// with its new vector (the re-rank's read transaction ends with the search).
TEST(CollectionTest, IvfSq8ReRankGivesTheExactOrder) {
  const int dim = 32, n = 3000;
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("sq8", dim, /*auto_id=*/false),
                          IndexSpec{"IVF_SQ8", "L2", {{"nlist", 16}}});
  std::vector<Row> rows = MakeRows(n, dim, 31, /*first_id=*/1);
  ASSERT_TRUE(c->Insert(rows).ok());
  ASSERT_TRUE(c->Flush().ok());
  auto exact = [&](const std::vector<float>& q, const std::vector<float>& v) {
    float d = 0;
    for (int i = 0; i < dim; ++i) d += (q[i] - v[i]) * (q[i] - v[i]);
    return d;
  };
  std::mt19937 rng(32);
  SearchRequest req;
  for (int q = 0; q < 20; ++q) req.vectors.push_back(RandomVector(rng, dim));
  req.limit = 10;
  auto found = ValueOrDie(c->Search(req));
  for (size_t q = 0; q < found.size(); ++q) {
    ASSERT_EQ(found[q].size(), 10u);
    for (size_t i = 0; i < found[q].size(); ++i) {
      const Hit& hit = found[q][i];
      EXPECT_NEAR(hit.distance, exact(req.vectors[q], rows[hit.id - 1].vector), 1e-3)
          << "query " << q << " hit " << i;
      if (i > 0) {
        EXPECT_LE(found[q][i - 1].distance, hit.distance);
      }
    }
  }
  Row moved = rows[41];
  moved.vector = req.vectors[0];
  ASSERT_TRUE(c->Upsert({moved}).ok());
  ASSERT_TRUE(c->Flush().ok());
  auto again = ValueOrDie(c->Search(req));
  ASSERT_FALSE(again[0].empty());
  EXPECT_EQ(again[0][0].id, moved.id);
  EXPECT_NEAR(again[0][0].distance, 0.0f, 1e-4);
}

// HNSW_SQ SQ8 without a refine answers with its codes' distances, as Milvus's does: near
// the exact ones (a byte per dimension) but not equal, in their own order, and finding
// nearly all of the exact top 10.
TEST(CollectionTest, HnswSqSq8AnswersWithItsOwnDistances) {
  const int dim = 32, n = 3000;
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("sq8", dim, /*auto_id=*/false),
                          IndexSpec{"HNSW_SQ", "L2", {{"sq_type", "SQ8"}}});
  auto exact_c = MakeCollection(*db, PhotoSchema("exact", dim, /*auto_id=*/false),
                                IndexSpec{"FLAT", "L2", json::object()});
  std::vector<Row> rows = MakeRows(n, dim, 31, /*first_id=*/1);
  ASSERT_TRUE(c->Insert(rows).ok());
  ASSERT_TRUE(c->Flush().ok());
  ASSERT_TRUE(exact_c->Insert(rows).ok());
  ASSERT_TRUE(exact_c->Flush().ok());
  std::mt19937 rng(32);
  SearchRequest req;
  for (int q = 0; q < 20; ++q) req.vectors.push_back(RandomVector(rng, dim));
  req.limit = 10;
  req.params = {{"ef", 64}};
  auto found = ValueOrDie(c->Search(req));
  auto truth = ValueOrDie(exact_c->Search(req));
  size_t agree = 0, inexact = 0;
  for (size_t q = 0; q < found.size(); ++q) {
    ASSERT_EQ(found[q].size(), 10u);
    std::set<int64_t> want;
    for (const Hit& hit : truth[q]) want.insert(hit.id);
    for (size_t i = 0; i < found[q].size(); ++i) {
      const Hit& hit = found[q][i];
      agree += want.count(hit.id);
      const std::vector<float>& v = rows[hit.id - 1].vector;
      float d = 0;
      for (int j = 0; j < dim; ++j) d += (req.vectors[q][j] - v[j]) * (req.vectors[q][j] - v[j]);
      EXPECT_NEAR(hit.distance, d, 0.02 * d + 1e-3) << "query " << q << " hit " << i;
      if (std::abs(hit.distance - d) > 1e-5 * d) ++inexact;
      if (i > 0) {
        EXPECT_LE(found[q][i - 1].distance, hit.distance);
      }
    }
  }
  EXPECT_GE(agree, 180u) << "recall@10 over 20 queries";
  EXPECT_GT(inexact, 100u) << "the codes' distances, not re-ranked ones";
}

// An HNSW_SQ collection answers the same after reopening from its snapshot as before.
TEST(CollectionTest, HnswSqSnapshotAnswersAsTheIndexItWasTakenFrom) {
  const int dim = 24;
  std::string dir = MakeTempDir();
  IndexSpec spec{"HNSW_SQ", "COSINE", {{"sq_type", "SQ8"}, {"refine", true}, {"refine_k", 2}}};
  SearchRequest req;
  std::mt19937 rng(8);
  for (int q = 0; q < 5; ++q) req.vectors.push_back(RandomVector(rng, dim));
  req.limit = 10;
  std::vector<std::vector<Hit>> before;
  {
    auto db = ValueOrDie(Database::Open(dir));
    auto c = MakeCollection(*db, PhotoSchema("photos", dim), spec);
    ASSERT_TRUE(c->Insert(MakeRows(2000, dim, 9)).ok());
    ASSERT_TRUE(c->Flush().ok());
    before = ValueOrDie(c->Search(req));
  }
  auto db = ValueOrDie(Database::Open(dir));
  auto c = ValueOrDie(db->GetCollection("photos"));
  EXPECT_GT(c->Stats().snapshot_sequence, 0);
  auto after = ValueOrDie(c->Search(req));
  ASSERT_EQ(after.size(), before.size());
  for (size_t q = 0; q < after.size(); ++q) {
    ASSERT_EQ(after[q].size(), before[q].size());
    for (size_t i = 0; i < after[q].size(); ++i) {
      EXPECT_EQ(after[q][i].id, before[q][i].id);
      EXPECT_FLOAT_EQ(after[q][i].distance, before[q][i].distance);
    }
  }
}

// A filter that keeps very few rows must still return exactly the nearest of them.
TEST(CollectionTest, HighlySelectiveFiltersStayExact) {
  const int dim = 16;
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", dim), {"HNSW", "L2", {{"M", 8}}});
  auto rows = MakeRows(3000, dim, 4);
  ASSERT_TRUE(c->Insert(rows).ok());
  ASSERT_TRUE(c->Flush().ok());
  std::mt19937 rng(5);
  SearchRequest req;
  req.vectors = {RandomVector(rng, dim)};
  req.limit = 10;
  req.filter = "id in [17, 2999, 1234, 5]";
  req.output_fields = {"width"};
  auto hits = ValueOrDie(c->Search(req))[0];
  ASSERT_EQ(hits.size(), 4u);
  std::set<int64_t> ids;
  for (const auto& h : hits) {
    ids.insert(h.id);
    EXPECT_EQ(h.row.fields["width"], 100 + h.id - 1);
  }
  EXPECT_EQ(ids, (std::set<int64_t>{17, 2999, 1234, 5}));
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_LE(hits[i - 1].distance, hits[i].distance);
  req.filter = "width < 0";
  EXPECT_TRUE(ValueOrDie(c->Search(req))[0].empty());
}

TEST(CollectionTest, BinaryVectorsWithHamming) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  CollectionSchema s = PhotoSchema("hashes", 64);
  s.vector_type = DataType::kBinaryVector;
  auto c = MakeCollection(*db, s, {"BIN_FLAT", "HAMMING", json::object()});
  std::vector<Row> rows(3);
  rows[0].binary_vector = {0, 0, 0, 0, 0, 0, 0, 0};
  rows[1].binary_vector = {0xff, 0, 0, 0, 0, 0, 0, 0};
  rows[2].binary_vector = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  for (auto& r : rows) r.fields = {{"path", "h"}, {"width", 1}};
  ASSERT_TRUE(c->Insert(rows).ok());
  SearchRequest req;
  req.binary_vectors = {{0x0f, 0, 0, 0, 0, 0, 0, 0}};
  req.limit = 3;
  auto hits = ValueOrDie(c->Search(req))[0];
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_FLOAT_EQ(hits[0].distance, 4);
  EXPECT_FLOAT_EQ(hits[1].distance, 4);
  EXPECT_FLOAT_EQ(hits[2].distance, 60);
  req.vectors = {{1.0f}};
  EXPECT_FALSE(c->Search(req).ok());
}

// Rows, fields and vectors survive closing and reopening, with and without a snapshot,
// and a damaged snapshot is rebuilt from the rows.
TEST(CollectionTest, ReopenRestoresEverything) {
  std::string dir = MakeTempDir();
  auto rows = MakeRows(500, 8, 6);
  {
    auto db = ValueOrDie(Database::Open(dir));
    auto c = MakeCollection(*db, PhotoSchema("photos", 8), {"HNSW", "COSINE", json::object()});
    ASSERT_TRUE(c->Insert(rows).ok());
    ASSERT_TRUE(c->Flush().ok());  // snapshot at 500 rows
    ASSERT_TRUE(c->Delete({1, 2, 3}).ok());
    Row changed = rows[9];
    changed.id = 10;
    changed.fields["path"] = "changed.jpg";
    ASSERT_TRUE(c->Upsert({changed}).ok());  // after the snapshot: replayed at open
  }
  auto check = [&](Database& db) {
    auto c = ValueOrDie(db.GetCollection("photos"));
    EXPECT_EQ(c->Count(), 497);
    EXPECT_EQ(c->index().index_type, "HNSW");
    EXPECT_TRUE(ValueOrDie(c->Get({1, 2, 3}, {})).empty());
    auto row = ValueOrDie(c->Get({10, 11}, {"*"}));
    ASSERT_EQ(row.size(), 2u);
    EXPECT_EQ(row[0].fields["path"], "changed.jpg");
    EXPECT_EQ(row[1].vector, rows[10].vector);
    EXPECT_EQ(row[1].fields, rows[10].fields);
    SearchRequest req;
    req.vectors = {rows[10].vector};
    req.limit = 1;
    EXPECT_EQ(ValueOrDie(c->Search(req))[0].at(0).id, 11);
  };
  {
    auto db = ValueOrDie(Database::Open(dir));
    check(*db);
    EXPECT_GT(ValueOrDie(db->GetCollection("photos"))->Stats().snapshot_sequence, 0);
  }
  // Damage the snapshot: the collection is rebuilt from its rows.
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/index")) {
    if (entry.path().extension() == ".idx") {
      std::string bytes = testing::ReadFileBytes(entry.path());
      bytes[bytes.size() / 2] ^= 0x55;
      testing::WriteFileBytes(entry.path(), bytes);
    }
  }
  {
    auto db = ValueOrDie(Database::Open(dir));
    check(*db);
  }
  // A truncated snapshot, and a MANIFEST that is not one.
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/index")) {
    if (entry.path().extension() == ".idx") std::filesystem::resize_file(entry.path(), 10);
  }
  testing::WriteFileBytes(dir + "/index/MANIFEST", "garbage");
  auto db = ValueOrDie(Database::Open(dir));
  check(*db);
}

// A snapshot cut short anywhere, or with one bit flipped anywhere, is refused by its
// checks (the mapping is never read past its end), and the collection is rebuilt from the
// rows with the same answers: at open, or, for a payload used in place (FLAT, HNSW), by the
// checksum checked after open, before any snapshot is taken from it (Flush waits for it).
TEST(CollectionTest, SnapshotCutOrFlippedAnywhereIsRebuiltFromRows) {
  const int dim = 12;
  for (const IndexSpec& spec :
       {IndexSpec{"HNSW_SQ", "L2", {{"refine", true}, {"refine_type", "FP32"}}},
        IndexSpec{"FLAT", "L2", json::object()}}) {
    SCOPED_TRACE(spec.index_type);
    std::string dir = MakeTempDir();
    SearchRequest req;
    std::mt19937 rng(31);
    req.vectors = {RandomVector(rng, dim), RandomVector(rng, dim)};
    req.limit = 5;
    std::vector<std::vector<Hit>> want;
    {
      auto db = ValueOrDie(Database::Open(dir));
      auto c = MakeCollection(*db, PhotoSchema("photos", dim), spec);
      ASSERT_TRUE(c->Insert(MakeRows(300, dim, 32)).ok());
      ASSERT_TRUE(c->Flush().ok());
      want = ValueOrDie(c->Search(req));
    }
    std::string snapshot;
    for (const auto& entry : std::filesystem::directory_iterator(dir + "/index")) {
      if (entry.path().extension() == ".idx") snapshot = entry.path();
    }
    ASSERT_FALSE(snapshot.empty());
    const std::string original = testing::ReadFileBytes(snapshot);
    std::vector<std::string> damaged;
    for (size_t cut : {size_t(0), size_t(7), size_t(40), original.size() / 3, original.size() - 1})
      damaged.push_back(original.substr(0, cut));
    for (size_t at :
         {size_t(3), size_t(20), original.size() / 2, original.size() - 6, original.size() - 2}) {
      damaged.push_back(original);
      damaged.back()[at] ^= 0x10;
    }
    for (const std::string& bytes : damaged) {
      testing::WriteFileBytes(snapshot, bytes);
      auto db = ValueOrDie(Database::Open(dir));
      auto c = ValueOrDie(db->GetCollection("photos"));
      EXPECT_EQ(c->Count(), 300) << bytes.size();
      EXPECT_TRUE(std::filesystem::exists(snapshot));  // still the file the MANIFEST names
      Status flushed = c->Flush();
      ASSERT_TRUE(flushed.ok()) << flushed.ToString();
      auto got = ValueOrDie(c->Search(req));
      for (size_t q = 0; q < want.size(); ++q) {
        ASSERT_EQ(got[q].size(), want[q].size());
        for (size_t i = 0; i < got[q].size(); ++i) EXPECT_EQ(got[q][i].id, want[q][i].id);
      }
    }
  }
}

// Found by fuzz/store_files_fuzzer: a snapshot (checksum and all intact) whose index held
// a label past the slots was loaded as it was, and a search then read past the slots. The
// loader now checks the index against the live slots and rebuilds instead.
TEST(CollectionTest, SnapshotWhoseIndexNamesNoLiveSlotIsRebuilt) {
  std::string dir = MakeTempDir();
  {
    auto db = ValueOrDie(Database::Open(dir));
    auto c = MakeCollection(*db, PhotoSchema("photos", 4, /*auto_id=*/false));
    ASSERT_TRUE(c->Insert(MakeRows(3, 4, 1, /*first_id=*/1)).ok());
    ASSERT_TRUE(c->Flush().ok());
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/index")) {
    if (entry.path().extension() != ".idx") continue;
    std::string bytes = testing::ReadFileBytes(entry.path());
    auto contents = ValueOrDie(store::DecodeSnapshot(bytes));
    // FLAT: vector size, count, then the labels: the last one becomes slot 1000.
    contents.index_bytes = std::string(contents.index_view);
    int64_t label = 1000;
    std::memcpy(contents.index_bytes.data() + 16 + 2 * sizeof(int64_t), &label, sizeof(label));
    testing::WriteFileBytes(entry.path(), store::EncodeSnapshot(contents));
  }
  auto db = ValueOrDie(Database::Open(dir));
  auto c = ValueOrDie(db->GetCollection("photos"));
  EXPECT_EQ(c->Count(), 3);
  SearchRequest req;
  req.vectors = {{1, 0, 0, 0}};
  std::set<int64_t> ids;
  auto hits = ValueOrDie(c->Search(req));
  for (const Hit& hit : hits[0]) ids.insert(hit.id);
  EXPECT_EQ(ids, (std::set<int64_t>{1, 2, 3}));
}

// Opening from a snapshot reads no fields: a point read takes a row's fields from SQLite,
// a filter completes them all. A snapshot (checksum intact) naming a row the database
// does not hold is found then, and the collection rebuilt from the rows.
TEST(CollectionTest, FieldsReadAfterOpenAgreeAndASnapshotWithAStrangerRowIsRebuilt) {
  std::string dir = MakeTempDir();
  auto rows = MakeRows(3, 4, 1, /*first_id=*/1);
  {
    auto db = ValueOrDie(Database::Open(dir));
    auto c = MakeCollection(*db, PhotoSchema("photos", 4, /*auto_id=*/false));
    ASSERT_TRUE(c->Insert(rows).ok());
    ASSERT_TRUE(c->Flush().ok());
  }
  {
    auto db = ValueOrDie(Database::Open(dir));
    auto c = ValueOrDie(db->GetCollection("photos"));
    auto got = ValueOrDie(c->Get({2}, {"*"}));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].fields, rows[1].fields);
    EXPECT_EQ(got[0].vector, rows[1].vector);
    SearchRequest req;
    req.vectors = {rows[2].vector};
    req.limit = 1;
    req.output_fields = {"path"};
    auto hits = ValueOrDie(c->Search(req));
    ASSERT_EQ(hits[0].size(), 1u);
    EXPECT_EQ(hits[0][0].row.fields["path"], rows[2].fields["path"]);
    QueryRequest wide;
    wide.filter = "width >= 101";
    EXPECT_EQ(ValueOrDie(c->Query(wide)).size(), 2u);
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/index")) {
    if (entry.path().extension() != ".idx") continue;
    const std::string bytes = testing::ReadFileBytes(entry.path());  // index_view points here
    auto contents = ValueOrDie(store::DecodeSnapshot(bytes));
    contents.index_bytes = std::string(contents.index_view);
    contents.slot_ids[2] = 999;  // row 3's slot now names a row that was never written
    testing::WriteFileBytes(entry.path(), store::EncodeSnapshot(contents));
  }
  auto db = ValueOrDie(Database::Open(dir));
  auto c = ValueOrDie(db->GetCollection("photos"));
  QueryRequest all;
  all.filter = "width >= 0";
  std::set<int64_t> ids;
  for (const Row& row : ValueOrDie(c->Query(all))) ids.insert(row.id);
  EXPECT_EQ(ids, (std::set<int64_t>{1, 2, 3}));
  EXPECT_TRUE(ValueOrDie(c->Get({999}, {})).empty());
  SearchRequest req;
  req.vectors = {rows[2].vector};
  req.limit = 1;
  EXPECT_EQ(ValueOrDie(c->Search(req))[0].at(0).id, 3);
}

TEST(CollectionTest, CompactFreesDeletedRowsAndKeepsResults) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", 8), {"HNSW", "L2", json::object()});
  auto rows = MakeRows(400, 8, 7);
  ASSERT_TRUE(c->Insert(rows).ok());
  ASSERT_TRUE(c->DeleteWhere("width < 300").ok());
  EXPECT_EQ(c->Count(), 200);
  EXPECT_EQ(c->Stats().deleted_slots, 200);
  ASSERT_TRUE(c->Compact().ok());
  EXPECT_EQ(c->Stats().deleted_slots, 0);
  EXPECT_EQ(c->Count(), 200);
  SearchRequest req;
  req.vectors = {rows[350].vector};
  req.limit = 1;
  EXPECT_EQ(ValueOrDie(c->Search(req))[0].at(0).id, 351);
}

TEST(CollectionTest, CreateIndexRebuildsAndDropIndexReturnsToFlat) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", 8));
  auto rows = MakeRows(300, 8, 8);
  ASSERT_TRUE(c->Insert(rows).ok());
  ASSERT_TRUE(c->CreateIndex({"HNSW", "IP", {{"M", 8}}}).ok());
  EXPECT_EQ(c->index().index_type, "HNSW");
  EXPECT_EQ(c->index().metric_type, "IP");
  EXPECT_NE(c->CreateIndex({"IVF_PQ", "L2", {{"m", 3}}}).message().find("must divide"),
            std::string::npos);
  ASSERT_TRUE(c->DropIndex().ok());
  EXPECT_EQ(c->index().index_type, "FLAT");
  EXPECT_EQ(c->index().metric_type, "IP");
  EXPECT_EQ(c->Count(), 300);
}

// Searches run while writers insert and delete; every acknowledged row is visible.
TEST(CollectionTest, SearchesRunAlongsideWrites) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", 8),
                          {"HNSW", "L2", {{"M", 8}, {"efConstruction", 50}}});
  std::atomic<bool> done{false};
  std::atomic<int> searches{0}, failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(t);
      while (!done) {
        SearchRequest req;
        req.vectors = {RandomVector(rng, 8)};
        req.limit = 5;
        req.filter = "width > 150";
        if (!c->Search(req).ok()) failures++;
        searches++;
      }
    });
  }
  for (int batch = 0; batch < 20; ++batch) {
    auto rows = MakeRows(50, 8, 100 + batch);
    auto ids = ValueOrDie(c->Insert(rows));
    // Visible at once, indexed or not.
    SearchRequest req;
    req.vectors = {rows[7].vector};
    req.limit = 1;
    EXPECT_EQ(ValueOrDie(c->Search(req))[0].at(0).id, ids[7]);
    ASSERT_TRUE(c->Delete({ids[0]}).ok());
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(c->Count(), 20 * 49);
}

// The background thread grows the index without the state lock while writers publish
// and searches run: a search must meet every row acknowledged before it began exactly
// once, whether the row is still in the tail, being added, or in the index. IVF_FLAT
// probing every list is exhaustive, so any row lost or doubled in the hand-over shows;
// HNSW (approximate) must at least never return a row twice.
void CheckSearchesDuringIndexing(const IndexSpec& index, const nlohmann::json& params,
                                 bool exhaustive) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("photos", 8, /*auto_id=*/false), index);
  std::mutex acknowledged_mutex;
  std::set<int64_t> acknowledged;
  std::atomic<bool> done{false};
  std::atomic<int> searches{0}, lost{0}, doubled{0}, failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(t);
      while (!done) {
        std::set<int64_t> expected;
        {
          std::lock_guard<std::mutex> lock(acknowledged_mutex);
          expected = acknowledged;
        }
        SearchRequest req;
        req.vectors = {RandomVector(rng, 8)};
        req.limit = 2000;
        req.params = params;
        auto hits = c->Search(req);
        if (!hits.ok()) {
          failures++;
          continue;
        }
        std::set<int64_t> seen;
        for (const Hit& hit : (*hits)[0]) {
          if (!seen.insert(hit.id).second) doubled++;
        }
        if (exhaustive) {
          for (int64_t id : expected) lost += seen.count(id) ? 0 : 1;
        }
        searches++;
      }
    });
  }
  for (int batch = 0; batch < 30; ++batch) {
    auto rows = MakeRows(40, 8, 300 + batch, 1 + 40 * batch);
    ASSERT_TRUE(c->Insert(rows).ok());
    // Replaced rows leave their slot while the background thread may be adding it.
    auto again = MakeRows(10, 8, 900 + batch, 1 + 40 * batch);
    ASSERT_TRUE(c->Upsert(again).ok());
    std::lock_guard<std::mutex> lock(acknowledged_mutex);
    for (const Row& row : rows) acknowledged.insert(row.id);
  }
  ASSERT_TRUE(c->Flush().ok());  // everything indexed: the hand-over ran for every row
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(lost.load(), 0);
  EXPECT_EQ(doubled.load(), 0);
  EXPECT_EQ(c->Stats().pending_rows, 0);
  EXPECT_EQ(c->Stats().indexed_rows, 30 * 40);
}

TEST(CollectionTest, SearchesDuringIndexingSeeEveryAcknowledgedRowOnce) {
  CheckSearchesDuringIndexing({"IVF_FLAT", "L2", {{"nlist", 4}}}, {{"nprobe", 4}}, true);
  CheckSearchesDuringIndexing({"HNSW", "L2", {{"M", 8}, {"efConstruction", 40}}}, {{"ef", 64}},
                              false);
}

// While writes come back to back the graph waits (the tail is searched exactly); once
// they pause, the background thread indexes every row without a Flush.
TEST(CollectionTest, RowsWrittenBackToBackAreSearchableAtOnceAndIndexedOnceWritesPause) {
  auto db = ValueOrDie(Database::Open(MakeTempDir()));
  auto c = MakeCollection(*db, PhotoSchema("p", 8, false),
                          {"HNSW", "L2", {{"M", 8}, {"efConstruction", 40}}});
  for (int batch = 0; batch < 10; ++batch) {
    auto rows = MakeRows(100, 8, 40 + batch, 1 + 100 * batch);
    ASSERT_TRUE(c->Insert(rows).ok());
    SearchRequest request;
    request.vectors = {rows.back().vector};
    request.limit = 1;
    auto hits = ValueOrDie(c->Search(request));
    ASSERT_EQ(hits[0].size(), 1u);
    EXPECT_EQ(hits[0][0].id, rows.back().id) << "batch " << batch;
  }
  EXPECT_TRUE(testing::Eventually([&] { return c->Stats().pending_rows == 0; }))
      << c->Stats().pending_rows << " rows still unindexed";
  EXPECT_EQ(c->Stats().indexed_rows, 1000);
}

// A write that takes SQLite's log past its checkpoint threshold reaches the database
// file without another commit: on the checkpointer's thread, or (option off) inside the
// commit as SQLite does by default.
TEST(CollectionTest, ALargeWriteReachesTheDatabaseFileWithoutAnotherCommit) {
  for (bool background : {true, false}) {
    std::string dir = MakeTempDir();
    DatabaseOptions options;
    options.checkpoint_in_background = background;
    auto db = ValueOrDie(Database::Open(dir, options));
    auto c = MakeCollection(*db, PhotoSchema("p", 512));
    ASSERT_TRUE(c->Insert(MakeRows(4000, 512, 7)).ok());  // 8 MB of vectors, 1,000+ pages
    auto size = [&] { return std::filesystem::file_size(dir + "/imgsearch.db"); };
    EXPECT_TRUE(testing::Eventually([&] { return size() > 8'000'000; }))
        << "background " << background << ": the database file holds " << size() << " bytes";
  }
}

}  // namespace
}  // namespace imgsearch
