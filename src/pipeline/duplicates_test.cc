// Near-duplicate groups on generated pictures: each edited copy (resized, re-compressed,
// cropped, brighter, more contrast, grey) joins its original's group, and different
// pictures stay apart, even when their coarse layout agrees.
#include "pipeline/duplicates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "image/encode.h"
#include "image/exif.h"
#include "image/resize.h"
#include "imgsearch/library.h"
#include "test_util.h"

namespace imgsearch {
namespace {

using testing::MakeTempDir;
using testing::ValueOrDie;
using testing::WriteFileBytes;

constexpr int kWidth = 160, kHeight = 120;

uint8_t Clamp(double v) {
  return static_cast<uint8_t>(std::clamp(v, 0.0, 255.0) + 0.5);
}

// A picture of its own: a colour gradient with a few filled ellipses, all from `seed`.
Image MakePicture(unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  Image image{kWidth, kHeight, std::vector<uint8_t>(size_t(kWidth) * kHeight * 3)};
  double corner[2][3];
  for (auto& c : corner)
    for (double& v : c) v = 255 * unit(random);
  struct Ellipse {
    double cx, cy, rx, ry, rgb[3];
  };
  std::vector<Ellipse> ellipses(5);
  for (Ellipse& e : ellipses) {
    e = {kWidth * unit(random),
         kHeight * unit(random),
         10 + 40 * unit(random),
         10 + 30 * unit(random),
         {255 * unit(random), 255 * unit(random), 255 * unit(random)}};
  }
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      double t = double(x + y) / (kWidth + kHeight);
      double rgb[3];
      for (int c = 0; c < 3; ++c) rgb[c] = corner[0][c] * (1 - t) + corner[1][c] * t;
      for (const Ellipse& e : ellipses) {
        double dx = (x - e.cx) / e.rx, dy = (y - e.cy) / e.ry;
        if (dx * dx + dy * dy <= 1) std::copy(e.rgb, e.rgb + 3, rgb);
      }
      for (int c = 0; c < 3; ++c) image.rgb[(size_t(y) * kWidth + x) * 3 + c] = Clamp(rgb[c]);
    }
  }
  return image;
}

Image MapPixels(const Image& source, double gain, double offset) {
  Image out = source;
  for (uint8_t& v : out.rgb) v = Clamp((v - 128.0) * gain + 128.0 + offset);
  return out;
}

Image Grey(const Image& source) {
  Image out = source;
  for (size_t p = 0; p < out.rgb.size(); p += 3) {
    uint8_t y =
        Clamp(0.299 * source.rgb[p] + 0.587 * source.rgb[p + 1] + 0.114 * source.rgb[p + 2]);
    out.rgb[p] = out.rgb[p + 1] = out.rgb[p + 2] = y;
  }
  return out;
}

// The edits a photo library accumulates: each is "the same picture".
std::map<std::string, std::string> Variants(const Image& picture) {
  int dx = kWidth / 25, dy = kHeight / 25;
  return {
      {"original", ValueOrDie(image::EncodeJpeg(picture, 92))},
      {"half-size", ValueOrDie(image::EncodeJpeg(image::Resize(picture, kWidth / 2, kHeight / 2,
                                                               Interpolation::kBilinear)))},
      {"quality-30", ValueOrDie(image::EncodeJpeg(picture, 30))},
      {"cropped", ValueOrDie(image::EncodeJpeg(
                      image::Crop(picture, dx, dy, kWidth - 2 * dx, kHeight - 2 * dy)))},
      {"brighter", ValueOrDie(image::EncodeJpeg(MapPixels(picture, 1, 25)))},
      {"more-contrast", ValueOrDie(image::EncodeJpeg(MapPixels(picture, 1.3, 0)))},
      {"grey", ValueOrDie(image::EncodeJpeg(Grey(picture)))},
  };
}

struct Folder {
  std::string dir;
  std::map<std::string, int> picture_of;  // path -> the picture it shows
};

// `edited` pictures with all their variants, then `plain` pictures with no copies.
Folder MakeFolder(int edited, int plain) {
  Folder folder{MakeTempDir() + "/photos", {}};
  std::filesystem::create_directories(folder.dir);
  for (int p = 0; p < edited + plain; ++p) {
    Image picture = MakePicture(1000 + p);
    std::map<std::string, std::string> files = Variants(picture);
    if (p >= edited) files = {{"original", files["original"]}};
    for (const auto& [name, bytes] : files) {
      std::string path = folder.dir + "/picture-" + std::to_string(p) + "-" + name + ".jpg";
      WriteFileBytes(path, bytes);
      folder.picture_of[path] = p;
    }
  }
  return folder;
}

