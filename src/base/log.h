// Logging for the whole program, on top of spdlog. Messages go to stderr so that stdout
// stays clean for results and --json output. Thread-safe.
#pragma once

#include <spdlog/spdlog.h>

namespace imgsearch::base {

// Sets the minimum level printed: "debug", "info", "warn", "error" or "off".
void SetLogLevel(const std::string& level);

}  // namespace imgsearch::base

#define IMGSEARCH_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define IMGSEARCH_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define IMGSEARCH_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define IMGSEARCH_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
