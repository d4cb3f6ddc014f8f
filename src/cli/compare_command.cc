// imgsearch compare: how far the models agree on one query, as figures and as a page.
#include <cstdio>
#include <iostream>

#include "base/env.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "pipeline/compare_report.h"

namespace imgsearch::cli {
namespace {

struct CompareOptions {
  std::string query;
  std::string db;
  std::vector<std::string> models;
  SearchOptions search;
  std::string html;
  bool json = false;
};

void PrintComparison(const nlohmann::json& c) {
  std::printf("%-28s %10s %10s %10s %10s\n", "models", "overlap@K", "Jaccard@K", "Spearman",
              "Kendall");
  for (const auto& p : c["pairs"]) {
    std::printf("%-28s %10.3f %10.3f %10.3f %10.3f\n",
                (p["a"].get<std::string>() + " / " + p["b"].get<std::string>()).c_str(),
                p["overlap"].get<double>(), p["jaccard"].get<double>(), p["spearman"].get<double>(),
                p["kendall"].get<double>());
  }
  std::printf("\n%-28s %10s %10s %10s %10s\n", "distances", "min", "median", "mean", "max");
  for (const auto& [name, m] : c["models"].items()) {
    const auto& d = m["distance"];
    std::printf("%-28s %10.4g %10.4g %10.4g %10.4g\n", name.c_str(), d["min"].get<double>(),
                d["median"].get<double>(), d["mean"].get<double>(), d["max"].get<double>());
  }
}

int RunCompare(const CompareOptions& options) {
  if (options.models.size() == 1) {
    PrintError("compare needs at least two models");
    return kExitUsage;
  }
  std::unique_ptr<Library> library;
  ImageQuery query;
  SearchResults results;
  int code = SearchFromCommandLine(options.query, options.db, options.models, options.search,
                                   &library, &query, &results);
  if (code != kExitOk) return code;
  if (library->ModelNames().size() < 2) {
    PrintError("compare needs at least two models; the database uses " +
               std::to_string(library->ModelNames().size()));
    return kExitFailure;
  }
  nlohmann::json comparison = library->Compare(results);
  if (!options.html.empty()) {
    auto page = library->CompareHtml(options.query, query, results, comparison);
    Status written =
        page.ok() ? base::Env::Default()->WriteFileAtomic(options.html, *page) : page.status();
    if (!written.ok()) {
      PrintError(written);
      return kExitFailure;
    }
  }
  if (options.json) {
    comparison["query"] = options.query;
    std::cout << comparison.dump() << "\n";
  } else {
    PrintComparison(comparison);
    if (!options.html.empty()) std::printf("\nPage with thumbnails: %s\n", options.html.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddCompareCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<CompareOptions>();
  CLI::App* cmd = app.add_subcommand("compare", "How far the models agree on a query");
  cmd->add_option("query", options->query, "An image file, or id:N for an indexed image")
      ->required();
  cmd->add_option("--db", options->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_option("-k", options->search.k, "Results per model")->check(CLI::Range(1, 4096));
  cmd->add_option("-m,--model", options->models, "Only these models (by name; repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--filter", options->search.filter, "Milvus filter expression");
  cmd->add_flag("--exclude-self", options->search.exclude_self, "Leave out the query image itself");
  cmd->add_option("--fuse", options->search.fuse,
                  "Also one ranking across models: auto (the weights `tune` learned, else rrf), "
                  "tuned, rrf (equal weights) or weighted (by distance)")
      ->check(CLI::IsMember({"auto", "tuned", "rrf", "weighted"}));
  cmd->add_option("--html", options->html,
                  "Write a self-contained page with thumbnails to this file");
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->callback([options, exit_code] { *exit_code = RunCompare(*options); });
}

}  // namespace imgsearch::cli
