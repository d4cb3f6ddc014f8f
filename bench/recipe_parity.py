#!/usr/bin/env python3
"""The full-size check of tests/recipe: imgsearch's vectors for the recipe's own ONNX files
(scripts/recipe_models.sh: ResNet50 and VGG16 through tf2onnx, Keras 2 and Keras 3 naming)
against the recipe's own Python code — Keras's load_img + preprocess_input, onnxruntime,
the L2 norm — on real photos, plus the greyscale ones among them and PNG copies with an
alpha channel. Prints the lowest and mean cosine per model.

    TF_USE_LEGACY_KERAS=1 .deps/venv-recipe/bin/python bench/recipe_parity.py \\
        --photos ../shared/data/caltech101-dev --count 100
"""
import argparse
import json
import os
import subprocess
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
    import tf_keras as keras  # noqa: E402
else:
    import keras  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def recipe_vector(session, path):
    x = keras.utils.img_to_array(keras.utils.load_img(path, target_size=(224, 224)))
    x = keras.applications.resnet50.preprocess_input(np.expand_dims(x, 0))
    feat = session.run(None, {session.get_inputs()[0].name: x})[0][0]
    return feat / np.linalg.norm(feat)


def has_exif_rotation(path):
    with Image.open(path) as img:
        return img.getexif().get(0x0112, 1) != 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", default=os.path.join(ROOT, "../shared/data/caltech101-dev"))
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--imgsearch", default=os.path.join(ROOT, "build/imgsearch"))
    parser.add_argument("--models", default=os.path.join(ROOT, ".deps/recipe-models"))
    args = parser.parse_args()
    photos = sorted(os.path.join(d, f) for d, _, files in os.walk(args.photos) for f in files
                    if f.lower().endswith((".jpg", ".jpeg", ".png")))
    step = len(photos) / args.count
    chosen = [photos[int(i * step)] for i in range(args.count)]
    grey = [p for p in photos if Image.open(p).mode == "L"][:20]
    rotated = [p for p in chosen if has_exif_rotation(p)]
    with tempfile.TemporaryDirectory() as work:
        alpha = []
        for i, p in enumerate(chosen[:20]):  # RGBA copies with a gradient alpha channel
            img = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGBA")).copy()
            img[..., 3] = np.linspace(0, 255, img.shape[1], dtype=np.uint8)[np.newaxis]
            alpha.append(os.path.join(work, f"alpha{i}.png"))
            Image.fromarray(img, "RGBA").save(alpha[-1])
        sets = {"photos": [p for p in chosen if p not in rotated], "greyscale": grey,
                "png_alpha": alpha}
        print(f"{len(sets['photos'])} photos, {len(grey)} greyscale, {len(alpha)} PNG with "
              f"alpha; {len(rotated)} of the photos have an EXIF rotation (left out: imgsearch "
              f"turns them upright, Keras does not)")
        for style in ("keras2", "keras3"):
            for name in ("onnx_resnet50.onnx", "onnx_vgg16.onnx"):
                model = os.path.join(args.models, style, name)
                session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
                for label, paths in sets.items():
                    out = subprocess.run([args.imgsearch, "embed", "--model", model, "--json",
                                          "--files-from", "-"], input="\n".join(paths) + "\n",
                                         capture_output=True, text=True, check=True).stdout
                    ours = {r["path"]: np.array(r["vector"]) for r in map(json.loads,
                                                                         out.splitlines())}
                    theirs = {p: recipe_vector(session, p) for p in paths}
                    cos = [float(np.dot(ours[p], theirs[p])) for p in paths]
                    diff = max(float(np.abs(ours[p] - theirs[p]).max()) for p in paths)
                    # For scale: how alike two different photos are under the same model
                    # (random weights make every vector alike).
                    others = [float(np.dot(theirs[a], theirs[b]))
                              for a, b in zip(paths, paths[1:])]
                    print(f"{style} {name} {label}: {len(cos)} images, cosine min "
                          f"{min(cos):.7f} (1 - cosine max {1 - min(cos):.1e}), largest "
                          f"value difference {diff:.1e}; two different photos: cosine "
                          f"{np.mean(others):.4f} on average", flush=True)


if __name__ == "__main__":
    main()
