// Small helpers shared by the subcommands for printing results and errors.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "imgsearch/status.h"

namespace imgsearch::cli {

// "error: <message>" on stderr, one line.
void PrintError(const Status& status);
void PrintError(const std::string& message);

// Lower-case hexadecimal, two digits a byte.
std::string HexString(std::span<const uint8_t> bytes);

// A float printed with enough digits to read back the same value.
std::string FloatText(float value);

}  // namespace imgsearch::cli
