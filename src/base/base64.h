// Base64 (RFC 4648, standard alphabet, '=' padding): data URIs in reports and pages, and
// binary vectors in the Milvus dialect (Go's encoding of bytes).
#pragma once

#include <optional>
#include <string>

namespace imgsearch::base {

std::string Base64Encode(const std::string& bytes);
// Nothing when `text` is not well-formed padded base64.
std::optional<std::string> Base64Decode(const std::string& text);

}  // namespace imgsearch::base
