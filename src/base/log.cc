#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace imgsearch::base {

void SetLogLevel(const std::string& level) {
  static const bool installed = [] {
    auto logger = spdlog::stderr_color_mt("imgsearch");
    logger->set_pattern("%^[%l]%$ %v");
    spdlog::set_default_logger(logger);
    return true;
  }();
  (void)installed;
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace imgsearch::base
