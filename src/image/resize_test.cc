#include "image/resize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "image/decoders.h"
#include "test_util.h"

namespace imgsearch::image {
namespace {

using testing::FixturePath;
using testing::ManifestEntry;
using testing::MaxPixelDifference;
using testing::ReferenceImage;

struct ResizeCase {
  const char* filter;
  Interpolation interpolation;
  int width, height;
};

class ResizeMatchesPil : public ::testing::TestWithParam<ResizeCase> {};

TEST_P(ResizeMatchesPil, SamePixelsAsPilImageResize) {
  const ResizeCase& c = GetParam();
  auto source = LoadImage(FixturePath("resize_source.png"));
  ASSERT_TRUE(source.ok());
  std::string name = std::string("resize_") + c.filter + "_" + std::to_string(c.width) + "x" +
                     std::to_string(c.height);
  Image ours = Resize(*source, c.width, c.height, c.interpolation);
  EXPECT_EQ(MaxPixelDifference(ours, ReferenceImage(name)), 0) << name;
}

std::vector<ResizeCase> AllResizeCases() {
  std::vector<ResizeCase> cases;
  const std::pair<const char*, Interpolation> filters[] = {{"nearest", Interpolation::kNearest},
                                                           {"bilinear", Interpolation::kBilinear},
                                                           {"bicubic", Interpolation::kBicubic},
                                                           {"area", Interpolation::kArea}};
  const std::pair<int, int> sizes[] = {{224, 224}, {100, 50}, {300, 400}, {31, 173}, {1, 1}};
  for (auto [name, interpolation] : filters) {
    for (auto [w, h] : sizes) cases.push_back({name, interpolation, w, h});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllFilters, ResizeMatchesPil, ::testing::ValuesIn(AllResizeCases()),
                         [](const auto& info) {
                           return std::string(info.param.filter) + "_" +
                                  std::to_string(info.param.width) + "x" +
                                  std::to_string(info.param.height);
                         });

TEST(ResizeTest, NearestMatchesPilOnAwkwardRatios) {
  for (const char* name : {"nearest_333x227_to_224", "nearest_1000x999_to_224"}) {
    auto source = LoadImage(FixturePath(ManifestEntry(name)["source"].get<std::string>()));
    ASSERT_TRUE(source.ok());
    EXPECT_EQ(MaxPixelDifference(Resize(*source, 224, 224, Interpolation::kNearest),
                                 ReferenceImage(name)),
              0)
        << name;
  }
}

// The straightforward definition of area resampling for integer factors: the mean of
// each block. The fixed-point filter must agree to within rounding.
TEST(ResizeTest, AreaEqualsBlockMeanForIntegerFactors) {
  Image source = MakeImage(12, 8);
  for (size_t i = 0; i < source.rgb.size(); ++i) source.rgb[i] = static_cast<uint8_t>(i * 37 % 251);
  Image ours = Resize(source, 3, 2, Interpolation::kArea);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (int dy = 0; dy < 4; ++dy)
          for (int dx = 0; dx < 4; ++dx) sum += source.Pixel(x * 4 + dx, y * 4 + dy)[c];
        EXPECT_NEAR(ours.Pixel(x, y)[c], sum / 16.0, 1.0);
      }
    }
  }
}

TEST(ResizeTest, SameSizeIsACopyAndCropTakesTheBox) {
  auto source = LoadImage(FixturePath("resize_source.png"));
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(MaxPixelDifference(
                Resize(*source, source->width, source->height, Interpolation::kBicubic), *source),
            0);
  Image crop = Crop(*source, 10, 20, 5, 4);
  ASSERT_EQ(crop.width, 5);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(crop.Pixel(x, y)[c], source->Pixel(10 + x, 20 + y)[c]);
}

Image RandomImage(std::mt19937& rng, int width, int height) {
  Image image = MakeImage(width, height);
  for (uint8_t& v : image.rgb) v = static_cast<uint8_t>(rng() & 0xff);
  return image;
}

// The vector passes and the crop-only computation against the plain passes over the whole
// image, on random pixels (extremes included), sizes up and down, and windows anywhere.
TEST(ResizeTest, TheVectorPassesAndCroppedResizeMatchThePlainWholeImageOnes) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> size(1, 90);
  int compared = 0;
  for (int round = 0; round < 300; ++round) {
    Image source = RandomImage(rng, size(rng), size(rng));
    int width = size(rng), height = size(rng);
    int crop_width = 1 + static_cast<int>(rng() % width);
    int crop_height = 1 + static_cast<int>(rng() % height);
    int left = static_cast<int>(rng() % (width - crop_width + 1));
    int top = static_cast<int>(rng() % (height - crop_height + 1));
    for (Interpolation filter :
         {Interpolation::kBilinear, Interpolation::kBicubic, Interpolation::kArea}) {
      Image whole = ResizeAndCrop(source, width, height, 0, 0, width, height, filter, false);
      Image expected = Crop(whole, left, top, crop_width, crop_height);
      Image fast =
          ResizeAndCrop(source, width, height, left, top, crop_width, crop_height, filter, true);
      ASSERT_EQ(fast.width, crop_width);
      ASSERT_EQ(fast.height, crop_height);
      ASSERT_EQ(fast.rgb, expected.rgb)
          << source.width << "x" << source.height << " -> " << width << "x" << height << ", window "
          << left << "," << top << " " << crop_width << "x" << crop_height << ", filter "
          << static_cast<int>(filter);
      ASSERT_EQ(Resize(source, width, height, filter).rgb, whole.rgb);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 900);
}

}  // namespace
}  // namespace imgsearch::image
