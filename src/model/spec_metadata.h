// A model spec carried in an ONNX file's metadata (the custom key/value pairs), as
// tools/make_builtin_models.py writes it for the built-in models.
#pragma once

#include <map>
#include <string>

#include "imgsearch/model_spec.h"

namespace imgsearch::model {

// Applies the spec in `metadata` to `spec`: either the whole JSON object under the key
// "imgsearch", or the spec's top-level keys one by one (a value is parsed as JSON when it
// is JSON, else taken as a string). Metadata with none of these keys changes nothing.
Status ApplySpecMetadata(const std::map<std::string, std::string>& metadata, ModelSpec* spec);

}  // namespace imgsearch::model
