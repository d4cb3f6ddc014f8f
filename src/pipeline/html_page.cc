#include "pipeline/html_page.h"

#include "base/base64.h"
#include "image/encode.h"
#include "imgsearch/image.h"

namespace imgsearch::pipeline {

std::string EscapeHtml(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

std::string ThumbnailTag(const std::string& path) {
  auto image = LoadImage(path);
  if (!image.ok()) return "<div class=missing>unreadable</div>";
  auto jpeg = image::EncodeJpeg(image::Thumbnail(*image, 160), 80);
  if (!jpeg.ok()) return "<div class=missing>unreadable</div>";
  return "<img src=\"data:image/jpeg;base64," + base::Base64Encode(*jpeg) + "\" alt=\"" +
         EscapeHtml(path) + "\">";
}

std::string PageStart(const std::string& title, const std::string& extra_css) {
  return "<!doctype html><html><head><meta charset=utf-8><title>" + EscapeHtml(title) +
         "</title><style>body{font-family:sans-serif;margin:1.5em}"
         "table{border-collapse:collapse}"
         "td,th{padding:4px 8px;border:1px solid #ddd;vertical-align:top;text-align:left}"
         ".meta{font-size:12px;color:#444}.missing{width:160px;height:60px;background:#eee}" +
         extra_css + "</style></head><body>";
}

}  // namespace imgsearch::pipeline
