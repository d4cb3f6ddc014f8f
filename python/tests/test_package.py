"""What ships with the package: the type stub, py.typed, the version, docstrings."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

import imgsearch


def test_stub_and_marker_ship_next_to_the_extension() -> None:
    package = Path(imgsearch.__file__).parent
    assert (package / "py.typed").is_file()
    stub = package / "_imgsearch.pyi"
    tree = ast.parse(stub.read_text())
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    for name in ["Library", "Database", "Collection", "Embedder", "SearchResults", "IndexReport"]:
        assert name in classes, name
    library = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Library")
    methods = {n.name for n in library.body if isinstance(n, ast.FunctionDef)}
    assert {"open", "index", "add_image", "remove", "search", "compare", "evaluate", "tune",
            "find_duplicates"} <= methods


def test_public_names_and_docstrings() -> None:
    for name in imgsearch.__all__:
        assert hasattr(imgsearch, name), name
    assert imgsearch.__version__.count(".") == 2
    assert "Milvus" in imgsearch.Library.open.__doc__
    assert "faiss" in imgsearch.Collection.search.__doc__
    assert imgsearch.embed.__doc__ and imgsearch.Library.index.__doc__


USAGE = '''
import os
import numpy as np
import imgsearch

lib = imgsearch.Library.open(os.path.join("x", "lib"), models={"a": "color_layout"})
report: imgsearch.IndexReport = lib.index(["photos"], prune=True, progress=True)
added: int = report.added
results = lib.search("q.jpg", k=3, fuse="rrf", models=["a"])
ids = results["a"].ids
fused = results.fused
if fused is not None:
    scores = fused.scores
pairs = lib.compare(results)["pairs"]
db = imgsearch.Database.open("vectors")
c = db.create_collection("v", dimension=4, metric="L2", index="HNSW")
found, distances = c.search(np.zeros((1, 4), np.float32), k=2, filter="id > 3")
vectors = imgsearch.embed(["a.jpg"], "color_layout")
error: imgsearch.Error = imgsearch.NotFound("x")
version: str = imgsearch.__version__
'''


def test_stubs_type_check_a_user_program(tmp_path: Path) -> None:
    """mypy --strict accepts a program using the API, against the stubs that ship."""
    api = pytest.importorskip("mypy.api")
    program = tmp_path / "usage.py"
    program.write_text(USAGE)
    package_root = Path(imgsearch.__file__).resolve().parents[1]
    os.environ["MYPYPATH"] = str(package_root)
    try:
        stdout, stderr, status = api.run(["--strict", "--cache-dir", str(tmp_path / "cache"),
                                          str(program)])
    finally:
        del os.environ["MYPYPATH"]
    assert status == 0, stdout + stderr