std::unique_ptr<Library> IndexFolder(const Folder& folder) {
  auto library = ValueOrDie(Library::Open(MakeTempDir() + "/lib"));
  IndexOptions index;
  index.paths = {folder.dir};
  ValueOrDie(library->Index(index));
  return library;
}

// Pairs of files in one group / showing one picture: precision and recall over pairs.
struct PairCounts {
  size_t found = 0, true_found = 0, expected = 0;
};

PairCounts CountPairs(const Folder& folder, const DuplicateReport& report) {
  PairCounts counts;
  std::map<int, size_t> files_per_picture;
  for (const auto& [path, picture] : folder.picture_of) ++files_per_picture[picture];
  for (const auto& [picture, n] : files_per_picture) counts.expected += n * (n - 1) / 2;
  for (const DuplicateGroup& group : report.groups) {
    for (size_t a = 0; a < group.images.size(); ++a) {
      for (size_t b = a + 1; b < group.images.size(); ++b) {
        ++counts.found;
        counts.true_found += folder.picture_of.at(group.images[a].path) ==
                             folder.picture_of.at(group.images[b].path);
      }
    }
  }
  return counts;
}

TEST(DuplicatesTest, EveryEditJoinsItsOriginalAndDifferentPicturesStayApart) {
  Folder folder = MakeFolder(4, 12);
  auto library = IndexFolder(folder);
  DuplicateReport report = ValueOrDie(library->FindDuplicates({}));
  EXPECT_EQ(report.hash_model, "phash");
  EXPECT_EQ(report.confirm_model, "color_layout");
  EXPECT_EQ(report.images, folder.picture_of.size());
  PairCounts pairs = CountPairs(folder, report);
  EXPECT_EQ(pairs.true_found, pairs.expected) << "recall";
  EXPECT_EQ(pairs.found, pairs.true_found) << "precision";
  ASSERT_EQ(report.groups.size(), 4u);
  for (const DuplicateGroup& group : report.groups) {
    ASSERT_EQ(group.images.size(), 7u);
    int picture = folder.picture_of.at(group.images[0].path);
    std::string original = folder.dir + "/picture-" + std::to_string(picture) + "-original.jpg";
    std::string half = folder.dir + "/picture-" + std::to_string(picture) + "-half-size.jpg";
    for (const ImageInfo& image : group.images) {
      if (image.id == group.largest) {
        EXPECT_NE(image.path, half);
      }
      if (image.path == half) {
        EXPECT_EQ(image.width, kWidth / 2);
      }
    }
    EXPECT_GE(group.min_similarity, 0.9);
    EXPECT_LE(group.max_hash_distance, 12);
    EXPECT_TRUE(std::any_of(group.images.begin(), group.images.end(),
                            [&](const ImageInfo& i) { return i.path == original; }));
  }
  nlohmann::json json = report.ToJson();
  EXPECT_EQ(json["groups"].size(), 4u);
  EXPECT_EQ(json["groups"][0]["images"].size(), 7u);
}

TEST(DuplicatesTest, RotatedAndMirroredCopiesJoinTheirOriginal) {
  Folder folder{MakeTempDir() + "/photos", {}};
  std::filesystem::create_directories(folder.dir);
  // EXIF orientations as edits: a quarter turn each way, a half turn, two mirrorings.
  const std::map<std::string, int> turns = {{"original", 1},   {"turned-90", 6}, {"turned-180", 3},
                                            {"turned-270", 8}, {"mirrored", 2},  {"flipped", 4}};
  for (int p = 0; p < 14; ++p) {
    Image picture = MakePicture(2000 + p);
    for (const auto& [name, orientation] : turns) {
      if (p >= 4 && name != "original") continue;  // ten pictures without copies
      std::string path = folder.dir + "/picture-" + std::to_string(p) + "-" + name + ".jpg";
      WriteFileBytes(
          path, ValueOrDie(image::EncodeJpeg(image::ApplyOrientation(picture, orientation), 92)));
      folder.picture_of[path] = p;
    }
  }
  auto library = IndexFolder(folder);
  DuplicateReport report = ValueOrDie(library->FindDuplicates({}));
  EXPECT_TRUE(report.rotations);
  PairCounts pairs = CountPairs(folder, report);
  EXPECT_EQ(pairs.true_found, pairs.expected) << "recall";
  EXPECT_EQ(pairs.found, pairs.true_found) << "precision";
  EXPECT_EQ(report.groups.size(), 4u);
  EXPECT_EQ(report.ToJson()["rotations"], true);

  DuplicateOptions upright;
  upright.rotations = false;
  DuplicateReport without = ValueOrDie(library->FindDuplicates(upright));
  EXPECT_FALSE(without.rotations);
  EXPECT_LT(CountPairs(folder, without).true_found, pairs.expected / 2);
}

