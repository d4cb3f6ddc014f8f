#!/usr/bin/env python3
"""Generates imgsearch's built-in ONNX models into a folder (default: models/).

The models are small, fixed (weight-free) image descriptors written as ONNX graphs so that
they run through the same Embedder as any user model. Each carries its imgsearch model spec
in the ONNX metadata under the key "imgsearch". Output is deterministic: running this again
yields byte-identical files (a test checks the committed files against it).

    /usr/bin/python3 tools/make_builtin_models.py [OUT_DIR]

Needs Debian's python3-onnx and python3-numpy.
"""
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def dct_matrix(size, rows=None, orthonormal=False):
    """DCT-II basis: row k holds cos(pi * (2n + 1) * k / (2 * size)) for n in [0, size)."""
    rows = size if rows is None else rows
    n = np.arange(size)
    m = np.stack([np.cos(math.pi * (2 * n + 1) * k / (2 * size)) for k in range(rows)])
    if orthonormal:
        m[0] *= math.sqrt(1.0 / size)
        m[1:] *= math.sqrt(2.0 / size)
    return m.astype(np.float32)


def zigzag_order(size):
    """Indices of a size x size block in JPEG zig-zag order (low frequencies first)."""
    cells = [(r, c) for r in range(size) for c in range(size)]
    cells.sort(key=lambda rc: (rc[0] + rc[1], rc[0] if (rc[0] + rc[1]) % 2 else rc[1]))
    return [r * size + c for r, c in cells]


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def finish(graph, spec, doc):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="imgsearch", producer_version="1")
    model.ir_version = 8
    model.doc_string = doc
    helper.set_model_props(model, {"imgsearch": json.dumps(spec, sort_keys=True)})
    onnx.checker.check_model(model)
    return model


def phash_model():
    """64-bit perceptual hash: grey 32x32 -> 2-D DCT -> 8x8 low frequencies -> minus median.

    The Embedder's "binary" mode turns each value > 0 into a set bit, so the hash is
    "coefficient above the median of the 64", as in the classic pHash.
    """
    grey = np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 3, 1, 1)
    d = dct_matrix(32, rows=8)
    nodes = [
        helper.make_node("Conv", ["image", "grey_weights"], ["grey"]),
        helper.make_node("Reshape", ["grey", "shape_n32x32"], ["grey_2d"]),
        helper.make_node("MatMul", ["dct_rows", "grey_2d"], ["half"]),
        helper.make_node("MatMul", ["half", "dct_cols"], ["low"]),
        helper.make_node("Reshape", ["low", "shape_n64"], ["coefficients"]),
        helper.make_node("TopK", ["coefficients", "k33"], ["top", "top_index"], axis=1),
        helper.make_node("Slice", ["top", "start31", "end33", "axis1"], ["middle"]),
        helper.make_node("ReduceMean", ["middle"], ["median"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["coefficients", "median"], ["hash"]),
    ]
    inits = [const("grey_weights", grey), const("dct_rows", d), const("dct_cols", d.T.copy()),
             const("shape_n32x32", np.array([-1, 32, 32], np.int64)),
             const("shape_n64", np.array([-1, 64], np.int64)),
             const("k33", np.array([33], np.int64)), const("start31", np.array([31], np.int64)),
             const("end33", np.array([33], np.int64)), const("axis1", np.array([1], np.int64))]
    graph = helper.make_graph(
        nodes, "phash",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("hash", TensorProto.FLOAT, ["N", 64])], inits)
    spec = {"name": "phash", "normalize": "binary",
            "preprocess": {"width": 32, "height": 32, "resize": "stretch",
                           "interpolation": "area", "channel_order": "rgb", "scale": 1.0,
                           "mean": [0, 0, 0], "std": [1, 1, 1], "layout": "nchw"}}
    return finish(graph, spec, "64-bit DCT perceptual hash (binary vector, HAMMING metric)")


