#include "imgsearch/model_spec.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/env.h"
#include "base/json.h"

namespace imgsearch {
namespace {

using json = nlohmann::json;

Status Expect(const json& value, bool ok, const std::string& key, const char* what) {
  if (ok) return Status::Ok();
  return Status::InvalidArgument("model spec key \"" + key + "\" must be " + what + ", got " +
                                 value.dump());
}

Status ReadString(const json& value, const std::string& key, std::string* out) {
  IMGSEARCH_RETURN_IF_ERROR(Expect(value, value.is_string(), key, "a string"));
  *out = value.get<std::string>();
  return Status::Ok();
}

// A number that a float holds (a double past FLT_MAX would not convert).
bool IsFloat(const json& value) {
  return value.is_number() && std::abs(value.get<double>()) <= std::numeric_limits<float>::max();
}

Status ReadTriple(const json& value, const std::string& key, std::array<float, 3>* out) {
  bool ok = value.is_array() && value.size() == 3;
  for (size_t i = 0; ok && i < 3; ++i) ok = IsFloat(value[i]);
  IMGSEARCH_RETURN_IF_ERROR(Expect(value, ok, key, "an array of 3 numbers"));
  for (size_t i = 0; i < 3; ++i) (*out)[i] = value[i].get<float>();
  return Status::Ok();
}

template <typename E>
Status ReadEnum(const json& value, const std::string& key, Result<E> (*parse)(std::string_view),
                E* out) {
  std::string text;
  IMGSEARCH_RETURN_IF_ERROR(ReadString(value, key, &text));
  Result<E> parsed = parse(text);
  if (!parsed.ok()) return parsed.status().WithContext("model spec key \"" + key + "\"");
  *out = *parsed;
  return Status::Ok();
}

Status ReadInt(const json& value, const std::string& key, int* out) {
  bool ok = value.is_number_integer() && value.get<int64_t>() >= INT32_MIN &&
            value.get<int64_t>() <= INT32_MAX &&
            !(value.is_number_unsigned() && value.get<uint64_t>() > INT32_MAX);
  IMGSEARCH_RETURN_IF_ERROR(Expect(value, ok, key, "an integer"));
  *out = value.get<int>();
  return Status::Ok();
}

Status ApplyPreprocessKey(const std::string& key, const json& value, PreprocessSpec* p) {
  if (key == "width") return ReadInt(value, key, &p->width);
  if (key == "height") return ReadInt(value, key, &p->height);
  if (key == "resize_shorter") return ReadInt(value, key, &p->resize_shorter);
  if (key == "resize") return ReadEnum(value, key, ParseResizeMode, &p->resize);
  if (key == "interpolation") return ReadEnum(value, key, ParseInterpolation, &p->interpolation);
  if (key == "channel_order") return ReadEnum(value, key, ParseChannelOrder, &p->channel_order);
  if (key == "layout") return ReadEnum(value, key, ParseTensorLayout, &p->layout);
  if (key == "mean") return ReadTriple(value, key, &p->mean);
  if (key == "std") return ReadTriple(value, key, &p->std);
  if (key == "scale") {
    IMGSEARCH_RETURN_IF_ERROR(Expect(value, IsFloat(value), key, "a number"));
    p->scale = value.get<float>();
    return Status::Ok();
  }
  return Status::InvalidArgument("unknown preprocess key \"" + key + "\"");
}

Result<Pooling> ParsePooling(std::string_view name) {
  if (name == "none") return Pooling::kNone;
  if (name == "max") return Pooling::kMax;
  if (name == "avg") return Pooling::kAvg;
  return Status::InvalidArgument("unknown pooling \"" + std::string(name) +
                                 "\" (expected none, max or avg)");
}

Result<OutputMode> ParseOutputMode(std::string_view name) {
  if (name == "l2") return OutputMode::kL2;
  if (name == "none") return OutputMode::kRaw;
  if (name == "binary") return OutputMode::kBinary;
  return Status::InvalidArgument("unknown normalize mode \"" + std::string(name) +
                                 "\" (expected l2, none or binary)");
}

Status ApplyPreset(const json& value, ModelSpec* spec) {
  IMGSEARCH_RETURN_IF_ERROR(ReadString(value, "preset", &spec->preset));
  IMGSEARCH_ASSIGN_OR_RETURN(spec->preprocess, PreprocessPreset(spec->preset));
  spec->has_preprocess = true;
  return Status::Ok();
}

Status ApplyPreprocess(const json& value, ModelSpec* spec) {
  IMGSEARCH_RETURN_IF_ERROR(Expect(value, value.is_object(), "preprocess", "an object"));
  for (const auto& [key, item] : value.items()) {
    IMGSEARCH_RETURN_IF_ERROR(ApplyPreprocessKey(key, item, &spec->preprocess));
  }
  spec->has_preprocess = true;
  return ValidatePreprocessSpec(spec->preprocess);
}

Status ApplyTopLevelKey(const std::string& key, const json& value, ModelSpec* spec) {
  if (key == "name") return ReadString(value, key, &spec->name);
  if (key == "input") return ReadString(value, key, &spec->input);
  if (key == "output") return ReadString(value, key, &spec->output);
  if (key == "pooling") return ReadEnum(value, key, ParsePooling, &spec->pooling);
  if (key == "normalize") return ReadEnum(value, key, ParseOutputMode, &spec->mode);
  if (key == "quantized") {
    IMGSEARCH_RETURN_IF_ERROR(Expect(value, value.is_object(), key, "an object"));
    spec->quantized = value.dump();
    return Status::Ok();
  }
  if (key == "output_layout") {
    spec->has_output_layout = true;
    return ReadEnum(value, key, ParseTensorLayout, &spec->output_layout);
  }
  return Status::InvalidArgument("unknown model spec key \"" + key + "\"");
}

}  // namespace

Status ApplyModelSpecJson(std::string_view json_text, ModelSpec* spec) {
  Result<json> parsed = base::ParseJson(json_text);
  if (!parsed.ok()) return parsed.status().WithContext("model spec");
  json root = std::move(parsed).value();
  if (!root.is_object()) return Status::InvalidArgument("model spec must be a JSON object");
  if (root.contains("preset")) IMGSEARCH_RETURN_IF_ERROR(ApplyPreset(root["preset"], spec));
  if (root.contains("preprocess")) {
    IMGSEARCH_RETURN_IF_ERROR(ApplyPreprocess(root["preprocess"], spec));
  }
  for (const auto& [key, value] : root.items()) {
    if (key == "preset" || key == "preprocess") continue;
    IMGSEARCH_RETURN_IF_ERROR(ApplyTopLevelKey(key, value, spec));
  }
  return Status::Ok();
}

std::string ModelSpecToJson(const ModelSpec& spec) {
  const PreprocessSpec& p = spec.preprocess;
  json preprocess = {{"width", p.width},
                     {"height", p.height},
                     {"resize", ResizeModeName(p.resize)},
                     {"resize_shorter", p.resize_shorter},
                     {"interpolation", InterpolationName(p.interpolation)},
                     {"channel_order", ChannelOrderName(p.channel_order)},
                     {"scale", p.scale},
                     {"mean", p.mean},
                     {"std", p.std},
                     {"layout", TensorLayoutName(p.layout)}};
  json root = {{"name", spec.name},
               {"preprocess", preprocess},
               {"input", spec.input},
               {"output", spec.output},
               {"pooling", PoolingName(spec.pooling)},
               {"output_layout", TensorLayoutName(spec.output_layout)},
               {"normalize", OutputModeName(spec.mode)}};
  if (!spec.preset.empty()) root["preset"] = spec.preset;
  if (auto quantized = base::ParseJson(spec.quantized); quantized.ok()) {
    root["quantized"] = std::move(quantized).value();
  }
  return root.dump();
}

std::string ModelSpecSidecarPath(const std::string& model_path) {
  const std::string suffix = ".onnx";
  if (model_path.size() > suffix.size() &&
      model_path.compare(model_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return model_path.substr(0, model_path.size() - suffix.size()) + ".json";
  }
  return model_path + ".json";
}

ModelReference SplitModelPreset(const std::string& text) {
  size_t colon = text.find_last_of(':');
  if (colon == std::string::npos || colon == 0 || base::Env::Default()->FileExists(text))
    return {text, ""};
  std::string preset = text.substr(colon + 1);
  if (!PreprocessPreset(preset).ok()) return {text, ""};
  return {text.substr(0, colon), preset};
}

const char* PoolingName(Pooling pooling) {
  switch (pooling) {
    case Pooling::kMax:
      return "max";
    case Pooling::kAvg:
      return "avg";
    case Pooling::kNone:
      break;
  }
  return "none";
}

const char* OutputModeName(OutputMode mode) {
  switch (mode) {
    case OutputMode::kRaw:
      return "none";
    case OutputMode::kBinary:
      return "binary";
    case OutputMode::kL2:
      break;
  }
  return "l2";
}

}  // namespace imgsearch