TEST(DuplicatesTest, TheFloatModelRejectsAHashMatchOfAnotherPicture) {
  // The same layout in other colours: the grey hash barely moves, the colours do.
  Folder folder{MakeTempDir() + "/photos", {}};
  std::filesystem::create_directories(folder.dir);
  Image picture = MakePicture(7);
  Image swapped = picture;
  for (size_t p = 0; p < swapped.rgb.size(); p += 3) {
    swapped.rgb[p] = static_cast<uint8_t>(255 - picture.rgb[p + 2]);
    swapped.rgb[p + 2] = static_cast<uint8_t>(255 - picture.rgb[p]);
  }
  WriteFileBytes(folder.dir + "/a.jpg", ValueOrDie(image::EncodeJpeg(picture)));
  WriteFileBytes(folder.dir + "/b.jpg", ValueOrDie(image::EncodeJpeg(swapped)));
  auto library = IndexFolder(folder);
  DuplicateOptions hash_only;
  hash_only.hash_distance = 64;
  hash_only.confirm_model = "none";
  DuplicateReport by_hash = ValueOrDie(library->FindDuplicates(hash_only));
  EXPECT_EQ(by_hash.confirm_model, "none");
  EXPECT_EQ(by_hash.candidate_pairs, 1u);
  EXPECT_EQ(by_hash.groups.size(), 1u);
  DuplicateOptions confirmed = hash_only;
  confirmed.confirm_model = "";
  DuplicateReport report = ValueOrDie(library->FindDuplicates(confirmed));
  EXPECT_EQ(report.candidate_pairs, 1u);
  EXPECT_EQ(report.confirmed_pairs, 0u);
  EXPECT_TRUE(report.groups.empty());
}

TEST(DuplicatesTest, WrongOptionsAreRefusedWithAReason) {
  Folder folder = MakeFolder(1, 0);
  auto library = IndexFolder(folder);
  DuplicateOptions options;
  options.hash_model = "color_layout";
  EXPECT_EQ(library->FindDuplicates(options).status().code(), StatusCode::kInvalidArgument);
  options = {};
  options.confirm_model = "phash";
  EXPECT_EQ(library->FindDuplicates(options).status().code(), StatusCode::kInvalidArgument);
  options = {};
  options.confirm_model = "resnet";
  EXPECT_EQ(library->FindDuplicates(options).status().code(), StatusCode::kNotFound);
  options = {};
  options.hash_distance = -1;
  EXPECT_EQ(library->FindDuplicates(options).status().code(), StatusCode::kInvalidArgument);
  options = {};
  options.min_similarity = 1.5;
  EXPECT_EQ(library->FindDuplicates(options).status().code(), StatusCode::kInvalidArgument);

  LibraryOptions float_only;
  float_only.models = {"color_layout"};
  auto no_hash = ValueOrDie(Library::Open(MakeTempDir() + "/lib", float_only));
  Result<DuplicateReport> refused = no_hash->FindDuplicates({});
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("phash"), std::string::npos);
}

TEST(DisjointSetsTest, PairsChainIntoGroups) {
  pipeline::DisjointSets sets(6);
  sets.Join(0, 1);
  sets.Join(2, 3);
  sets.Join(1, 3);
  sets.Join(4, 4);
  EXPECT_EQ(sets.Find(0), sets.Find(2));
  EXPECT_EQ(sets.Find(1), sets.Find(3));
  EXPECT_NE(sets.Find(0), sets.Find(4));
  EXPECT_NE(sets.Find(4), sets.Find(5));
  EXPECT_EQ(sets.Find(5), 5u);
}

}  // namespace
}  // namespace imgsearch
