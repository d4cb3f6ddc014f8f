#include "model/builtin_models.h"

#include "imgsearch/embedder.h"

namespace imgsearch::model {
namespace embedded {
extern const std::string_view phash;  // generated from models/*.onnx at build time
extern const std::string_view color_layout;
}  // namespace embedded

const std::vector<BuiltinModel>& BuiltinModels() {
  static const std::vector<BuiltinModel> models = {
      {"phash",
       "perceptual hash: 64-bit binary vector from the low frequencies of a 32x32 grey DCT "
       "(near-duplicate search with HAMMING)",
       embedded::phash},
      {"color_layout",
       "colour layout: 32-d float vector, the low-frequency DCT of an 8x8 YCbCr thumbnail "
       "(MPEG-7 style; finds images with similar colour arrangement)",
       embedded::color_layout, /*brightness_dimensions=*/16},  // 16 of Y, then 8 each of Cb, Cr
  };
  return models;
}

const BuiltinModel* FindBuiltinModel(std::string_view name) {
  for (const BuiltinModel& m : BuiltinModels()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace imgsearch::model

namespace imgsearch {

std::vector<BuiltinModelInfo> ListBuiltinModels() {
  std::vector<BuiltinModelInfo> out;
  for (const auto& m : model::BuiltinModels()) {
    out.push_back({std::string(m.name), std::string(m.description)});
  }
  return out;
}

}  // namespace imgsearch
