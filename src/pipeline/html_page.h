// Pieces of the self-contained HTML pages the library writes (compare, duplicates):
// escaping, and thumbnails embedded as data URIs so that a page needs no files beside it.
#pragma once

#include <string>

namespace imgsearch::pipeline {

// `text` with <, >, & and " escaped, for element text and quoted attributes.
std::string EscapeHtml(const std::string& text);

// An <img> of the file's thumbnail (at most 160 pixels a side), or a grey box saying
// "unreadable" when the file cannot be read.
std::string ThumbnailTag(const std::string& path);

// The page's opening up to <body>, with the styles every page shares plus `extra_css`.
std::string PageStart(const std::string& title, const std::string& extra_css);

}  // namespace imgsearch::pipeline
