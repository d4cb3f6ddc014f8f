#include "index/index_factory.h"

#include <cstdlib>
#include <set>

#include "index/flat_index.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"

namespace imgsearch::index {
namespace {

using json = nlohmann::json;

// Reads an integer parameter in [low, high], or its default when absent.
Result<int> IntParam(const json& params, const std::string& type, const char* key, int fallback,
                     int low, int high) {
  if (!params.contains(key)) return fallback;
  const json& v = params[key];
  // Milvus clients send numbers as strings too ("nlist": "128").
  long long value = 0;
  if (v.is_number_integer()) {
    value = v.get<long long>();
  } else if (v.is_string() && !v.get<std::string>().empty() &&
             v.get<std::string>().find_first_not_of("0123456789") == std::string::npos &&
             v.get<std::string>().size() < 10) {
    value = std::stoll(v.get<std::string>());
  } else {
    return Status::InvalidArgument(type + " parameter " + key + " must be an integer, got " +
                                   v.dump());
  }
  if (value < low || value > high) {
    return Status::InvalidArgument(type + " parameter " + key + " must be in [" +
                                   std::to_string(low) + ", " + std::to_string(high) + "], got " +
                                   std::to_string(value));
  }
  return static_cast<int>(value);
}

// A bool parameter: true/false, or the strings "true"/"false" that Milvus clients send.
Result<bool> BoolParam(const json& params, const std::string& type, const char* key,
                       bool fallback) {
  if (!params.contains(key)) return fallback;
  const json& v = params[key];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string() && (v == "true" || v == "True")) return true;
  if (v.is_string() && (v == "false" || v == "False")) return false;
  return Status::InvalidArgument(type + " parameter " + key + " must be true or false, got " +
                                 v.dump());
}

// A number parameter >= `low`, given as a number or a numeric string.
Result<float> FloatParam(const json& params, const std::string& type, const char* key,
                         float fallback, float low, float high) {
  if (!params.contains(key)) return fallback;
  const json& v = params[key];
  double value = 0;
  if (v.is_number()) {
    value = v.get<double>();
  } else if (v.is_string() && !v.get<std::string>().empty() && v.get<std::string>().size() < 20 &&
             v.get<std::string>().find_first_not_of("0123456789.") == std::string::npos) {
    value = std::strtod(v.get<std::string>().c_str(), nullptr);
  } else {
    return Status::InvalidArgument(type + " parameter " + key + " must be a number, got " +
                                   v.dump());
  }
  if (!(value >= low && value <= high)) {
    return Status::InvalidArgument(type + " parameter " + key + " must be in [" +
                                   std::to_string(low) + ", " + std::to_string(high) + "], got " +
                                   v.dump());
  }
  return static_cast<float>(value);
}

Result<VectorCode> CodeParam(const json& params, const std::string& type, const char* key,
                             VectorCode fallback) {
  if (!params.contains(key)) return fallback;
  if (!params[key].is_string())
    return Status::InvalidArgument(type + " parameter " + std::string(key) + " must be a string");
  Result<VectorCode> code = ParseVectorCode(params[key].get<std::string>());
  if (!code.ok())
    return Status::InvalidArgument(type + " parameter " + key + ": " + code.status().message());
  return code;
}

constexpr float kMaxRefineK = 1000;

// HNSW_SQ: Milvus 2.6's parameters. sq_type SQ8 (default), FP16 or BF16; refine_type must
// keep more than sq_type.
Result<HnswOptions> HnswSqOptions(const json& p, const std::string& type) {
  HnswOptions o;
  IMGSEARCH_ASSIGN_OR_RETURN(o.m, IntParam(p, type, "M", 16, 2, 2048));
  IMGSEARCH_ASSIGN_OR_RETURN(o.ef_construction,
                             IntParam(p, type, "efConstruction", 200, 1, 1 << 20));
  IMGSEARCH_ASSIGN_OR_RETURN(o.code, CodeParam(p, type, "sq_type", VectorCode::kSq8));
  if (o.code == VectorCode::kFp32) {
    return Status::InvalidArgument(
        "HNSW_SQ parameter sq_type must be SQ8, FP16 or BF16 (FP32 is "
        "plain HNSW)");
  }
  IMGSEARCH_ASSIGN_OR_RETURN(o.refine, BoolParam(p, type, "refine", false));
  IMGSEARCH_ASSIGN_OR_RETURN(o.refine_code, CodeParam(p, type, "refine_type", VectorCode::kFp32));
  IMGSEARCH_ASSIGN_OR_RETURN(o.refine_k, FloatParam(p, type, "refine_k", 1, 1, kMaxRefineK));
  if (!o.refine && (p.contains("refine_type") || p.contains("refine_k"))) {
    return Status::InvalidArgument("HNSW_SQ parameters refine_type and refine_k need refine: true");
  }
  if (o.refine && !IsFinerCode(o.refine_code, o.code)) {
    return Status::InvalidArgument(std::string("HNSW_SQ refine_type ") +
                                   VectorCodeName(o.refine_code) + " must keep more than sq_type " +
                                   VectorCodeName(o.code));
  }
  return o;
}

Status OnlyKnownKeys(const json& params, const std::string& type, std::set<std::string> known) {
  if (!params.is_object()) return Status::InvalidArgument("index params must be a JSON object");
  for (const auto& [key, value] : params.items()) {
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return Status::InvalidArgument(
          "index parameter \"" + key + "\" is not supported by " + type +
          (list.empty() ? " (it takes none)" : " (it takes " + list + ")"));
    }
  }
  return Status::Ok();
}

