// Embedding throughput, each figure next to a reference measured in the same run:
//  1. decode + preprocess images/s on real JPEGs, against plain full-size decoding;
//  2. the resize + crop of each preset alone (images decoded beforehand), the vector
//     passes computing only the crop against the plain passes over the whole image
//     (the algorithm before the vector passes existed);
//  3. Embedder images/s against plain ONNX Runtime on the same model, batch and threads.
// Rounds of the two sides alternate, and medians are reported, because the machine is
// shared and noisy. Usage:
//   embed_bench [--models DIR] [--images DIR] [--batch N] [--threads N] [--rounds N]
//               [--names resnet50,vgg16]
// DIR for --models holds NAME.onnx for each of --names: resnet50.onnx and vgg16.onnx by
// default (bench/make_bench_models.py); the recipe's tf2onnx files with
// --models .deps/recipe-models/keras2 --names onnx_resnet50,onnx_vgg16.
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "base/cpu.h"
#include "bench_util.h"
#include "image/resize.h"
#include "image/tensor.h"
#include "imgsearch/embedder.h"

namespace imgsearch::bench {
namespace {

struct Options {
  std::string models = "build/bench-models";
  std::string images = "../shared/data/caltech101-dev";
  int batch = 8;
  int threads = 0;  // 0: what users get by default, one per core this process may use
  int rounds = 5;
  size_t image_limit = 300;
  std::vector<std::string> names = {"resnet50", "vgg16"};  // files NAME.onnx in --models
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--models") o.models = value;
    if (key == "--images") o.images = value;
    if (key == "--batch") o.batch = std::stoi(value);
    if (key == "--threads") o.threads = std::stoi(value);
    if (key == "--rounds") o.rounds = std::stoi(value);
    if (key == "--names") {  // comma-separated, e.g. onnx_resnet50,onnx_vgg16 (the recipe's)
      o.names.clear();
      for (size_t at = 0; at <= value.size();) {
        size_t comma = std::min(value.find(',', at), value.size());
        if (comma > at) o.names.push_back(value.substr(at, comma - at));
        at = comma + 1;
      }
    }
  }
  return o;
}

// Images/s of `work` over all files, one thread.
template <typename Work>
double ImagesPerSecond(const std::vector<std::string>& files, Work work) {
  double start = Seconds();
  for (const auto& f : files) work(f);
  return files.size() / (Seconds() - start);
}

void BenchDecode(const Options& o) {
  std::vector<std::string> files = ListImages(o.images, o.image_limit);
  if (files.empty()) {
    std::printf("decode: no images under %s, skipped\n", o.images.c_str());
    return;
  }
  PreprocessSpec keras = *PreprocessPreset("keras-caffe"), torch = *PreprocessPreset("torch");
  std::vector<float> tensor(keras.TensorSize());
  std::vector<double> plain, keras_rate, torch_rate;
  for (int r = 0; r < o.rounds; ++r) {
    plain.push_back(ImagesPerSecond(files, [](const std::string& f) { (void)LoadImage(f); }));
    keras_rate.push_back(ImagesPerSecond(files, [&](const std::string& f) {
      auto image = LoadImage(f, DecodeOptionsFor(keras));
      if (image.ok()) Preprocess(*image, keras, tensor.data());
    }));
    torch_rate.push_back(ImagesPerSecond(files, [&](const std::string& f) {
      auto image = LoadImage(f, DecodeOptionsFor(torch));
      if (image.ok()) Preprocess(*image, torch, tensor.data());
    }));
  }
  double base = Median(plain);
  std::printf("decode+preprocess, %zu JPEGs from %s, 1 thread (reference: plain full decode)\n",
              files.size(), o.images.c_str());
  std::printf("  plain decode                 %8.1f images/s   1.00x\n", base);
  std::printf("  keras-caffe (nearest, full)  %8.1f images/s   %.2fx\n", Median(keras_rate),
              Median(keras_rate) / base);
  std::printf("  torch (bilinear, DCT scaled) %8.1f images/s   %.2fx\n", Median(torch_rate),
              Median(torch_rate) / base);
}

void BenchResize(const Options& o) {
  std::vector<std::string> files = ListImages(o.images, o.image_limit);
  if (files.empty()) return;
  std::printf(
      "\npreprocessing per preset (resize, crop, tensor), %zu decoded JPEGs, 1 thread "
      "(reference: plain loops, whole image resized, then cropped)\n",
      files.size());
  for (const char* preset : {"torch", "clip", "keras-caffe"}) {
    PreprocessSpec spec = *PreprocessPreset(preset);
    std::vector<Image> decoded;
    for (const auto& f : files) {
      auto image = LoadImage(f, DecodeOptionsFor(spec));
      if (image.ok()) decoded.push_back(std::move(image).value());
    }
    std::vector<float> tensor(spec.TensorSize());
    auto rate = [&](bool fast) {
      double start = Seconds();
      for (const Image& image : decoded) {
        if (fast) {
          Preprocess(image, spec, tensor.data());
          continue;
        }
        image::ResizePlan p = image::PlanResize(image.width, image.height, spec);
        Image whole = image::ResizeAndCrop(image, p.width, p.height, 0, 0, p.width, p.height,
                                           spec.interpolation, false);
        image::WriteTensor(image::Crop(whole, p.left, p.top, p.crop_width, p.crop_height), spec,
                           tensor.data(), false);
      }
      return decoded.size() / (Seconds() - start);
    };
    std::vector<double> plain, fast;
    for (int r = 0; r < o.rounds; ++r) {
      plain.push_back(rate(false));
      fast.push_back(rate(true));
    }
    std::printf("  %-12s (%s) plain %8.1f images/s, now %8.1f images/s = %.2fx\n", preset,
                InterpolationName(spec.interpolation), Median(plain), Median(fast),
                Median(fast) / Median(plain));
  }
}

Ort::Session PlainSession(Ort::Env& env, const std::string& path, int threads) {
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(threads);
  options.SetInterOpNumThreads(1);
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  return Ort::Session(env, path.c_str(), options);
}

// The model's own input and output names, and its layout (NHWC when the last input
// dimension is 3, as in tf2onnx's exports of Keras models; else NCHW).
std::vector<float> PlainRun(Ort::Session& session, std::vector<float>& input, int batch) {
  Ort::AllocatorWithDefaultOptions allocator;
  auto in_name = session.GetInputNameAllocated(0, allocator);
  auto out_name = session.GetOutputNameAllocated(0, allocator);
  std::vector<int64_t> declared =
      session.GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
  bool nhwc = declared.size() == 4 && declared[3] == 3;
  std::vector<int64_t> shape =
      nhwc ? std::vector<int64_t>{batch, 224, 224, 3} : std::vector<int64_t>{batch, 3, 224, 224};
  auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  Ort::Value tensor = Ort::Value::CreateTensor<float>(memory, input.data(), input.size(),
                                                      shape.data(), shape.size());
  const char* in[] = {in_name.get()};
  const char* out[] = {out_name.get()};
  auto result = session.Run(Ort::RunOptions{nullptr}, in, &tensor, 1, out, 1);
  size_t n = result[0].GetTensorTypeAndShapeInfo().GetElementCount();
  const float* data = result[0].GetTensorData<float>();
  return std::vector<float>(data, data + n);
}

// The Embedder must return the plain output, L2-normalised: its fast path checked
// against the simple one.
double MaxDeviation(const std::vector<float>& plain, const Embeddings& ours, int batch) {
  int d = ours.dimension;
  double worst = 0;
  for (int i = 0; i < batch; ++i) {
    double norm = 0;
    for (int k = 0; k < d; ++k) norm += double(plain[i * d + k]) * plain[i * d + k];
    norm = std::sqrt(norm);
    for (int k = 0; k < d; ++k) {
      worst = std::max(worst, std::abs(plain[i * d + k] / norm - ours.FloatVector(i)[k]));
    }
  }
  return worst;
}

void BenchModel(const Options& o, Ort::Env& env, const std::string& name) {
  std::string path = o.models + "/" + name + ".onnx";
  EmbedderOptions eo;
  eo.batch_size = o.batch;
  eo.intra_op_threads = o.threads;
  auto embedder = Embedder::Open(path, eo);
  if (!embedder.ok()) {
    std::printf("%s: %s, skipped\n", name.c_str(), embedder.status().ToString().c_str());
    return;
  }
  // The reference gets the count the Embedder's default resolves to.
  const int threads = o.threads > 0 ? o.threads : base::UsableCores();
  Ort::Session plain = PlainSession(env, path, threads);
  std::vector<float> input(size_t(o.batch) * 3 * 224 * 224);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (float& x : input) x = dist(rng);
  // Warm up both, and compare their outputs.
  std::vector<float> reference = PlainRun(plain, input, o.batch);
  auto ours = (*embedder)->EmbedPreprocessed(input.data(), o.batch);
  double deviation = MaxDeviation(reference, *ours, o.batch);
  const int runs = 3;
  std::vector<double> plain_rate, embed_rate;
  for (int r = 0; r < o.rounds; ++r) {
    double t0 = Seconds();
    for (int i = 0; i < runs; ++i) PlainRun(plain, input, o.batch);
    double t1 = Seconds();
    for (int i = 0; i < runs; ++i) (void)(*embedder)->EmbedPreprocessed(input.data(), o.batch);
    double t2 = Seconds();
    plain_rate.push_back(runs * o.batch / (t1 - t0));
    embed_rate.push_back(runs * o.batch / (t2 - t1));
  }
  double p = Median(plain_rate), e = Median(embed_rate);
  std::printf(
      "%-9s %5d-d  batch %d, %d threads%s: plain ONNX Runtime %6.2f images/s, Embedder %6.2f "
      "images/s = %.3fx   (max |difference| after L2: %.2g)\n",
      name.c_str(), (*embedder)->dimension(), o.batch, threads,
      o.threads > 0 ? "" : " (the default)", p, e, e / p, deviation);
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  using namespace imgsearch::bench;
  Options o = ParseArgs(argc, argv);
  BenchDecode(o);
  BenchResize(o);
  Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "bench");
  std::printf("\nembedding (reference: plain ONNX Runtime session, same options, same input)\n");
  for (const std::string& model : o.names) BenchModel(o, env, model);
  return 0;
}
