// The named preprocessing presets and the text names of the preprocessing enums.
#include "imgsearch/preprocess.h"

namespace imgsearch {
namespace {

PreprocessSpec KerasCaffe() {
  // keras.utils.load_img(path, target_size=(224, 224)) then
  // keras.applications.resnet50.preprocess_input: RGB->BGR, minus the ImageNet means.
  PreprocessSpec s;
  s.resize = ResizeMode::kStretch;
  s.interpolation = Interpolation::kNearest;
  s.channel_order = ChannelOrder::kBgr;
  s.mean = {103.939f, 116.779f, 123.68f};
  s.layout = TensorLayout::kNhwc;
  return s;
}

PreprocessSpec Torch() {
  // torchvision: Resize(256), CenterCrop(224), ToTensor(), Normalize(ImageNet).
  PreprocessSpec s;
  s.resize = ResizeMode::kCenterCrop;
  s.resize_shorter = 256;
  s.interpolation = Interpolation::kBilinear;
  s.scale = 1.0f / 255.0f;
  s.mean = {0.485f, 0.456f, 0.406f};
  s.std = {0.229f, 0.224f, 0.225f};
  s.layout = TensorLayout::kNchw;
  return s;
}

PreprocessSpec Tf() {
  // Keras "tf" mode (MobileNet, Inception, Xception): load_img, then x / 127.5 - 1.
  PreprocessSpec s;
  s.resize = ResizeMode::kStretch;
  s.interpolation = Interpolation::kNearest;
  s.scale = 1.0f / 127.5f;
  s.mean = {1.0f, 1.0f, 1.0f};
  s.layout = TensorLayout::kNhwc;
  return s;
}

PreprocessSpec Clip() {
  // OpenAI CLIP: bicubic resize of the shorter side to 224, centre crop, CLIP mean/std.
  PreprocessSpec s;
  s.resize = ResizeMode::kCenterCrop;
  s.resize_shorter = 224;
  s.interpolation = Interpolation::kBicubic;
  s.scale = 1.0f / 255.0f;
  s.mean = {0.48145466f, 0.4578275f, 0.40821073f};
  s.std = {0.26862954f, 0.26130258f, 0.27577711f};
  s.layout = TensorLayout::kNchw;
  return s;
}

template <typename E>
struct NamedValue {
  const char* name;
  E value;
};

constexpr NamedValue<Interpolation> kInterpolations[] = {{"nearest", Interpolation::kNearest},
                                                         {"bilinear", Interpolation::kBilinear},
                                                         {"bicubic", Interpolation::kBicubic},
                                                         {"area", Interpolation::kArea}};
constexpr NamedValue<ResizeMode> kResizeModes[] = {{"stretch", ResizeMode::kStretch},
                                                   {"center_crop", ResizeMode::kCenterCrop}};
constexpr NamedValue<ChannelOrder> kChannelOrders[] = {{"rgb", ChannelOrder::kRgb},
                                                       {"bgr", ChannelOrder::kBgr}};
constexpr NamedValue<TensorLayout> kLayouts[] = {{"nchw", TensorLayout::kNchw},
                                                 {"nhwc", TensorLayout::kNhwc}};

template <typename E, size_t N>
Result<E> ParseNamed(const NamedValue<E> (&table)[N], std::string_view name, const char* what) {
  std::string choices;
  for (const auto& entry : table) {
    if (name == entry.name) return entry.value;
    choices += choices.empty() ? entry.name : std::string(", ") + entry.name;
  }
  return Status::InvalidArgument("unknown " + std::string(what) + " \"" + std::string(name) +
                                 "\" (expected one of: " + choices + ")");
}

template <typename E, size_t N>
const char* NameOf(const NamedValue<E> (&table)[N], E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

}  // namespace

Result<PreprocessSpec> PreprocessPreset(std::string_view name) {
  if (name == "keras-caffe") return KerasCaffe();
  if (name == "torch") return Torch();
  if (name == "tf") return Tf();
  if (name == "clip") return Clip();
  return Status::NotFound("unknown preprocessing preset \"" + std::string(name) +
                          "\" (expected keras-caffe, torch, tf or clip)");
}

std::vector<std::string> PreprocessPresetNames() {
  return {"keras-caffe", "torch", "tf", "clip"};
}

Result<Interpolation> ParseInterpolation(std::string_view name) {
  return ParseNamed(kInterpolations, name, "interpolation");
}
Result<ResizeMode> ParseResizeMode(std::string_view name) {
  return ParseNamed(kResizeModes, name, "resize mode");
}
Result<ChannelOrder> ParseChannelOrder(std::string_view name) {
  return ParseNamed(kChannelOrders, name, "channel order");
}
Result<TensorLayout> ParseTensorLayout(std::string_view name) {
  return ParseNamed(kLayouts, name, "layout");
}
const char* InterpolationName(Interpolation v) {
  return NameOf(kInterpolations, v);
}
const char* ResizeModeName(ResizeMode v) {
  return NameOf(kResizeModes, v);
}
const char* ChannelOrderName(ChannelOrder v) {
  return NameOf(kChannelOrders, v);
}
const char* TensorLayoutName(TensorLayout v) {
  return NameOf(kLayouts, v);
}

}  // namespace imgsearch
