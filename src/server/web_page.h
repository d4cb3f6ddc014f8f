// The web page served at /: one self-contained HTML file (src/server/web_page.html,
// compiled into the binary; no CDN, no other files).
#pragma once

#include <string_view>

namespace imgsearch::server {

namespace embedded {
extern const std::string_view web_page;
}  // namespace embedded

inline std::string_view WebPage() {
  return embedded::web_page;
}

}  // namespace imgsearch::server
