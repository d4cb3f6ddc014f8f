// Rewrites a float model into QDQ form along a QdqPlan: the weights of each planned node
// become int8 initializers (per output channel, symmetric) read through a
// DequantizeLinear, its bias an int32 initializer read the same way, and each planned
// activation is followed by QuantizeLinear -> DequantizeLinear, whose output every
// reader of the activation then takes instead. Graph outputs keep their float values.
// Thread-compatible: mutates only the model it is given.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <string>

#include "model/quantize/qdq_plan.h"
#include "model/quantize/range_methods.h"

namespace imgsearch::model::quantize {

// `ranges` holds a range for every tensor of plan.activations. The model's default opset
// must already be 13 or later (per-axis DequantizeLinear).
Status RewriteQdq(const QdqPlan& plan, const std::map<std::string, ValueRange>& ranges,
                  onnx::ModelProto* model);

}  // namespace imgsearch::model::quantize
