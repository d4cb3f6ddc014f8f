"""What ships with the package: the type stub, py.typed, the version, docstrings."""

from __future__ import annotations

import ast
from pathlib import Path

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
