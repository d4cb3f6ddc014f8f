#include "server/search_request.h"

#include <charconv>
#include <cstdint>
#include <map>

#include "base/json.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

// The content of the first part named `name`, or "" when there is none.
std::string PartText(const httplib::MultipartFormDataMap& parts, const char* name) {
  auto it = parts.find(name);
  return it == parts.end() ? std::string() : it->second.content;
}

// A cutoff: a number for every model of its kind, or {"MODEL": number, ...}.
Status ReadCutoffs(const json& value, const char* key, std::map<std::string, double>* cutoffs) {
  if (value.is_number()) {
    (*cutoffs)[""] = value.get<double>();
    return Status::Ok();
  }
  if (!value.is_object())
    return Status::InvalidArgument(std::string(key) +
                                   " must be a number or an object of numbers by model");
  for (const auto& [model, cutoff] : value.items()) {
    if (!cutoff.is_number())
      return Status::InvalidArgument(std::string(key) + " of \"" + model + "\" must be a number");
    (*cutoffs)[model] = cutoff.get<double>();
  }
  return Status::Ok();
}

// The keys a search's results are cut off, ordered, paged and cropped by, as JSON values:
// "max_distance", "min_score", "min_fused_score", "order", "date_field", "offset", "crop".
Status ReadResultShape(const json& body, SearchOptions* options) {
  if (auto it = body.find("max_distance"); it != body.end())
    IMGSEARCH_RETURN_IF_ERROR(ReadCutoffs(*it, "max_distance", &options->max_distance));
  if (auto it = body.find("min_score"); it != body.end())
    IMGSEARCH_RETURN_IF_ERROR(ReadCutoffs(*it, "min_score", &options->min_score));
  if (auto it = body.find("min_fused_score"); it != body.end()) {
    if (!it->is_number()) return Status::InvalidArgument("min_fused_score must be a number");
    options->min_fused_score = it->get<double>();
  }
  if (auto it = body.find("order"); it != body.end()) {
    if (!it->is_string()) return Status::InvalidArgument("order must be a string");
    options->order = it->get<std::string>();
  }
  if (auto it = body.find("date_field"); it != body.end()) {
    if (!it->is_string()) return Status::InvalidArgument("date_field must be a string");
    options->date_field = it->get<std::string>();
  }
  if (auto it = body.find("offset"); it != body.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > kMaxSearchDepth)
      return Status::InvalidArgument("offset must be an integer from 0 to " +
                                     std::to_string(kMaxSearchDepth));
    options->offset = it->get<int>();
  }
  if (auto it = body.find("crop"); it != body.end()) {
    bool box = it->is_array() && it->size() == 4;
    for (size_t i = 0; box && i < 4; ++i)
      box = (*it)[i].is_number_integer() && (*it)[i].get<int64_t>() >= 0 &&
            (*it)[i].get<int64_t>() <= INT32_MAX;
    if (!box) return Status::InvalidArgument("crop must be [x, y, width, height] in whole pixels");
    options->crop =
        CropBox{(*it)[0].get<int>(), (*it)[1].get<int>(), (*it)[2].get<int>(), (*it)[3].get<int>()};
  }
  return Status::Ok();
}

// The same keys from multipart text fields: JSON values, and "crop" also as "X,Y,W,H".
Status ReadResultShapeParts(const httplib::MultipartFormDataMap& parts, SearchOptions* options) {
  json body = json::object();
  for (const char* key : {"max_distance", "min_score", "min_fused_score", "offset", "crop"}) {
    std::string text = PartText(parts, key);
    if (text.empty()) continue;
    if (std::string_view(key) == "crop" && text.front() != '[') text = "[" + text + "]";
    auto value = base::ParseJson(text);
    if (!value.ok())
      return Status::InvalidArgument(std::string(key) + ": \"" + text + "\" is not a value");
    body[key] = *value;
  }
  for (const char* key : {"order", "date_field"}) {
    if (parts.count(key)) body[key] = PartText(parts, key);
  }
  return ReadResultShape(body, options);
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
  IMGSEARCH_RETURN_IF_ERROR(ReadResultShapeParts(parts, &call.options));
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
    } else if (name == "rotations") {
      if (value != "true" && value != "false")
        return Status::InvalidArgument("rotations must be true or false, not \"" + value + "\"");
      options.rotations = value == "true";
    } else {
      return Status::InvalidArgument(
          "unknown parameter \"" + name +
          "\" (hash_distance, similarity, hash_model, confirm_model, rotations)");
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
    IMGSEARCH_RETURN_IF_ERROR(ReadResultShape(body, &call.options));
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
