// End-to-end tests of the imgsearch command line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"

namespace imgsearch {
namespace {

using testing::FixturePath;
using testing::MakeTempDir;
using testing::ReadFileBytes;
using testing::RunImgsearch;
using testing::WriteFileBytes;

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(CliTest, EmbedWithBuiltinModelsOnJpegPngAndGreyJpeg) {
  auto r = RunImgsearch(
      {"embed", "--json", FixturePath("rgb.jpg"), FixturePath("rgb.png"), FixturePath("gray.jpg")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 6u);  // 3 images x 2 built-in models
  int phash = 0, color = 0;
  for (const auto& line : lines) {
    if (line["model"] == "phash") {
      ++phash;
      EXPECT_EQ(line["type"], "binary");
      EXPECT_EQ(line["vector"].size(), 8u);
    } else {
      ++color;
      EXPECT_EQ(line["model"], "color_layout");
      EXPECT_EQ(line["vector"].size(), 32u);
      double norm = 0;
      for (double x : line["vector"]) norm += x * x;
      EXPECT_NEAR(norm, 1.0, 1e-5);
    }
  }
  EXPECT_EQ(phash, 3);
  EXPECT_EQ(color, 3);
}

TEST(CliTest, EmbedPlainTextPrintsOneLinePerImageAndModel) {
  auto r = RunImgsearch({"embed", "-m", "phash", FixturePath("rgb.png")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find(FixturePath("rgb.png") + "\tphash\t"), 0u) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
}

TEST(CliTest, BrokenFilesGiveAOneLineReasonAndNonZeroExitButOthersStillEmbed) {
  std::string dir = MakeTempDir();
  std::string truncated = dir + "/truncated.jpg";
  std::string jpeg = ReadFileBytes(FixturePath("rgb.jpg"));
  WriteFileBytes(truncated, jpeg.substr(0, jpeg.size() / 2));
  std::string text = dir + "/notes.png";
  WriteFileBytes(text, "not an image at all");
  auto r = RunImgsearch(
      {"embed", "-m", "phash", truncated, FixturePath("rgb.png"), text, dir + "/missing.jpg"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: " + truncated + ": "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error: " + text + ": not an image"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dir + "/missing.jpg"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);  // the good image still printed
}

TEST(CliTest, UserModelWithPresetAndBadModels) {
  std::string dir = MakeTempDir();
  WriteFileBytes(dir + "/mean.onnx", ReadFileBytes(FixturePath("mean_nchw.onnx")));
  WriteFileBytes(dir + "/mean.json", R"({"preprocess": {"width": 8, "height": 8}})");
  auto ok = RunImgsearch({"embed", "--json", "-m", dir + "/mean.onnx", FixturePath("rgb.png")});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(JsonLines(ok.out).at(0)["dimension"], 3);
  auto bad = RunImgsearch({"embed", "-m", FixturePath("garbage.onnx"), FixturePath("rgb.png")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("not a model ONNX Runtime can load"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

// quantize: the int8 model, its sidecar and the agreement report; the result embeds like
// any model.
TEST(CliTest, QuantizeWritesAnInt8ModelThatEmbeds) {
  std::string out = MakeTempDir() + "/convnet-int8.onnx";
  auto text = RunImgsearch({"quantize", FixturePath("convnet.onnx"), "--calibrate",
                            FixturePath("calibration"), "--method", "entropy", "-o", out});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("wrote " + out), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("QLinearConv 2"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("12 held-back images: mean cosine"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("recall@10"), std::string::npos) << text.out;

  auto json = RunImgsearch({"quantize", "--json", FixturePath("convnet.onnx"), "--calibrate",
                            FixturePath("calibration"), "--images", "30", "-o", out});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto report = nlohmann::json::parse(json.out);
  EXPECT_EQ(report["method"], "percentile");
  EXPECT_EQ(report["calibration_images"], 24);
  EXPECT_EQ(report["agreement"]["on"], "all");  // 6 held back: fewer than 10 neighbours
  EXPECT_GE(report["agreement"]["mean_cosine"].get<double>(), 0.99);
  EXPECT_EQ(report["quantized_ops"]["Conv"], 2);

  auto embed = RunImgsearch({"embed", "--json", "-m", out, FixturePath("rgb.png")});
  ASSERT_EQ(embed.exit_code, 0) << embed.err;
  EXPECT_EQ(JsonLines(embed.out).at(0)["model"], "convnet-int8");
}

TEST(CliTest, QuantizeErrors) {
  std::string dir = MakeTempDir();
  auto garbage = RunImgsearch({"quantize", FixturePath("garbage.onnx"), "--calibrate",
                               FixturePath("calibration"), "-o", dir + "/g.onnx"});
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_NE(garbage.err.find("not an ONNX model"), std::string::npos) << garbage.err;
  auto no_spec = RunImgsearch({"quantize", FixturePath("convnet_no_spec.onnx"), "--calibrate",
                               FixturePath("calibration"), "-o", dir + "/n.onnx"});
  EXPECT_EQ(no_spec.exit_code, 1);
  EXPECT_NE(no_spec.err.find("no preprocessing is known"), std::string::npos) << no_spec.err;
  EXPECT_EQ(RunImgsearch({"quantize", FixturePath("convnet.onnx")}).exit_code, 2);
  EXPECT_EQ(
      RunImgsearch({"quantize", FixturePath("convnet.onnx"), "--calibrate", dir, "--method", "kl"})
          .exit_code,
      2);
}

TEST(CliTest, ModelsListsBuiltinsAndPresets) {
  auto r = RunImgsearch({"models", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::set<std::string> names, presets;
  for (const auto& m : j["models"]) names.insert(m["name"]);
  for (const auto& p : j["presets"]) presets.insert(p["name"]);
  EXPECT_TRUE(names.count("phash") && names.count("color_layout"));
  EXPECT_EQ(presets, (std::set<std::string>{"keras-caffe", "torch", "tf", "clip"}));
  auto text = RunImgsearch({"models"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("keras-caffe"), std::string::npos);
}

TEST(CliTest, HelpAndUsageErrors) {
  EXPECT_EQ(RunImgsearch({"--help"}).exit_code, 0);
  EXPECT_EQ(RunImgsearch({"embed", "--help"}).exit_code, 0);
  EXPECT_EQ(RunImgsearch({}).exit_code, 2);
  EXPECT_EQ(RunImgsearch({"embed"}).exit_code, 2);  // no images
  EXPECT_EQ(RunImgsearch({"embed", "--preset", "nope", "x.jpg"}).exit_code, 2);
  EXPECT_EQ(RunImgsearch({"frobnicate"}).exit_code, 2);
}

}  // namespace
}  // namespace imgsearch
