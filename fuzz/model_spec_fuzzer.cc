// Model specs from outside: the sidecar JSON (ApplyModelSpecJson) and the spec carried in
// an ONNX file's metadata (model::ApplySpecMetadata). The first byte chooses: even, the
// rest is a sidecar; odd, the rest is metadata, one "key=value" pair a line. (The ONNX
// protobuf itself is parsed by ONNX Runtime, a prebuilt library this build cannot
// instrument; what imgsearch does with the metadata it returns is fuzzed here.)
// Checks: a refusal is a Status; an accepted spec prints (ModelSpecToJson) to JSON that
// is accepted again and prints the same; its preprocessing is valid; and when the tensor
// is small, preprocessing a tiny image with it writes every one of its TensorSize() floats and
// no more. The same bytes are also read as an ONNX file by the summary that recognises the
// recipe's tf2onnx graphs (model::ReadGraphSummary, imgsearch's own protobuf reader).
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "imgsearch/model_spec.h"
#include "model/keras_recognition.h"
#include "model/spec_metadata.h"

namespace {

using imgsearch::ModelSpec;

std::map<std::string, std::string> MetadataOf(std::string_view text) {
  std::map<std::string, std::string> metadata;
  while (!text.empty()) {
    size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    size_t eq = line.find('=');
    if (eq != std::string_view::npos)
      metadata[std::string(line.substr(0, eq))] = line.substr(eq + 1);
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return metadata;
}

imgsearch::Image TinyImage() {
  imgsearch::Image image;
  image.width = 5;
  image.height = 3;
  for (int i = 0; i < 5 * 3 * 3; ++i) image.rgb.push_back(static_cast<uint8_t>(i * 17));
  return image;
}

void CheckAccepted(const ModelSpec& spec) {
  std::string printed = imgsearch::ModelSpecToJson(spec);
  ModelSpec again;
  imgsearch::Status reread = imgsearch::ApplyModelSpecJson(printed, &again);
  if (!reread.ok()) std::fprintf(stderr, "%s\n%s\n", printed.c_str(), reread.ToString().c_str());
  FUZZ_CHECK(reread.ok(), "a printed spec is refused when read back");
  FUZZ_CHECK(imgsearch::ModelSpecToJson(again) == printed, "a printed spec reads back different");
  if (!spec.has_preprocess) return;
  const imgsearch::PreprocessSpec& p = spec.preprocess;
  FUZZ_CHECK(imgsearch::ValidatePreprocessSpec(p).ok(),
             "an accepted spec has invalid preprocessing");
  if (p.TensorSize() > 3 * 64 * 64 || p.resize_shorter > 256) return;  // keep runs fast
  // Exactly TensorSize() floats, so that ASan sees a write past it; NaN marks the floats
  // not written (finite pixels, scale, mean and std never make a NaN).
  std::vector<float> tensor(p.TensorSize(), std::numeric_limits<float>::quiet_NaN());
  imgsearch::Preprocess(TinyImage(), p, tensor.data());
  for (float v : tensor) FUZZ_CHECK(!std::isnan(v), "preprocessing left a float unwritten");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  ModelSpec spec;
  spec.name = "fuzz";
  imgsearch::Status status = (data[0] & 1) == 0
                                 ? imgsearch::ApplyModelSpecJson(text, &spec)
                                 : imgsearch::model::ApplySpecMetadata(MetadataOf(text), &spec);
  if (status.ok()) CheckAccepted(spec);
  auto graph = imgsearch::model::ReadGraphSummary(text);
  if (graph.ok()) {
    FUZZ_CHECK(graph->node_names.size() == graph->node_ops.size(), "a node without its op");
    imgsearch::model::RecognizeKerasApplication(*graph);
  }
  return 0;
}
