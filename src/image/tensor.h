// The last step of preprocessing: an image already at the spec's size becomes the model's
// float tensor (channel order, scale, mean and std, NCHW or NHWC). An AVX2 form is chosen
// at run time; it computes the same floats as the plain loop (a multiply, then an add).
#pragma once

#include "imgsearch/image.h"
#include "imgsearch/preprocess.h"

namespace imgsearch::image {

// `tensor` holds spec.TensorSize() floats; image is spec.width x spec.height.
void WriteTensor(const Image& image, const PreprocessSpec& spec, float* tensor,
                 bool allow_simd = true);

}  // namespace imgsearch::image