const std::set<std::string> kFloatTypes = {"FLAT",   "IVF_FLAT", "IVF_SQ8",
                                           "IVF_PQ", "HNSW",     "HNSW_SQ"};
const std::set<std::string> kBinaryTypes = {"BIN_FLAT", "BIN_IVF_FLAT"};

}  // namespace

Result<IndexDescription> ValidateIndexDescription(IndexDescription d, bool binary, size_t dim) {
  if (d.type == "AUTOINDEX") d.type = binary ? "BIN_FLAT" : "HNSW";
  if (binary && d.type == "FLAT") d.type = "BIN_FLAT";
  if (binary != IsBinaryMetric(d.metric)) {
    return Status::InvalidArgument(std::string("metric ") + MetricName(d.metric) +
                                   " does not apply to " +
                                   (binary ? "binary vectors (use HAMMING or JACCARD)"
                                           : "float vectors (use L2, IP or COSINE)"));
  }
  const auto& allowed = binary ? kBinaryTypes : kFloatTypes;
  if (!allowed.count(d.type)) {
    std::string list;
    for (const auto& t : allowed) list += (list.empty() ? "" : ", ") + t;
    return Status::InvalidArgument("index type \"" + d.type + "\" is not available for " +
                                   (binary ? "binary" : "float") + " vectors (use " + list + ")");
  }
  if (d.type == "BIN_IVF_FLAT" && d.metric != Metric::kHamming) {
    return Status::InvalidArgument("BIN_IVF_FLAT supports the HAMMING metric only");
  }
  if (d.type == "FLAT" || d.type == "BIN_FLAT") {
    IMGSEARCH_RETURN_IF_ERROR(OnlyKnownKeys(d.params, d.type, {}));
  } else if (d.type == "HNSW") {
    IMGSEARCH_RETURN_IF_ERROR(OnlyKnownKeys(d.params, d.type, {"M", "efConstruction"}));
    IMGSEARCH_RETURN_IF_ERROR(IntParam(d.params, d.type, "M", 16, 2, 2048).status());
    IMGSEARCH_RETURN_IF_ERROR(
        IntParam(d.params, d.type, "efConstruction", 200, 1, 1 << 20).status());
  } else if (d.type == "HNSW_SQ") {
    IMGSEARCH_RETURN_IF_ERROR(OnlyKnownKeys(
        d.params, d.type, {"M", "efConstruction", "sq_type", "refine", "refine_type", "refine_k"}));
    IMGSEARCH_RETURN_IF_ERROR(HnswSqOptions(d.params, d.type).status());
  } else if (d.type == "IVF_PQ") {
    IMGSEARCH_RETURN_IF_ERROR(OnlyKnownKeys(d.params, d.type, {"nlist", "m", "nbits"}));
    IMGSEARCH_RETURN_IF_ERROR(IntParam(d.params, d.type, "nlist", 128, 1, 65536).status());
    if (!d.params.contains("m")) return Status::InvalidArgument("IVF_PQ needs the parameter m");
    IMGSEARCH_ASSIGN_OR_RETURN(int m, IntParam(d.params, d.type, "m", 0, 1, 65536));
    if (dim % static_cast<size_t>(m) != 0) {
      return Status::InvalidArgument("IVF_PQ parameter m = " + std::to_string(m) +
                                     " must divide the dimension " + std::to_string(dim));
    }
    IMGSEARCH_RETURN_IF_ERROR(IntParam(d.params, d.type, "nbits", 8, 1, 16).status());
  } else {  // IVF_FLAT, IVF_SQ8, BIN_IVF_FLAT
    IMGSEARCH_RETURN_IF_ERROR(OnlyKnownKeys(d.params, d.type, {"nlist"}));
    IMGSEARCH_RETURN_IF_ERROR(IntParam(d.params, d.type, "nlist", 128, 1, 65536).status());
  }
  return d;
}

