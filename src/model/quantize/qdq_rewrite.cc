#include "model/quantize/qdq_rewrite.h"

#include <set>

#include "model/quantize/onnx_model.h"
#include "model/quantize/quant_params.h"

namespace imgsearch::model::quantize {
namespace {

// Why activations are uint8 (asymmetric) and weights int8 (symmetric, zero point 0):
// x86's int8 dot-product instructions multiply unsigned bytes by signed bytes
// (AVX-512 VNNI's vpdpbusd, and vpmaddubsw before it), and ONNX Runtime's CPU int8
// kernels (MLAS: QLinearConv, QGemm, MatMulIntegerToFloat) are built around that U8S8
// form, with dedicated kernels when the weight zero point is 0. int8 activations would
// be shifted into uint8 first (or take slower paths), and the one-sided ranges after
// Relu/Clip would waste half of a signed grid. Asymmetric uint8 also lets a Q with
// zero point 0 stand in for a Relu, which ONNX Runtime then removes. (Without VNNI, the
// pairwise int16 sums of vpmaddubsw can saturate with U8S8; ONNX Runtime's own tool
// offers 7-bit weights for those CPUs. With VNNI, the target here, they do not.)
constexpr int32_t kActivationType = onnx::TensorProto::UINT8;

// Builds the new node list and initializers, choosing names nothing else uses.
class Rewriter {
 public:
  Rewriter(const QdqPlan& plan, const std::map<std::string, ValueRange>& ranges,
           onnx::GraphProto* graph)
      : plan_(plan), ranges_(ranges), graph_(graph) {
    CollectNames(*graph);
  }

  Status Run();

 private:
  void CollectNames(const onnx::GraphProto& graph);
  std::string UniqueName(const std::string& base);
  Result<ActivationParams> ParamsOf(const std::string& tensor) const;
  Status PlanActivations();
  void EmitActivationPair(const std::string& tensor);
  Status EmitWeights(const QuantizedNode& q, const std::string& data_input, onnx::NodeProto* node);
  std::string EmitDequantize(const std::string& source, onnx::TensorProto values,
                             onnx::TensorProto scale, onnx::TensorProto zero_point, int axis);
  void RemoveUnreadInitializers();

