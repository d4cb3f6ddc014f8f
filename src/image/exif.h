// EXIF orientation: finding the Orientation tag in an EXIF block and applying it.
#pragma once

#include <string_view>

#include "imgsearch/image.h"

namespace imgsearch::image {

// Reads the Orientation tag (1..8) from an EXIF payload: the TIFF structure that follows
// "Exif\0\0" in a JPEG APP1 segment, with or without that prefix. Returns 1 (upright)
// when the block is absent, malformed or the value is out of range: a broken EXIF block
// must not make a readable image unreadable.
int ParseExifOrientation(std::string_view exif);

// Returns the image as it should be displayed under the given orientation.
Image ApplyOrientation(Image image, int orientation);

}  // namespace imgsearch::image
