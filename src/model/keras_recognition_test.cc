#include "model/keras_recognition.h"

#include <gtest/gtest.h>

#include <string>

#include "model/onnx_graph_summary.h"

namespace imgsearch::model {
namespace {

// Protobuf wire format, just enough to write ONNX ModelProto bytes by hand.
std::string Varint(uint64_t v) {
  std::string out;
  do {
    out += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
  return out;
}
std::string Bytes(uint32_t field, const std::string& payload) {
  return Varint(field << 3 | 2) + Varint(payload.size()) + payload;
}
std::string Number(uint32_t field, uint64_t value) {
  return Varint(field << 3) + Varint(value);
}

// A ModelProto: ir_version, producer, a graph with the given nodes and one initializer.
std::string ModelBytes(const std::string& producer, const std::vector<std::string>& nodes) {
  std::string graph;
  for (const std::string& name : nodes) {
    graph += Bytes(1, Bytes(1, "x") + Bytes(2, "y") + Bytes(3, name) + Bytes(4, "Relu"));
  }
  graph += Bytes(2, "graph") + Bytes(5, Bytes(8, "weights") + std::string(64, '\0'));
  return Number(1, 8) + Bytes(2, producer) + Bytes(3, "1.17.0") + Bytes(7, graph) +
         Varint(8 << 3 | 5) + "abcd" + Varint(9 << 3 | 1) + "abcdefgh";
}

GraphSummary Summary(const std::string& producer, const std::vector<std::string>& nodes) {
  auto summary = ReadGraphSummary(ModelBytes(producer, nodes));
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  return summary.ok() ? *summary : GraphSummary{};
}

const std::vector<std::string> kResNetKeras2 = {
    "StatefulPartitionedCall/resnet50/conv1_conv/Conv2D__6",
    "StatefulPartitionedCall/resnet50/conv1_relu/Relu",
    "StatefulPartitionedCall/resnet50/pool1_pool/MaxPool",
    "StatefulPartitionedCall/resnet50/conv2_block1_out/Relu", "Conv__55"};
const std::vector<std::string> kVggKeras3 = {
    "StatefulPartitionedCall/vgg16_1/block1_conv1_1/convolution",
    "StatefulPartitionedCall/vgg16_1/block1_pool_1/MaxPool2d",
    "StatefulPartitionedCall/vgg16_1/block5_pool_1/MaxPool2d"};

TEST(GraphSummaryTest, ReadsProducerAndNodesAndSkipsTheRest) {
  GraphSummary s = Summary("tf2onnx", {"a/b", "c"});
  EXPECT_EQ(s.producer_name, "tf2onnx");
  EXPECT_EQ(s.node_names, (std::vector<std::string>{"a/b", "c"}));
  EXPECT_EQ(s.node_ops, (std::vector<std::string>{"Relu", "Relu"}));
}

TEST(GraphSummaryTest, EveryTruncationIsRefusedNeverOverread) {
  std::string bytes = ModelBytes("tf2onnx", kResNetKeras2);
  for (size_t n = 0; n < bytes.size(); ++n) {
    // A copy of exactly n bytes, so that a read past it is caught under ASan.
    std::string prefix = bytes.substr(0, n);
    auto summary = ReadGraphSummary(prefix);
    if (!summary.ok()) {
      EXPECT_EQ(summary.status().code(), StatusCode::kCorruption);
    }
  }
  EXPECT_FALSE(ReadGraphSummary("").ok());                     // no graph
  EXPECT_FALSE(ReadGraphSummary(Number(1, 8) + "\x0b").ok());  // wire type 3 (groups)
  EXPECT_FALSE(ReadGraphSummary(std::string(11, '\xff')).ok());
}

TEST(KerasRecognitionTest, KnowsResNetAndVggUnderKeras2AndKeras3Names) {
  auto resnet = RecognizeKerasApplication(Summary("tf2onnx", kResNetKeras2));
  ASSERT_TRUE(resnet.has_value());
  EXPECT_EQ(resnet->family, "ResNet");
  EXPECT_EQ(resnet->model, "resnet50");
  EXPECT_EQ(resnet->preset, "keras-caffe");
  auto vgg = RecognizeKerasApplication(Summary("tf2onnx", kVggKeras3));
  ASSERT_TRUE(vgg.has_value());
  EXPECT_EQ(vgg->family, "VGG");
  EXPECT_EQ(vgg->model, "vgg16");
}

TEST(KerasRecognitionTest, DoesNotGuessForOtherPreprocessing) {
  // ResNet50V2 has the same layer names but "tf" preprocessing; its model name differs.
  const std::vector<std::string> v2 = {
      "StatefulPartitionedCall/resnet50v2/conv1_conv/Conv2D",
      "StatefulPartitionedCall/resnet50v2/pool1_pool/MaxPool",
      "StatefulPartitionedCall/resnet50v2/conv2_block1_preact_relu/Relu",
      "StatefulPartitionedCall/resnet50v2/conv2_block1_out/add"};
  EXPECT_FALSE(RecognizeKerasApplication(Summary("tf2onnx", v2)).has_value());
  // The model's name alone is not enough: the layers must be there too.
  EXPECT_FALSE(RecognizeKerasApplication(
                   Summary("tf2onnx", {"StatefulPartitionedCall/resnet50/stem/Conv2D"}))
                   .has_value());
  EXPECT_FALSE(RecognizeKerasApplication(Summary("tf2onnx", {"custom/features/Max"})).has_value());
}

TEST(KerasRecognitionTest, OnlyTf2OnnxGraphsWithAnOpenSizedNhwcInput) {
  GraphSummary tf2onnx = Summary("tf2onnx", kResNetKeras2);
  EXPECT_TRUE(IsTf2OnnxNhwcGraph(tf2onnx, {-1, -1, -1, 3}));
  EXPECT_FALSE(IsTf2OnnxNhwcGraph(tf2onnx, {-1, 224, 224, 3}));  // a fixed size: another model
  EXPECT_FALSE(IsTf2OnnxNhwcGraph(tf2onnx, {-1, 3, -1, -1}));    // NCHW
  EXPECT_FALSE(IsTf2OnnxNhwcGraph(tf2onnx, {-1, -1, 3}));
  EXPECT_FALSE(IsTf2OnnxNhwcGraph(Summary("pytorch", kResNetKeras2), {-1, -1, -1, 3}));
}

}  // namespace
}  // namespace imgsearch::model
