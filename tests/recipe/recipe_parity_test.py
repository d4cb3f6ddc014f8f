"""The recipe's ONNX files, run unchanged: small Keras models built like ResNet50 and VGG16
and converted with tf2onnx as the recipe converts them (tests/recipe/models, made by
`tools/recipe_models.py tiny`, in Keras 2 and Keras 3 naming) give the vectors the recipe's
own Python code gives (recipe_reference.py), on a photo-like JPEG, a greyscale JPEG, a PNG
with alpha and a palette PNG; a picture with EXIF orientation shows the one difference
(imgsearch turns it upright, Keras's load_img does not). They also index, search and
quantise unchanged, and a tf2onnx graph that is no known Keras application is refused
until its preset is given.

    IMGSEARCH_BINARY=build/imgsearch IMGSEARCH_TEST_TMP=DIR .deps/venv/bin/python -m pytest tests/recipe
"""
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import recipe_reference  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models")
BINARY = os.environ.get("IMGSEARCH_BINARY", "build/imgsearch")
RECOGNISED = [f"tiny_{net}_{style}.onnx" for net in ("resnet", "vgg")
              for style in ("keras2", "keras3")]
PARITY = 0.9999


def photo(width, height, seed):
    """Smooth gradients, noise and edges: enough detail that nearest sampling matters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([x * 255 // width, y * 255 // height, ((x // 23 + y // 17) % 2) * 180 + 40],
                   axis=-1).astype(np.int32)
    img += rng.integers(-25, 26, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def exif_rotated_jpeg(path):
    """A wide picture stored with EXIF orientation 6 (turn 90 degrees clockwise to view)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    photo(400, 260, 5).save(path, quality=92, exif=exif.tobytes())


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    made = {"photo.jpg": photo(451, 300, 1), "grey.jpg": photo(320, 480, 2).convert("L"),
            "palette.png": photo(200, 150, 4).quantize(48)}
    for name, img in made.items():
        img.save(folder / name, quality=90) if name.endswith(".jpg") else img.save(folder / name)
    rgba = photo(260, 190, 3).convert("RGBA")
    alpha = np.asarray(rgba).copy()
    alpha[..., 3] = np.linspace(0, 255, alpha.shape[1], dtype=np.uint8)[np.newaxis]
    Image.fromarray(alpha, "RGBA").save(folder / "alpha.png")
    exif_rotated_jpeg(folder / "rotated.jpg")
    return folder


def run(*args, check=True):
    result = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def embed(model, paths):
    result = run("embed", "--model", model, "--json", *map(str, paths))
    vectors = {}
    for line in result.stdout.splitlines():
        row = json.loads(line)
        vectors[os.path.basename(row["path"])] = np.array(row["vector"], dtype=np.float32)
    return vectors, result.stderr


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_models_are_what_tf2onnx_made():
    for name in os.listdir(MODELS):
        session = onnxruntime.InferenceSession(os.path.join(MODELS, name))
        assert session.get_modelmeta().producer_name == "tf2onnx", name
        shape = session.get_inputs()[0].shape
        assert shape[3] == 3 and all(isinstance(d, str) for d in shape[:3]), (name, shape)


@pytest.mark.parametrize("model", RECOGNISED)
def test_vectors_equal_the_recipes(model, images):
    path = os.path.join(MODELS, model)
    files = sorted(p for p in images.iterdir() if p.name != "rotated.jpg")
    vectors, stderr = embed(path, files)
    assert "converted by tf2onnx: assuming" in stderr and ":keras-caffe" in stderr, stderr
    assert sorted(vectors) == [p.name for p in files]
    for image in files:
        expected = recipe_reference.extract_feature(path, str(image))
        assert cosine(vectors[image.name], expected) >= PARITY, (model, image.name)


@pytest.mark.parametrize("model", RECOGNISED)
def test_exif_orientation_is_applied_where_keras_ignores_it(model, images):
    path = os.path.join(MODELS, model)
    rotated = images / "rotated.jpg"
    vectors, _ = embed(path, [rotated])
    upright = recipe_reference.extract_feature(path, str(rotated), exif_transpose=True)
    as_keras_loads_it = recipe_reference.extract_feature(path, str(rotated))
    assert cosine(vectors["rotated.jpg"], upright) >= PARITY
    # Keras's load_img reads the stored pixels sideways: a different picture to the model.
    assert cosine(vectors["rotated.jpg"], as_keras_loads_it) < PARITY


def test_a_graph_that_is_no_known_application_is_refused_until_its_preset_is_given(images):
    for style in ("keras2", "keras3"):
        path = os.path.join(MODELS, f"tiny_other_{style}.onnx")
        refused = run("embed", "--model", path, str(images / "photo.jpg"), check=False)
        assert refused.returncode == 1, refused.stdout
        assert "not a Keras application" in refused.stderr, refused.stderr
        assert path + ":keras-caffe" in refused.stderr, refused.stderr
        vectors, stderr = embed(path + ":keras-caffe", [images / "photo.jpg"])
        assert "assuming" not in stderr, stderr
        expected = recipe_reference.extract_feature(path, str(images / "photo.jpg"))
        assert cosine(vectors["photo.jpg"], expected) >= PARITY


def test_index_and_search_with_the_recipes_two_models(images, tmp_path):
    db = tmp_path / "lib"
    resnet = os.path.join(MODELS, "tiny_resnet_keras2.onnx")
    vgg = os.path.join(MODELS, "tiny_vgg_keras3.onnx")
    run("index", str(images), "--db", str(db), "--model", f"resnet={resnet}",
        "--model", f"vgg={vgg}")
    result = run("search", str(images / "grey.jpg"), "--db", str(db), "-k", "3", "--json")
    answer = json.loads(result.stdout)["results"]
    assert sorted(answer) == ["resnet", "vgg"], answer
    for hits in answer.values():
        assert hits[0]["path"].endswith("grey.jpg"), hits
        assert hits[0]["distance"] < 1e-4, hits


def test_index_with_the_preset_in_one_word_is_remembered(images, tmp_path):
    db = tmp_path / "lib"
    other = os.path.join(MODELS, "tiny_other_keras3.onnx")
    run("index", str(images), "--db", str(db), "--model", f"other={other}:keras-caffe")
    # Later commands open the library's models as recorded: with the preset.
    result = run("search", str(images / "photo.jpg"), "--db", str(db), "-k", "1", "--json")
    assert "photo.jpg" in result.stdout, result.stdout


@pytest.mark.parametrize("model", ["tiny_resnet_keras2.onnx", "tiny_vgg_keras3.onnx"])
def test_quantize_reports_agreement(model, images, tmp_path):
    source = tmp_path / model
    shutil.copy(os.path.join(MODELS, model), source)
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for i in range(12):
        photo(240 + 7 * i, 200, 100 + i).save(calibration / f"{i}.jpg")
    out = tmp_path / "int8.onnx"
    report = json.loads(run("quantize", str(source), "--calibrate", str(calibration),
                            "-o", str(out), "--json").stdout)
    assert report["agreement"]["images"] > 0, report
    assert report["agreement"]["mean_cosine"] > 0.9, report
    with open(report["sidecar"]) as sidecar:
        assert json.load(sidecar)["preset"] == "keras-caffe"
    vectors, _ = embed(str(out), [images / "photo.jpg"])
    float_vector = recipe_reference.extract_feature(str(source), str(images / "photo.jpg"))
    assert cosine(vectors["photo.jpg"], float_vector) > 0.9
