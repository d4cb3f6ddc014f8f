// The evaluation as a page a person reads at a glance: precision-recall curves, mAP per
// class as bars, the models' agreement as a heat map, and the queries the models disagree
// on most with their thumbnails. The SVG is drawn here; the page needs no other file.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "imgsearch/library.h"
#include "pipeline/html_page.h"

namespace imgsearch {
namespace {

using pipeline::EscapeHtml;

const char* const kColours[] = {"#2f6fdf", "#d9480f", "#2b8a3e", "#9c36b5",
                                "#e67700", "#0b7285", "#c2255c", "#5c940d"};

std::string Colour(size_t i) {
  return kColours[i % std::size(kColours)];
}

template <typename... Numbers>
std::string Format(const char* format, Numbers... numbers) {
  char text[160];
  std::snprintf(text, sizeof(text), format, numbers...);
  return text;
}

std::string Legend(const std::vector<std::string>& names) {
  std::string html = "<div class=legend>";
  for (size_t i = 0; i < names.size(); ++i)
    html +=
        "<span><i style=\"background:" + Colour(i) + "\"></i>" + EscapeHtml(names[i]) + "</span>";
  return html + "</div>";
}

// Recall on x (up to the largest reached, rounded up to a tenth), precision on y; one
// point per rank 1..K.
std::string CurvesSvg(const EvalReport& r, const std::vector<std::string>& names) {
  const double width = 520, height = 340, left = 50, bottom = 40, top = 10, right = 20;
  double max_recall = 0.1;
  for (const auto& [name, curve] : r.curves)
    for (double x : curve.recall) max_recall = std::max(max_recall, std::ceil(x * 10) / 10);
  auto px = [&](double recall) { return left + recall / max_recall * (width - left - right); };
  auto py = [&](double precision) { return top + (1 - precision) * (height - top - bottom); };
  std::string svg = "<svg id=pr-curves width=520 height=340 viewBox=\"0 0 520 340\">";
  for (int t = 0; t <= 4; ++t) {
    double p = t / 4.0, x = max_recall * t / 4.0;
    svg += Format("<line x1=50 x2=500 y1=%.1f y2=%.1f class=grid />", py(p), py(p));
    svg += Format("<text x=44 y=%.1f text-anchor=end>%.2f</text>", py(p) + 4, p);
    svg += Format("<text x=%.1f y=318 text-anchor=middle>", px(x)) + Format("%.2f</text>", x);
  }
  svg +=
      "<text x=285 y=336 text-anchor=middle>recall@k</text>"
      "<text x=12 y=170 transform=\"rotate(-90 12 170)\" text-anchor=middle>precision@k</text>";
  for (size_t i = 0; i < names.size(); ++i) {
    const EvalCurve& curve = r.curves.at(names[i]);
    std::string points;
    for (size_t k = 0; k < curve.precision.size(); ++k)
      points += Format("%.1f,%.1f ", px(curve.recall[k]), py(curve.precision[k]));
    // A re-ranked curve is dashed.
    const bool reranked = names[i].size() > 3 && names[i].ends_with("+qe");
    svg += "<polyline class=curve data-model=\"" + EscapeHtml(names[i]) + "\" stroke=\"" +
           Colour(i) + (reranked ? "\" stroke-dasharray=\"6 3" : "") + "\" points=\"" + points +
           "\" />";
  }
  return svg + "</svg>";
}

// One row per class, one bar per model (mAP@K from 0 to 1).
std::string ClassBarsSvg(const EvalReport& r, const std::vector<std::string>& names) {
  std::vector<std::string> classes;
  for (const auto& [label, map] : r.class_map.at(names[0])) classes.push_back(label);
  const double bar = 7, label_width = 160, scale = 340;
  const double row = bar * double(names.size()) + 8;
  double height = row * double(classes.size()) + 24;
  std::string svg = Format("<svg id=class-map width=540 height=%.0f>", height);
  for (size_t c = 0; c < classes.size(); ++c) {
    double y = 4 + row * double(c);
    svg += Format("<text x=%.0f y=%.1f text-anchor=end>", label_width - 6, y + row / 2) +
           EscapeHtml(classes[c]) + "</text>";
    for (size_t m = 0; m < names.size(); ++m) {
      double map =
          r.class_map.at(names[m]).count(classes[c]) ? r.class_map.at(names[m]).at(classes[c]) : 0;
      svg += Format("<rect class=bar x=160 y=%.1f height=6 width=%.1f", y + bar * double(m),
                    map * scale) +
             " fill=\"" + Colour(m) + "\"><title>" + EscapeHtml(names[m] + " · " + classes[c]) +
             Format(": %.3f</title></rect>", map);
    }
  }
  for (int t = 0; t <= 4; ++t)
    svg += Format("<text x=%.1f y=%.0f text-anchor=middle>", label_width + scale * t / 4.0,
                  height - 6) +
           Format("%.2f</text>", t / 4.0);
  return svg + "</svg>";
}

// The mean Jaccard@K of each pair of models, white (0) to blue (1).
std::string AgreementSvg(const EvalReport& r) {
  std::vector<std::string> names;
  for (const auto& [name, row] : r.agreement) names.push_back(name);
  const double cell = 64, label = 110;
  double size = label + cell * double(names.size());
  std::string svg = Format("<svg id=agreement width=%.0f height=%.0f>", size + 10, size + 10);
  for (size_t a = 0; a < names.size(); ++a) {
    double y = label + cell * double(a);
    svg += Format("<text x=%.0f y=%.1f text-anchor=end>", label - 6, y + cell / 2 + 4) +
           EscapeHtml(names[a]) + "</text>";
    double column = label + cell * double(a) + cell / 2;  // its label, slanted, above it
    svg += Format("<text x=%.1f y=%.1f transform=\"rotate(-45 %.1f %.1f)\">", column, label - 6,
                  column, label - 6) +
           EscapeHtml(names[a]) + "</text>";
    for (size_t b = 0; b < names.size(); ++b) {
      double v = r.agreement.at(names[a]).at(names[b]);
      int light = int(std::lround(97 - 55 * std::clamp(v, 0.0, 1.0)));
      double x = label + cell * double(b);
      svg += Format("<rect class=cell x=%.1f y=%.1f width=63 height=63", x, y) +
             Format(" fill=\"hsl(218,70%%,%d%%)\" />", light);
      svg += Format("<text x=%.1f y=%.1f text-anchor=middle", x + cell / 2, y + cell / 2 + 4) +
             std::string(light < 60 ? " fill=white>" : ">") + Format("%.2f</text>", v);
    }
  }
  return svg + "</svg>";
}

std::string DisagreementsHtml(const EvalReport& r) {
  std::string html;
  for (const EvalDisagreement& d : r.disagreements) {
    html += "<div class=query><div class=thumb>" + pipeline::ThumbnailTag(d.path) +
            "<div class=meta>" + EscapeHtml(d.label) +
            Format(" &middot; agreement %.2f", d.agreement) + "<br>" +
            EscapeHtml(d.path.substr(d.path.find_last_of('/') + 1)) + "</div></div><table>";
    for (const auto& [model, hits] : d.hits) {
      html += "<tr><th>" + EscapeHtml(model) + "</th><td>";
      for (const auto& hit : hits)
        html += std::string("<span class=") + (hit.relevant ? "right" : "wrong") + ">" +
                pipeline::ThumbnailTag(hit.path) + "</span>";
      html += "</td></tr>";
    }
    html += "</table></div>";
  }
  return html;
}

}  // namespace

std::string EvalReport::ToHtml() const {
  std::vector<std::string> names;  // the models, then the fusions
  const char* fusions[] = {"fused", "fused+qe", "tuned", "tuned+qe"};
  for (const auto& [name, curve] : curves)
    if (std::find(std::begin(fusions), std::end(fusions), name) == std::end(fusions))
      names.push_back(name);
  for (const char* fused : fusions)
    if (curves.count(fused)) names.push_back(fused);
  std::string html = pipeline::PageStart(
      "imgsearch: evaluation",
      "svg{font-size:11px;background:#fff}svg .grid{stroke:#e5e5e5}"
      "svg .curve{fill:none;stroke-width:2}.legend span{margin-right:14px}"
      ".legend i{display:inline-block;width:12px;height:12px;margin-right:4px}"
      ".query{display:flex;gap:16px;margin-bottom:18px}.thumb img,.query td img{max-width:96px;"
      "max-height:96px;display:block}.query td span{display:inline-block;margin:2px;border:3px "
      "solid}"
      ".right{border-color:#2b8a3e!important}.wrong{border-color:#c92a2a!important}");
  html +=
      Format("<h1>Evaluation</h1><p>%zu queries in %zu classes, K = %d</p>", queries, classes, k) +
      "<table><tr><th>model</th><th>mAP@K</th><th>P@K</th>"
      "<th>R@K</th></tr>";
  for (const std::string& name : names) {
    const EvalScores& s = models.at(name);
    html += "<tr><td>" + EscapeHtml(name) + "</td>" + Format("<td>%.3f</td>", s.map) +
            Format("<td>%.3f</td><td>", s.precision) + Format("%.3f</td></tr>", s.recall);
  }
  html += "</table><h2>Precision and recall by rank</h2>" + Legend(names) +
          CurvesSvg(*this, names) + "<h2>mAP@K per class</h2>" + Legend(names) +
          ClassBarsSvg(*this, names);
  if (agreement.size() > 1) {
    html += "<h2>How far the models agree (mean Jaccard@K)</h2>" + AgreementSvg(*this) +
            "<h2>Queries the models disagree on most</h2><p class=meta>green: a hit of the "
            "query's class; red: another class</p>" +
            DisagreementsHtml(*this);
  }
  return html + "</body></html>\n";
}

}  // namespace imgsearch
