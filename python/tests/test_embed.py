"""imgsearch.embed and imgsearch.Embedder: numpy out, from files, bytes, pixels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import imgsearch
from conftest import png_bytes, write_png


def flat(colour: tuple[int, int, int], h: int = 16, w: int = 24) -> np.ndarray:
    picture = np.zeros((h, w, 3), np.uint8)
    picture[:, :] = colour
    return picture


def test_tiny_model_exact(mean_model: Path, tmp_path: Path) -> None:
    colours = [(200, 10, 10), (10, 200, 10), (30, 60, 90)]
    files = [write_png(tmp_path / f"c{i}.png", flat(c)) for i, c in enumerate(colours)]
    vectors = imgsearch.embed(files, mean_model)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 3)
    expected = np.array(colours, np.float64)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-6)

    # The same pictures as bytes, as pixels, as one (n, h, w, 3) batch, as str paths.
    assert np.array_equal(imgsearch.embed([f.read_bytes() for f in files], mean_model), vectors)
    assert np.array_equal(imgsearch.embed([flat(c) for c in colours], mean_model), vectors)
    assert np.array_equal(imgsearch.embed(np.stack([flat(c) for c in colours]), mean_model), vectors)
    assert np.array_equal(imgsearch.embed([os.fspath(f) for f in files], str(mean_model)), vectors)
    one = imgsearch.embed(files[2], mean_model)
    assert one.shape == (1, 3) and np.array_equal(one[0], vectors[2])


def test_embedder_object(mean_model: Path) -> None:
    e = imgsearch.Embedder(mean_model, batch_size=2, threads=1)
    assert e.name == "mean" and not e.binary
    assert e.spec["preprocess"]["width"] == 8
    out = e.embed([flat((i, 2 * i, 3 * i)) for i in range(1, 6)])
    assert out.shape == (5, 3) and e.dimension == 3
    assert np.allclose(out, np.array([1, 2, 3]) / np.linalg.norm([1, 2, 3]), atol=1e-6)
    assert imgsearch.embed([], e).shape == (0, 3)
    raw = imgsearch.Embedder(mean_model, spec={"normalize": "none"})
    assert np.allclose(raw.embed(flat((10, 20, 30))), [[10, 20, 30]])


def test_builtin_models() -> None:
    assert set(imgsearch.builtin_models()) >= {"phash", "color_layout"}
    picture = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    bits = imgsearch.embed(picture, "phash")
    assert bits.dtype == np.uint8 and bits.shape == (1, 8)
    colour = imgsearch.embed([picture, png_bytes(picture)], "color_layout")
    assert colour.dtype == np.float32 and colour.shape == (2, 32)
    assert np.allclose(np.linalg.norm(colour, axis=1), 1, atol=1e-5)
    assert np.allclose(colour[0], colour[1], atol=1e-6)  # PNG is lossless
    assert imgsearch.Embedder("phash").binary


def test_pil_images(mean_model: Path) -> None:
    Image = pytest.importorskip("PIL.Image")
    picture = Image.fromarray(flat((50, 100, 150))).convert("RGBA")
    out = imgsearch.embed([picture], mean_model)
    assert np.allclose(out, np.array([[50, 100, 150]]) / np.linalg.norm([50, 100, 150]), atol=1e-6)


def test_errors(mean_model: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(imgsearch.Error) as error:
        imgsearch.embed([missing], mean_model)
    assert isinstance(error.value, (imgsearch.NotFound, imgsearch.IOError))
    assert "missing.png" in str(error.value)
    with pytest.raises(imgsearch.Error, match=r"images\[1\]"):
        imgsearch.embed([flat((1, 2, 3)), b"not an image"], mean_model)
    with pytest.raises(imgsearch.InvalidArgument, match="uint8"):
        imgsearch.embed(flat((1, 2, 3)).astype(np.float32), mean_model)
    with pytest.raises(imgsearch.InvalidArgument, match="height, width, 3"):
        imgsearch.embed(np.zeros((4, 4), np.uint8), mean_model)
    with pytest.raises(imgsearch.InvalidArgument, match="int"):
        imgsearch.embed([42], mean_model)
    with pytest.raises(imgsearch.NotFound):
        imgsearch.Embedder(tmp_path / "nope.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf" * 20)
    with pytest.raises(imgsearch.Error):
        imgsearch.Embedder(garbage)
