// imgsearch search: the images most like a query, for each model.
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"

namespace imgsearch::cli {
namespace {

struct SearchCommandOptions {
  std::string query;
  std::string db;
  std::vector<std::string> models;
  SearchOptions search;
  bool json = false;
};

void PrintTable(const char* title, const char* value_name,
                const std::vector<std::tuple<int64_t, double, std::string>>& rows) {
  std::printf("%s\n  %4s  %8s  %12s  %s\n", title, "rank", "id", value_name, "path");
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [id, value, path] = rows[i];
    std::printf("  %4zu  %8lld  %12.6g  %s\n", i + 1, static_cast<long long>(id), value,
                path.c_str());
  }
}

void PrintResults(const std::string& query, const SearchResults& all, bool json) {
  if (json) {
    std::cout << all.ToJson(query).dump() << "\n";
    return;
  }
  for (const auto& r : all.models) {
    std::vector<std::tuple<int64_t, double, std::string>> rows;
    for (const Hit& h : r.hits)
      rows.emplace_back(h.id, h.distance, h.row.fields.at("path").get<std::string>());
    PrintTable(r.model.c_str(), "distance", rows);
  }
  if (all.fused.empty()) return;
  std::vector<std::tuple<int64_t, double, std::string>> rows;
  for (const auto& f : all.fused) rows.emplace_back(f.id, f.score, f.path);
  PrintTable("fused", "score", rows);
}

int RunSearch(const SearchCommandOptions& options) {
  std::unique_ptr<Library> library;
  ImageQuery query;
  SearchResults results;
  int code = SearchFromCommandLine(options.query, options.db, options.models, options.search,
                                   &library, &query, &results);
  if (code == kExitOk) PrintResults(options.query, results, options.json);
  return code;
}

}  // namespace

void AddSearchCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<SearchCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("search", "Find the images most like a query image, per model");
  cmd->add_option("query", options->query, "An image file, or id:N for an indexed image")
      ->required();
  cmd->add_option("--db", options->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_option("-k", options->search.k, "Results per model")->check(CLI::Range(1, 16384));
  cmd->add_option("-m,--model", options->models, "Only these models (by name; repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--filter", options->search.filter,
                  "Milvus filter expression, e.g. 'width > 200'");
  cmd->add_flag("--exclude-self", options->search.exclude_self, "Leave out the query image itself");
  cmd->add_option("--fuse", options->search.fuse,
                  "Also one ranking across models: auto (the weights `tune` learned, else rrf), "
                  "tuned, rrf (equal weights) or weighted (by distance)")
      ->check(CLI::IsMember({"auto", "tuned", "rrf", "weighted"}));
  cmd->add_option("--weights", options->search.weights, "Weights of the models for --fuse weighted")
      ->delimiter(',');
  cmd->add_option("--rerank", options->search.rerank,
                  "Re-rank by query expansion: qe[:N][,alpha=A] (top N hits, weight "
                  "similarity^A; float models only) or off; default: what `tune` chose, with "
                  "--fuse auto");
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->callback([options, exit_code] { *exit_code = RunSearch(*options); });
}

}  // namespace imgsearch::cli
