#include "imgsearch/embedder.h"

#include "base/cpu.h"
#include "model/onnx_session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

#include "test_util.h"

namespace imgsearch {
namespace {

using testing::FixturePath;
using testing::MakeTempDir;
using testing::ReadFileBytes;
using testing::ValueOrDie;
using testing::WriteFileBytes;

const char* kTinySpec = R"({"preprocess": {"width": 8, "height": 8, "resize": "stretch",
    "interpolation": "nearest", "scale": 1.0, "layout": "nchw"}, "normalize": "none"})";

// Copies a fixture model into a fresh folder, with `sidecar` as its JSON spec (if any).
std::string ModelWithSidecar(const std::string& model, const std::string& sidecar) {
  std::string dir = MakeTempDir();
  WriteFileBytes(dir + "/" + model + ".onnx", ReadFileBytes(FixturePath(model + ".onnx")));
  if (!sidecar.empty()) WriteFileBytes(dir + "/" + model + ".json", sidecar);
  return dir + "/" + model + ".onnx";
}

std::string NhwcSpec(const char* size = "8") {
  return std::string(R"({"preprocess": {"width": )") + size + R"(, "height": )" + size +
         R"(, "resize": "stretch", "interpolation": "nearest", "scale": 1.0, "layout": "nhwc"}, "normalize": "none"})";
}

std::vector<Image> RandomImages(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Image> images;
  for (size_t i = 0; i < count; ++i) {
    Image image;
    image.width = 5 + static_cast<int>(rng() % 20);
    image.height = 5 + static_cast<int>(rng() % 20);
    image.rgb.resize(size_t(image.width) * image.height * 3);
    for (auto& b : image.rgb) b = static_cast<uint8_t>(rng());
    images.push_back(std::move(image));
  }
  return images;
}

std::unique_ptr<Embedder> OpenOrDie(const std::string& model, EmbedderOptions options = {}) {
  auto embedder = Embedder::Open(model, options);
  EXPECT_TRUE(embedder.ok()) << embedder.status().ToString();
  return embedder.ok() ? std::move(embedder).value() : nullptr;
}

// mean_nchw / mean_nhwc output the mean of each channel of the input tensor.
std::vector<float> ChannelMeans(const Image& image, const PreprocessSpec& spec) {
  std::vector<float> tensor(spec.TensorSize());
  Preprocess(image, spec, tensor.data());
  std::vector<float> means(3, 0.0f);
  const size_t plane = size_t(spec.width) * spec.height;
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      means[c] += spec.layout == TensorLayout::kNchw ? tensor[c * plane + i] : tensor[i * 3 + c];
    }
  }
  for (float& m : means) m /= static_cast<float>(plane);
  return means;
}

TEST(EmbedderTest, OutputsAreWhatTheModelComputesInBothLayouts) {
  for (auto [model, sidecar] :
       {std::pair<std::string, std::string>{"mean_nchw", kTinySpec}, {"mean_nhwc", NhwcSpec()}}) {
    auto embedder = OpenOrDie(ModelWithSidecar(model, sidecar));
    ASSERT_NE(embedder, nullptr);
    EXPECT_EQ(embedder->dimension(), 3);
    EXPECT_EQ(embedder->vector_type(), VectorType::kFloat);
    auto images = RandomImages(5, 1);
    auto vectors = embedder->Embed(images);
    ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
    ASSERT_EQ(vectors->count, 5u);
    for (size_t i = 0; i < images.size(); ++i) {
      std::vector<float> want = ChannelMeans(images[i], embedder->spec().preprocess);
      for (int c = 0; c < 3; ++c) EXPECT_NEAR(vectors->FloatVector(i)[c], want[c], 1e-3) << model;
    }
  }
}

TEST(EmbedderTest, BatchResultsEqualSingleImageResults) {
  std::string path = ModelWithSidecar("spatial_nchw", R"({"preprocess": {"width": 4, "height": 4,
      "interpolation": "bilinear", "scale": 0.01}, "pooling": "avg"})");
  auto images = RandomImages(10, 2);
  std::vector<std::vector<float>> singles;
  EmbedderOptions one;
  one.batch_size = 1;
  auto single = OpenOrDie(path, one);
  ASSERT_NE(single, nullptr);
  for (const Image& image : images) {
    auto v = single->Embed(std::span(&image, 1));
    ASSERT_TRUE(v.ok());
    singles.emplace_back(v->floats);
  }
  for (int batch : {3, 8, 16}) {
    EmbedderOptions options;
    options.batch_size = batch;
    auto embedder = OpenOrDie(path, options);
    auto vectors = embedder->Embed(images);
    ASSERT_TRUE(vectors.ok());
    for (size_t i = 0; i < images.size(); ++i) {
      auto v = vectors->FloatVector(i);
      for (size_t d = 0; d < v.size(); ++d) EXPECT_NEAR(v[d], singles[i][d], 1e-6) << batch;
    }
  }
}

