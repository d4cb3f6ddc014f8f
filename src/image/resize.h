// Resizing and cropping of RGB images, pixel-compatible with PIL's Image.resize.
#pragma once

#include "imgsearch/image.h"
#include "imgsearch/preprocess.h"

namespace imgsearch::image {

// Resizes to width x height. Nearest maps each output pixel centre back into the source
// exactly as PIL does; the other filters are PIL's separable convolution, which widens
// the filter when shrinking (antialiasing) and rounds through 8 bits between passes.
Image Resize(const Image& source, int width, int height, Interpolation interpolation);

// The sub-image at (left, top) of the given size; the box must lie inside the source.
Image Crop(const Image& source, int left, int top, int width, int height);

}  // namespace imgsearch::image
