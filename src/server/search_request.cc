#include "server/search_request.h"

#include <charconv>
#include <cstdint>

#include "base/json.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

// The content of the first part named `name`, or "" when there is none.
std::string PartText(const httplib::MultipartFormDataMap& parts, const char* name) {
  auto it = parts.find(name);
  return it == parts.end() ? std::string() : it->second.content;
}

}  // namespace

Result<SearchCall> ParseMultipartSearch(const httplib::MultipartFormDataMap& parts) {
  auto image = parts.find("image");
  if (image == parts.end())
    return Status::InvalidArgument("multipart search needs a file field \"image\"");
  SearchCall call;
  call.query.bytes = image->second.content;
  // The label goes into the JSON answer: a file name that is not UTF-8 is not used.
  const std::string& filename = image->second.filename;
  bool usable = !filename.empty() && base::IsValidUtf8(filename);
  call.query.path = call.label = usable ? filename : "upload";
  std::string k = PartText(parts, "k");
  if (!k.empty()) {
    if (k.size() > 6 || k.find_first_not_of("0123456789") != std::string::npos)
      return Status::InvalidArgument("k must be a positive integer, not \"" + k + "\"");
    call.options.k = std::stoi(k);
  }
  call.options.filter = PartText(parts, "filter");
  call.options.fuse = PartText(parts, "fuse");
  call.options.rerank = PartText(parts, "rerank");
  call.options.exclude_self = PartText(parts, "exclude_self") == "true";
  // Several "models" fields, or one with comma-separated names.
  auto [first, last] = parts.equal_range("models");
  for (auto it = first; it != last; ++it) {
    const std::string& names = it->second.content;
    for (size_t start = 0; start <= names.size();) {
      size_t comma = std::min(names.find(',', start), names.size());
      if (comma > start) call.options.only.push_back(names.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return call;
}

Result<DuplicateOptions> ParseDuplicatesQuery(const httplib::Params& params) {
  DuplicateOptions options;
  for (const auto& [name, value] : params) {
    if (params.count(name) > 1) return Status::InvalidArgument("\"" + name + "\" given twice");
    if (name == "hash_distance") {
      if (value.empty() || value.size() > 4 ||
          value.find_first_not_of("0123456789") != std::string::npos)
        return Status::InvalidArgument("hash_distance must be a number of bits, not \"" + value +
                                       "\"");
      options.hash_distance = std::stoi(value);
    } else if (name == "similarity") {
      double similarity = 0;
      auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), similarity);
      if (value.empty() || error != std::errc() || end != value.data() + value.size())
        return Status::InvalidArgument("similarity must be a number, not \"" + value + "\"");
      options.min_similarity = similarity;
    } else if (name == "hash_model") {
      options.hash_model = value;
    } else if (name == "confirm_model") {
      options.confirm_model = value;
    } else {
      return Status::InvalidArgument("unknown parameter \"" + name +
                                     "\" (hash_distance, similarity, hash_model, confirm_model)");
    }
  }
  return options;
}

Result<SearchCall> ParseJsonSearch(std::string_view text) {
  Result<json> parsed = base::ParseJson(text);
  if (!parsed.ok()) {
    return Status::InvalidArgument("request body must be a JSON object: " +
                                   parsed.status().message());
  }
  json body = std::move(parsed).value();
  if (!body.is_object()) return Status::InvalidArgument("request body must be a JSON object");
  SearchCall call;
  try {
    if (!body.contains("id") || !body["id"].is_number_integer()) {
      return Status::InvalidArgument(
          "give \"id\" (an integer) or upload an image as multipart field \"image\"");
    }
    call.query.id = body["id"].get<int64_t>();
    call.label = "id:" + std::to_string(call.query.id);
    if (body.contains("k")) {
      // Checked here for type and size only (the library says which k it takes): a
      // float or a number past int would not survive the conversion.
      const json& k = body["k"];
      if (!k.is_number_integer() || k.get<int64_t>() < 0 || k.get<int64_t>() > INT32_MAX ||
          (k.is_number_unsigned() && k.get<uint64_t>() > INT32_MAX))
        return Status::InvalidArgument("k must be a positive integer, not " + k.dump());
      call.options.k = k.get<int>();
    }
    call.options.filter = body.value("filter", "");
    call.options.fuse = body.value("fuse", "");
    call.options.rerank = body.value("rerank", "");
    call.options.exclude_self = body.value("exclude_self", false);
    if (body.contains("models")) call.options.only = body["models"].get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("malformed search request: ") + e.what());
  }
  return call;
}

Result<nlohmann::json> ParseUploadFields(const httplib::MultipartFormDataMap& parts) {
  auto part = parts.find("fields");
  if (part == parts.end()) return json();
  auto parsed = base::ParseJson(part->second.content);
  if (!parsed.ok()) return parsed.status().WithContext("fields");
  if (!parsed->is_object()) return Status::InvalidArgument("fields must be a JSON object");
  return std::move(parsed).value();
}

}  // namespace imgsearch::server
