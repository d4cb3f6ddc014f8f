// Search's relevance cutoffs, date order and paging, held to an exact search done here
// over every stored vector; and search by a region, held to a crop done by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "imgsearch/library.h"
#include "test_util.h"
#include "tiny_images.h"

namespace imgsearch {
namespace {

using testing::MakeTempDir;
using testing::MakeTinyImages;
using testing::ValueOrDie;

constexpr int kImages = 24;

struct Fixture {
  std::unique_ptr<Library> library;
  std::vector<int64_t> ids;          // by path
  std::map<int64_t, int64_t> mtime;  // id -> mtime_ns
};

// kImages small photos with distinct modification times (the newest first by path) and a
// user field "taken" that runs the other way.
Fixture MakeLibrary() {
  std::vector<std::string> photos = MakeTinyImages(kImages, 27);
  auto now = std::filesystem::file_time_type::clock::now();
  for (size_t i = 0; i < photos.size(); ++i)
    std::filesystem::last_write_time(photos[i], now - std::chrono::hours(24 * (i + 1)));
  Fixture f;
  f.library = ValueOrDie(Library::Open(MakeTempDir() + "/lib"));
  IndexOptions index;
  index.paths = {std::filesystem::path(photos[0]).parent_path().string()};
  EXPECT_EQ(ValueOrDie(f.library->Index(index)).added, size_t(kImages));
  std::vector<int64_t> all = ValueOrDie(f.library->FindImages("id >= 0"));
  for (const ImageInfo& info : ValueOrDie(f.library->GetImages(all))) {
    f.mtime[info.id] = info.mtime_ns;
    EXPECT_TRUE(f.library->SetFields(info.id, {{"taken", -double(info.mtime_ns) / 1e9}}).ok());
  }
  f.ids = all;
  return f;
}

// The exact distance of every image to image `query` under `model`, as the library
// reports it (squared L2, or differing bits), nearest first.
std::vector<std::pair<double, int64_t>> ExactSearch(Library& library, const std::string& model,
                                                    int64_t query) {
  auto collection = ValueOrDie(library.database().GetCollection(model));
  std::vector<int64_t> ids = ValueOrDie(library.FindImages("id >= 0"));
  std::vector<Row> rows = ValueOrDie(collection->Get(ids, {collection->schema().vector_field}));
  const Row* q = nullptr;
  for (const Row& r : rows) q = r.id == query ? &r : q;
  EXPECT_NE(q, nullptr);
  std::vector<std::pair<double, int64_t>> exact;
  for (const Row& r : rows) {
    double d = 0;
    for (size_t i = 0; i < r.vector.size(); ++i)
      d += (double(r.vector[i]) - q->vector[i]) * (double(r.vector[i]) - q->vector[i]);
    for (size_t i = 0; i < r.binary_vector.size(); ++i)
      d += std::popcount(uint8_t(r.binary_vector[i] ^ q->binary_vector[i]));
    exact.push_back({d, r.id});
  }
  std::sort(exact.begin(), exact.end());
  return exact;
}

std::vector<int64_t> IdsOf(const std::vector<Hit>& hits) {
  std::vector<int64_t> ids;
  for (const Hit& h : hits) ids.push_back(h.id);
  return ids;
}

const ModelResults& ResultsOf(const SearchResults& results, const std::string& model) {
  for (const ModelResults& m : results.models)
    if (m.model == model) return m;
  ADD_FAILURE() << "no results for " << model;
  return results.models.at(0);
}

TEST(SearchTest, CutoffOrderAndPagingAgreeWithExactSearch) {
  Fixture f = MakeLibrary();
  ImageQuery query;
  query.id = f.ids[3];
  for (const std::string& model : f.library->ModelNames()) {
    std::vector<std::pair<double, int64_t>> exact = ExactSearch(*f.library, model, query.id);
    ASSERT_EQ(exact.size(), size_t(kImages));
    // About a third of the images pass; the cutoff lies between two distances, so that
    // float and double agree on which side each image is.
    double cutoff = (exact[kImages / 3].first + exact[kImages / 3 + 1].first) / 2;
    std::set<int64_t> within;
    for (const auto& [d, id] : exact)
      if (d <= cutoff) within.insert(id);
    ASSERT_LT(within.size(), size_t(kImages));

    SearchOptions options;
    options.only = {model};
    options.k = kImages;
    SearchResults full = ValueOrDie(f.library->Search(query, options));
    const std::vector<Hit>& all = ResultsOf(full, model).hits;
    ASSERT_EQ(all.size(), size_t(kImages)) << model;
    for (size_t i = 0; i < all.size(); ++i)
      EXPECT_NEAR(all[i].distance, exact[i].first, 1e-4) << model << " rank " << i;

    // Cut off: exactly the images within the distance, nearest first.
    options.max_distance[model] = cutoff;
    SearchResults cut = ValueOrDie(f.library->Search(query, options));
    std::vector<int64_t> cut_ids = IdsOf(ResultsOf(cut, model).hits);
    EXPECT_EQ(std::set<int64_t>(cut_ids.begin(), cut_ids.end()), within) << model;
    std::vector<int64_t> prefix = IdsOf(all);
    prefix.resize(cut_ids.size());
    EXPECT_EQ(cut_ids, prefix) << model;

    // Newest first by mtime, then by the user field that runs the other way.
    options.order = "-date";
    std::vector<int64_t> by_date =
        IdsOf(ResultsOf(ValueOrDie(f.library->Search(query, options)), model).hits);
    std::vector<int64_t> expected(within.begin(), within.end());
    std::sort(expected.begin(), expected.end(),
              [&](int64_t a, int64_t b) { return f.mtime[a] > f.mtime[b]; });
    EXPECT_EQ(by_date, expected) << model;
    options.date_field = "taken";
    by_date = IdsOf(ResultsOf(ValueOrDie(f.library->Search(query, options)), model).hits);
    std::reverse(expected.begin(), expected.end());
    EXPECT_EQ(by_date, expected) << model;

    // Pages of 5 put together are the whole list, in relevance and in date order.
    for (const char* order : {"relevance", "date"}) {
      SearchOptions page;
      page.only = {model};
      page.order = order;
      page.k = 5;
      std::vector<int64_t> joined;
      for (page.offset = 0; page.offset < kImages + 5; page.offset += 5) {
        SearchResults r = ValueOrDie(f.library->Search(query, page));
        std::vector<int64_t> ids = IdsOf(ResultsOf(r, model).hits);
        EXPECT_LE(ids.size(), 5u);
        joined.insert(joined.end(), ids.begin(), ids.end());
        if (!ids.empty()) {
          EXPECT_EQ(r.ToJson("q")["results"][model][0]["rank"], page.offset + 1);
        }
      }
      page.offset = 0;
      page.k = kImages;
      EXPECT_EQ(joined, IdsOf(ResultsOf(ValueOrDie(f.library->Search(query, page)), model).hits))
          << model << " " << order;
    }
  }
}

TEST(SearchTest, FusedCutoffAndBadCutoffs) {
  Fixture f = MakeLibrary();
  ImageQuery query;
  query.id = f.ids[5];
  SearchOptions options;
  options.k = kImages;
  options.fuse = "rrf";
  SearchResults full = ValueOrDie(f.library->Search(query, options));
  ASSERT_GE(full.fused.size(), 10u);
  options.min_fused_score = full.fused[6].score;
  SearchResults cut = ValueOrDie(f.library->Search(query, options));
  size_t expected = 0;
  for (const FusedHit& h : full.fused) expected += h.score >= full.fused[6].score;
  ASSERT_EQ(cut.fused.size(), expected);
  for (size_t i = 0; i < cut.fused.size(); ++i) EXPECT_EQ(cut.fused[i].id, full.fused[i].id);
  for (const FusedHit& h : cut.fused) EXPECT_EQ(h.mtime_ns, f.mtime[h.id]);

  SearchOptions bad;
  bad.min_score["phash"] = 0.5;  // phash reports distances
  EXPECT_EQ(f.library->Search(query, bad).status().code(), StatusCode::kInvalidArgument);
  bad = {};
  bad.max_distance["no-such-model"] = 1;
  EXPECT_EQ(f.library->Search(query, bad).status().code(), StatusCode::kNotFound);
  bad = {};
  bad.order = "size";
  EXPECT_EQ(f.library->Search(query, bad).status().code(), StatusCode::kInvalidArgument);
  bad = {};
  bad.offset = kMaxSearchDepth;
  EXPECT_EQ(f.library->Search(query, bad).status().code(), StatusCode::kInvalidArgument);
}

// A 24-bit BMP of `image`, written byte by byte (lossless, so that the two queries below
// see the same pixels).
std::string Bmp(const Image& image) {
  size_t row = (size_t(image.width) * 3 + 3) / 4 * 4;
  size_t size = 54 + row * size_t(image.height);
  std::string out(size, '\0');
  auto put = [&](size_t at, uint32_t v, int bytes) {
    for (int b = 0; b < bytes; ++b) out[at + size_t(b)] = char((v >> (8 * b)) & 255);
  };
  out[0] = 'B', out[1] = 'M';
  put(2, uint32_t(size), 4), put(10, 54, 4), put(14, 40, 4);
  put(18, uint32_t(image.width), 4), put(22, uint32_t(image.height), 4);
  put(26, 1, 2), put(28, 24, 2), put(34, uint32_t(row * size_t(image.height)), 4);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = &image.rgb[(size_t(y) * image.width + x) * 3];
      size_t at = 54 + size_t(image.height - 1 - y) * row + size_t(x) * 3;
      out[at] = char(p[2]), out[at + 1] = char(p[1]), out[at + 2] = char(p[0]);
    }
  }
  return out;
}