TEST(EmbedderTest, ModelsWithAFixedBatchSizeWork) {
  auto images = RandomImages(7, 3);
  auto dynamic = OpenOrDie(ModelWithSidecar("mean_nchw", kTinySpec));
  auto want = dynamic->Embed(images);
  ASSERT_TRUE(want.ok());
  for (const char* model : {"fixed_batch1", "fixed_batch4"}) {
    auto embedder = OpenOrDie(ModelWithSidecar(model, kTinySpec));
    ASSERT_NE(embedder, nullptr);
    auto got = embedder->Embed(images);
    ASSERT_TRUE(got.ok()) << model << ": " << got.status().ToString();
    ASSERT_EQ(got->floats.size(), want->floats.size());
    for (size_t i = 0; i < got->floats.size(); ++i)
      EXPECT_FLOAT_EQ(got->floats[i], want->floats[i]);
  }
}

TEST(EmbedderTest, SpatialOutputsArePooledInTheirLayout) {
  auto images = RandomImages(3, 4);
  for (const char* pooling : {"max", "avg"}) {
    auto nchw =
        OpenOrDie(ModelWithSidecar("spatial_nchw", std::string(R"({"preprocess": {"width": 4,
        "height": 4, "interpolation": "nearest"}, "normalize": "none", "pooling": ")") +
                                                       pooling + "\"}"));
    auto nhwc =
        OpenOrDie(ModelWithSidecar("spatial_nhwc", std::string(R"({"preprocess": {"width": 4,
        "height": 4, "interpolation": "nearest", "layout": "nhwc"}, "normalize": "none", "pooling": ")") +
                                                       pooling + "\"}"));
    ASSERT_NE(nchw, nullptr);
    ASSERT_NE(nhwc, nullptr);
    auto a = nchw->Embed(images), b = nhwc->Embed(images);
    ASSERT_TRUE(a.ok() && b.ok());
    for (size_t i = 0; i < images.size(); ++i) {
      Image small = images[i];
      // Per channel max / mean of the 4x4 nearest-resized image, computed directly.
      std::vector<float> tensor(nchw->spec().preprocess.TensorSize());
      Preprocess(small, nchw->spec().preprocess, tensor.data());
      for (int c = 0; c < 3; ++c) {
        float best = -1, sum = 0;
        for (int s = 0; s < 16; ++s)
          best = std::max(best, tensor[c * 16 + s]), sum += tensor[c * 16 + s];
        float want = std::string(pooling) == "max" ? best : sum / 16;
        EXPECT_NEAR(a->FloatVector(i)[c], want, 1e-4);
        EXPECT_NEAR(b->FloatVector(i)[c], want, 1e-4);
      }
    }
  }
}

TEST(EmbedderTest, L2ModeGivesUnitVectors) {
  auto embedder =
      OpenOrDie(ModelWithSidecar("mean_nchw", R"({"preprocess": {"width": 8, "height": 8}})"));
  auto vectors = embedder->Embed(RandomImages(4, 5));
  ASSERT_TRUE(vectors.ok());
  for (size_t i = 0; i < 4; ++i) {
    double norm = 0;
    for (float x : vectors->FloatVector(i)) norm += x * x;
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
}

TEST(EmbedderTest, BinaryModePacksOneBitPerValue) {
  auto embedder = OpenOrDie(ModelWithSidecar("sign48", R"({"preprocess": {"width": 4, "height": 4,
      "interpolation": "nearest", "scale": 0.00392156862745098}, "normalize": "binary"})"));
  ASSERT_NE(embedder, nullptr);
  EXPECT_EQ(embedder->vector_type(), VectorType::kBinary);
  EXPECT_EQ(embedder->dimension(), 48);
  auto images = RandomImages(3, 6);
  auto vectors = embedder->Embed(images);
  ASSERT_TRUE(vectors.ok());
  for (size_t i = 0; i < images.size(); ++i) {
    std::vector<float> tensor(48);
    Preprocess(images[i], embedder->spec().preprocess, tensor.data());
    auto bits = vectors->BinaryVector(i);
    ASSERT_EQ(bits.size(), 6u);
    for (int d = 0; d < 48; ++d) {
      bool set = bits[d / 8] >> (7 - d % 8) & 1;
      EXPECT_EQ(set, tensor[d] > 0.5f) << d;
    }
  }
}

