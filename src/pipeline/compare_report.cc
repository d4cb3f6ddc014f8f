#include "pipeline/compare_report.h"

#include <filesystem>

#include "pipeline/agreement.h"
#include "pipeline/html_page.h"

namespace imgsearch::pipeline {
namespace {

std::vector<int64_t> Ids(const ModelResults& r) {
  std::vector<int64_t> ids;
  for (const Hit& h : r.hits) ids.push_back(h.id);
  return ids;
}

}  // namespace

nlohmann::json CompareModels(const SearchResults& results) {
  nlohmann::json out = {{"models", nlohmann::json::object()}, {"pairs", nlohmann::json::array()}};
  for (const auto& r : results.models) {
    std::vector<Ranked> ranked;
    for (const Hit& h : r.hits) ranked.push_back({h.id, h.distance});
    DistanceStats s = Stats(ranked);
    out["models"][r.model] = {
        {"distance", {{"min", s.min}, {"max", s.max}, {"mean", s.mean}, {"median", s.median}}}};
  }
  for (size_t a = 0; a < results.models.size(); ++a) {
    for (size_t b = a + 1; b < results.models.size(); ++b) {
      PairAgreement p = Agreement(Ids(results.models[a]), Ids(results.models[b]));
      out["pairs"].push_back({{"a", results.models[a].model},
                              {"b", results.models[b].model},
                              {"overlap", p.overlap},
                              {"jaccard", p.jaccard},
                              {"spearman", p.spearman},
                              {"kendall", p.kendall}});
    }
  }
  return out;
}

Result<std::string> CompareHtml(const std::string& query_label, const std::string& query_path,
                                const SearchResults& results, const nlohmann::json& comparison) {
  std::string html =
      PageStart("imgsearch: " + query_label,
                ".cols{display:flex;gap:1.5em;align-items:flex-start}.col{min-width:180px}"
                ".hit{margin-bottom:10px}.hit img{max-width:160px;display:block}");
  html += "<h1>Query</h1><div class=hit>" +
          (query_path.empty() ? std::string() : ThumbnailTag(query_path)) + "<div class=meta>" +
          EscapeHtml(query_label) + "</div></div><h2>Results per model</h2><div class=cols>";
  auto column = [&](const std::string& title,
                    const std::vector<std::tuple<int64_t, double, std::string>>& rows,
                    const char* value) {
    html += "<div class=col><h3>" + EscapeHtml(title) + "</h3>";
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& [id, v, path] = rows[i];
      char meta[128];
      std::snprintf(meta, sizeof(meta), "#%zu &middot; id %lld &middot; %s %.4g", i + 1,
                    static_cast<long long>(id), value, v);
      html += "<div class=hit>" + ThumbnailTag(path) + "<div class=meta>" + meta + "<br>" +
              EscapeHtml(std::filesystem::path(path).filename().string()) + "</div></div>";
    }
    html += "</div>";
  };
  for (const auto& r : results.models) {
    std::vector<std::tuple<int64_t, double, std::string>> rows;
    for (const Hit& h : r.hits)
      rows.emplace_back(h.id, h.distance, h.row.fields.at("path").get<std::string>());
    column(r.model, rows, "distance");
  }
  if (!results.fused.empty()) {
    std::vector<std::tuple<int64_t, double, std::string>> rows;
    for (const auto& f : results.fused) rows.emplace_back(f.id, f.score, f.path);
    column("fused", rows, "score");
  }
  html +=
      "</div><h2>Agreement</h2><table><tr><th>models</th><th>overlap@K</th><th>Jaccard@K</th>"
      "<th>Spearman</th><th>Kendall</th></tr>";
  for (const auto& p : comparison["pairs"]) {
    char row[256];
    std::snprintf(row, sizeof(row), "<td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td>",
                  p["overlap"].get<double>(), p["jaccard"].get<double>(),
                  p["spearman"].get<double>(), p["kendall"].get<double>());
    html += "<tr><td>" + EscapeHtml(p["a"].get<std::string>() + " / " + p["b"].get<std::string>()) +
            "</td>" + row + "</tr>";
  }
  html += "</table></body></html>\n";
  return html;
}

}  // namespace imgsearch::pipeline
