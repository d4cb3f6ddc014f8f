#include "base/json.h"

#include <algorithm>
#include <string>

namespace imgsearch::base {

int JsonNestingDepth(std::string_view text, int stop_at) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest >= stop_at) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

bool IsValidUtf8(std::string_view text) {
  // The serializer's own check, so that the two can never disagree.
  try {
    (void)nlohmann::json(std::string(text)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

Result<nlohmann::json> ParseJson(std::string_view text) {
  if (JsonNestingDepth(text) > kMaxJsonNesting) {
    return Status::InvalidArgument("JSON nested more than " + std::to_string(kMaxJsonNesting) +
                                   " levels deep");
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::InvalidArgument("not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::exception& e) {
    // out_of_range 406: a number too large for a double, such as 1e400.
    return Status::InvalidArgument(std::string("not valid JSON: ") + e.what());
  }
}

}  // namespace imgsearch::base
