#include "cli/output.h"

#include <cstdio>
#include <iostream>

namespace imgsearch::cli {

void PrintError(const std::string& message) {
  std::cerr << "error: " << message << "\n";
}

void PrintError(const Status& status) {
  PrintError(status.message());
}

std::string HexString(std::span<const uint8_t> bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    text += kDigits[b >> 4];
    text += kDigits[b & 15];
  }
  return text;
}

std::string FloatText(float value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.9g", static_cast<double>(value));
  return buffer;
}

}  // namespace imgsearch::cli
