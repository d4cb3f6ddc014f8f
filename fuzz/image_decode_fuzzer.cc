// Image decoding: DecodeImage over every format it knows (JPEG, PNG, WebP, BMP, TIFF,
// GIF), the format taken from the bytes, with EXIF orientation applied as ingest does; a
// JPEG is also decoded a second time with DCT downscaling (min_width/min_height), the
// path searches take. The pixel limit is small, so a legitimately large image is refused
// from its header instead of being allocated.
// Checks: a failure is a Status (never a crash, leak or over-read); a decoded image has
// a known format, dimensions within the limit, and exactly width x height x 3 bytes; a
// downscaled JPEG is no larger than the full one and no smaller than asked (unless the
// full one already is).
#include <algorithm>

#include "fuzz_check.h"
#include "imgsearch/image.h"

namespace {

constexpr uint64_t kMaxPixels = 1 << 18;  // 512 x 512

void CheckImage(const imgsearch::Image& image) {
  FUZZ_CHECK(image.width > 0 && image.height > 0, "decoded image has no pixels");
  uint64_t pixels = static_cast<uint64_t>(image.width) * static_cast<uint64_t>(image.height);
  FUZZ_CHECK(pixels <= kMaxPixels, "decoded image is over the pixel limit");
  FUZZ_CHECK(image.rgb.size() == pixels * 3, "pixel buffer size is not width x height x 3");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  imgsearch::DecodeOptions options;
  options.max_pixels = kMaxPixels;
  options.max_file_bytes = 1 << 20;
  imgsearch::ImageFormat format = imgsearch::DetectImageFormat(bytes);
  auto full = imgsearch::DecodeImage(bytes, "fuzz", options);
  if (full.ok()) {
    FUZZ_CHECK(format != imgsearch::ImageFormat::kUnknown, "decoded an unknown format");
    CheckImage(*full);
  }
  if (format != imgsearch::ImageFormat::kJpeg) return 0;
  options.min_width = 7;
  options.min_height = 5;
  auto scaled = imgsearch::DecodeImage(bytes, "fuzz", options);
  if (!scaled.ok()) return 0;
  CheckImage(*scaled);
  if (!full.ok()) return 0;
  FUZZ_CHECK(scaled->width <= full->width && scaled->height <= full->height,
             "a downscaled JPEG is larger than the full decode");
  // Orientation may swap the sides, so compare the shorter and the longer side.
  int short_side = std::min(scaled->width, scaled->height);
  int full_short = std::min(full->width, full->height);
  FUZZ_CHECK(short_side >= std::min(5, full_short), "a downscaled JPEG is smaller than asked");
  return 0;
}