def color_layout_model():
    """Colour layout (MPEG-7 style): 8x8 mean colours -> YCbCr -> 2-D DCT per channel ->
    the first 16 Y, 8 Cb and 8 Cr coefficients in zig-zag order, weighted."""
    to_ycbcr = np.array([[0.299, 0.587, 0.114],
                         [-0.168736, -0.331264, 0.5],
                         [0.5, -0.418688, -0.081312]], np.float32).reshape(3, 3, 1, 1)
    d = dct_matrix(8, orthonormal=True)
    zz = zigzag_order(8)
    # The orthonormal DC terms grow as 8 x the mean (up to 8) while the AC terms that carry
    # the layout are far smaller; unweighted, brightness would swamp everything after L2
    # normalisation. DC terms are damped and the first AC terms lifted, in the spirit of
    # MPEG-7's separate DC/AC quantisation and its per-coefficient weights.
    weights = np.ones(32, np.float32)
    weights[[0, 16, 24]] = [0.25, 0.5, 0.5]   # Y, Cb, Cr DC
    weights[[1, 2, 17, 18, 25, 26]] = 2.0     # first two AC terms of each channel
    nodes = [
        helper.make_node("AveragePool", ["image"], ["blocks"], kernel_shape=[8, 8],
                         strides=[8, 8]),
        helper.make_node("Conv", ["blocks", "to_ycbcr"], ["ycbcr"]),
        helper.make_node("MatMul", ["dct", "ycbcr"], ["half"]),
        helper.make_node("MatMul", ["half", "dct_t"], ["freq"]),
        helper.make_node("Reshape", ["freq", "shape_n3x64"], ["flat"]),
        helper.make_node("Gather", ["flat", "zigzag16"], ["ordered"], axis=2),
        helper.make_node("Split", ["ordered", "split3"], ["y", "cb", "cr"], axis=1),
        helper.make_node("Reshape", ["y", "shape_n16"], ["y16"]),
        helper.make_node("Slice", ["cb", "start0", "end8", "axis2"], ["cb_low"]),
        helper.make_node("Slice", ["cr", "start0", "end8", "axis2"], ["cr_low"]),
        helper.make_node("Reshape", ["cb_low", "shape_n8"], ["cb8"]),
        helper.make_node("Reshape", ["cr_low", "shape_n8"], ["cr8"]),
        helper.make_node("Concat", ["y16", "cb8", "cr8"], ["coefficients"], axis=1),
        helper.make_node("Mul", ["coefficients", "weights"], ["descriptor"]),
    ]
    inits = [const("to_ycbcr", to_ycbcr), const("dct", d), const("dct_t", d.T.copy()),
             const("shape_n3x64", np.array([-1, 3, 64], np.int64)),
             const("zigzag16", np.array(zz[:16], np.int64)),
             const("split3", np.array([1, 1, 1], np.int64)),
             const("shape_n16", np.array([-1, 16], np.int64)),
             const("shape_n8", np.array([-1, 8], np.int64)),
             const("start0", np.array([0], np.int64)), const("end8", np.array([8], np.int64)),
             const("axis2", np.array([2], np.int64)), const("weights", weights)]
    graph = helper.make_graph(
        nodes, "color_layout",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 64, 64])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", 32])], inits)
    spec = {"name": "color_layout", "normalize": "l2",
            "preprocess": {"width": 64, "height": 64, "resize": "stretch",
                           "interpolation": "area", "channel_order": "rgb",
                           "scale": 1.0 / 255.0, "mean": [0, 0, 0], "std": [1, 1, 1],
                           "layout": "nchw"}}
    return finish(graph, spec, "32-d colour layout descriptor (float vector, L2 metric)")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "models")
    os.makedirs(out_dir, exist_ok=True)
    for name, build in (("phash", phash_model), ("color_layout", color_layout_model)):
        path = os.path.join(out_dir, name + ".onnx")
        with open(path, "wb") as f:
            f.write(build().SerializeToString())
        print(path)


if __name__ == "__main__":
    main()
