// The duplicate groups as a self-contained page: per group, each image's thumbnail, size,
// dimensions, date and path, with the one to keep marked (the largest, and the oldest).
#include <ctime>
#include <string>

#include "imgsearch/library.h"
#include "pipeline/html_page.h"

namespace imgsearch {
namespace {

std::string Date(int64_t mtime_ns) {
  std::time_t seconds = static_cast<std::time_t>(mtime_ns / 1000000000);
  std::tm utc{};
  char text[32] = "?";
  if (gmtime_r(&seconds, &utc) != nullptr)
    std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M", &utc);
  return text;
}

std::string ImageCard(const DuplicateGroup& group, const ImageInfo& image) {
  std::string badges;
  if (image.id == group.largest) badges += "<span class=keep>largest: keep</span> ";
  if (image.id == group.oldest) badges += "<span class=old>oldest</span>";
  char meta[160];
  std::snprintf(meta, sizeof(meta), "id %lld &middot; %d&times;%d &middot; %.1f KB &middot; ",
                static_cast<long long>(image.id), image.width, image.height,
                double(image.size) / 1024);
  return "<div class=card>" + pipeline::ThumbnailTag(image.path) + "<div class=meta>" + badges +
         "<br>" + meta + Date(image.mtime_ns) + "<br><span class=path>" +
         pipeline::EscapeHtml(image.path) + "</span></div></div>";
}

}  // namespace

std::string DuplicateReport::ToHtml() const {
  std::string html = pipeline::PageStart(
      "imgsearch: duplicates",
      ".group{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:2em}.card{width:180px}"
      ".card img{max-width:160px;display:block}.path{word-break:break-all}"
      ".keep{background:#cfc;padding:0 4px}.old{background:#eef;padding:0 4px}");
  char summary[320];
  std::snprintf(summary, sizeof(summary),
                "<h1>Duplicates</h1><p>%zu groups among %zu images. Candidates: %zu pairs within "
                "the hash distance of <b>%s</b>; confirmed by <b>%s</b>: %zu pairs.</p>",
                groups.size(), images, candidate_pairs, pipeline::EscapeHtml(hash_model).c_str(),
                pipeline::EscapeHtml(confirm_model).c_str(), confirmed_pairs);
  html += summary;
  for (size_t g = 0; g < groups.size(); ++g) {
    char title[160];
    std::snprintf(title, sizeof(title),
                  "<h2>Group %zu: %zu images</h2><p class=meta>weakest pair: similarity %.3f, "
                  "%d hash bits apart</p><div class=group>",
                  g + 1, groups[g].images.size(), groups[g].min_similarity,
                  groups[g].max_hash_distance);
    html += title;
    for (const ImageInfo& image : groups[g].images) html += ImageCard(groups[g], image);
    html += "</div>";
  }
  return html + "</body></html>\n";
}

}  // namespace imgsearch
