// imgsearch tune: learns how to fuse the models (weights of standardised distances) on a
// folder of class sub-folders, keeps the fusion in the library for `--fuse auto`, and says
// how well it did on classes held out of the tuning.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"

namespace imgsearch::cli {
namespace {

struct TuneCommandOptions {
  TuneOptions tune;
  std::string db;
  bool json = false;
};

void PrintReport(const TuneReport& r, int k) {
  std::printf("%zu queries in %zu classes, K = %d\n\n", r.queries, r.classes, k);
  std::printf("%-16s %8s\n", "model", "weight");
  for (const auto& [name, weight] : r.weights) std::printf("%-16s %8.3f\n", name.c_str(), weight);
  std::printf("\n%-40s %12s %18s\n", "mAP@K", "tuned on", "held out (CV)");
  std::printf("%-40s %12.3f %18.3f\n", "tuned fusion", r.map, r.held_out_map);
  std::printf("%-40s %12.3f %18.3f\n", ("best single model (" + r.best_model + ")").c_str(),
              r.best_model_map, r.held_out_best_model_map);
  std::printf("%-40s %12.3f %18.3f\n", "RRF, equal weights", r.rrf_map, r.held_out_rrf_map);
  if (!r.rerank_tried.empty()) {
    std::printf("%-40s %12.3f %18.3f\n", ("tuned fusion, re-ranked " + r.rerank_tried).c_str(),
                r.rerank_map, r.held_out_rerank_map);
    std::printf("\nre-ranking: %s\n",
                r.rerank == "off" ? "off (it did not help on held-out folds)" : r.rerank.c_str());
  }
  if (!r.dba_tried.empty()) {
    std::printf("\ndatabase-side augmentation, held out: %.3f without; %s\n-> %s\n",
                r.held_out_without_dba_map, r.dba_tried.c_str(),
                r.dba == "off"
                    ? "off (it did not help on held-out folds; tune --dba force:N keeps it)"
                    : ("kept " + r.dba + " (tune --dba off drops it)").c_str());
  } else if (r.dba != "off") {
    std::printf("\ndatabase-side augmentation in use: %s\n", r.dba.c_str());
  }
  std::printf(
      "\nstored: search --fuse auto, compare, eval and the server now use these weights%s\n",
      r.rerank == "off" ? "" : " and this re-ranking");
}

int RunTune(const TuneCommandOptions& options) {
  auto library = OpenLibrary(options.db, {}, /*create=*/false, /*only_names=*/false, 0);
  if (!library.ok()) return PrintError(library.status()), kExitFailure;
  auto report = (*library)->Tune(options.tune);
  if (!report.ok()) return PrintError(report.status()), kExitFailure;
  if (!options.json) {
    PrintReport(*report, options.tune.k);
    return kExitOk;
  }
  const TuneReport& r = *report;
  std::cout << nlohmann::json{{"k", options.tune.k},
                              {"queries", r.queries},
                              {"classes", r.classes},
                              {"weights", r.weights},
                              {"map", r.map},
                              {"best_model", r.best_model},
                              {"best_model_map", r.best_model_map},
                              {"rrf_map", r.rrf_map},
                              {"held_out",
                               {{"map", r.held_out_map},
                                {"best_model_map", r.held_out_best_model_map},
                                {"rrf_map", r.held_out_rrf_map},
                                {"rerank_map", r.held_out_rerank_map}}},
                              {"rerank", r.rerank},
                              {"rerank_tried", r.rerank_tried},
                              {"rerank_map", r.rerank_map},
                              {"dba", r.dba},
                              {"dba_tried", r.dba_tried},
                              {"dba_held_out_map", r.held_out_dba_map},
                              {"dba_held_out_without_map", r.held_out_without_dba_map},
                              {"dba_vectors", r.dba_twins},
                              {"dba_seconds", r.dba_seconds}}
                   .dump()
            << "\n";
  return kExitOk;
}

}  // namespace

void AddTuneCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<TuneCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tune", "Learn how to fuse the models from a folder with one sub-folder per class");
  cmd->add_option("dir", options->tune.dir, "Folder of class folders, indexed into --db")
      ->required();
  cmd->add_option("--db", options->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_option("-k", options->tune.k, "Tune mAP@K")->check(CLI::Range(1, 1000));
  cmd->add_option("--folds", options->tune.folds, "Cross-validation folds over the classes")
      ->check(CLI::Range(2, 100));
  cmd->add_option("--max-queries", options->tune.max_queries,
                  "Tune on an even sample of this many queries");
  cmd->add_option("--classes", options->tune.classes,
                  "Only these class folders (comma-separated or repeated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--dba", options->tune.dba,
                  "Database-side augmentation: auto (default) tries N = 5 and 10 (alpha 3) and "
                  "keeps the best if held-out mAP improves; N[,alpha=A] tries that one; "
                  "force:N[,alpha=A] keeps it regardless; off drops it");
  cmd->add_flag("!--no-rerank", options->tune.rerank,
                "Do not try re-ranking (query expansion); store none");
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->callback([options, exit_code] { *exit_code = RunTune(*options); });
}

}  // namespace imgsearch::cli