TEST(EmbedderTest, SpecInMetadataIsUsedAndSidecarOverridesIt) {
  auto from_metadata = OpenOrDie(FixturePath("two_outputs.onnx"));
  ASSERT_NE(from_metadata, nullptr);
  EXPECT_EQ(from_metadata->spec().output, "second");  // max, per the metadata
  Image white;
  white.width = white.height = 8;
  white.rgb.assign(8 * 8 * 3, 0);
  white.rgb[0] = 255;  // one red pixel: max 255, mean 255/64
  auto v = from_metadata->Embed(std::span(&white, 1));
  ASSERT_TRUE(v.ok());
  EXPECT_FLOAT_EQ(v->FloatVector(0)[0], 255.0f);
  auto overridden = OpenOrDie(ModelWithSidecar("two_outputs", R"({"output": "first"})"));
  auto w = overridden->Embed(std::span(&white, 1));
  ASSERT_TRUE(w.ok());
  EXPECT_FLOAT_EQ(w->FloatVector(0)[0], 255.0f / 64);
  EmbedderOptions options;
  options.spec_override = R"({"output": "first"})";
  EXPECT_EQ(OpenOrDie(FixturePath("two_outputs.onnx"), options)->spec().output, "first");
}

struct BadModelCase {
  std::string model;
  std::string sidecar;
  std::string expect;
};

// "--threads 0" means every core the process may use, not ONNX Runtime's own default
// (which ran one thread on a 2-CPU machine).
TEST(EmbedderTest, DefaultThreadsAreEveryUsableCore) {
  EXPECT_EQ(model::IntraOpThreads({0, true}), base::UsableCores());
  EXPECT_EQ(model::IntraOpThreads({3, true}), 3);
}

TEST(EmbedderTest, UnusableModelsGiveClearErrors) {
  const std::vector<BadModelCase> cases = {
      {"two_inputs", kTinySpec, "2 inputs (a, b)"},
      {"not_image", kTinySpec, "not an image input"},
      {"int_input", kTinySpec, "is int64"},
      {"rank3_output", kTinySpec, "expected rank 2"},
      {"garbage", kTinySpec, "not a model ONNX Runtime can load"},
      {"mean_nchw", "", "no preprocessing is known"},
      {"mean_nchw", R"({"preset": "torch"})",
       "takes 8x8 images but the preprocessing makes 224x224"},
      {"mean_nchw", NhwcSpec(), "it looks like NCHW"},
      {"mean_nchw", R"({"preprocess": {"width": 8, "height": 8}, "input": "image"})",
       "input tensor \"image\" is not in the model"},
      {"mean_nchw", R"({"preprocess": {"width": 8, "height": 8}, "output": "z"})",
       "output tensor \"z\" is not in the model"},
      {"mean_nchw", R"({"preprocess": {"width": 8, "height": 8}, "normalize": "binary"})",
       "multiple of 8"},
      {"spatial_nchw", R"({"preprocess": {"width": 4, "height": 4}})", "set \"pooling\""},
      {"mean_nchw", R"({"preprocess": {"width": 8, "height": 8}, "pooling": "maximum"})",
       "unknown pooling"},
      // A sidecar built to be deep: refused before anything recurses over it.
      {"mean_nchw",
       R"({"preprocess": {"width": 8, "height": 8}, "extra": )" + std::string(100000, '[') +
           std::string(100000, ']') + "}",
       "nested more than 256 levels"},
  };
  for (const auto& c : cases) {
    auto embedder = Embedder::Open(ModelWithSidecar(c.model, c.sidecar));
    ASSERT_FALSE(embedder.ok()) << c.model << " " << c.sidecar;
    EXPECT_NE(embedder.status().message().find(c.expect), std::string::npos)
        << c.model << ": " << embedder.status().message();
  }
  // With the session deferred, each fails the same: at Open when the spec does not fit the
  // file's declared signature, else at the first embedding and every one after it.
  EmbedderOptions deferred;
  deferred.defer_session = true;
  const std::vector<Image> images = RandomImages(1, 3);
  for (const auto& c : cases) {
    auto embedder = Embedder::Open(ModelWithSidecar(c.model, c.sidecar), deferred);
    Status failure = embedder.status();
    for (int call = 0; call < 2 && embedder.ok(); ++call) {
      failure = (*embedder)->Embed(images).status();
      ASSERT_FALSE(failure.ok()) << c.model << " " << c.sidecar;
      EXPECT_NE(failure.message().find(c.expect), std::string::npos)
          << c.model << ", embedding " << call << ": " << failure.message();
    }
    ASSERT_FALSE(failure.ok()) << c.model << " " << c.sidecar;
    EXPECT_NE(failure.message().find(c.expect), std::string::npos)
        << c.model << ": " << failure.message();
  }
  auto missing = Embedder::Open("/no/such/model.onnx");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("neither a built-in model nor a file"),
            std::string::npos);
}

