// End-to-end indexing throughput on real JPEGs with two models at once (ResNet50- and
// VGG16-architecture, bench/make_bench_models.py), against the inference alone: plain
// ONNX Runtime sessions running the same number of images through the same two models in
// the same batches. Target: indexing >= 0.9x of that, i.e. decoding, hashing,
// preprocessing and storage hidden behind inference.
//   index_bench [--models DIR] [--images DIR] [--n N] [--batch B]
#include <onnxruntime_cxx_api.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "base/cpu.h"
#include "bench_util.h"
#include "imgsearch/database.h"
#include "pipeline/images.h"
#include "pipeline/ingest.h"
#include "pipeline/model_set.h"

namespace imgsearch::bench {
namespace {

double PlainInferenceSeconds(Ort::Env& env, const std::string& model, size_t n, int batch) {
  Ort::SessionOptions options;
  // The same thread count as the Embedder's default (one per usable core): ONNX Runtime's
  // own default counts physical cores, one on a 2-vCPU machine, which would make the
  // reference look slower than it is.
  options.SetIntraOpNumThreads(base::UsableCores());
  options.SetInterOpNumThreads(1);
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  Ort::Session session(env, model.c_str(), options);
  std::vector<float> input(size_t(batch) * 3 * 224 * 224);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (float& x : input) x = dist(rng);
  auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const char* in[] = {"image"};
  const char* out[] = {"features"};
  auto run = [&](int64_t b) {
    std::vector<int64_t> shape = {b, 3, 224, 224};
    Ort::Value tensor = Ort::Value::CreateTensor<float>(
        memory, input.data(), size_t(b) * 3 * 224 * 224, shape.data(), shape.size());
    session.Run(Ort::RunOptions{nullptr}, in, &tensor, 1, out, 1);
  };
  run(batch);  // warm-up, as the Embedder's probe run is
  double t = Seconds();
  for (size_t done = 0; done < n; done += batch) run(int64_t(std::min<size_t>(batch, n - done)));
  return Seconds() - t;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  using namespace imgsearch;
  using namespace imgsearch::bench;
  std::string models = "build/bench-models", images = "../shared/data/caltech101-dev";
  size_t n = 240;
  int batch = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--models") models = value;
    if (key == "--images") images = value;
    if (key == "--n") n = std::stoul(value);
    if (key == "--batch") batch = std::stoi(value);
  }
  std::vector<std::string> files = ListImages(images, n);
  if (files.empty()) return std::fprintf(stderr, "no images under %s\n", images.c_str()), 1;
  n = files.size();
  Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "index_bench");
  std::string resnet = models + "/resnet50.onnx", vgg = models + "/vgg16.onnx";
  double reference_before =
      PlainInferenceSeconds(env, resnet, n, batch) + PlainInferenceSeconds(env, vgg, n, batch);

  std::string dir = "/tmp/imgsearch-index-bench";
  std::filesystem::remove_all(dir);
  auto db = std::move(Database::Open(dir)).value();
  EmbedderOptions options = pipeline::LibraryEmbedderOptions(0);  // as `imgsearch index`
  options.batch_size = batch;
  auto bound = pipeline::OpenModelSet(*db, dir, {{"resnet50", resnet}, {"vgg16", vgg}}, options);
  if (!bound.ok()) return std::fprintf(stderr, "%s\n", bound.status().ToString().c_str()), 1;
  pipeline::IngestOptions ingest;
  ingest.paths = files;
  double t = Seconds();
  auto catalog = pipeline::OpenImages(*db);
  if (!catalog.ok()) return std::fprintf(stderr, "%s\n", catalog.status().ToString().c_str()), 1;
  auto report = pipeline::Ingest(base::Env::Default(), *db, **catalog, *bound, ingest);
  double ours = Seconds() - t;
  if (!report.ok()) return std::fprintf(stderr, "%s\n", report.status().ToString().c_str()), 1;

  double reference_after =
      PlainInferenceSeconds(env, resnet, n, batch) + PlainInferenceSeconds(env, vgg, n, batch);
  double reference = (reference_before + reference_after) / 2;
  std::printf("%zu real JPEGs, ResNet50 (2048-d) + VGG16 (512-d), batch %d:\n", n, batch);
  std::printf(
      "  inference alone (plain ONNX Runtime, both models): %.1f s = %.2f images/s (runs: %.1f s, "
      "%.1f s)\n",
      reference, n / reference, reference_before, reference_after);
  std::printf(
      "  imgsearch index (read, hash, decode once, preprocess twice, infer, store): %.1f s = %.2f "
      "images/s\n",
      ours, n / ours);
  std::printf("  -> %.3fx of inference-only throughput (%zu added, %zu failed)\n", reference / ours,
              report->added, report->failures.size());
  return 0;
}
