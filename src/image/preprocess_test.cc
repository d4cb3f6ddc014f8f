#include "imgsearch/preprocess.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "image/decoders.h"
#include "image/tensor.h"
#include "test_util.h"

namespace imgsearch {
namespace {

using testing::FixturePath;
using testing::ReferenceTensor;

float MaxAbsDifference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30f;
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

std::vector<float> PreprocessFile(const std::string& file, const PreprocessSpec& spec) {
  auto image = LoadImage(FixturePath(file), DecodeOptionsFor(spec));
  EXPECT_TRUE(image.ok()) << image.status().ToString();
  std::vector<float> tensor(spec.TensorSize());
  Preprocess(*image, spec, tensor.data());
  return tensor;
}

// The recipe's preprocessing: keras load_img(target_size=(224, 224)) + caffe-mode
// preprocess_input, computed by PIL + NumPy in tests/make_fixtures.py.
TEST(PreprocessTest, KerasCaffeMatchesPilNumpyReference) {
  PreprocessSpec spec = *PreprocessPreset("keras-caffe");
  for (const char* file : {"rgb.jpg", "gray.jpg", "rgb.png"}) {
    EXPECT_LE(MaxAbsDifference(PreprocessFile(file, spec),
                               ReferenceTensor(std::string("keras_caffe_") + file)),
              1e-3f)
        << file;
  }
}

TEST(PreprocessTest, TorchMatchesTorchvisionStyleReference) {
  PreprocessSpec spec = *PreprocessPreset("torch");
  EXPECT_LE(MaxAbsDifference(PreprocessFile("rgb.png", spec), ReferenceTensor("torch_rgb.png")),
            1e-3f);
}

// The same image in NCHW and NHWC holds the same values, transposed.
TEST(PreprocessTest, LayoutsAreTranspositionsOfEachOther) {
  PreprocessSpec nchw = *PreprocessPreset("torch");
  PreprocessSpec nhwc = nchw;
  nhwc.layout = TensorLayout::kNhwc;
  std::vector<float> a = PreprocessFile("rgb.jpg", nchw), b = PreprocessFile("rgb.jpg", nhwc);
  const int plane = 224 * 224;
  for (int i = 0; i < plane; i += 97) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(a[c * plane + i], b[i * 3 + c]);
  }
}

TEST(PreprocessTest, ChannelOrderScaleMeanAndStdFollowTheSpec) {
  Image image;
  image.width = image.height = 1;
  image.rgb = {10, 20, 30};
  PreprocessSpec spec;
  spec.width = spec.height = 1;
  spec.channel_order = ChannelOrder::kBgr;
  spec.scale = 0.5f;
  spec.mean = {1, 2, 3};
  spec.std = {2, 4, 8};
  float out[3];
  Preprocess(image, spec, out);
  EXPECT_FLOAT_EQ(out[0], (30 * 0.5f - 1) / 2);  // blue first
  EXPECT_FLOAT_EQ(out[1], (20 * 0.5f - 2) / 4);
  EXPECT_FLOAT_EQ(out[2], (10 * 0.5f - 3) / 8);
}

TEST(PreprocessTest, DecodeHintsKeepNearestAtFullResolution) {
  EXPECT_EQ(DecodeOptionsFor(*PreprocessPreset("keras-caffe")).min_width, 0);
  DecodeOptions torch = DecodeOptionsFor(*PreprocessPreset("torch"));
  EXPECT_EQ(torch.min_width, 512);
  EXPECT_EQ(torch.min_height, 512);
  DecodeOptions merged = MergeDecodeOptions(torch, DecodeOptionsFor(*PreprocessPreset("tf")));
  EXPECT_EQ(merged.min_width, 0);
}

TEST(PreprocessTest, PresetsAndNamesRoundTrip) {
  for (const std::string& name : PreprocessPresetNames()) EXPECT_TRUE(PreprocessPreset(name).ok());
  auto unknown = PreprocessPreset("caffe2");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("keras-caffe"), std::string::npos);
  for (auto i : {Interpolation::kNearest, Interpolation::kBilinear, Interpolation::kBicubic,
                 Interpolation::kArea}) {
    EXPECT_EQ(*ParseInterpolation(InterpolationName(i)), i);
  }
  EXPECT_FALSE(ParseInterpolation("lanczos9").ok());
  EXPECT_FALSE(ParseTensorLayout("nwhc").ok());
}

TEST(PreprocessTest, ValidationRejectsImpossibleSpecs) {
  PreprocessSpec spec;
  spec.width = 0;
  EXPECT_FALSE(ValidatePreprocessSpec(spec).ok());
  spec = PreprocessSpec();
  spec.std = {1, 0, 1};
  EXPECT_FALSE(ValidatePreprocessSpec(spec).ok());
  EXPECT_TRUE(ValidatePreprocessSpec(PreprocessSpec()).ok());
}

// The vector tensor writer against the plain loop: the same floats, bit for bit, for
// every preset, on sizes whose last pixels the vector loop leaves to the plain one.
TEST(PreprocessTest, VectorTensorWriterMatchesThePlainOne) {
  std::mt19937 rng(3);
  for (const std::string& name : PreprocessPresetNames()) {
    for (int size : {1, 7, 9, 33, 224}) {
      PreprocessSpec spec = *PreprocessPreset(name);
      spec.width = size;
      spec.height = size + 1;
      Image image = image::MakeImage(spec.width, spec.height);
      for (uint8_t& v : image.rgb) v = static_cast<uint8_t>(rng() & 0xff);
      std::vector<float> plain(spec.TensorSize()), fast(spec.TensorSize());
      image::WriteTensor(image, spec, plain.data(), false);
      image::WriteTensor(image, spec, fast.data(), true);
      EXPECT_EQ(std::memcmp(plain.data(), fast.data(), plain.size() * sizeof(float)), 0)
          << name << " " << size;
    }
  }
}

}  // namespace
}  // namespace imgsearch
