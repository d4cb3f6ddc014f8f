// imgsearch search: the images most like a query, for each model.
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
  std::vector<std::string> max_distance, min_score;  // "D" or "MODEL=D"
  double min_fused_score = -1;
  bool has_min_fused_score = false;
  std::string crop;
  bool json = false;
};

// Each "VALUE" (every model) or "MODEL=VALUE" into `cutoffs`.
Status ParseCutoffs(const std::vector<std::string>& texts, const char* flag,
                    std::map<std::string, double>* cutoffs) {
  for (const std::string& text : texts) {
    size_t eq = text.rfind('=');
    std::string name = eq == std::string::npos ? "" : text.substr(0, eq);
    std::string number = eq == std::string::npos ? text : text.substr(eq + 1);
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size() || !std::isfinite(value))
      return Status::InvalidArgument(std::string(flag) + " takes NUMBER or MODEL=NUMBER, not \"" +
                                     text + "\"");
    (*cutoffs)[name] = value;
  }
  return Status::Ok();
}

void PrintTable(const char* title, const char* value_name, size_t offset,
                const std::vector<std::tuple<int64_t, double, std::string>>& rows) {
  std::printf("%s\n  %4s  %8s  %12s  %s\n", title, "rank", "id", value_name, "path");
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [id, value, path] = rows[i];
    std::printf("  %4zu  %8lld  %12.6g  %s\n", offset + i + 1, static_cast<long long>(id), value,
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
    PrintTable(r.model.c_str(), "distance", size_t(all.offset), rows);
  }
  if (all.fused.empty()) return;
  std::vector<std::tuple<int64_t, double, std::string>> rows;
  for (const auto& f : all.fused) rows.emplace_back(f.id, f.score, f.path);
  PrintTable("fused", "score", size_t(all.offset), rows);
}

int RunSearch(const SearchCommandOptions& options) {
  std::unique_ptr<Library> library;
  ImageQuery query;
  SearchResults results;
  SearchOptions search = options.search;
  Status parsed = ParseCutoffs(options.max_distance, "--max-distance", &search.max_distance);
  if (parsed.ok()) parsed = ParseCutoffs(options.min_score, "--min-score", &search.min_score);
  if (parsed.ok() && !options.crop.empty()) {
    auto crop = CropBox::Parse(options.crop);
    parsed = crop.status();
    if (crop.ok()) search.crop = *crop;
  }
  if (!parsed.ok()) return PrintError(parsed), kExitUsage;
  if (options.has_min_fused_score) search.min_fused_score = options.min_fused_score;
  int code = SearchFromCommandLine(options.query, options.db, options.models, search, &library,
                                   &query, &results);
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
  cmd->add_option("--max-distance", options->max_distance,
                  "Leave out hits farther than this: D for every model measured by a distance "
                  "(L2, HAMMING), or MODEL=D (repeatable)");
  cmd->add_option("--min-score", options->min_score,
                  "Leave out hits less similar than this: S for every model measured by a "
                  "similarity (IP, COSINE), or MODEL=S (repeatable)");
  cmd->add_option("--min-fused-score", options->min_fused_score,
                  "Leave out fused hits scoring less than this")
      ->each([options](const std::string&) { options->has_min_fused_score = true; });
  cmd->add_option("--order", options->search.order,
                  "relevance (nearest first), date (oldest first) or -date (newest first)")
      ->check(CLI::IsMember({"relevance", "date", "-date"}));
  cmd->add_option("--date-field", options->search.date_field,
                  "Order by this user field instead of the file's modification time");
  cmd->add_option("--offset", options->search.offset, "Skip this many results (paging)")
      ->check(CLI::Range(0, kMaxSearchDepth));
  cmd->add_option("--crop", options->crop,
                  "Search by a region of the query: X,Y,W,H in pixels of the picture as shown");
  cmd->add_option("--rerank", options->search.rerank,
                  "Re-rank by query expansion: qe[:N][,alpha=A] (top N hits, weight "
                  "similarity^A; float models only) or off; default: what `tune` chose, with "
                  "--fuse auto");
  cmd->add_flag("--json", options->json, "Print JSON");
  cmd->callback([options, exit_code] { *exit_code = RunSearch(*options); });
}

}  // namespace imgsearch::cli
