#include "imgsearch/model_spec.h"

#include <gtest/gtest.h>

#include "model/spec_metadata.h"

namespace imgsearch {
namespace {

TEST(ModelSpecTest, PresetThenPreprocessOverrides) {
  ModelSpec spec;
  ASSERT_TRUE(ApplyModelSpecJson(R"({"name": "resnet50", "preset": "keras-caffe",
      "preprocess": {"interpolation": "bilinear", "width": 256},
      "pooling": "max", "normalize": "none", "input": "in", "output": "out"})",
                                 &spec)
                  .ok());
  EXPECT_EQ(spec.name, "resnet50");
  EXPECT_EQ(spec.preset, "keras-caffe");
  EXPECT_TRUE(spec.has_preprocess);
  EXPECT_EQ(spec.preprocess.channel_order, ChannelOrder::kBgr);        // from the preset
  EXPECT_EQ(spec.preprocess.interpolation, Interpolation::kBilinear);  // overridden
  EXPECT_EQ(spec.preprocess.width, 256);
  EXPECT_EQ(spec.pooling, Pooling::kMax);
  EXPECT_EQ(spec.mode, OutputMode::kRaw);
  EXPECT_EQ(spec.input, "in");
  EXPECT_EQ(spec.output, "out");
}

TEST(ModelSpecTest, RoundTripsThroughJson) {
  ModelSpec spec;
  ASSERT_TRUE(
      ApplyModelSpecJson(R"({"preset": "clip", "pooling": "avg", "normalize": "binary"})", &spec)
          .ok());
  ModelSpec copy;
  ASSERT_TRUE(ApplyModelSpecJson(ModelSpecToJson(spec), &copy).ok());
  EXPECT_EQ(ModelSpecToJson(copy), ModelSpecToJson(spec));
  EXPECT_EQ(copy.preprocess.interpolation, Interpolation::kBicubic);
}

// "quantized" (written by imgsearch quantize) is kept as its JSON object and round-trips.
TEST(ModelSpecTest, QuantizedKeyIsAnObjectThatRoundTrips) {
  ModelSpec spec;
  ASSERT_TRUE(
      ApplyModelSpecJson(R"({"preset": "torch", "quantized": {"method": "entropy"}})", &spec).ok());
  EXPECT_EQ(spec.quantized, R"({"method":"entropy"})");
  ModelSpec again;
  ASSERT_TRUE(ApplyModelSpecJson(ModelSpecToJson(spec), &again).ok());
  EXPECT_EQ(again.quantized, spec.quantized);
  EXPECT_FALSE(ApplyModelSpecJson(R"({"quantized": "yes"})", &spec).ok());
  EXPECT_EQ(ModelSpecSidecarPath("/m/resnet50.onnx"), "/m/resnet50.json");
  EXPECT_EQ(ModelSpecSidecarPath("/m/model"), "/m/model.json");
}

TEST(ModelSpecTest, ErrorsNameTheProblem) {
  struct Case {
    const char* json;
    const char* expect;
  };
  for (Case c : {Case{"{", "not valid JSON"}, Case{"[1]", "JSON object"},
                 Case{R"({"presett": "torch"})", "unknown model spec key \"presett\""},
                 Case{R"({"preset": "caffe"})", "unknown preprocessing preset"},
                 Case{R"({"pooling": "median"})", "unknown pooling"},
                 Case{R"({"normalize": "l1"})", "unknown normalize mode"},
                 Case{R"({"preprocess": {"mean": [1, 2]}})", "array of 3 numbers"},
                 Case{R"({"preprocess": {"width": "224"}})", "an integer"},
                 Case{R"({"preprocess": {"widht": 224}})", "unknown preprocess key"},
                 Case{R"({"preprocess": {"std": [1, 0, 1]}})", "nonzero"},
                 Case{R"({"preprocess": {"layout": "nwhc"}})", "unknown layout"},
                 Case{R"({"input": 3})", "a string"},
                 // Found by fuzz/model_spec_fuzzer: out of a float's or an int's range,
                 // the conversion was undefined or wrapped (4294967520 read as 224).
                 Case{R"({"preprocess": {"scale": 1e300}})", "a number"},
                 Case{R"({"preprocess": {"mean": [0, 1e39, 0]}})", "array of 3 numbers"},
                 Case{R"({"preprocess": {"width": 4294967520}})", "an integer"}}) {
    ModelSpec spec;
    Status s = ApplyModelSpecJson(c.json, &spec);
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << c.json << " -> " << s.message();
  }
}

// The spec in an ONNX file's metadata: whole under "imgsearch", or key by key with plain
// strings allowed. Found by fuzz/model_spec_fuzzer: a value that is neither JSON nor UTF-8
// made the JSON dump throw out of Embedder::Open; it is an error now.
TEST(ModelSpecTest, MetadataKeyByKeyAndNotUtf8) {
  ModelSpec spec;
  ASSERT_TRUE(model::ApplySpecMetadata({{"preset", "torch"}, {"pooling", "avg"}}, &spec).ok());
  EXPECT_EQ(spec.preset, "torch");
  EXPECT_EQ(spec.pooling, Pooling::kAvg);
  ModelSpec whole;
  ASSERT_TRUE(model::ApplySpecMetadata({{"imgsearch", R"({"normalize": "binary"})"}}, &whole).ok());
  EXPECT_EQ(whole.mode, OutputMode::kBinary);
  Status bad = model::ApplySpecMetadata({{"name", "caf\xe9"}}, &spec);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("not UTF-8"), std::string::npos) << bad.message();
}

// The recipe's files with their preprocessing in one word: --model
// r=onnx_resnet50.onnx:keras-caffe.
TEST(ModelSpecTest, PresetGivenWithThePath) {
  ModelReference r = SplitModelPreset("dir/onnx_resnet50.onnx:keras-caffe");
  EXPECT_EQ(r.path, "dir/onnx_resnet50.onnx");
  EXPECT_EQ(r.preset, "keras-caffe");
  EXPECT_EQ(SplitModelPreset("a:b.onnx:torch").path, "a:b.onnx");
  for (const char* whole : {"model.onnx", "model.onnx:nonsense", ":keras-caffe", "dir:x/m.onnx"}) {
    ModelReference kept = SplitModelPreset(whole);
    EXPECT_EQ(kept.path, whole);
    EXPECT_EQ(kept.preset, "");
  }
}

}  // namespace
}  // namespace imgsearch
