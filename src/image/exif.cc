#include "image/exif.h"

#include <cstdint>

namespace imgsearch::image {
namespace {

constexpr uint16_t kOrientationTag = 0x0112;

// Bounds-checked reads of TIFF integers in either byte order.
class TiffReader {
 public:
  TiffReader(std::string_view data, bool little_endian) : data_(data), little_(little_endian) {}

  bool U16(size_t offset, uint16_t* out) const {
    if (offset + 2 > data_.size()) return false;
    auto b = [&](size_t i) {
      return static_cast<uint16_t>(static_cast<uint8_t>(data_[offset + i]));
    };
    *out =
        little_ ? static_cast<uint16_t>(b(0) | b(1) << 8) : static_cast<uint16_t>(b(0) << 8 | b(1));
    return true;
  }

  bool U32(size_t offset, uint32_t* out) const {
    uint16_t hi = 0, lo = 0;
    if (!U16(offset, little_ ? &lo : &hi) || !U16(offset + 2, little_ ? &hi : &lo)) return false;
    *out = static_cast<uint32_t>(hi) << 16 | lo;
    return true;
  }

 private:
  std::string_view data_;
  bool little_;
};

}  // namespace

int ParseExifOrientation(std::string_view exif) {
  if (exif.substr(0, 6) == std::string_view("Exif\0\0", 6)) exif.remove_prefix(6);
  if (exif.size() < 8) return 1;
  bool little;
  if (exif.substr(0, 4) == std::string_view("II*\0", 4)) {
    little = true;
  } else if (exif.substr(0, 4) == std::string_view("MM\0*", 4)) {
    little = false;
  } else {
    return 1;
  }
  TiffReader reader(exif, little);
  uint32_t ifd = 0;
  uint16_t entries = 0;
  if (!reader.U32(4, &ifd) || !reader.U16(ifd, &entries)) return 1;
  for (uint32_t i = 0; i < entries; ++i) {
    size_t entry = static_cast<size_t>(ifd) + 2 + 12 * i;
    uint16_t tag = 0, type = 0, value = 0;
    if (!reader.U16(entry, &tag) || !reader.U16(entry + 2, &type)) return 1;
    if (tag != kOrientationTag) continue;
    if (type != 3 || !reader.U16(entry + 8, &value)) return 1;  // must be SHORT
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

Image ApplyOrientation(Image image, int orientation) {
  if (orientation <= 1 || orientation > 8) return image;
  // Orientations 5..8 swap the axes.
  bool transpose = orientation >= 5;
  Image out;
  out.width = transpose ? image.height : image.width;
  out.height = transpose ? image.width : image.height;
  out.rgb.resize(image.rgb.size());
  const int w = image.width, h = image.height;
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      // (sx, sy): the stored pixel that is displayed at (x, y).
      int sx = x, sy = y;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;
        case 4:
          sy = h - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;
      }
      const uint8_t* src = image.Pixel(sx, sy);
      uint8_t* dst = &out.rgb[(static_cast<size_t>(y) * out.width + x) * 3];
      dst[0] = src[0];
      dst[1] = src[1];
      dst[2] = src[2];
    }
  }
  return out;
}

}  // namespace imgsearch::image
