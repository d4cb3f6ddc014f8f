#!/usr/bin/env python3
"""What the hardware allows for the recipe's two models: the honest ceiling of (c).

  1. the work of each model, counted from its graph (multiply-adds of every Conv, MatMul and
     Gemm at a 224x224 input, shapes inferred by onnx), in GFLOP (2 per multiply-add);
  2. the machine's fp32 rate: plain ONNX Runtime on a large MatMul (SGEMM, MLAS's best
     kernel), with 1 thread and with every core, in GFLOP/s;
  3. plain ONNX Runtime running each model file at its best (one session, every core,
     ORT_ENABLE_ALL, batches of --batch, inputs ready in memory: no decoding), images/s and
     the GFLOP/s that makes; then both models per image, which is what `imgsearch index`
     does, and the images/s the GEMM rate would give at 100 % efficiency.

Run with the recipe's venv (onnx and onnxruntime):

    .deps/venv-recipe/bin/python bench/ort_ceiling.py --models .deps/recipe-models/keras2
"""
import argparse
import json
import os
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, shape_inference


def macs_of(path, size=224):
    """Multiply-adds of Conv/MatMul/Gemm nodes with the input fixed to 1 x size x size x 3
    (or 1 x 3 x size x size)."""
    model = onnx.load(path)
    inputs = {i.name for i in model.graph.initializer}
    graph_input = next(i for i in model.graph.input if i.name not in inputs)
    dims = graph_input.type.tensor_type.shape.dim
    channels_last = dims[-1].HasField("dim_value") and dims[-1].dim_value == 3
    shape = [1, size, size, 3] if channels_last else [1, 3, size, size]
    for d, v in zip(dims, shape):
        d.ClearField("dim_param")
        d.dim_value = v
    model = shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = shapes[node.input[1]]  # C_out, C_in/groups, kh, kw
            out = shapes[node.output[0]]  # N, C_out, H, W
            total += int(np.prod(w)) * out[2] * out[3]
        elif node.op_type in ("MatMul", "Gemm"):
            a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
            if a and b:
                total += int(np.prod(a)) * b[-1]
    return total


def matmul_gflops(threads, n=2048, seconds=3.0):
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    session.run(None, {"a": a, "b": b})
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(None, {"a": a, "b": b})
        runs += 1
    return 2 * n ** 3 * runs / (time.perf_counter() - start) / 1e9


def model_rate(path, batch, threads, seconds):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    channels_last = inp.shape[-1] == 3
    shape = [batch, 224, 224, 3] if channels_last else [batch, 3, 224, 224]
    x = (np.random.rand(*shape).astype(np.float32) * 255 - 120)
    session.run(None, {inp.name: x})
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(None, {inp.name: x})
        runs += 1
    return batch * runs / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=".deps/recipe-models/keras2")
    parser.add_argument("--names", default="onnx_resnet50.onnx,onnx_vgg16.onnx")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    out = {"cores": cores, "onnxruntime": ort.__version__, "load_before": os.getloadavg()[0]}
    out["matmul_gflops_1_thread"] = round(matmul_gflops(1), 1)
    out["matmul_gflops_all_threads"] = round(matmul_gflops(cores), 1)
    per_image_gflop = 0.0
    seconds_per_image = 0.0
    for name in args.names.split(","):
        path = os.path.join(args.models, name)
        gflop = 2 * macs_of(path) / 1e9
        rate = model_rate(path, args.batch, cores, args.seconds)
        out[name] = {"gflop_per_image": round(gflop, 2), "images_per_s": round(rate, 2),
                     "gflops_achieved": round(gflop * rate, 1)}
        per_image_gflop += gflop
        seconds_per_image += 1 / rate
    out["both_models_gflop_per_image"] = round(per_image_gflop, 2)
    out["both_models_images_per_s_plain_ort"] = round(1 / seconds_per_image, 2)
    out["both_models_images_per_s_at_matmul_rate"] = round(
        out["matmul_gflops_all_threads"] / per_image_gflop, 2)
    out["load_after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
