#include "model/quantize/calibration_images.h"

#include <algorithm>

#include "base/cpu.h"
#include "base/env.h"
#include "base/thread_pool.h"
#include "imgsearch/preprocess.h"

namespace imgsearch::model::quantize {
namespace {

// Deeper than any real photo folder; stops a symlink loop.
constexpr int kMaxDepth = 32;

// Env lists names without saying which are folders: a name that lists is one.
void ListInto(const std::string& dir, int depth, std::vector<std::string>* files) {
  auto names = base::Env::Default()->ListDir(dir);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    std::string path = dir + "/" + name;
    if (depth < kMaxDepth && base::Env::Default()->ListDir(path).ok()) {
      ListInto(path, depth + 1, files);
    } else {
      files->push_back(std::move(path));
    }
  }
}

}  // namespace

Result<std::vector<std::string>> ListFilesRecursively(const std::string& dir) {
  std::string root = dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  auto top = base::Env::Default()->ListDir(root);
  if (!top.ok()) return top.status().WithContext("calibration folder");
  std::vector<std::string> files;
  ListInto(root, 0, &files);
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> SpreadSample(const std::vector<std::string>& files, size_t max_images) {
  if (files.size() <= max_images) return files;
  std::vector<std::string> sample;
  for (size_t i = 0; i < max_images; ++i) sample.push_back(files[i * files.size() / max_images]);
  return sample;
}

Result<PreparedImages> PrepareImages(const std::string& dir, size_t max_images,
                                     const Embedder& embedder, int threads) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<std::string> files, ListFilesRecursively(dir));
  std::vector<std::string> sample = SpreadSample(files, max_images);
  const PreprocessSpec& spec = embedder.spec().preprocess;
  const DecodeOptions decode = embedder.decode_options();
  std::vector<std::vector<float>> tensors(sample.size());
  std::vector<char> decoded(sample.size(), 0);  // not vector<bool>: written by several threads
  {
    base::ThreadPool pool(threads > 0 ? threads : base::UsableCores());
    pool.ParallelFor(sample.size(), [&](size_t i) {
      auto image = LoadImage(sample[i], decode);
      if (!image.ok()) return;
      tensors[i].resize(spec.TensorSize());
      Preprocess(*image, spec, tensors[i].data());
      decoded[i] = 1;
    });
  }
  PreparedImages out;
  out.files_tried = sample.size();
  out.tensor_size = spec.TensorSize();
  for (size_t i = 0; i < sample.size(); ++i) {
    if (!decoded[i]) {
      out.undecodable.push_back(sample[i]);
      continue;
    }
    out.paths.push_back(sample[i]);
    out.tensors.insert(out.tensors.end(), tensors[i].begin(), tensors[i].end());
  }
  if (out.paths.empty()) {
    return Status::InvalidArgument("no decodable image in " + dir + " (" +
                                   std::to_string(sample.size()) +
                                   " files tried): calibration needs images like those the "
                                   "model will embed (JPEG, PNG, WebP, BMP, TIFF, GIF)");
  }
  return out;
}

}  // namespace imgsearch::model::quantize
