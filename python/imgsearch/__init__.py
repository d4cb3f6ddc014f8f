"""imgsearch: image similarity search with several models at once, numpy in and out.

    import imgsearch
    lib = imgsearch.Library.open("library", models={"color": "color_layout", "hash": "phash"})
    lib.index("photos/", progress=True)
    results = lib.search("photos/cat.jpg", k=5, fuse="rrf")
    results.to_pandas()

    vectors = imgsearch.embed(["a.jpg", "b.png"], "color_layout")   # float32 (2, 32)

    db = imgsearch.Database.open("vectors")
    c = db.create_collection("docs", dimension=128, metric="L2", index="HNSW")
    c.insert(ids, vectors)                   # int64 (n,), float32 (n, 128)
    ids, distances = c.search(queries, k=10) # (nq, 10) each, as faiss answers

Every error is an :class:`imgsearch.Error` (one subclass per status code of the C++
library). Long calls release the GIL; Ctrl-C cancels an index run between chunks with
everything so far committed.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Sequence, Union

from ._errors import (
    Corruption,
    Error,
    Internal,
    InvalidArgument,
    IOError,
    NoSpace,
    NotFound,
    ResourceExhausted,
    Unsupported,
)
from ._imgsearch import (
    AddedImage,
    Collection,
    Database,
    DuplicateGroup,
    DuplicateReport,
    Embedder,
    EvalReport,
    EvalScores,
    FusedResults,
    ImageInfo,
    IndexFailure,
    IndexProgress,
    IndexReport,
    Library,
    ModelResults,
    SearchResults,
    TuneReport,
    builtin_models,
)
from . import _imgsearch

#: The C++ library's version (CMakeLists.txt's project version), as the wheel's.
__version__: str = getattr(_imgsearch, "__version__")

ImageInput = Union[str, "os.PathLike[str]", bytes, Any]

_EMBEDDERS: dict[tuple[Any, ...], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()
_EMBEDDERS_KEPT = 8


def _embedder(model: str | os.PathLike[str], batch_size: int, threads: int,
              preset: str | None) -> Embedder:
    """An Embedder for these arguments, kept for the next call (the ONNX Runtime session
    is the expensive part); a model file that changed is opened again."""
    source = os.fspath(model)
    try:
        st = os.stat(source)
        version: tuple[int, int] = (st.st_mtime_ns, st.st_size)
    except OSError:
        version = (0, 0)  # a built-in model's name
    key = (source, version, batch_size, threads, preset)
    with _EMBEDDERS_LOCK:
        found = _EMBEDDERS.get(key)
    if found is not None:
        return found
    opened = Embedder(source, batch_size=batch_size, threads=threads, preset=preset)
    with _EMBEDDERS_LOCK:
        if len(_EMBEDDERS) >= _EMBEDDERS_KEPT:
            _EMBEDDERS.pop(next(iter(_EMBEDDERS)))
        _EMBEDDERS[key] = opened
    return opened


def embed(images: ImageInput | Sequence[ImageInput],
          model: str | os.PathLike[str] | Embedder = "color_layout", *,
          batch_size: int = 8, threads: int = 0, preset: str | None = None) -> Any:
    """The vectors of ``images`` under ``model``: a float32 numpy array of shape
    (n, dimension), or uint8 packed bits of shape (n, dimension / 8) for a binary model
    (such as the built-in ``phash``). Row i belongs to images[i].

    ``images``: one image or a sequence: files (str or os.PathLike), encoded bytes, uint8
    RGB arrays (height, width, 3), PIL images; or a uint8 array (n, height, width, 3).
    ``model``: a built-in model's name, an ONNX file, or an :class:`Embedder` (the
    session for a name or file is opened once and kept for later calls).
    The GIL is released while images are decoded (on every core) and embedded.
    """
    if isinstance(model, Embedder):
        return model.embed(images)
    return _embedder(model, batch_size, threads, preset).embed(images)


__all__ = [
    "AddedImage",
    "Collection",
    "Corruption",
    "Database",
    "DuplicateGroup",
    "DuplicateReport",
    "Embedder",
    "Error",
    "EvalReport",
    "EvalScores",
    "FusedResults",
    "ImageInfo",
    "IndexFailure",
    "IndexProgress",
    "IndexReport",
    "Internal",
    "InvalidArgument",
    "Library",
    "ModelResults",
    "NoSpace",
    "NotFound",
    "ResourceExhausted",
    "SearchResults",
    "TuneReport",
    "Unsupported",
    "__version__",
    "builtin_models",
    "embed",
]
