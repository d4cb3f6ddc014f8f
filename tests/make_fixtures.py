#!/usr/bin/env python3
"""Generates the test suite's fixtures into OUT_DIR: images in every supported format,
what PIL makes of them (the reference our decoder and resizer must match), Keras- and
torchvision-style reference tensors, and tiny ONNX models whose outputs are known exactly.

    /usr/bin/python3 tests/make_fixtures.py OUT_DIR

manifest.json describes every reference: {name: {"width", "height", ...}}. Raw references
are plain little-endian arrays: NAME.rgb (uint8 RGB) and NAME.f32 (float32).
Needs Debian's python3-pil, python3-numpy and python3-onnx. Deterministic (fixed seeds).
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageOps

OUT = sys.argv[1]
MANIFEST = {}


def path(name):
    return os.path.join(OUT, name)


def test_picture(width, height, seed):
    """Smooth gradients plus noise and hard edges: exercises every filter tap."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 // max(1, width - 1))
    g = (y * 255 // max(1, height - 1))
    b = ((x // 16 + y // 16) % 2) * 200 + 20
    img = np.stack([r, g, b], axis=-1).astype(np.int32)
    img += rng.integers(-20, 21, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def save_reference(name, pil_image, **extra):
    rgb = np.asarray(pil_image.convert("RGB"), dtype=np.uint8)
    rgb.tofile(path(name + ".rgb"))
    MANIFEST[name] = dict(width=pil_image.size[0], height=pil_image.size[1], **extra)


def save_tensor(name, array, **extra):
    np.asarray(array, dtype="<f4").tofile(path(name + ".f32"))
    MANIFEST[name] = dict(shape=list(array.shape), **extra)


def write_png16(filename, rgb16):
    """A 16-bit RGB PNG (PIL cannot write one)."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[row].astype(">u2").tobytes() for row in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(filename, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def make_images():
    base = Image.fromarray(test_picture(300, 200, 1))
    files = {
        "rgb.jpg": lambda f: base.save(f, quality=90),
        "gray.jpg": lambda f: base.convert("L").save(f, quality=90),
        "cmyk.jpg": lambda f: base.convert("CMYK").save(f, quality=95),
        "progressive.jpg": lambda f: base.save(f, quality=85, progressive=True),
        "rgb.png": lambda f: base.save(f),
        "gray.png": lambda f: base.convert("L").save(f),
        "palette.png": lambda f: base.convert("P", palette=Image.ADAPTIVE, colors=64).save(f),
        "rgba.png": lambda f: base.convert("RGBA").save(f),
        "lossless.webp": lambda f: base.save(f, lossless=True),
        "rgb.bmp": lambda f: base.save(f),
        "palette.bmp": lambda f: base.convert("P", palette=Image.ADAPTIVE, colors=16).save(f),
        "mono.bmp": lambda f: base.convert("1").save(f),
        "rgb.tif": lambda f: base.save(f),
        "lzw.tif": lambda f: base.save(f, compression="tiff_lzw"),
        "palette.gif": lambda f: base.convert("P", palette=Image.ADAPTIVE, colors=128).save(f),
    }
    for filename, save in files.items():
        save(path(filename))
        save_reference(filename, Image.open(path(filename)))

    # 16-bit: PIL keeps the high byte of each sample.
    rgb16 = test_picture(40, 30, 2).astype(np.uint16) * 257 + 3
    write_png16(path("rgb16.png"), rgb16)
    save_reference("rgb16.png", Image.fromarray((rgb16 >> 8).astype(np.uint8)))

    # Animated GIF: the first frame counts.
    frames = [Image.fromarray(test_picture(64, 48, s)).convert("P") for s in (3, 4)]
    frames[0].save(path("animated.gif"), save_all=True, append_images=frames[1:], duration=50)
    save_reference("animated.gif", Image.open(path("animated.gif")))

    # EXIF orientation 6 (rotate 90 clockwise for display); the reference is displayed.
    exif = Image.Exif()
    exif[0x0112] = 6
    small = Image.fromarray(test_picture(60, 40, 5))
    small.save(path("exif_rotate.jpg"), quality=95, exif=exif.tobytes())
    save_reference("exif_rotate.jpg", ImageOps.exif_transpose(Image.open(path("exif_rotate.jpg"))))
    small.save(path("exif_rotate.png"), exif=exif.tobytes())
    save_reference("exif_rotate.png", ImageOps.exif_transpose(Image.open(path("exif_rotate.png"))))

    # A large JPEG for DCT-domain downscaling.
    Image.fromarray(test_picture(1600, 1200, 6)).save(path("large.jpg"), quality=90)


def make_resize_references():
    source = Image.fromarray(test_picture(257, 173, 7))
    source.save(path("resize_source.png"))
    filters = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR,
               "bicubic": Image.BICUBIC, "area": Image.BOX}
    sizes = [(224, 224), (100, 50), (300, 400), (31, 173), (1, 1)]
    for fname, flt in filters.items():
        for w, h in sizes:
            save_reference("resize_%s_%dx%d" % (fname, w, h), source.resize((w, h), flt),
                           filter=fname)
    # Nearest on sizes where accumulated offsets are prone to rounding surprises.
    for w, h in [(333, 227), (1000, 999)]:
        Image.fromarray(test_picture(w, h, 8)).save(path("nearest_src_%dx%d.png" % (w, h)))
        img = Image.open(path("nearest_src_%dx%d.png" % (w, h)))
        save_reference("nearest_%dx%d_to_224" % (w, h), img.resize((224, 224), Image.NEAREST),
                       source="nearest_src_%dx%d.png" % (w, h))


def keras_caffe_reference(filename):
    """keras.utils.load_img(target_size=(224, 224)) + resnet50.preprocess_input."""
    img = Image.open(path(filename))
    if img.mode != "RGB":
        img = img.convert("RGB")
    img = img.resize((224, 224), Image.NEAREST)
    x = np.asarray(img, dtype=np.float32)[..., ::-1]
    x = x - np.array([103.939, 116.779, 123.68], np.float32)
    return x  # H x W x C (NHWC without N)


def torch_reference(filename):
    """torchvision Resize(256) + CenterCrop(224) + ToTensor + Normalize, on PIL."""
    img = Image.open(path(filename)).convert("RGB")
    w, h = img.size
    if w <= h:
        size = (256, int(256 * h / w))
    else:
        size = (int(256 * w / h), 256)
    img = img.resize(size, Image.BILINEAR)
    left = int(round((size[0] - 224) / 2.0))
    top = int(round((size[1] - 224) / 2.0))
    img = img.crop((left, top, left + 224, top + 224))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225],
                                                                      np.float32)
    return x.transpose(2, 0, 1)  # C x H x W


def make_tensor_references():
    for filename in ("rgb.jpg", "gray.jpg", "rgb.png"):
        save_tensor("keras_caffe_" + filename, keras_caffe_reference(filename), source=filename)
    save_tensor("torch_rgb.png", torch_reference("rgb.png"), source="rgb.png")


def save_model(name, nodes, inputs, outputs, inits=(), metadata=None, opset=13):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.checker.check_model(model)
    onnx.save(model, path(name + ".onnx"))


def tensor(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def make_models():
    f = TensorProto.FLOAT
    # Mean of each channel over the image: output known exactly from the input tensor.
    save_model("mean_nchw", [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)],
               [tensor("x", f, ["N", 3, 8, 8])], [tensor("y", f, ["N", 3])])
    save_model("mean_nhwc", [helper.make_node("ReduceMean", ["x"], ["y"], axes=[1, 2], keepdims=0)],
               [tensor("x", f, ["N", 8, 8, 3])], [tensor("y", f, ["N", 3])])
    # Spatial outputs to pool: the input itself, NCHW and NHWC.
    save_model("spatial_nchw", [helper.make_node("Identity", ["x"], ["y"])],
               [tensor("x", f, ["N", 3, 4, 4])], [tensor("y", f, ["N", 3, 4, 4])])
    save_model("spatial_nhwc", [helper.make_node("Identity", ["x"], ["y"])],
               [tensor("x", f, ["N", 4, 4, 3])], [tensor("y", f, ["N", 4, 4, 3])])
    # Fixed batch sizes.
    save_model("fixed_batch1", [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)],
               [tensor("x", f, [1, 3, 8, 8])], [tensor("y", f, [1, 3])])
    save_model("fixed_batch4", [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)],
               [tensor("x", f, [4, 3, 8, 8])], [tensor("y", f, [4, 3])])
    # 16 values, x - 0.5 after flattening a 1x... for binarisation: NCHW 3x4x4 = 48 values.
    save_model("sign48", [helper.make_node("Flatten", ["x"], ["flat"]),
                          helper.make_node("Sub", ["flat", "half"], ["y"])],
               [tensor("x", f, ["N", 3, 4, 4])], [tensor("y", f, ["N", 48])],
               [numpy_helper.from_array(np.array([0.5], np.float32), "half")])
    # Spec in metadata, two outputs (second selected by the spec).
    spec = {"preprocess": {"width": 8, "height": 8, "resize": "stretch", "interpolation": "nearest",
                           "scale": 1.0, "layout": "nchw"},
            "output": "second", "normalize": "none"}
    save_model("two_outputs", [helper.make_node("ReduceMean", ["x"], ["first"], axes=[2, 3], keepdims=0),
                               helper.make_node("ReduceMax", ["x"], ["second"], axes=[2, 3], keepdims=0)],
               [tensor("x", f, ["N", 3, 8, 8])], [tensor("first", f, ["N", 3]), tensor("second", f, ["N", 3])],
               metadata={"imgsearch": json.dumps(spec)})
    # Models that are not usable as image embedders.
    save_model("two_inputs", [helper.make_node("Add", ["a", "b"], ["y"])],
               [tensor("a", f, ["N", 3, 8, 8]), tensor("b", f, ["N", 3, 8, 8])],
               [tensor("y", f, ["N", 3, 8, 8])])
    save_model("not_image", [helper.make_node("Identity", ["x"], ["y"])],
               [tensor("x", f, ["N", 10])], [tensor("y", f, ["N", 10])])
    save_model("int_input", [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
               [tensor("x", TensorProto.INT64, ["N", 3, 8, 8])], [tensor("y", f, ["N", 3, 8, 8])])
    save_model("rank3_output", [helper.make_node("Reshape", ["x", "shape"], ["y"])],
               [tensor("x", f, ["N", 3, 8, 8])], [tensor("y", f, ["N", 3, 64])],
               [numpy_helper.from_array(np.array([0, 3, 64], np.int64), "shape")])
    with open(path("garbage.onnx"), "wb") as fh:
        fh.write(b"this is not a protobuf" * 10)


def he_weights(rng, shape, name):
    """Random weights scaled as trained conv nets keep them (He initialisation)."""
    fan_in = int(np.prod(shape[1:]))
    return numpy_helper.from_array(
        (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), name)


def small_bias(rng, n, name):
    return numpy_helper.from_array((rng.standard_normal(n) * 0.1).astype(np.float32), name)


def make_quantize_models():
    """Small float conv nets for `imgsearch quantize`: Conv-Relu-Conv-Relu-GlobalAveragePool-
    Gemm at opset 13, the same at opset 11 (whose opset must be raised), the same without a
    spec, and one with a ConvTranspose (left in float, with a note) and a MatMul."""
    f = TensorProto.FLOAT
    spec = {"preprocess": {"width": 32, "height": 32, "resize": "stretch",
                           "interpolation": "bilinear", "scale": 1.0 / 255,
                           "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "layout": "nchw"},
            "output": "embedding"}
    rng = np.random.default_rng(11)
    inits = [he_weights(rng, (8, 3, 3, 3), "conv1_w"), small_bias(rng, 8, "conv1_b"),
             he_weights(rng, (16, 8, 3, 3), "conv2_w"), small_bias(rng, 16, "conv2_b"),
             he_weights(rng, (12, 16), "fc_w"), small_bias(rng, 12, "fc_b")]
    # The first bias reaches its Conv through an Identity, as PyTorch's exporter shares
    # equal initializers.
    nodes = [helper.make_node("Identity", ["conv1_b"], ["conv1_b_shared"]),
             helper.make_node("Conv", ["x", "conv1_w", "conv1_b_shared"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "conv2_w", "conv2_b"], ["c2"], pads=[1, 1, 1, 1],
                              strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("GlobalAveragePool", ["r2"], ["gap"]),
             helper.make_node("Flatten", ["gap"], ["flat"]),
             helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["embedding"], transB=1)]
    io = ([tensor("x", f, ["N", 3, 32, 32])], [tensor("embedding", f, ["N", 12])])
    for name, opset, with_spec in [("convnet", 13, True), ("convnet_opset11", 11, True),
                                   ("convnet_no_spec", 13, False)]:
        save_model(name, nodes, *io, inits, opset=opset)
        if with_spec:
            with open(path(name + ".json"), "w") as fh:
                json.dump(spec, fh)

    rng = np.random.default_rng(12)
    inits = [he_weights(rng, (8, 3, 3, 3), "conv_w"), small_bias(rng, 8, "conv_b"),
             he_weights(rng, (8, 4, 2, 2), "deconv_w"),
             numpy_helper.from_array((rng.standard_normal((4, 6)) * 0.5).astype(np.float32),
                                     "mm_w")]
    nodes = [helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("ConvTranspose", ["r", "deconv_w"], ["up"], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["up"], ["gap"]),
             helper.make_node("Flatten", ["gap"], ["flat"]),
             helper.make_node("MatMul", ["flat", "mm_w"], ["embedding"])]
    save_model("deconv_matmul", nodes, [tensor("x", f, ["N", 3, 32, 32])],
               [tensor("embedding", f, ["N", 6])], inits)
    with open(path("deconv_matmul.json"), "w") as fh:
        json.dump(spec, fh)


def make_calibration_images():
    """calibration/: 60 small pictures of random gradients, blocks and noise, enough to hold
    twelve back from calibration and still compare ten neighbours each."""
    rng = np.random.default_rng(13)
    folder = path("calibration")
    os.makedirs(folder, exist_ok=True)
    y, x = np.mgrid[0:40, 0:48]
    for i in range(60):
        img = np.zeros((40, 48, 3), np.float64)
        for c in range(3):
            img[..., c] = rng.uniform(0, 255) + rng.uniform(-3, 3) * x + rng.uniform(-3, 3) * y
        x0, y0 = rng.integers(0, 30), rng.integers(0, 25)
        img[y0:y0 + 15, x0:x0 + 15] = rng.uniform(0, 255, 3)
        img += rng.normal(0, 12, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            os.path.join(folder, "pic_%02d.png" % i))


def make_classes():
    """classes/<name>/*: three visually distinct classes of three images, one corrupt file,
    and an exact copy of one image (a duplicate by content), for the pipeline tests."""
    rng = np.random.default_rng(9)
    makers = {
        "red": lambda: (200 + rng.integers(0, 40), rng.integers(0, 50), rng.integers(0, 50)),
        "green": lambda: (rng.integers(0, 50), 180 + rng.integers(0, 60), rng.integers(0, 50)),
        "blue": lambda: (rng.integers(0, 50), rng.integers(0, 50), 180 + rng.integers(0, 60)),
    }
    for name, colour in makers.items():
        folder = path(os.path.join("classes", name))
        os.makedirs(folder, exist_ok=True)
        for i in range(3):
            base = np.zeros((60, 80, 3), np.int32)
            base[:, :] = colour()
            base[10 + 10 * i:30 + 10 * i, 10:40] = colour()
            base += rng.integers(-10, 11, base.shape)
            Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(
                os.path.join(folder, "%s_%d.png" % (name, i)))
    with open(path("classes/blue/broken.jpg"), "wb") as fh:
        fh.write(b"\xff\xd8\xff\xe0 this JPEG stops here")
    with open(path("classes/red/red_0.png"), "rb") as src, open(path("classes/red/copy_of_red_0.png"), "wb") as dst:
        dst.write(src.read())


def main():
    os.makedirs(OUT, exist_ok=True)
    make_classes()
    make_images()
    make_resize_references()
    make_tensor_references()
    make_models()
    make_quantize_models()
    make_calibration_images()
    with open(path("manifest.json"), "w") as fh:
        json.dump(MANIFEST, fh, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
