// Resizing and cropping of RGB images, pixel-compatible with PIL's Image.resize.
#pragma once

#include "imgsearch/image.h"
#include "imgsearch/preprocess.h"

namespace imgsearch::image {

// Resizes to width x height. Nearest maps each output pixel centre back into the source
// exactly as PIL does; the other filters are PIL's separable convolution, which widens
// the filter when shrinking (antialiasing) and rounds through 8 bits between passes.
Image Resize(const Image& source, int width, int height, Interpolation interpolation);

// Crop(Resize(source, width, height, interpolation), left, top, crop_width, crop_height),
// computing only the pixels inside the crop. `allow_simd` = false takes the plain loops
// (for tests that check the vector code against them).
Image ResizeAndCrop(const Image& source, int width, int height, int left, int top, int crop_width,
                    int crop_height, Interpolation interpolation, bool allow_simd = true);

// What preprocessing resizes an image to, and the window of that it keeps: torchvision's
// Resize(shorter side) then CenterCrop, or a stretch to the spec's size.
struct ResizePlan {
  int width, height;                       // the resized image
  int left, top, crop_width, crop_height;  // the window kept
};
ResizePlan PlanResize(int image_width, int image_height, const PreprocessSpec& spec);

// The sub-image at (left, top) of the given size; the box must lie inside the source.
Image Crop(const Image& source, int left, int top, int width, int height);

}  // namespace imgsearch::image
