#include "model/quantize/calibration.h"

#include <algorithm>
#include <set>

#include "base/cpu.h"
#include "base/thread_pool.h"
#include "model/onnx_session.h"

namespace imgsearch::model::quantize {
namespace {

// The model with each of `tensors` also a graph output, serialised for ONNX Runtime.
Result<std::string> ExposeTensors(const onnx::ModelProto& model,
                                  const std::vector<std::string>& tensors) {
  onnx::ModelProto exposed = model;
  std::set<std::string> outputs;
  for (const auto& output : model.graph().output()) outputs.insert(output.name());
  for (const std::string& name : tensors) {
    if (outputs.count(name) != 0) continue;
    onnx::ValueInfoProto* info = exposed.mutable_graph()->add_output();
    info->set_name(name);
    info->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  std::string bytes;
  if (!exposed.SerializeToString(&bytes)) {
    return Status::Internal("could not serialise the model for calibration");
  }
  return bytes;
}

// Runs the images in batches and hands every output to its collector.
class Runner {
 public:
  Runner(const OnnxSession& session, const std::vector<std::string>& tensors,
         const CalibrationConfig& config, std::vector<TensorRangeCollector>* collectors)
      : session_(session),
        tensors_(tensors),
        config_(config),
        collectors_(*collectors),
        pool_(model::IntraOpThreads({config.threads, true})) {}

  Status RunAll(const CalibrationImages& images);

 private:
  Status RunBatch(const float* first, size_t count, size_t run_batch,
                  const CalibrationImages& images);

  const OnnxSession& session_;
  const std::vector<std::string>& tensors_;
  const CalibrationConfig& config_;
  std::vector<TensorRangeCollector>& collectors_;
  base::ThreadPool pool_;
  std::vector<float> padded_;
};

Status Runner::RunAll(const CalibrationImages& images) {
  const int64_t fixed = session_.inputs().empty() ? 0 : session_.inputs()[0].shape.at(0);
  const size_t chunk = fixed > 0 ? static_cast<size_t>(fixed) : config_.batch_size;
  size_t image_size = 1;
  for (int64_t d : images.image_shape) image_size *= d;
  for (size_t start = 0; start < images.count; start += chunk) {
    size_t n = std::min(chunk, images.count - start);
    IMGSEARCH_RETURN_IF_ERROR(
        RunBatch(images.tensors + start * image_size, n, fixed > 0 ? chunk : n, images));
  }
  return Status::Ok();
}

// A model fixed to batch B gets the batch's images repeated up to B; only the rows of real
// images are collected.
Status Runner::RunBatch(const float* first, size_t count, size_t run_batch,
                        const CalibrationImages& images) {
  size_t image_size = 1;
  for (int64_t d : images.image_shape) image_size *= d;
  const float* input = first;
  if (run_batch > count) {
    padded_.resize(run_batch * image_size);
    for (size_t i = 0; i < run_batch; ++i) {
      std::copy(first + (i % count) * image_size, first + (i % count + 1) * image_size,
                padded_.begin() + i * image_size);
    }
    input = padded_.data();
  }
  std::vector<int64_t> shape{static_cast<int64_t>(run_batch)};
  shape.insert(shape.end(), images.image_shape.begin(), images.image_shape.end());
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<FloatTensor> outputs,
                             session_.RunOutputs(config_.input, input, shape, tensors_));
  pool_.ParallelFor(outputs.size(), [&](size_t i) {
    size_t values = 1;
    for (int64_t d : outputs[i].shape) values *= static_cast<size_t>(d);
    bool batched = !outputs[i].shape.empty() && outputs[i].shape[0] == int64_t(run_batch);
    if (batched) values = values / run_batch * count;
    collectors_[i].Add(outputs[i].data(), values);
  });
  return Status::Ok();
}

}  // namespace

Result<std::map<std::string, TensorRangeCollector>> CollectRanges(
    const onnx::ModelProto& model, const std::vector<std::string>& tensors,
    const CalibrationImages& images, const CalibrationConfig& config) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::string bytes, ExposeTensors(model, tensors));
  SessionConfig session_config;
  session_config.intra_op_threads = config.threads;
  IMGSEARCH_ASSIGN_OR_RETURN(
      auto session,
      OnnxSession::FromBytes("the model with its activations exposed", bytes, session_config));
  std::vector<TensorRangeCollector> collectors(tensors.size(),
                                               TensorRangeCollector(config.histograms));
  Runner runner(*session, tensors, config, &collectors);
  IMGSEARCH_RETURN_IF_ERROR(runner.RunAll(images).WithContext("calibration"));
  std::map<std::string, TensorRangeCollector> ranges;
  for (size_t i = 0; i < tensors.size(); ++i) ranges.emplace(tensors[i], std::move(collectors[i]));
  return ranges;
}

}  // namespace imgsearch::model::quantize
