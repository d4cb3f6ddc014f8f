#include "model/onnx_graph_summary.h"

#include <cstdint>

namespace imgsearch::model {
namespace {

// Field numbers of onnx.proto.
constexpr uint32_t kModelProducerName = 2;
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphNode = 1;
constexpr uint32_t kNodeName = 3;
constexpr uint32_t kNodeOpType = 4;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// One protobuf message's bytes, read field by field.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : rest_(bytes) {}
  bool done() const { return rest_.empty(); }

  // Reads the next field's number and wire type; a length-delimited field's bytes go to
  // `payload`, other values are skipped.
  Status Next(uint32_t* field, std::string_view* payload) {
    uint64_t key = 0;
    IMGSEARCH_RETURN_IF_ERROR(Varint(&key));
    *field = static_cast<uint32_t>(key >> 3);
    *payload = {};
    switch (key & 7) {
      case kVarint: {
        uint64_t ignored = 0;
        return Varint(&ignored);
      }
      case kFixed64:
        return Skip(8);
      case kFixed32:
        return Skip(4);
      case kLengthDelimited: {
        uint64_t length = 0;
        IMGSEARCH_RETURN_IF_ERROR(Varint(&length));
        if (length > rest_.size()) return Truncated();
        *payload = rest_.substr(0, length);
        rest_.remove_prefix(length);
        return Status::Ok();
      }
      default:
        return Status::Corruption("not an ONNX model: protobuf wire type " +
                                  std::to_string(key & 7) + " is not used by onnx.proto");
    }
  }

 private:
  static Status Truncated() { return Status::Corruption("not an ONNX model: truncated field"); }

  Status Varint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) return Truncated();
      auto byte = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return Status::Ok();
    }
    return Status::Corruption("not an ONNX model: a varint longer than 10 bytes");
  }

  Status Skip(size_t n) {
    if (n > rest_.size()) return Truncated();
    rest_.remove_prefix(n);
    return Status::Ok();
  }

  std::string_view rest_;
};

Status ReadNode(std::string_view bytes, GraphSummary* summary) {
  std::string name, op;
  WireReader node(bytes);
  while (!node.done()) {
    uint32_t field = 0;
    std::string_view payload;
    IMGSEARCH_RETURN_IF_ERROR(node.Next(&field, &payload));
    if (field == kNodeName) name = payload;
    if (field == kNodeOpType) op = payload;
  }
  summary->node_names.push_back(std::move(name));
  summary->node_ops.push_back(std::move(op));
  return Status::Ok();
}

Status ReadGraph(std::string_view bytes, GraphSummary* summary) {
  WireReader graph(bytes);
  while (!graph.done()) {
    uint32_t field = 0;
    std::string_view payload;
    IMGSEARCH_RETURN_IF_ERROR(graph.Next(&field, &payload));
    if (field == kGraphNode) IMGSEARCH_RETURN_IF_ERROR(ReadNode(payload, summary));
  }
  return Status::Ok();
}

}  // namespace

Result<GraphSummary> ReadGraphSummary(std::string_view onnx_bytes) {
  GraphSummary summary;
  WireReader model(onnx_bytes);
  bool has_graph = false;
  while (!model.done()) {
    uint32_t field = 0;
    std::string_view payload;
    IMGSEARCH_RETURN_IF_ERROR(model.Next(&field, &payload));
    if (field == kModelProducerName) summary.producer_name = payload;
    if (field == kModelGraph) {
      IMGSEARCH_RETURN_IF_ERROR(ReadGraph(payload, &summary));
      has_graph = true;
    }
  }
  if (!has_graph) return Status::Corruption("not an ONNX model: no graph");
  return summary;
}

}  // namespace imgsearch::model
