#include "image/exif.h"

#include <gtest/gtest.h>

namespace imgsearch::image {
namespace {

// A minimal EXIF payload holding one IFD entry: Orientation = value.
std::string ExifWithOrientation(int value, bool little_endian, bool with_prefix = true) {
  auto u16 = [&](int v) {
    return little_endian ? std::string{char(v & 255), char(v >> 8)}
                         : std::string{char(v >> 8), char(v & 255)};
  };
  auto u32 = [&](int v) {
    return little_endian ? u16(v & 0xffff) + u16(v >> 16) : u16(v >> 16) + u16(v & 0xffff);
  };
  std::string tiff = little_endian ? std::string("II*\0", 4) : std::string("MM\0*", 4);
  tiff += u32(8) + u16(1) + u16(0x0112) + u16(3) + u32(1) + u16(value) + u16(0) + u32(0);
  return (with_prefix ? std::string("Exif\0\0", 6) : "") + tiff;
}

TEST(ExifTest, ReadsOrientationInBothByteOrders) {
  for (int v = 1; v <= 8; ++v) {
    EXPECT_EQ(ParseExifOrientation(ExifWithOrientation(v, true)), v);
    EXPECT_EQ(ParseExifOrientation(ExifWithOrientation(v, false)), v);
    EXPECT_EQ(ParseExifOrientation(ExifWithOrientation(v, true, false)), v);
  }
}

TEST(ExifTest, MalformedBlocksMeanUpright) {
  EXPECT_EQ(ParseExifOrientation(""), 1);
  EXPECT_EQ(ParseExifOrientation("Exif\0\0garbage"), 1);
  EXPECT_EQ(ParseExifOrientation(ExifWithOrientation(9, true)), 1);
  // The value ends 26 bytes in ("Exif\0\0", TIFF header, entry count, 10 bytes of entry):
  // any shorter prefix must read as upright, any longer one still finds the value.
  std::string full = ExifWithOrientation(6, true);
  for (size_t cut = 0; cut < full.size(); ++cut) {
    EXPECT_EQ(ParseExifOrientation(full.substr(0, cut)), cut < 26 ? 1 : 6) << cut;
  }
  std::string far_ifd = ExifWithOrientation(6, true);
  far_ifd[10] = '\xff';  // IFD offset beyond the block
  EXPECT_EQ(ParseExifOrientation(far_ifd), 1);
}

// A 3x2 image whose pixels are numbered 0..5 in the red channel.
Image Numbered() {
  Image image;
  image.width = 3;
  image.height = 2;
  for (int i = 0; i < 6; ++i) image.rgb.insert(image.rgb.end(), {uint8_t(i), 0, 0});
  return image;
}

std::vector<int> Reds(const Image& image) {
  std::vector<int> out;
  for (size_t i = 0; i < image.rgb.size(); i += 3) out.push_back(image.rgb[i]);
  return out;
}

TEST(ExifTest, ApplyOrientationMatchesTheExifDefinitions) {
  // Stored:  0 1 2
  //          3 4 5
  EXPECT_EQ(Reds(ApplyOrientation(Numbered(), 1)), (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(Reds(ApplyOrientation(Numbered(), 2)), (std::vector<int>{2, 1, 0, 5, 4, 3}));
  EXPECT_EQ(Reds(ApplyOrientation(Numbered(), 3)), (std::vector<int>{5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(Reds(ApplyOrientation(Numbered(), 4)), (std::vector<int>{3, 4, 5, 0, 1, 2}));
  EXPECT_EQ(Reds(ApplyOrientation(Numbered(), 5)), (std::vector<int>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(Reds(ApplyOrientation(Numbered(), 6)), (std::vector<int>{3, 0, 4, 1, 5, 2}));
  EXPECT_EQ(Reds(ApplyOrientation(Numbered(), 7)), (std::vector<int>{5, 2, 4, 1, 3, 0}));
  EXPECT_EQ(Reds(ApplyOrientation(Numbered(), 8)), (std::vector<int>{2, 5, 1, 4, 0, 3}));
  Image rotated = ApplyOrientation(Numbered(), 6);
  EXPECT_EQ(rotated.width, 2);
  EXPECT_EQ(rotated.height, 3);
}

}  // namespace
}  // namespace imgsearch::image
