#include "model/quantize/quantizer.h"

#include <nlohmann/json.hpp>

#include "base/env.h"
#include "base/json.h"
#include "imgsearch/embedder.h"
#include "model/onnx_session.h"
#include "model/quantize/calibration.h"
#include "model/quantize/calibration_images.h"
#include "model/quantize/onnx_model.h"
#include "model/quantize/qdq_plan.h"
#include "model/quantize/qdq_rewrite.h"

namespace imgsearch::model::quantize {
namespace {

constexpr int64_t kQdqOpset = 13;  // per-axis QuantizeLinear/DequantizeLinear
constexpr uint64_t kMaxSidecarBytes = 1 << 20;
// One image in this many is held back from calibration to measure agreement; with fewer
// than kMinImagesToHoldBack images, all of them calibrate and all are compared.
constexpr size_t kHoldBackEvery = 5;
constexpr size_t kMinImagesToHoldBack = 5;

std::string FileName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Stem(const std::string& path) {
  std::string file = FileName(path);
  size_t dot = file.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? file : file.substr(0, dot);
}

struct Split {
  std::vector<size_t> calibration;
  std::vector<size_t> held_back;
};

Split SplitImages(size_t count) {
  Split split;
  for (size_t i = 0; i < count; ++i) {
    bool hold = count >= kMinImagesToHoldBack && i % kHoldBackEvery == kHoldBackEvery - 1;
    (hold ? split.held_back : split.calibration).push_back(i);
  }
  return split;
}

std::vector<float> Gather(const PreparedImages& images, const std::vector<size_t>& which) {
  std::vector<float> out;
  out.reserve(which.size() * images.tensor_size);
  for (size_t i : which) {
    const float* first = images.tensors.data() + i * images.tensor_size;
    out.insert(out.end(), first, first + images.tensor_size);
  }
  return out;
}

Result<std::unique_ptr<Embedder>> OpenModel(const std::string& path, const QuantizeOptions& o) {
  EmbedderOptions options;
  options.batch_size = o.batch_size;
  options.intra_op_threads = o.threads;
  return Embedder::Open(path, options);
}

Status CheckNotQuantized(const onnx::ModelProto& model, const std::string& path) {
  const onnx::NodeProto* node = FindQuantizedNode(model.graph());
  if (node == nullptr) return Status::Ok();
  return Status::InvalidArgument(path + " is already quantised (it has " + DescribeNode(*node) +
                                 "): quantise the float model it was made from");
}

std::vector<int64_t> ImageShape(const PreprocessSpec& p) {
  if (p.layout == TensorLayout::kNchw) return {3, p.height, p.width};
  return {p.height, p.width, 3};
}

Result<std::map<std::string, ValueRange>> Calibrate(const onnx::ModelProto& model,
                                                    const QdqPlan& plan, const Embedder& embedder,
                                                    const std::vector<float>& tensors, size_t count,
                                                    const QuantizeOptions& o) {
  CalibrationImages images{tensors.data(), count, ImageShape(embedder.spec().preprocess)};
  CalibrationConfig config;
  config.input = embedder.spec().input;
  config.histograms = o.method != RangeMethod::kMinMax;
  config.batch_size = o.batch_size;
  config.threads = o.threads;
  IMGSEARCH_ASSIGN_OR_RETURN(auto collectors,
                             CollectRanges(model, plan.activations, images, config));
  std::map<std::string, ValueRange> ranges;
  for (const auto& [name, collector] : collectors) {
    ranges[name] = collector.Range(o.method, o.percentile);
  }
  return ranges;
}

// The input's sidecar with a "quantized" object, and a name of its own when the float
// model's name was set (else both would be stored under one name in a library).
Status WriteSidecar(const QuantizeOptions& o, const ModelSpec& spec, QuantizeReport* report) {
  nlohmann::json sidecar = nlohmann::json::object();
  const std::string input = ModelSpecSidecarPath(o.model);
  if (base::Env::Default()->FileExists(input)) {
    IMGSEARCH_ASSIGN_OR_RETURN(std::string text,
                               base::Env::Default()->ReadFile(input, kMaxSidecarBytes));
    IMGSEARCH_ASSIGN_OR_RETURN(sidecar, base::ParseJson(text));
  }
  if (spec.name != Stem(o.model)) sidecar["name"] = spec.name + "-int8";
  // A preprocessing recognised from the float graph (a Keras application from tf2onnx) is
  // written down, so that the int8 copy does not depend on being recognised too.
  if (!sidecar.contains("preset") && !sidecar.contains("preprocess") && !spec.preset.empty()) {
    sidecar["preset"] = spec.preset;
  }
  sidecar["quantized"] = {{"from", FileName(o.model)},
                          {"format", "QDQ"},
                          {"weights", "int8, symmetric, per output channel"},
                          {"activations", "uint8, asymmetric, per tensor"},
                          {"method", RangeMethodName(o.method)},
                          {"calibration_images", report->calibration_images}};
  if (o.method == RangeMethod::kPercentile) sidecar["quantized"]["percentile"] = o.percentile;
  report->sidecar = ModelSpecSidecarPath(report->output);
  return base::Env::Default()->WriteFileAtomic(report->sidecar, sidecar.dump(2) + "\n");
}

Result<Embeddings> EmbedSome(const Embedder& embedder, const PreparedImages& images,
                             const std::vector<size_t>& which) {
  std::vector<float> tensors = Gather(images, which);
  return embedder.EmbedPreprocessed(tensors.data(), which.size());
}

// Agreement on the held-back images when there are more of them than neighbours asked
// for, else on all images.
Status MeasureAgreement(const Embedder& fp32, const QuantizeOptions& o,
                        const PreparedImages& images, const Split& split, QuantizeReport* report) {
  IMGSEARCH_ASSIGN_OR_RETURN(auto int8, OpenModel(report->output, o));
  std::vector<size_t> pool = split.held_back;
  report->agreement_on_held_back = pool.size() > static_cast<size_t>(o.neighbours);
  if (!report->agreement_on_held_back) {
    pool.clear();
    for (size_t i = 0; i < images.paths.size(); ++i) pool.push_back(i);
  }
  IMGSEARCH_ASSIGN_OR_RETURN(Embeddings reference, EmbedSome(fp32, images, pool));
  IMGSEARCH_ASSIGN_OR_RETURN(Embeddings candidate, EmbedSome(*int8, images, pool));
  report->agreement = CompareVectors(reference, candidate, o.neighbours);
  return Status::Ok();
}

// The operators ONNX Runtime actually runs for the int8 model, read back from the graph
// it saves after its fusions.
Result<std::map<std::string, int>> RuntimeOps(const std::string& model, int threads) {
  SessionConfig config;
  config.intra_op_threads = threads;
  const std::string saved = model + ".runtime-graph.tmp";
  Status status = OnnxSession::SaveRuntimeGraph(model, config, saved);
  auto graph = status.ok() ? ReadOnnxModel(saved) : Result<onnx::ModelProto>(status);
  (void)base::Env::Default()->RemoveFile(saved);
  if (!graph.ok()) return graph.status();
  std::map<std::string, int> ops;
  for (const auto& node : graph->graph().node()) ++ops[node.op_type()];
  return ops;
}

struct Prepared {
  onnx::ModelProto model;
  std::unique_ptr<Embedder> fp32;
  QdqPlan plan;
};

// Everything that can be refused before any image is read.
Result<Prepared> Prepare(const QuantizeOptions& o, QuantizeReport* report) {
  Prepared p;
  IMGSEARCH_ASSIGN_OR_RETURN(p.model, ReadOnnxModel(o.model));
  IMGSEARCH_RETURN_IF_ERROR(CheckNotQuantized(p.model, o.model));
  IMGSEARCH_ASSIGN_OR_RETURN(p.fp32, OpenModel(o.model, o));
  if (!p.fp32->spec().quantized.empty()) {
    return Status::InvalidArgument(o.model + " is already quantised (its spec says so)");
  }
  IMGSEARCH_ASSIGN_OR_RETURN(p.plan, PlanQdq(p.model.graph()));
  report->opset_before = DefaultOpset(p.model);
  IMGSEARCH_RETURN_IF_ERROR(RaiseOpset(&p.model, kQdqOpset));
  report->opset_after = DefaultOpset(p.model);
  report->notes = p.plan.notes;
  report->activations = p.plan.activations.size();
  for (const QuantizedNode& q : p.plan.nodes)
    ++report->quantized_ops[p.model.graph().node(q.node).op_type()];
  return p;
}

}  // namespace

std::string DefaultQuantizedPath(const std::string& model) {
  const std::string suffix = ".onnx";
  bool onnx = model.size() > suffix.size() &&
              model.compare(model.size() - suffix.size(), suffix.size(), suffix) == 0;
  return (onnx ? model.substr(0, model.size() - suffix.size()) : model) + "-int8.onnx";
}

Result<QuantizeReport> QuantizeModel(const QuantizeOptions& o_in) {
  QuantizeOptions o = o_in;
  if (o.output.empty()) o.output = DefaultQuantizedPath(o.model);
  if (o.output == o.model) return Status::InvalidArgument("the output would overwrite the model");
  QuantizeReport report;
  report.output = o.output;
  report.method = o.method;
  IMGSEARCH_ASSIGN_OR_RETURN(Prepared p, Prepare(o, &report));

  IMGSEARCH_ASSIGN_OR_RETURN(PreparedImages images,
                             PrepareImages(o.calibration_dir, o.max_images, *p.fp32, o.threads));
  report.files_tried = images.files_tried;
  report.undecodable = images.undecodable;
  Split split = SplitImages(images.paths.size());
  report.calibration_images = split.calibration.size();
  report.held_back_images = split.held_back.size();

  std::vector<float> calibration = Gather(images, split.calibration);
  IMGSEARCH_ASSIGN_OR_RETURN(
      auto ranges, Calibrate(p.model, p.plan, *p.fp32, calibration, split.calibration.size(), o));
  calibration = {};
  IMGSEARCH_RETURN_IF_ERROR(RewriteQdq(p.plan, ranges, &p.model));
  IMGSEARCH_RETURN_IF_ERROR(WriteOnnxModel(p.model, o.output));
  IMGSEARCH_RETURN_IF_ERROR(WriteSidecar(o, p.fp32->spec(), &report));
  IMGSEARCH_RETURN_IF_ERROR(MeasureAgreement(*p.fp32, o, images, split, &report));
  IMGSEARCH_ASSIGN_OR_RETURN(report.runtime_ops, RuntimeOps(o.output, o.threads));
  return report;
}

}  // namespace imgsearch::model::quantize