// A deferred session is made from the file at the first embedding: a file broken after
// Open fails there, as a Status that names the model, and every embedding after it too.
TEST(EmbedderTest, ADeferredSessionReportsABrokenFileAtFirstUse) {
  std::string model = ModelWithSidecar("mean_nchw", kTinySpec);
  EmbedderOptions deferred;
  deferred.defer_session = true;
  auto embedder = OpenOrDie(model, deferred);
  ASSERT_NE(embedder, nullptr);
  EXPECT_EQ(embedder->dimension(), 3);
  WriteFileBytes(model, "this is no longer an ONNX model");
  const std::vector<Image> images = RandomImages(2, 5);
  for (int call = 0; call < 2; ++call) {
    Status failure = embedder->Embed(images).status();
    ASSERT_FALSE(failure.ok());
    EXPECT_NE(failure.message().find("model \"" + model + "\""), std::string::npos)
        << failure.message();
    EXPECT_NE(failure.message().find("not a model ONNX Runtime can load"), std::string::npos)
        << failure.message();
  }
}

// Deferred or not, a model describes itself the same and embeds the same, from several
// threads at once at its first embedding.
TEST(EmbedderTest, ADeferredSessionEmbedsAsAnEagerOne) {
  for (const std::string& model : {std::string("phash"), std::string("color_layout"),
                                   ModelWithSidecar("mean_nhwc", NhwcSpec())}) {
    EmbedderOptions deferred;
    deferred.defer_session = true;
    auto eager = OpenOrDie(model), lazy = OpenOrDie(model, deferred);
    ASSERT_NE(eager, nullptr);
    ASSERT_NE(lazy, nullptr);
    EXPECT_EQ(lazy->dimension(), eager->dimension()) << model;
    EXPECT_EQ(lazy->vector_type(), eager->vector_type()) << model;
    EXPECT_EQ(ModelSpecToJson(lazy->spec()), ModelSpecToJson(eager->spec())) << model;
    const std::vector<Image> images = RandomImages(5, 11);
    Embeddings want = ValueOrDie(eager->Embed(images));
    std::vector<Embeddings> got(4);
    std::vector<std::thread> threads;
    for (auto& out : got) threads.emplace_back([&] { out = ValueOrDie(lazy->Embed(images)); });
    for (auto& t : threads) t.join();
    for (const Embeddings& e : got) {
      EXPECT_EQ(e.floats, want.floats) << model;
      EXPECT_EQ(e.bits, want.bits) << model;
    }
  }
}

TEST(EmbedderTest, NamingTheInputMakesAMultiInputModelUsable) {
  // Both inputs must be fed for Add to run: naming one is accepted at the spec level but
  // the run must then fail with a clear message rather than crash.
  std::string model = ModelWithSidecar("two_inputs", R"({"preprocess": {"width": 8,
      "height": 8}, "input": "a", "pooling": "max"})");
  auto embedder = Embedder::Open(model);
  ASSERT_FALSE(embedder.ok());
  // Which model, which call, and what ONNX Runtime said.
  const std::string& message = embedder.status().message();
  EXPECT_EQ(message.find("model \"" + model +
                         "\": ONNX Runtime failed to run the model (input "
                         "\"a\" [1, 3, 8, 8], output"),
            0u)
      << message;
  EXPECT_NE(message.find("): "), std::string::npos) << message;
}

}  // namespace
}  // namespace imgsearch
