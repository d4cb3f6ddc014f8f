// One decoding function per format, called by DecodeImage after format detection. Each
// checks the header against the limits before it decodes the pixels, and reports EXIF
// orientation (1 when absent) for the caller to apply.
#pragma once

#include <string_view>

#include "imgsearch/image.h"

namespace imgsearch::image {

struct Decoded {
  Image image;
  int exif_orientation = 1;
};

Result<Decoded> DecodeJpeg(std::string_view bytes, const DecodeOptions& options);
Result<Decoded> DecodePng(std::string_view bytes, const DecodeOptions& options);
Result<Decoded> DecodeWebp(std::string_view bytes, const DecodeOptions& options);
Result<Decoded> DecodeBmp(std::string_view bytes, const DecodeOptions& options);
Result<Decoded> DecodeTiff(std::string_view bytes, const DecodeOptions& options);
Result<Decoded> DecodeGif(std::string_view bytes, const DecodeOptions& options);

// Refuses dimensions that are zero, negative or over options.max_pixels.
Status CheckDimensions(int64_t width, int64_t height, const DecodeOptions& options);

// Allocates an image of the given size (dimensions already checked).
Image MakeImage(int width, int height);

}  // namespace imgsearch::image
