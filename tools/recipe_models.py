#!/usr/bin/env python3
"""Makes the recipe's ONNX files as the recipe does: a Keras application saved as a
TensorFlow SavedModel, converted with `python -m tf2onnx.convert --saved-model`.

    python tools/recipe_models.py full OUT_DIR    # onnx_resnet50.onnx, onnx_vgg16.onnx
    python tools/recipe_models.py tiny OUT_DIR    # the small graphs tests/recipe/ uses
    python tools/recipe_models.py check-reference # Keras's load_img + preprocess_input
                                                  # against the numpy reference of the tests

Runs in the venv of scripts/requirements-recipe.txt (tensorflow-cpu, tf-keras, tf2onnx);
scripts/recipe_models.sh makes that venv and calls this. The Keras naming style comes from
the environment, as it does for a user: TF_USE_LEGACY_KERAS=1 gives Keras 2 (tf-keras:
inputs `input_1`, outputs named after the last layer), unset gives Keras 3 (`keras_tensor`,
`output_0`). Weights are random (seeded): pretrained weights cannot be downloaded here, and
the graph is what imgsearch must accept.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf

if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
    import tf_keras as keras
    KERAS_STYLE = "keras2"
else:
    import keras
    KERAS_STYLE = "keras3"
layers = keras.layers


def convert(model, onnx_path):
    """The recipe's two steps: tf.saved_model.save, then tf2onnx's command line."""
    with tempfile.TemporaryDirectory() as saved:
        tf.saved_model.save(model, saved)
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved,
                        "--output", onnx_path], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    print(f"wrote {onnx_path} ({KERAS_STYLE})")


def full(out_dir):
    keras.utils.set_random_seed(29)
    resnet = keras.applications.ResNet50(include_top=False, pooling="max", weights=None)
    convert(resnet, os.path.join(out_dir, "onnx_resnet50.onnx"))
    vgg = keras.applications.VGG16(include_top=False, pooling="max", weights=None)
    convert(vgg, os.path.join(out_dir, "onnx_vgg16.onnx"))


def conv_bn(x, filters, kernel, name, strides=1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", name=name + "_conv")(x)
    x = layers.BatchNormalization(name=name + "_bn")(x)
    return x


def tiny_resnet():
    """The first stage of keras.applications.ResNet50, its layer names included, at a
    fraction of the width: what imgsearch recognises a Keras ResNet by."""
    inputs = keras.Input(shape=(None, None, 3))
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = layers.Conv2D(8, 7, strides=2, name="conv1_conv")(x)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    shortcut = conv_bn(x, 16, 1, "conv2_block1_0")
    y = layers.Activation("relu", name="conv2_block1_1_relu")(conv_bn(x, 4, 1, "conv2_block1_1"))
    y = layers.Activation("relu", name="conv2_block1_2_relu")(conv_bn(y, 4, 3, "conv2_block1_2"))
    y = conv_bn(y, 16, 1, "conv2_block1_3")
    x = layers.Add(name="conv2_block1_add")([shortcut, y])
    x = layers.Activation("relu", name="conv2_block1_out")(x)
    outputs = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, outputs, name="resnet50")


def tiny_vgg():
    """keras.applications.VGG16's layers and names at width 4 (its 13 convolutions)."""
    inputs = keras.Input(shape=(None, None, 3))
    x = inputs
    for block, convs in enumerate([2, 2, 3, 3, 3], start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(4, 3, padding="same", activation="relu",
                              name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    outputs = layers.GlobalMaxPooling2D(name="global_max_pooling2d")(x)
    return keras.Model(inputs, outputs, name="vgg16")


def tiny_other():
    """An NHWC tf2onnx graph that is no Keras application: its preprocessing is unknown."""
    inputs = keras.Input(shape=(None, None, 3))
    x = layers.Conv2D(8, 3, strides=2, activation="relu", name="stem")(inputs)
    outputs = layers.GlobalMaxPooling2D(name="features")(x)
    return keras.Model(inputs, outputs, name="custom")


def randomise_batchnorm(model, rng):
    """Fresh BatchNormalization layers are the identity; a trained one is not."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 5, mean.shape), rng.uniform(50, 200, var.shape)])


def tiny(out_dir):
    keras.utils.set_random_seed(29)
    rng = np.random.default_rng(29)
    for name, make in [("tiny_resnet", tiny_resnet), ("tiny_vgg", tiny_vgg),
                       ("tiny_other", tiny_other)]:
        model = make()
        randomise_batchnorm(model, rng)
        convert(model, os.path.join(out_dir, f"{name}_{KERAS_STYLE}.onnx"))


def reference_tensor(path):
    """What tests/recipe/recipe_reference.py computes: PIL NEAREST resize of the RGB image,
    channels reversed to BGR, minus the caffe means."""
    from PIL import Image
    with Image.open(path) as img:
        rgb = img.convert("RGB").resize((224, 224), Image.NEAREST)
    x = np.asarray(rgb, dtype=np.float32)[..., ::-1]
    return x - np.array([103.939, 116.779, 123.68], dtype=np.float32)


def check_reference():
    """Keras's own load_img + preprocess_input equal the numpy reference on a photo-like
    JPEG, a greyscale JPEG, a PNG with alpha and a palette PNG."""
    from PIL import Image
    resnet_preprocess = keras.applications.resnet50.preprocess_input
    vgg_preprocess = keras.applications.vgg16.preprocess_input
    load_img, img_to_array = keras.utils.load_img, keras.utils.img_to_array
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as folder:
        pixels = rng.integers(0, 256, (300, 451, 3), dtype=np.uint8)
        files = {"photo.jpg": Image.fromarray(pixels),
                 "grey.jpg": Image.fromarray(pixels[..., 0]),
                 "alpha.png": Image.fromarray(np.dstack([pixels, pixels[..., 1]]), "RGBA"),
                 "palette.png": Image.fromarray(pixels).quantize(64)}
        for name, img in files.items():
            path = os.path.join(folder, name)
            img.save(path)
            keras_x = img_to_array(load_img(path, target_size=(224, 224)))
            for preprocess in (resnet_preprocess, vgg_preprocess):
                got = preprocess(keras_x.copy())
                diff = float(np.abs(got - reference_tensor(path)).max())
                if diff > 1e-4:
                    sys.exit(f"{name}: Keras's tensor differs from the reference by {diff}")
    print(f"Keras ({KERAS_STYLE}) load_img + preprocess_input equal the reference tensor")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "check-reference":
        return check_reference()
    if len(sys.argv) != 3 or sys.argv[1] not in ("full", "tiny"):
        sys.exit(__doc__)
    os.makedirs(sys.argv[2], exist_ok=True)
    (full if sys.argv[1] == "full" else tiny)(sys.argv[2])


if __name__ == "__main__":
    main()