  const QdqPlan& plan_;
  const std::map<std::string, ValueRange>& ranges_;
  onnx::GraphProto* graph_;
  std::set<std::string> names_;
  std::map<std::string, ActivationParams> params_;  // by activation
  std::map<std::string, std::string> dequantized_;  // activation -> its DQ output
  std::vector<onnx::NodeProto> nodes_;              // the new node list
};

void Rewriter::CollectNames(const onnx::GraphProto& graph) {
  for (const auto& node : graph.node()) {
    names_.insert(node.name());
    for (const auto& name : node.input()) names_.insert(name);
    for (const auto& name : node.output()) names_.insert(name);
    for (const auto& attribute : node.attribute()) {
      if (attribute.has_g()) CollectNames(attribute.g());
      for (const auto& g : attribute.graphs()) CollectNames(g);
    }
  }
  for (const auto& tensor : graph.initializer()) names_.insert(tensor.name());
  for (const auto& info : graph.input()) names_.insert(info.name());
  for (const auto& info : graph.output()) names_.insert(info.name());
  for (const auto& info : graph.value_info()) names_.insert(info.name());
}

std::string Rewriter::UniqueName(const std::string& base) {
  std::string name = base;
  for (int i = 1; !names_.insert(name).second; ++i) name = base + "_" + std::to_string(i);
  return name;
}

// A tensor that only moves values of another shares its parameters (see QdqPlan).
Result<ActivationParams> Rewriter::ParamsOf(const std::string& tensor) const {
  std::string source = tensor;
  for (auto it = plan_.same_params_as.find(source); it != plan_.same_params_as.end();
       it = plan_.same_params_as.find(source)) {
    source = it->second;
  }
  auto range = ranges_.find(source);
  if (range == ranges_.end()) {
    return Status::Internal("no calibrated range for tensor \"" + source + "\"");
  }
  return ActivationParamsFor(range->second);
}

Status Rewriter::PlanActivations() {
  for (const std::string& tensor : plan_.activations) {
    IMGSEARCH_ASSIGN_OR_RETURN(params_[tensor], ParamsOf(tensor));
    dequantized_[tensor] = UniqueName(tensor + "_dequantized");
  }
  return Status::Ok();
}

void Rewriter::EmitActivationPair(const std::string& tensor) {
  const ActivationParams& p = params_.at(tensor);
  std::string scale = UniqueName(tensor + "_scale");
  std::string zero_point = UniqueName(tensor + "_zero_point");
  *graph_->add_initializer() = FloatTensor(scale, {}, {p.scale});
  *graph_->add_initializer() = Uint8Tensor(zero_point, {}, {p.zero_point});
  std::string quantized = UniqueName(tensor + "_quantized");
  onnx::NodeProto q;
  q.set_op_type("QuantizeLinear");
  q.set_name(UniqueName(tensor + "_QuantizeLinear"));
  for (const auto& input : {tensor, scale, zero_point}) q.add_input(input);
  q.add_output(quantized);
  onnx::NodeProto dq;
  dq.set_op_type("DequantizeLinear");
  dq.set_name(UniqueName(tensor + "_DequantizeLinear"));
  for (const auto& input : {quantized, scale, zero_point}) dq.add_input(input);
  dq.add_output(dequantized_.at(tensor));
  nodes_.push_back(std::move(q));
  nodes_.push_back(std::move(dq));
}

std::string Rewriter::EmitDequantize(const std::string& source, onnx::TensorProto values,
                                     onnx::TensorProto scale, onnx::TensorProto zero_point,
                                     int axis) {
  std::string output = UniqueName(source + "_dequantized");
  onnx::NodeProto dq;
  dq.set_op_type("DequantizeLinear");
  dq.set_name(UniqueName(source + "_DequantizeLinear"));
  dq.add_input(values.name());
  dq.add_input(scale.name());
  dq.add_input(zero_point.name());
  dq.add_output(output);
  auto* attribute = dq.add_attribute();
  attribute->set_name("axis");
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(axis);
  *graph_->add_initializer() = std::move(values);
  *graph_->add_initializer() = std::move(scale);
  *graph_->add_initializer() = std::move(zero_point);
  nodes_.push_back(std::move(dq));
  return output;
}

// Replaces the node's weights (and bias) by int8 (int32) initializers behind a
// DequantizeLinear each; the bias scale follows from the scale of `data_input`.
Status Rewriter::EmitWeights(const QuantizedNode& q, const std::string& data_input,
                             onnx::NodeProto* node) {
  const onnx::TensorProto* w = FindConstant(*graph_, node->input(1));
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<float> weights, FloatValues(*w));
  std::vector<int64_t> dims(w->dims().begin(), w->dims().end());
  ChannelQuantized cq = QuantizeWeightsPerChannel(weights, dims, q.weight_axis);
  const int64_t channels = dims[q.weight_axis];
  const std::string base = node->input(1);  // a Constant's tensor may have no name
  std::string w_out = EmitDequantize(
      base, Int8Tensor(UniqueName(base + "_quantized"), dims, cq.values),
      FloatTensor(UniqueName(base + "_scale"), {channels}, cq.scales),
      Int8Tensor(UniqueName(base + "_zero_point"), {channels}, std::vector<int8_t>(channels, 0)),
      q.weight_axis);
  node->set_input(1, w_out);
  if (!q.has_bias) return Status::Ok();

  const onnx::TensorProto* b = FindConstant(*graph_, node->input(2));
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<float> bias, FloatValues(*b));
  const float input_scale = params_.at(data_input).scale;
  std::vector<float> bias_scales(channels);
  for (int64_t c = 0; c < channels; ++c) bias_scales[c] = input_scale * cq.scales[c];
  const std::string bias_base = node->input(2);
  std::string b_out =
      EmitDequantize(bias_base,
                     Int32Tensor(UniqueName(bias_base + "_quantized"), {channels},
                                 QuantizeBias(bias, input_scale, cq.scales)),
                     FloatTensor(UniqueName(bias_base + "_scale"), {channels}, bias_scales),
                     Int32Tensor(UniqueName(bias_base + "_zero_point"), {channels},
                                 std::vector<int32_t>(channels, 0)),
                     0);
  node->set_input(2, b_out);
  return Status::Ok();
}

