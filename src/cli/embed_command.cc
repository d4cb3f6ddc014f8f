// imgsearch embed: print the vector of each image under each model.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/thread_pool.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/path_list.h"
#include "imgsearch/embedder.h"

namespace imgsearch::cli {
namespace {

struct EmbedOptions {
  std::vector<std::string> models;
  std::vector<std::string> images;
  std::string files_from;
  std::string preset;
  bool json = false;
  int batch_size = 8;
  int threads = 0;
};

constexpr size_t kImagesPerRound = 64;  // bounds memory: decoded images held at once

Result<std::vector<std::unique_ptr<Embedder>>> OpenModels(const EmbedOptions& options) {
  std::vector<std::string> names = options.models;
  if (names.empty()) {
    for (const auto& info : ListBuiltinModels()) names.push_back(info.name);
  }
  EmbedderOptions embedder_options;
  embedder_options.batch_size = options.batch_size;
  embedder_options.intra_op_threads = options.threads;
  if (!options.preset.empty()) {
    embedder_options.spec_override = nlohmann::json{{"preset", options.preset}}.dump();
  }
  std::vector<std::unique_ptr<Embedder>> embedders;
  for (const std::string& name : names) {
    auto embedder = Embedder::Open(name, embedder_options);
    if (!embedder.ok()) return embedder.status();
    embedders.push_back(std::move(embedder).value());
  }
  return embedders;
}

void PrintVector(const std::string& path, const Embedder& embedder, const Embeddings& vectors,
                 size_t i, bool json) {
  bool binary = vectors.type == VectorType::kBinary;
  if (json) {
    nlohmann::json line = {{"path", path},
                           {"model", embedder.spec().name},
                           {"type", binary ? "binary" : "float"},
                           {"dimension", vectors.dimension}};
    if (binary) {
      auto bits = vectors.BinaryVector(i);
      line["vector"] = std::vector<int>(bits.begin(), bits.end());
    } else {
      auto v = vectors.FloatVector(i);
      line["vector"] = std::vector<float>(v.begin(), v.end());
    }
    std::cout << line.dump() << "\n";
    return;
  }
  std::cout << path << "\t" << embedder.spec().name << "\t";
  if (binary) {
    std::cout << HexString(vectors.BinaryVector(i));
  } else {
    const char* separator = "";
    for (float x : vectors.FloatVector(i))
      std::cout << std::exchange(separator, " ") << FloatText(x);
  }
  std::cout << "\n";
}

// Decodes one round of images on the pool; failed images print an error and are skipped.
std::vector<std::pair<std::string, Image>> DecodeRound(std::span<const std::string> paths,
                                                       const DecodeOptions& decode,
                                                       base::ThreadPool& pool, bool* any_failed) {
  std::vector<Result<Image>> decoded(paths.size(), Status::Internal("not decoded"));
  pool.ParallelFor(paths.size(), [&](size_t i) { decoded[i] = LoadImage(paths[i], decode); });
  std::vector<std::pair<std::string, Image>> images;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!decoded[i].ok()) {
      PrintError(decoded[i].status());
      *any_failed = true;
      continue;
    }
    images.emplace_back(paths[i], std::move(decoded[i]).value());
  }
  return images;
}

int RunEmbed(EmbedOptions options) {
  auto images = CollectPaths(std::move(options.images), options.files_from);
  if (!images.ok()) {
    PrintError(images.status());
    return options.files_from.empty() ? kExitUsage : kExitFailure;
  }
  options.images = std::move(images).value();
  auto embedders = OpenModels(options);
  if (!embedders.ok()) {
    PrintError(embedders.status());
    return kExitFailure;
  }
  DecodeOptions decode = (*embedders)[0]->decode_options();
  for (const auto& e : *embedders) decode = MergeDecodeOptions(decode, e->decode_options());
  base::ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  bool any_failed = false;
  for (size_t start = 0; start < options.images.size(); start += kImagesPerRound) {
    size_t n = std::min(kImagesPerRound, options.images.size() - start);
    auto images =
        DecodeRound(std::span(options.images).subspan(start, n), decode, pool, &any_failed);
    std::vector<Image> pixels;
    for (auto& [path, image] : images) pixels.push_back(std::move(image));
    for (const auto& embedder : *embedders) {
      auto vectors = embedder->Embed(pixels);
      if (!vectors.ok()) {
        PrintError(vectors.status().WithContext(embedder->spec().name));
        return kExitFailure;
      }
      for (size_t i = 0; i < images.size(); ++i) {
        PrintVector(images[i].first, *embedder, *vectors, i, options.json);
      }
    }
  }
  return any_failed ? kExitFailure : kExitOk;
}

}  // namespace

void AddEmbedCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<EmbedOptions>();
  CLI::App* cmd = app.add_subcommand("embed", "Print the feature vector of each image");
  cmd->add_option("images", options->images, "Image files (JPEG, PNG, WebP, BMP, TIFF, GIF)");
  AddFilesFromOption(cmd, &options->files_from);
  cmd->add_option("-m,--model", options->models,
                  "Built-in model name or path to an .onnx file (repeatable; default: all "
                  "built-in models)")
      ->allow_extra_args(false);  // -m takes one value; the rest are images
  cmd->add_option("--preset", options->preset,
                  "Preprocessing preset for the models, over their own spec")
      ->check(CLI::IsMember(PreprocessPresetNames()));
  cmd->add_flag("--json", options->json, "One JSON object per line");
  cmd->add_option("--batch-size", options->batch_size, "Images per inference call")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", options->threads, "Inference threads (0: one per core)")
      ->check(CLI::Range(0, 1024));
  cmd->callback([options, exit_code] { *exit_code = RunEmbed(*options); });
}

}  // namespace imgsearch::cli
