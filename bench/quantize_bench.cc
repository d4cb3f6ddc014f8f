// int8 against float: images/s of plain ONNX Runtime sessions (same options, batch,
// threads and input) on several models, each against the first, measured in one run.
// Rounds of the models alternate and medians are reported, because the machine is shared
// and noisy. Usage:
//   quantize_bench [--batch N] [--threads N] [--rounds N] [--size S] REFERENCE.onnx MODEL.onnx...
// for example the float MobileNetV2, ours quantised by `imgsearch quantize`, and the ONNX
// model zoo's int8 MobileNetV2 (README, "Quantised models").
#include <onnxruntime_cxx_api.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "base/cpu.h"
#include "bench_util.h"

namespace imgsearch::bench {
namespace {

struct Options {
  std::vector<std::string> models;
  int batch = 8;
  int threads = 0;  // 0: one per core this process may use, as imgsearch's default
  int rounds = 7;
  int size = 224;
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--batch" && has_value)
      o.batch = std::stoi(argv[++i]);
    else if (arg == "--threads" && has_value)
      o.threads = std::stoi(argv[++i]);
    else if (arg == "--rounds" && has_value)
      o.rounds = std::stoi(argv[++i]);
    else if (arg == "--size" && has_value)
      o.size = std::stoi(argv[++i]);
    else
      o.models.push_back(arg);
  }
  return o;
}

// One model's session, with its input and first output named.
struct Model {
  std::string path;
  std::unique_ptr<Ort::Session> session;
  std::string input, output;
  std::vector<double> rates;
};

Model Load(Ort::Env& env, const std::string& path, int threads) {
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(threads);
  options.SetInterOpNumThreads(1);
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  Model m;
  m.path = path;
  m.session = std::make_unique<Ort::Session>(env, path.c_str(), options);
  Ort::AllocatorWithDefaultOptions allocator;
  m.input = m.session->GetInputNameAllocated(0, allocator).get();
  m.output = m.session->GetOutputNameAllocated(0, allocator).get();
  return m;
}

void Run(Model& m, std::vector<float>& input, const Options& o) {
  std::vector<int64_t> shape = {o.batch, 3, o.size, o.size};
  auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  Ort::Value tensor = Ort::Value::CreateTensor<float>(memory, input.data(), input.size(),
                                                      shape.data(), shape.size());
  const char* in[] = {m.input.c_str()};
  const char* out[] = {m.output.c_str()};
  (void)m.session->Run(Ort::RunOptions{nullptr}, in, &tensor, 1, out, 1);
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  using namespace imgsearch::bench;
  Options o = ParseArgs(argc, argv);
  if (o.models.empty()) {
    std::fprintf(stderr,
                 "usage: quantize_bench [--batch N] [--threads N] [--rounds N] "
                 "[--size S] REFERENCE.onnx MODEL.onnx...\n");
    return 2;
  }
  const int threads = o.threads > 0 ? o.threads : imgsearch::base::UsableCores();
  Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "bench");
  std::vector<Model> models;
  for (const auto& path : o.models) models.push_back(Load(env, path, threads));
  std::vector<float> input(size_t(o.batch) * 3 * o.size * o.size);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (float& x : input) x = dist(rng);
  for (auto& m : models) Run(m, input, o);  // warm up
  const int runs = 3;
  for (int r = 0; r < o.rounds; ++r) {
    for (auto& m : models) {
      double start = Seconds();
      for (int i = 0; i < runs; ++i) Run(m, input, o);
      m.rates.push_back(runs * o.batch / (Seconds() - start));
    }
  }
  std::printf("plain ONNX Runtime, batch %d, %d threads%s, %dx%d input, median of %d rounds\n",
              o.batch, threads, o.threads > 0 ? "" : " (the default)", o.size, o.size, o.rounds);
  const double reference = Median(models[0].rates);
  for (const auto& m : models) {
    double rate = Median(m.rates);
    std::printf("  %-60s %8.1f images/s  %.2fx\n", m.path.c_str(), rate, rate / reference);
  }
  return 0;
}
