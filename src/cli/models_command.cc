// imgsearch models: the built-in models and the preprocessing presets.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "imgsearch/embedder.h"

namespace imgsearch::cli {
namespace {

struct ModelsOptions {
  bool json = false;
};

int RunModels(const ModelsOptions& options) {
  nlohmann::json models = nlohmann::json::array();
  for (const BuiltinModelInfo& info : ListBuiltinModels()) {
    auto embedder = Embedder::Open(info.name);
    if (!embedder.ok()) {
      PrintError(embedder.status());
      return kExitFailure;
    }
    bool binary = (*embedder)->vector_type() == VectorType::kBinary;
    models.push_back({{"name", info.name},
                      {"description", info.description},
                      {"type", binary ? "binary" : "float"},
                      {"dimension", (*embedder)->dimension()},
                      {"metric", binary ? "HAMMING" : "L2"}});
  }
  nlohmann::json presets = nlohmann::json::array();
  for (const std::string& name : PreprocessPresetNames()) {
    ModelSpec spec;
    spec.preprocess = *PreprocessPreset(name);
    presets.push_back({{"name", name},
                       {"preprocess", nlohmann::json::parse(ModelSpecToJson(spec))["preprocess"]}});
  }
  if (options.json) {
    std::cout << nlohmann::json{{"models", models}, {"presets", presets}}.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "Built-in models:\n";
  for (const auto& m : models) {
    std::cout << "  " << m["name"].get<std::string>() << "  (" << m["type"].get<std::string>()
              << ", " << m["dimension"].get<int>() << (m["type"] == "binary" ? " bits" : " dims")
              << ", " << m["metric"].get<std::string>() << ")\n      "
              << m["description"].get<std::string>() << "\n";
  }
  std::cout
      << "\nPreprocessing presets (for your own ONNX models, \"preset\" in the sidecar JSON):\n";
  for (const auto& p : presets) {
    const auto& pre = p["preprocess"];
    std::cout << "  " << p["name"].get<std::string>() << "  " << pre["width"] << "x"
              << pre["height"] << " " << pre["resize"].get<std::string>() << " "
              << pre["interpolation"].get<std::string>() << ", "
              << pre["channel_order"].get<std::string>() << ", " << pre["layout"].get<std::string>()
              << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddModelsCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<ModelsOptions>();
  CLI::App* cmd =
      app.add_subcommand("models", "List the built-in models and preprocessing presets");
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->callback([options, exit_code] { *exit_code = RunModels(*options); });
}

}  // namespace imgsearch::cli