TEST(SearchTest, ACropIsTakenFromThePictureAsDisplayed) {
  Fixture f = MakeLibrary();
  // exif_rotate.png is stored 60x40 with EXIF orientation 6: displayed 40x60. PIL's
  // displayed picture, cropped here by hand, is the reference.
  Image shown = testing::ReferenceImage("exif_rotate.png");
  ASSERT_EQ(shown.width, 40);
  ASSERT_EQ(shown.height, 60);
  const CropBox box{5, 12, 30, 40};
  Image crop{box.width, box.height, {}};
  for (int y = box.y; y < box.y + box.height; ++y)
    for (int x = box.x; x < box.x + box.width; ++x)
      for (int c = 0; c < 3; ++c) crop.rgb.push_back(shown.rgb[(size_t(y) * 40 + x) * 3 + c]);

  SearchOptions options;
  options.k = 5;
  ImageQuery by_hand;
  by_hand.bytes = Bmp(crop);
  by_hand.path = "crop.bmp";
  SearchResults expected = ValueOrDie(f.library->Search(by_hand, options));
  ImageQuery whole;
  whole.path = testing::FixturePath("exif_rotate.png");
  options.crop = box;
  SearchResults got = ValueOrDie(f.library->Search(whole, options));
  SearchOptions whole_picture;
  whole_picture.k = 5;
  SearchResults uncropped = ValueOrDie(f.library->Search(whole, whole_picture));
  bool differs = false;
  for (size_t m = 0; m < got.models.size(); ++m) {
    ASSERT_EQ(got.models[m].hits.size(), expected.models[m].hits.size());
    for (size_t i = 0; i < got.models[m].hits.size(); ++i) {
      EXPECT_EQ(got.models[m].hits[i].id, expected.models[m].hits[i].id);
      EXPECT_NEAR(got.models[m].hits[i].distance, expected.models[m].hits[i].distance, 1e-5);
      differs |=
          std::abs(got.models[m].hits[i].distance - uncropped.models[m].hits[i].distance) > 1e-4;
    }
  }
  EXPECT_TRUE(differs);  // the crop changed the query

  options.crop = CropBox{10, 30, 31, 40};  // 41 > 40 wide
  EXPECT_EQ(f.library->Search(whole, options).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CropBox::Parse("1,2,3").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CropBox::Parse("1,2,0,4").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CropBox::Parse("1,2,x,4").status().code(), StatusCode::kInvalidArgument);
  CropBox parsed = ValueOrDie(CropBox::Parse("1,2,3,4"));
  EXPECT_EQ(parsed.x + parsed.y + parsed.width + parsed.height, 10);
  // A query by id is cropped from its file.
  ImageQuery by_id;
  by_id.id = f.ids[0];
  options.crop = CropBox{0, 0, 4, 4};
  EXPECT_TRUE(f.library->Search(by_id, options).ok());
}

}  // namespace
}  // namespace imgsearch
