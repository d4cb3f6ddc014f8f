#include "model/spec_metadata.h"

#include <nlohmann/json.hpp>

#include "base/json.h"

namespace imgsearch::model {
namespace {

constexpr const char* kMetadataKeys[] = {"name",   "preset",  "preprocess",    "input",
                                         "output", "pooling", "output_layout", "normalize"};

}  // namespace

Status ApplySpecMetadata(const std::map<std::string, std::string>& metadata, ModelSpec* spec) {
  if (auto it = metadata.find("imgsearch"); it != metadata.end()) {
    return ApplyModelSpecJson(it->second, spec);
  }
  nlohmann::json object = nlohmann::json::object();
  for (const char* key : kMetadataKeys) {
    auto it = metadata.find(key);
    if (it == metadata.end()) continue;
    // A value that is not JSON (or too deep to be a spec value) is taken as a plain string.
    auto parsed = base::ParseJson(it->second);
    if (!parsed.ok() && !base::IsValidUtf8(it->second))
      return Status::InvalidArgument(std::string("metadata key \"") + key + "\" is not UTF-8 text");
    object[key] = parsed.ok() ? std::move(parsed).value() : nlohmann::json(it->second);
  }
  if (object.empty()) return Status::Ok();
  return ApplyModelSpecJson(object.dump(), spec);
}

}  // namespace imgsearch::model
