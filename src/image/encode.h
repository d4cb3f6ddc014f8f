// JPEG encoding, for thumbnails in reports and (later) the server.
#pragma once

#include <string>

#include "imgsearch/image.h"

namespace imgsearch::image {

// The image as a baseline JPEG file.
Result<std::string> EncodeJpeg(const Image& image, int quality = 85);

// The image scaled down (never up) to fit in max_side x max_side, keeping its aspect.
Image Thumbnail(const Image& image, int max_side);

}  // namespace imgsearch::image