void CollectReads(const onnx::GraphProto& graph, std::set<std::string>* read) {
  for (const auto& node : graph.node()) {
    for (const auto& name : node.input()) read->insert(name);
    for (const auto& attribute : node.attribute()) {
      if (attribute.has_g()) CollectReads(attribute.g(), read);
      for (const auto& g : attribute.graphs()) CollectReads(g, read);
    }
  }
}

// Identity and Constant nodes that only fed the replaced weights (nothing reads them any
// more; removing one can leave another unread, hence the loop).
void RemoveUnreadConstantNodes(onnx::GraphProto* graph) {
  for (bool removed = true; removed;) {
    removed = false;
    std::set<std::string> read;
    CollectReads(*graph, &read);
    for (const auto& output : graph->output()) read.insert(output.name());
    auto* nodes = graph->mutable_node();
    for (int i = nodes->size() - 1; i >= 0; --i) {
      const onnx::NodeProto& node = nodes->Get(i);
      bool constant = node.op_type() == "Identity" || node.op_type() == "Constant";
      if (constant && node.output_size() == 1 && read.count(node.output(0)) == 0) {
        nodes->DeleteSubrange(i, 1);
        removed = true;
      }
    }
  }
}

// The float weights that the int8 copies replaced, unless something else still reads them.
void Rewriter::RemoveUnreadInitializers() {
  RemoveUnreadConstantNodes(graph_);
  std::set<std::string> read;
  CollectReads(*graph_, &read);
  for (const auto& output : graph_->output()) read.insert(output.name());
  auto* initializers = graph_->mutable_initializer();
  for (int i = initializers->size() - 1; i >= 0; --i) {
    if (read.count(initializers->Get(i).name()) == 0) initializers->DeleteSubrange(i, 1);
  }
}

Status Rewriter::Run() {
  IMGSEARCH_RETURN_IF_ERROR(PlanActivations());
  std::map<int, const QuantizedNode*> quantized;
  for (const QuantizedNode& q : plan_.nodes) quantized[q.node] = &q;
  std::set<std::string> produced;
  for (const auto& node : graph_->node())
    produced.insert(node.output().begin(), node.output().end());
  // Activations that no node produces are graph inputs: their pairs come first.
  for (const std::string& tensor : plan_.activations) {
    if (produced.count(tensor) == 0) EmitActivationPair(tensor);
  }
  for (int n = 0; n < graph_->node_size(); ++n) {
    onnx::NodeProto node = graph_->node(n);
    if (auto it = quantized.find(n); it != quantized.end()) {
      const std::string data_input = node.input(0);
      IMGSEARCH_RETURN_IF_ERROR(EmitWeights(*it->second, data_input, &node));
    }
    for (int i = 0; i < node.input_size(); ++i) {
      if (auto it = dequantized_.find(node.input(i)); it != dequantized_.end()) {
        node.set_input(i, it->second);
      }
    }
    std::vector<std::string> outputs(node.output().begin(), node.output().end());
    nodes_.push_back(std::move(node));
    for (const auto& output : outputs) {
      if (params_.count(output) != 0) EmitActivationPair(output);
    }
  }
  graph_->clear_node();
  for (auto& node : nodes_) *graph_->add_node() = std::move(node);
  RemoveUnreadInitializers();
  return Status::Ok();
}

}  // namespace

Status RewriteQdq(const QdqPlan& plan, const std::map<std::string, ValueRange>& ranges,
                  onnx::ModelProto* model) {
  if (DefaultOpset(*model) < 13) {
    return Status::Internal("QDQ rewrite needs opset 13, the model has " +
                            std::to_string(DefaultOpset(*model)));
  }
  return Rewriter(plan, ranges, model->mutable_graph()).Run();
}

}  // namespace imgsearch::model::quantize
