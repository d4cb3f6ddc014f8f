// Image decoding: bytes or a file in, 8-bit RGB pixels out.
// Formats are recognised by their magic bytes, never by file name. Limits on file size
// and pixel count are checked before the full decode, so a hostile file cannot make the
// process allocate without bound. All functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch {

// 8-bit RGB pixels, row-major, three bytes a pixel, no row padding.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;

  const uint8_t* Pixel(int x, int y) const {
    return &rgb[(static_cast<size_t>(y) * width + x) * 3];
  }
};

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp, kBmp, kTiff, kGif };

const char* ImageFormatName(ImageFormat format);

// How a format is served over HTTP and named on disk: "image/jpeg" and ".jpg".
struct ImageFormatFile {
  const char* content_type;
  const char* extension;
};
ImageFormatFile ImageFormatFileOf(ImageFormat format);

// Recognises a format from the first bytes of a file.
ImageFormat DetectImageFormat(std::string_view bytes);

struct DecodeOptions {
  uint64_t max_file_bytes = 256ull << 20;  // larger files are refused unread
  uint64_t max_pixels = 100'000'000;       // width * height, checked from the header
  bool apply_exif_orientation = true;      // rotate/flip as the EXIF Orientation tag says
  // When both are nonzero a JPEG may be decoded at 1/2, 1/4 or 1/8 scale in the DCT
  // domain (much faster), as long as the result stays at least this large.
  int min_width = 0;
  int min_height = 0;
};

// Decodes an image held in memory. `name` is used only in error messages.
// Grayscale, palette, CMYK and 16-bit images become 8-bit RGB; alpha is dropped (as
// PIL's convert("RGB") does); an animated GIF yields its first frame.
Result<Image> DecodeImage(std::string_view bytes, const std::string& name,
                          const DecodeOptions& options = {});

// Reads and decodes a file; errors name the file and the cause.
Result<Image> LoadImage(const std::string& path, const DecodeOptions& options = {});

}  // namespace imgsearch