Result<std::unique_ptr<Index>> MakeIndex(const IndexDescription& description, bool binary,
                                         size_t dim) {
  IMGSEARCH_ASSIGN_OR_RETURN(IndexDescription d,
                             ValidateIndexDescription(description, binary, dim));
  const json& p = d.params;
  if (d.type == "FLAT" || d.type == "BIN_FLAT")
    return std::unique_ptr<Index>(new FlatIndex(d.metric, dim));
  if (d.type == "HNSW") {
    return std::unique_ptr<Index>(
        new HnswIndex(d.metric, dim, *IntParam(p, d.type, "M", 16, 2, 2048),
                      *IntParam(p, d.type, "efConstruction", 200, 1, 1 << 20)));
  }
  if (d.type == "HNSW_SQ") {
    return std::unique_ptr<Index>(new HnswIndex(d.metric, dim, *HnswSqOptions(p, d.type)));
  }
  IvfParams ivf;
  ivf.nlist = *IntParam(p, d.type, "nlist", 128, 1, 65536);
  IvfKind kind = IvfKind::kFlat;
  if (d.type == "IVF_SQ8") kind = IvfKind::kSq8;
  if (d.type == "BIN_IVF_FLAT") kind = IvfKind::kBinaryFlat;
  if (d.type == "IVF_PQ") {
    kind = IvfKind::kPq;
    ivf.m = *IntParam(p, d.type, "m", 0, 1, 65536);
    ivf.nbits = *IntParam(p, d.type, "nbits", 8, 1, 16);
  }
  return std::unique_ptr<Index>(new IvfIndex(kind, d.metric, dim, ivf));
}

Result<SearchParams> ParseSearchParams(const json& params) {
  SearchParams out;
  if (params.is_null()) return out;
  if (!params.is_object()) return Status::InvalidArgument("search params must be a JSON object");
  for (const auto& [key, value] : params.items()) {
    if (key == "radius" || key == "range_filter") continue;  // the store's business
    if (key == "ef") {
      IMGSEARCH_ASSIGN_OR_RETURN(out.ef, IntParam(params, "search", "ef", 0, 1, 32768));
    } else if (key == "refine_k") {
      IMGSEARCH_ASSIGN_OR_RETURN(out.refine_k,
                                 FloatParam(params, "search", "refine_k", 0, 1, kMaxRefineK));
    } else if (key == "nprobe") {
      IMGSEARCH_ASSIGN_OR_RETURN(out.nprobe, IntParam(params, "search", "nprobe", 0, 1, 65536));
    } else {
      return Status::InvalidArgument(
          "search parameter \"" + key +
          "\" is not supported (use ef, nprobe, refine_k, radius, range_filter)");
    }
  }
  return out;
}

bool IsLossy(const std::string& type) {
  return type == "IVF_SQ8" || type == "IVF_PQ";
}

}  // namespace imgsearch::index
