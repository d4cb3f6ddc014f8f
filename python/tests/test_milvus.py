"""The same API with the library kept in a Milvus server: `imgsearch serve` on an empty
folder is the stand-in Milvus (its Milvus REST v2 dialect), as in the C++ tests. The
binary is named by IMGSEARCH_BINARY (CTest sets it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import imgsearch

BINARY = os.environ.get("IMGSEARCH_BINARY", "")


@pytest.fixture
def milvus(tmp_path: Path):
    if not BINARY or not os.access(BINARY, os.X_OK):
        pytest.skip("IMGSEARCH_BINARY does not name the imgsearch program (run through ctest)")
    server = subprocess.Popen([BINARY, "serve", "--db", str(tmp_path / "standin"), "--port", "0",
                               "--grpc-port", "-1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    server.stdout.readline()  # HTTP
    grpc_line = server.stdout.readline()  # Milvus's gRPC protocol, what milvus:// speaks
    port = int(grpc_line.rsplit(":", 1)[1])
    yield f"milvus://127.0.0.1:{port}"
    server.kill()
    server.wait()


def test_library_in_milvus(milvus: str, tmp_path: Path, classes_dir: Path) -> None:
    lib = imgsearch.Library.open(milvus, models=["color_layout", "phash"],
                                 uploads_dir=tmp_path / "uploads")
    report = lib.index(classes_dir)
    assert report.added + report.duplicates >= 13
    target = classes_dir / "green" / "green_1.png"
    results = lib.search(target, k=3, fuse="rrf")
    assert results["color_layout"].paths[0] == str(target)
    added = lib.add_image(target.read_bytes(), fields={"label": "again"})
    assert added.id > 0


def test_database_in_milvus(milvus: str) -> None:
    db = imgsearch.Database.open(milvus)
    c = db.create_collection("vectors", dimension=8)
    vectors = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)
    c.insert(np.arange(20), vectors)
    ids, distances = c.search(vectors[:2], k=1)
    assert list(ids[:, 0]) == [0, 1] and np.allclose(distances[:, 0], 0, atol=1e-5)
