#include <gtest/gtest.h>

#include <iostream>

#include "imgsearch/embedder.h"
#include "test_util.h"

namespace imgsearch {
namespace {

using testing::FixturePath;

int HammingDistance(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  int d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += __builtin_popcount(a[i] ^ b[i]);
  return d;
}

TEST(BuiltinModelsTest, EveryBuiltinOpensAndDescribesItself) {
  auto models = ListBuiltinModels();
  ASSERT_GE(models.size(), 2u);
  for (const auto& info : models) {
    auto embedder = Embedder::Open(info.name);
    ASSERT_TRUE(embedder.ok()) << info.name << ": " << embedder.status().ToString();
    EXPECT_EQ((*embedder)->spec().name, info.name);
    EXPECT_FALSE(info.description.empty());
  }
  auto phash = Embedder::Open("phash");
  EXPECT_EQ((*phash)->vector_type(), VectorType::kBinary);
  EXPECT_EQ((*phash)->dimension(), 64);
  auto color = Embedder::Open("color_layout");
  EXPECT_EQ((*color)->vector_type(), VectorType::kFloat);
  EXPECT_EQ((*color)->dimension(), 32);
}

// A perceptual hash barely moves under re-encoding, and moves a lot for another picture.
TEST(BuiltinModelsTest, PhashIsStableUnderReencodingAndSeparatesDifferentImages) {
  auto phash = Embedder::Open("phash");
  ASSERT_TRUE(phash.ok());
  std::vector<Image> images;
  for (const char* name : {"rgb.png", "rgb.jpg", "lossless.webp", "large.jpg"}) {
    images.push_back(*LoadImage(FixturePath(name), (*phash)->decode_options()));
  }
  auto v = (*phash)->Embed(images);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(HammingDistance(v->BinaryVector(0), v->BinaryVector(2)), 0);  // lossless copy
  // 10 of 64 bits is the usual near-duplicate threshold; unrelated images differ in ~32.
  EXPECT_LE(HammingDistance(v->BinaryVector(0), v->BinaryVector(1)), 10);  // JPEG q90
  EXPECT_GE(HammingDistance(v->BinaryVector(0), v->BinaryVector(3)), 20);  // another picture
  std::cout << "hamming: jpeg copy " << HammingDistance(v->BinaryVector(0), v->BinaryVector(1))
            << ", other picture " << HammingDistance(v->BinaryVector(0), v->BinaryVector(3))
            << "\n";
}

TEST(BuiltinModelsTest, ColorLayoutPutsReencodedCopiesCloserThanOtherImages) {
  auto color = Embedder::Open("color_layout");
  ASSERT_TRUE(color.ok());
  std::vector<Image> images;
  for (const char* name : {"rgb.png", "rgb.jpg", "large.jpg"})
    images.push_back(*LoadImage(FixturePath(name)));
  auto v = (*color)->Embed(images);
  ASSERT_TRUE(v.ok());
  auto dist = [&](size_t a, size_t b) {
    double d = 0;
    for (int i = 0; i < 32; ++i) d += std::pow(v->FloatVector(a)[i] - v->FloatVector(b)[i], 2);
    return d;
  };
  EXPECT_LT(dist(0, 1), 0.01);
  EXPECT_GT(dist(0, 2), 10 * dist(0, 1));
}

}  // namespace
}  // namespace imgsearch
