// imgsearch duplicates: groups of images that are the same picture (resized, re-compressed,
// lightly cropped, brighter or darker, turned grey), found by the library's binary hash and
// confirmed by a float model; as a table, JSON, or a page with thumbnails.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "base/env.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"

namespace imgsearch::cli {
namespace {

struct DuplicatesCommandOptions {
  DuplicateOptions duplicates;
  std::string db;
  std::string html;
  bool json = false;
};

void PrintReport(const DuplicateReport& r) {
  std::printf("%zu images; hash %s%s, confirmed by %s: %zu candidate pairs, %zu confirmed\n",
              r.images, r.hash_model.c_str(), r.rotations ? " (also rotated and mirrored)" : "",
              r.confirm_model.c_str(), r.candidate_pairs, r.confirmed_pairs);
  for (size_t g = 0; g < r.groups.size(); ++g) {
    const DuplicateGroup& group = r.groups[g];
    std::printf("\ngroup %zu: %zu images (weakest pair: similarity %.3f, %d bits apart)\n", g + 1,
                group.images.size(), group.min_similarity, group.max_hash_distance);
    for (const ImageInfo& i : group.images) {
      std::string mark = i.id == group.largest ? "keep" : "";
      if (i.id == group.oldest) mark += mark.empty() ? "oldest" : ",oldest";
      std::printf("  %-12s %5dx%-5d %10lld  %s\n", mark.c_str(), i.width, i.height,
                  static_cast<long long>(i.size), i.path.c_str());
    }
  }
  if (r.groups.empty()) std::printf("\nno duplicates\n");
}

int RunDuplicates(const DuplicatesCommandOptions& options) {
  auto library = OpenLibrary(options.db, {}, /*create=*/false, /*only_names=*/false, 0);
  if (!library.ok()) return PrintError(library.status()), kExitFailure;
  auto report = (*library)->FindDuplicates(options.duplicates);
  if (!report.ok()) return PrintError(report.status()), kExitFailure;
  if (!options.html.empty()) {
    Status written = base::Env::Default()->WriteFileAtomic(options.html, report->ToHtml());
    if (!written.ok()) return PrintError(written), kExitFailure;
  }
  if (options.json) {
    std::cout << report->ToJson().dump() << "\n";
  } else {
    PrintReport(*report);
    if (!options.html.empty()) std::printf("\nPage with thumbnails: %s\n", options.html.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddDuplicatesCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<DuplicatesCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "duplicates", "Groups of images that are the same picture (resized, re-compressed, ...)");
  cmd->add_option("--db", options->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_option("--hash-distance", options->duplicates.hash_distance,
                  "Candidates: at most this many hash bits differ")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--threshold,--similarity", options->duplicates.min_similarity,
                  "Confirmed: cosine of the confirming model's vectors at least this")
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--hash-model", options->duplicates.hash_model,
                  "The binary model that finds candidates (default: the library's first)");
  cmd->add_option("--confirm-model", options->duplicates.confirm_model,
                  "The float model that confirms them (default: color_layout, else the first "
                  "float model; \"none\": the hash alone)");
  cmd->add_flag("--no-rotations{false},--rotations{true}", options->duplicates.rotations,
                "Whether a copy rotated a quarter or half turn or mirrored counts (default: "
                "yes, with the built-in phash)");
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->add_option("--html", options->html, "Also write a page with the groups' thumbnails");
  cmd->callback([options, exit_code] { *exit_code = RunDuplicates(*options); });
}

}  // namespace imgsearch::cli
