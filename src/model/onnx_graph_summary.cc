#include "model/onnx_graph_summary.h"

#include <cstdint>
#include <set>

namespace imgsearch::model {
namespace {

// Field numbers of onnx.proto.
constexpr uint32_t kModelProducerName = 2;
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphNode = 1;
constexpr uint32_t kNodeName = 3;
constexpr uint32_t kNodeOpType = 4;
constexpr uint32_t kModelMetadataProps = 14;
constexpr uint32_t kEntryKey = 1, kEntryValue = 2;  // StringStringEntryProto
constexpr uint32_t kGraphInitializer = 5, kGraphInput = 11, kGraphOutput = 12;
constexpr uint32_t kTensorName = 8;                         // TensorProto
constexpr uint32_t kValueInfoName = 1, kValueInfoType = 2;  // ValueInfoProto
constexpr uint32_t kTypeTensor = 1;                         // TypeProto.tensor_type
constexpr uint32_t kTensorTypeElem = 1, kTensorTypeShape = 2;
constexpr uint32_t kShapeDim = 1;  // TensorShapeProto
constexpr uint32_t kDimValue = 1;  // TensorShapeProto.Dimension

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// One protobuf message's bytes, read field by field.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : rest_(bytes) {}
  bool done() const { return rest_.empty(); }

  // Reads the next field's number and wire type; a length-delimited field's bytes go to
  // `payload`, a varint's value to `value` (when given), other values are skipped.
  Status Next(uint32_t* field, std::string_view* payload, uint64_t* value = nullptr) {
    uint64_t key = 0;
    IMGSEARCH_RETURN_IF_ERROR(Varint(&key));
    *field = static_cast<uint32_t>(key >> 3);
    *payload = {};
    switch (key & 7) {
      case kVarint: {
        uint64_t ignored = 0;
        return Varint(value != nullptr ? value : &ignored);
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

// Calls `each(field, payload, value)` for every field of a message.
template <typename Each>
Status ForEachField(std::string_view bytes, Each each) {
  WireReader reader(bytes);
  while (!reader.done()) {
    uint32_t field = 0;
    std::string_view payload;
    uint64_t value = 0;
    IMGSEARCH_RETURN_IF_ERROR(reader.Next(&field, &payload, &value));
    IMGSEARCH_RETURN_IF_ERROR(each(field, payload, value));
  }
  return Status::Ok();
}

Status ReadShape(std::string_view bytes, std::vector<int64_t>* shape) {
  return ForEachField(bytes, [&](uint32_t field, std::string_view dim, uint64_t) {
    if (field != kShapeDim) return Status::Ok();
    int64_t size = -1;  // a named (dim_param) or unknown dimension
    IMGSEARCH_RETURN_IF_ERROR(ForEachField(dim, [&](uint32_t f, std::string_view, uint64_t v) {
      if (f == kDimValue) size = static_cast<int64_t>(v);
      return Status::Ok();
    }));
    shape->push_back(size);
    return Status::Ok();
  });
}

Result<DeclaredTensor> ReadValueInfo(std::string_view bytes) {
  DeclaredTensor tensor;
  IMGSEARCH_RETURN_IF_ERROR(ForEachField(bytes, [&](uint32_t field, std::string_view p, uint64_t) {
    if (field == kValueInfoName) tensor.name = p;
    if (field != kValueInfoType) return Status::Ok();
    return ForEachField(p, [&](uint32_t f, std::string_view type, uint64_t) {
      if (f != kTypeTensor) return Status::Ok();
      return ForEachField(type, [&](uint32_t t, std::string_view shape, uint64_t v) {
        if (t == kTensorTypeElem) tensor.element_type = static_cast<int32_t>(v);
        return t == kTensorTypeShape ? ReadShape(shape, &tensor.shape) : Status::Ok();
      });
    });
  }));
  return tensor;
}

Status ReadSignatureGraph(std::string_view bytes, DeclaredSignature* signature) {
  std::set<std::string, std::less<>> initializers;
  std::vector<DeclaredTensor> inputs;
  IMGSEARCH_RETURN_IF_ERROR(ForEachField(bytes, [&](uint32_t field, std::string_view p, uint64_t) {
    if (field == kGraphInitializer) {
      return ForEachField(p, [&](uint32_t f, std::string_view name, uint64_t) {
        if (f == kTensorName) initializers.emplace(name);
        return Status::Ok();
      });
    }
    if (field != kGraphInput && field != kGraphOutput) return Status::Ok();
    IMGSEARCH_ASSIGN_OR_RETURN(DeclaredTensor tensor, ReadValueInfo(p));
    (field == kGraphInput ? inputs : signature->outputs).push_back(std::move(tensor));
    return Status::Ok();
  }));
  for (DeclaredTensor& input : inputs) {
    if (!initializers.count(input.name)) signature->inputs.push_back(std::move(input));
  }
  return Status::Ok();
}

}  // namespace

Result<DeclaredSignature> ReadDeclaredSignature(std::string_view onnx_bytes) {
  DeclaredSignature signature;
  bool has_graph = false;
  IMGSEARCH_RETURN_IF_ERROR(
      ForEachField(onnx_bytes, [&](uint32_t field, std::string_view p, uint64_t) {
        if (field == kModelGraph) {
          has_graph = true;
          return ReadSignatureGraph(p, &signature);
        }
        if (field != kModelMetadataProps) return Status::Ok();
        std::string key, value;
        IMGSEARCH_RETURN_IF_ERROR(ForEachField(p, [&](uint32_t f, std::string_view text, uint64_t) {
          if (f == kEntryKey) key = text;
          if (f == kEntryValue) value = text;
          return Status::Ok();
        }));
        signature.metadata[key] = value;
        return Status::Ok();
      }));
  if (!has_graph) return Status::Corruption("not an ONNX model: no graph");
  return signature;
}

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
