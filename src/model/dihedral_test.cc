// A rotated or mirrored picture's built-in phash and color_layout, computed from the
// original's outputs, match what the models give for the rotated or mirrored picture.
#include "model/dihedral.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>

#include "image/exif.h"
#include "imgsearch/embedder.h"

namespace imgsearch::model {
namespace {

// A smooth picture of its own (a few soft blobs over a gradient), not square.
Image MakePicture(unsigned seed) {
  const int width = 120, height = 80;
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  Image image{width, height, std::vector<uint8_t>(size_t(width) * height * 3)};
  struct Blob {
    double x, y, r, rgb[3];
  };
  std::vector<Blob> blobs(6);
  for (Blob& b : blobs)
    b = {width * unit(random),
         height * unit(random),
         8 + 25 * unit(random),
         {255 * unit(random), 255 * unit(random), 255 * unit(random)}};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) {
        double v = 40 + 120.0 * x / width + 60.0 * y / height;
        for (const Blob& b : blobs) {
          double d2 = ((x - b.x) * (x - b.x) + (y - b.y) * (y - b.y)) / (b.r * b.r);
          v += (b.rgb[c] - v) * std::exp(-d2);
        }
        image.rgb[(size_t(y) * width + x) * 3 + c] = uint8_t(std::clamp(v, 0.0, 255.0));
      }
    }
  }
  return image;
}

uint64_t Packed(std::span<const uint8_t> bits) {
  uint64_t h = 0;
  for (size_t b = 0; b < 8; ++b) h |= uint64_t(bits[b]) << (8 * b);
  return h;
}

// EXIF orientation 1..8 (the picture as displayed) as a transform of model/dihedral.h.
constexpr int kTransformOfOrientation[] = {-1, 0, 2, 6, 4, 1, 3, 7, 5};

TEST(DihedralTest, InverseUndoesEachTransform) {
  for (int t = 0; t < kDihedralTransforms; ++t) {
    uint64_t h = 0x0123456789ABCDEFull;
    EXPECT_EQ(TransformPhash(TransformPhash(h, t), InverseDihedral(t)), h) << t;
    EXPECT_EQ(InverseDihedral(InverseDihedral(t)), t);
  }
  EXPECT_EQ(InverseDihedral(3), 5);  // the quarter turns undo each other
  EXPECT_EQ(TransformPhash(0xFFull << 56, 0), 0xFFull << 56);
}

TEST(DihedralTest, PhashOfTheRotatedPictureComesFromTheOriginalsHash) {
  auto phash = Embedder::Open("phash");
  ASSERT_TRUE(phash.ok()) << phash.status().ToString();
  int worst = 0, moved = 0;
  for (unsigned seed = 1; seed <= 6; ++seed) {
    Image picture = MakePicture(seed);
    std::vector<Image> images = {picture};
    for (int o = 2; o <= 8; ++o) images.push_back(image::ApplyOrientation(picture, o));
    auto e = (*phash)->Embed(images);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    uint64_t original = Packed(e->BinaryVector(0));
    for (int o = 2; o <= 8; ++o) {
      uint64_t rotated = Packed(e->BinaryVector(size_t(o - 1)));
      int t = kTransformOfOrientation[o];
      int d = std::popcount(TransformPhash(original, t) ^ rotated);
      worst = std::max(worst, d);
      moved = std::max(moved, std::popcount(original ^ rotated));
      for (int other = 0; other < kDihedralTransforms; ++other) {  // the right one is nearest
        if (other != t) {
          EXPECT_LE(d, std::popcount(TransformPhash(original, other) ^ rotated)) << o;
        }
      }
    }
  }
  EXPECT_LE(worst, 10);  // the coefficients near the median
  EXPECT_GE(moved, 20);  // while the hash itself moves far
}

TEST(DihedralTest, ColorLayoutOfTheRotatedPictureComesFromTheOriginals) {
  auto color = Embedder::Open("color_layout");
  ASSERT_TRUE(color.ok()) << color.status().ToString();
  for (unsigned seed = 1; seed <= 4; ++seed) {
    Image picture = MakePicture(seed);
    std::vector<Image> images = {picture};
    for (int o = 2; o <= 8; ++o) images.push_back(image::ApplyOrientation(picture, o));
    auto e = (*color)->Embed(images);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    auto original = e->FloatVector(0);
    std::vector<float> v(original.begin(), original.end());
    for (int o = 2; o <= 8; ++o) {
      auto rotated = e->FloatVector(size_t(o - 1));
      std::vector<bool> comparable;
      std::vector<float> moved = TransformColorLayout(v, kTransformOfOrientation[o], &comparable);
      double dot = 0, aa = 0, bb = 0;
      size_t used = 0;
      for (size_t i = 0; i < moved.size(); ++i) {
        if (!comparable[i]) continue;
        ++used;
        dot += double(moved[i]) * rotated[i];
        aa += double(moved[i]) * moved[i];
        bb += double(rotated[i]) * rotated[i];
      }
      EXPECT_GE(used, 27u);  // under a transposition 5 of the 32 have no partner
      EXPECT_GT(dot / std::sqrt(aa * bb), 0.999) << "orientation " << o;
    }
  }
}

}  // namespace
}  // namespace imgsearch::model
