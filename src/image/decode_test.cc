#include <gtest/gtest.h>

#include <random>

#include "imgsearch/image.h"
#include "test_util.h"

namespace imgsearch {
namespace {

using testing::FixturePath;
using testing::MaxPixelDifference;
using testing::ReadFileBytes;
using testing::ReferenceImage;

// "rgb.jpg" -> "rgb_jpg": file names as GoogleTest parameter names.
std::string FileTestName(const ::testing::TestParamInfo<const char*>& info) {
  std::string name = info.param;
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

// Every supported format and variant, decoded as PIL decodes it.
class DecodeMatchesPil : public ::testing::TestWithParam<const char*> {};

TEST_P(DecodeMatchesPil, SamePixelsAsPil) {
  std::string name = GetParam();
  auto image = LoadImage(FixturePath(name));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  Image reference = ReferenceImage(name);
  EXPECT_EQ(image->width, reference.width);
  EXPECT_EQ(image->height, reference.height);
  EXPECT_EQ(MaxPixelDifference(*image, reference), 0);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, DecodeMatchesPil,
                         ::testing::Values("rgb.jpg", "gray.jpg", "cmyk.jpg", "progressive.jpg",
                                           "rgb.png", "gray.png", "palette.png", "rgba.png",
                                           "rgb16.png", "lossless.webp", "rgb.bmp", "palette.bmp",
                                           "mono.bmp", "rgb.tif", "lzw.tif", "palette.gif",
                                           "animated.gif", "exif_rotate.jpg", "exif_rotate.png"),
                         FileTestName);

TEST(DecodeTest, FormatComesFromMagicBytesNotTheName) {
  std::string png = ReadFileBytes(FixturePath("rgb.png"));
  EXPECT_EQ(DetectImageFormat(png), ImageFormat::kPng);
  auto image = DecodeImage(png, "misnamed.jpg");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(MaxPixelDifference(*image, ReferenceImage("rgb.png")), 0);
}

TEST(DecodeTest, ExifOrientationCanBeIgnored) {
  DecodeOptions options;
  options.apply_exif_orientation = false;
  auto image = LoadImage(FixturePath("exif_rotate.jpg"), options);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->width, 60);
  EXPECT_EQ(image->height, 40);
}

TEST(DecodeTest, EmptyAndUnknownInputsAreErrorsNamingTheFile) {
  auto empty = DecodeImage("", "empty.jpg");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty.jpg"), std::string::npos);
  EXPECT_NE(empty.status().message().find("empty file"), std::string::npos);
  auto text = DecodeImage("hello, this is text", "notes.png");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(text.status().message().find("notes.png"), std::string::npos);
}

TEST(DecodeTest, MissingFileNamesThePath) {
  auto image = LoadImage("/no/such/picture.jpg");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kNotFound);
  EXPECT_NE(image.status().message().find("/no/such/picture.jpg"), std::string::npos);
}

// A truncated file must be an error, never a partly grey or black image.
class TruncatedFile : public ::testing::TestWithParam<const char*> {};

TEST_P(TruncatedFile, IsACorruptionError) {
  std::string bytes = ReadFileBytes(FixturePath(GetParam()));
  for (double keep : {0.9, 0.5, 0.1}) {
    std::string cut = bytes.substr(0, static_cast<size_t>(bytes.size() * keep));
    auto image = DecodeImage(cut, GetParam());
    EXPECT_FALSE(image.ok()) << GetParam() << " kept " << keep;
    if (!image.ok()) {
      EXPECT_NE(image.status().message().find(GetParam()), std::string::npos);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, TruncatedFile,
                         ::testing::Values("rgb.jpg", "progressive.jpg", "rgb.png", "lossless.webp",
                                           "rgb.bmp", "rgb.tif", "palette.gif"),
                         FileTestName);

TEST(DecodeTest, PixelLimitIsCheckedBeforeDecoding) {
  DecodeOptions options;
  options.max_pixels = 1000;
  for (const char* name :
       {"rgb.jpg", "rgb.png", "lossless.webp", "rgb.bmp", "rgb.tif", "palette.gif"}) {
    auto image = LoadImage(FixturePath(name), options);
    ASSERT_FALSE(image.ok()) << name;
    EXPECT_EQ(image.status().code(), StatusCode::kResourceExhausted) << name;
    EXPECT_NE(image.status().message().find("300x200"), std::string::npos)
        << image.status().message();
  }
}

TEST(DecodeTest, FileSizeLimitIsCheckedBeforeReading) {
  DecodeOptions options;
  options.max_file_bytes = 100;
  auto image = LoadImage(FixturePath("rgb.png"), options);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kResourceExhausted);
}

TEST(DecodeTest, BmpWithHostileHeaderIsRefused) {
  std::string bmp = ReadFileBytes(FixturePath("rgb.bmp"));
  std::string huge = bmp;
  huge[18] = huge[19] = huge[20] = '\x7f';  // width about 8 million
  EXPECT_FALSE(DecodeImage(huge, "huge.bmp").ok());
  std::string bad_offset = bmp;
  bad_offset[10] = bad_offset[11] = bad_offset[12] = '\xff';  // pixels beyond the file
  EXPECT_FALSE(DecodeImage(bad_offset, "offset.bmp").ok());
  std::string rle = bmp;
  rle[30] = 1;  // BI_RLE8
  auto r = DecodeImage(rle, "rle.bmp");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
}

TEST(DecodeTest, JpegDctScalingKeepsAtLeastTheRequestedSize) {
  auto full = LoadImage(FixturePath("large.jpg"));
  ASSERT_TRUE(full.ok());
  ASSERT_EQ(full->width, 1600);
  struct Case {
    int min_w, min_h, want_w, want_h;
  };
  for (Case c : {Case{448, 448, 800, 600}, Case{200, 150, 200, 150}, Case{201, 150, 400, 300},
                 Case{1000, 10, 1600, 1200}}) {
    DecodeOptions options;
    options.min_width = c.min_w;
    options.min_height = c.min_h;
    auto scaled = LoadImage(FixturePath("large.jpg"), options);
    ASSERT_TRUE(scaled.ok());
    EXPECT_EQ(scaled->width, c.want_w);
    EXPECT_EQ(scaled->height, c.want_h);
  }
}

// Random damage anywhere in a file: decoding may fail, but must never crash or hang.
TEST(DecodeTest, RandomlyDamagedFilesNeverCrash) {
  std::mt19937 rng(1234);
  for (const char* name :
       {"rgb.jpg", "progressive.jpg", "rgb.png", "palette.png", "lossless.webp", "rgb.bmp",
        "palette.bmp", "rgb.tif", "lzw.tif", "palette.gif", "exif_rotate.jpg"}) {
    std::string bytes = ReadFileBytes(FixturePath(name));
    for (int round = 0; round < 40; ++round) {
      std::string damaged = bytes;
      int flips = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < flips; ++i) damaged[rng() % damaged.size()] = static_cast<char>(rng());
      auto image = DecodeImage(damaged, name);
      if (image.ok()) {
        EXPECT_EQ(image->rgb.size(), size_t(image->width) * image->height * 3);
      } else {
        EXPECT_FALSE(image.status().message().empty());
      }
    }
  }
}

}  // namespace
}  // namespace imgsearch
