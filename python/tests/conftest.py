"""Shared fixtures: generated images (PNG written with zlib, no PIL needed) and the tiny
ONNX models tests/make_fixtures.py generates (CTest's make_fixtures step; the folder is
named by IMGSEARCH_FIXTURES)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import imgsearch

FIXTURES = Path(os.environ.get("IMGSEARCH_FIXTURES", ""))


def png_bytes(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of a (height, width, 3) uint8 array."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1))
            + chunk(b"IEND", b""))


def write_png(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(rgb))
    return path


COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 210)}


def class_picture(colour: tuple[int, int, int], i: int, rng: np.random.Generator) -> np.ndarray:
    base = np.zeros((60, 80, 3), np.int32)
    base[:, :] = colour
    base[10 + 10 * i:30 + 10 * i, 10:40] = np.array(colour) // 2
    base += rng.integers(-10, 11, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def classes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """classes/<colour>/<colour>_<i>.png: three classes of four pictures, plus a broken
    file and an exact copy of red_0."""
    root = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(7)
    for name, colour in COLOURS.items():
        for i in range(4):
            write_png(root / name / f"{name}_{i}.png", class_picture(colour, i, rng))
    (root / "blue" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this JPEG stops here")
    shutil.copy(root / "red" / "red_0.png", root / "red" / "copy_of_red_0.png")
    return root


@pytest.fixture(scope="session")
def mean_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ONNX model: the mean of each channel over an 8x8 input (NCHW), L2-normalised,
    with its spec in a sidecar JSON."""
    source = FIXTURES / "mean_nchw.onnx"
    if not source.is_file():
        pytest.skip("IMGSEARCH_FIXTURES does not hold mean_nchw.onnx (run through ctest)")
    folder = tmp_path_factory.mktemp("models")
    model = folder / "mean.onnx"
    shutil.copy(source, model)
    spec = {"preprocess": {"width": 8, "height": 8, "resize": "stretch",
                           "interpolation": "nearest", "scale": 1.0, "layout": "nchw"}}
    (folder / "mean.json").write_text(json.dumps(spec))
    return model


@pytest.fixture
def library(tmp_path: Path, classes_dir: Path) -> imgsearch.Library:
    """A library of the class pictures under the two built-in models."""
    lib = imgsearch.Library.open(tmp_path / "lib", models=["color_layout", "phash"])
    lib.index(classes_dir)
    yield lib
    lib.close()
