// Parsing JSON that comes from outside (request bodies, sidecars, ONNX metadata, files on
// disk) with a nesting limit. nlohmann's parser itself does not recurse, but copying,
// comparing and printing a parsed value do, one stack frame per level: a 100,000-level
// body would parse and then overflow the stack the first time it is copied. So a
// document nested deeper than kMaxJsonNesting is refused before it is parsed.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "imgsearch/status.h"

namespace imgsearch::base {

inline constexpr int kMaxJsonNesting = 256;

// The deepest nesting of arrays and objects in `text` (strings skipped), counting no
// further than `stop_at`. Linear time, no recursion, no allocation.
int JsonNestingDepth(std::string_view text, int stop_at = kMaxJsonNesting + 1);

// True when `text` is UTF-8 that nlohmann's serializer accepts (RFC 3629: no overlong
// forms, no surrogates). Outside text that is kept in JSON (filter strings, metadata,
// file names) must be: dumping anything else throws, far from where the text came in.
bool IsValidUtf8(std::string_view text);

// Parses `text`; InvalidArgument when it is not JSON (with the byte where it goes wrong)
// or nests deeper than kMaxJsonNesting levels.
Result<nlohmann::json> ParseJson(std::string_view text);

}  // namespace imgsearch::base
