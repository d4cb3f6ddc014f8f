// imgsearch quantize: a float ONNX model in, a static int8 (QDQ) model and its sidecar
// spec out, calibrated on the user's images, with how far its vectors agree with the
// float model's.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "model/quantize/quantizer.h"

namespace imgsearch::cli {
namespace {

using model::quantize::QuantizeOptions;
using model::quantize::QuantizeReport;

struct QuantizeCommandOptions {
  QuantizeOptions quantize;
  std::string method = "percentile";
  bool json = false;
};

// The int8 operators ONNX Runtime runs, e.g. "QLinearConv 52, QLinearAdd 10".
std::string Int8Kernels(const std::map<std::string, int>& ops) {
  std::string text;
  for (const auto& [op, count] : ops) {
    bool int8 = op.rfind("QLinear", 0) == 0 || op == "QGemm" || op.find("Integer") != op.npos;
    if (int8) text += (text.empty() ? "" : ", ") + op + " " + std::to_string(count);
  }
  return text.empty() ? "none" : text;
}

void PrintJson(const QuantizeReport& r) {
  const auto& a = r.agreement;
  nlohmann::json report = {{"output", r.output},
                           {"sidecar", r.sidecar},
                           {"method", model::quantize::RangeMethodName(r.method)},
                           {"opset", {{"before", r.opset_before}, {"after", r.opset_after}}},
                           {"files_tried", r.files_tried},
                           {"undecodable", r.undecodable},
                           {"calibration_images", r.calibration_images},
                           {"held_back_images", r.held_back_images},
                           {"quantized_ops", r.quantized_ops},
                           {"activations", r.activations},
                           {"notes", r.notes},
                           {"agreement",
                            {{"images", a.images},
                             {"on", r.agreement_on_held_back ? "held_back" : "all"},
                             {"mean_cosine", a.mean_cosine},
                             {"min_cosine", a.min_cosine},
                             {"k", a.k},
                             {"recall_at_k", a.recall_at_k}}},
                           {"runtime_ops", r.runtime_ops}};
  std::cout << report.dump() << "\n";
}

void PrintText(const QuantizeReport& r) {
  for (const auto& note : r.notes) std::printf("note: %s\n", note.c_str());
  if (!r.undecodable.empty()) {
    std::printf("note: %zu of %zu files were not images that decode (first: %s)\n",
                r.undecodable.size(), r.files_tried, r.undecodable[0].c_str());
  }
  if (r.opset_after != r.opset_before) {
    std::printf("note: opset raised from %lld to %lld\n", static_cast<long long>(r.opset_before),
                static_cast<long long>(r.opset_after));
  }
  std::string ops;
  for (const auto& [op, count] : r.quantized_ops) {
    ops += (ops.empty() ? "" : ", ") + op + " " + std::to_string(count);
  }
  std::printf("wrote %s (int8 weights: %s; %zu activations, %s calibration on %zu images)\n",
              r.output.c_str(), ops.c_str(), r.activations,
              model::quantize::RangeMethodName(r.method), r.calibration_images);
  std::printf("wrote %s\n", r.sidecar.c_str());
  std::printf("ONNX Runtime int8 kernels: %s\n", Int8Kernels(r.runtime_ops).c_str());
  const auto& a = r.agreement;
  std::printf("agreement with the float model on %zu %s images: mean cosine %.4f (min %.4f)",
              a.images, r.agreement_on_held_back ? "held-back" : "(all; too few held back)",
              a.mean_cosine, a.min_cosine);
  if (a.recall_at_k >= 0)
    std::printf(", recall@%d of the float neighbours %.3f", a.k, a.recall_at_k);
  std::printf("\n");
}

int RunQuantize(QuantizeCommandOptions options) {
  auto method = model::quantize::ParseRangeMethod(options.method);
  if (!method.ok()) {
    PrintError(method.status());
    return kExitUsage;
  }
  options.quantize.method = *method;
  auto report = model::quantize::QuantizeModel(options.quantize);
  if (!report.ok()) {
    PrintError(report.status());
    return kExitFailure;
  }
  options.json ? PrintJson(*report) : PrintText(*report);
  return kExitOk;
}

}  // namespace

void AddQuantizeCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<QuantizeCommandOptions>();
  QuantizeOptions& q = options->quantize;
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Make a static int8 (QDQ) copy of a float ONNX model, calibrated on images");
  cmd->add_option("model", q.model, "The float .onnx model (with its sidecar spec)")->required();
  cmd->add_option("--calibrate", q.calibration_dir,
                  "Folder of images like those the model will embed (searched recursively)")
      ->required();
  cmd->add_option("--images", q.max_images,
                  "Images taken from the folder, spread evenly over it; one in five is held "
                  "back to measure agreement")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--method", options->method,
                  "How activation ranges are chosen: minmax, percentile (of |x|) or entropy "
                  "(KL divergence)")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy"}));
  cmd->add_option("--percentile", q.percentile, "Percentile of |x| for --method percentile")
      ->check(CLI::Range(50.0, 100.0));
  cmd->add_option("-o,--output", q.output, "The int8 model (default: MODEL-int8.onnx)");
  cmd->add_option("--batch-size", q.batch_size, "Images per inference call")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", q.threads, "Inference threads (0: one per core)")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("--json", options->json, "Print the report as JSON");
  cmd->callback([options, exit_code] { *exit_code = RunQuantize(*options); });
}

}  // namespace imgsearch::cli
