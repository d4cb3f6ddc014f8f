// The images a model is calibrated and checked on: found in a folder (recursively, in
// sorted order), a sample spread evenly over it, decoded and preprocessed with the
// model's own spec, exactly as `embed` and `index` would feed them to it. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "imgsearch/embedder.h"

namespace imgsearch::model::quantize {

struct PreparedImages {
  std::vector<std::string> paths;  // the images that decoded, in folder order
  size_t tensor_size = 0;          // floats per image
  std::vector<float> tensors;      // paths.size() * tensor_size, preprocessed
  size_t files_tried = 0;
  std::vector<std::string> undecodable;  // tried files that are not (readable) images
};

// Every file under `dir`, sorted; fails when `dir` is not a readable folder.
Result<std::vector<std::string>> ListFilesRecursively(const std::string& dir);

// Up to `max_images` files spread evenly over `files` (all of them when there are fewer),
// so that a folder of class sub-folders gives every class its share.
std::vector<std::string> SpreadSample(const std::vector<std::string>& files, size_t max_images);

// Decodes and preprocesses the sample of `dir` for `embedder`'s model on `threads`
// threads (0: one per usable core). Fails when no file of the sample decodes.
Result<PreparedImages> PrepareImages(const std::string& dir, size_t max_images,
                                     const Embedder& embedder, int threads);

}  // namespace imgsearch::model::quantize
