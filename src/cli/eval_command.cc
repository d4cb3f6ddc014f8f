// imgsearch eval: retrieval quality of each model and of their fusion (RRF, and the tuned
// weights once `imgsearch tune` has run) on a folder of class sub-folders, and the recall
// of each index against exact search.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/env.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "pipeline/eval.h"

namespace imgsearch::cli {
namespace {

struct EvalCommandOptions {
  EvalOptions eval;
  std::string db;
  std::vector<std::string> models;
  std::string html;
  bool json = false;
};

int RunEval(const EvalCommandOptions& options) {
  auto library = OpenLibrary(options.db, options.models, /*create=*/false, /*only_names=*/true, 0);
  if (!library.ok()) {
    PrintError(library.status());
    return kExitFailure;
  }
  auto report = (*library)->Evaluate(options.eval);
  if (!report.ok()) {
    PrintError(report.status());
    return kExitFailure;
  }
  const int k = options.eval.k;
  if (!options.html.empty()) {
    Status written = base::Env::Default()->WriteFileAtomic(options.html, report->ToHtml());
    if (!written.ok()) return PrintError(written), kExitFailure;
  }
  if (options.json) {
    nlohmann::json models = nlohmann::json::object();
    for (const auto& [name, s] : report->models) {
      models[name] = {{"map", s.map},
                      {"precision", s.precision},
                      {"recall", s.recall},
                      {"latency_ms", s.latency_ms}};
      if (s.index_recall >= 0) models[name]["index_recall"] = s.index_recall;
    }
    std::cout << nlohmann::json{{"k", k},
                                {"queries", report->queries},
                                {"classes", report->classes},
                                {"models", models}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  std::printf("%zu queries in %zu classes, K = %d\n\n", report->queries, report->classes, k);
  std::printf("%-16s %9s %9s %9s %12s %18s\n", "model", "mAP@K", "P@K", "R@K", "latency ms",
              "index recall@K");
  for (const auto& [name, s] : report->models) {
    char recall[32] = "-";
    if (s.index_recall >= 0) std::snprintf(recall, sizeof(recall), "%.3f", s.index_recall);
    std::printf("%-16s %9.3f %9.3f %9.3f %12.3f %18s\n", name.c_str(), s.map, s.precision, s.recall,
                s.latency_ms, recall);
  }
  if (!options.html.empty())
    std::printf("\nPage with curves and thumbnails: %s\n", options.html.c_str());
  return kExitOk;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<EvalCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("eval", "Retrieval quality on a folder with one sub-folder per class");
  cmd->add_option("dir", options->eval.dir, "Folder of class folders, indexed into --db")
      ->required();
  cmd->add_option("--db", options->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_option("-k", options->eval.k, "Cut-off K")->check(CLI::Range(1, 1000));
  cmd->add_option("-m,--model", options->models, "Only these models (by name; repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--max-queries", options->eval.max_queries,
                  "Evaluate an even sample of this many queries");
  cmd->add_option("--classes", options->eval.classes,
                  "Only these class folders (comma-separated or repeated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--rerank", options->eval.rerank,
                  "Also evaluate re-ranked search (qe[:N][,alpha=A]) as <name>+qe; default: "
                  "the re-ranking `tune` chose, if any; off: none");
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->add_option("--html", options->html,
                  "Also write a page: precision-recall curves, mAP per class, agreement, and "
                  "the queries the models disagree on");
  cmd->callback([options, exit_code] { *exit_code = RunEval(*options); });
}

}  // namespace imgsearch::cli
