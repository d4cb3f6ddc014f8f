"""The GIL is released in long calls: two Python threads are inside a search (or an
embed) at the same moment. Shown with the extension's own count of threads inside the
GIL-free part of a call, which cannot reach two while the GIL is held, so the test does
not depend on timing; the throughput of one thread against two is printed alongside."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

import imgsearch
from conftest import COLOURS, class_picture


def run_until_parallel(call: Callable[[], object], limit_seconds: float = 60.0) -> int:
    """Runs `call` on two threads until both were seen inside it at once (or the limit)."""
    imgsearch._imgsearch._max_parallel_calls(reset=True)
    stop = time.monotonic() + limit_seconds
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while time.monotonic() < stop and imgsearch._imgsearch._max_parallel_calls() < 2:
                call()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return imgsearch._imgsearch._max_parallel_calls()


def throughput(call: Callable[[], object], threads: int, calls: int) -> float:
    def worker() -> None:
        for _ in range(calls // threads):
            call()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return calls / (time.perf_counter() - start)


def test_two_threads_search_a_collection_at_once(tmp_path: Path) -> None:
    db = imgsearch.Database.open(tmp_path / "db")
    c = db.create_collection("v", dimension=64)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20000, 64)).astype(np.float32)
    c.insert(np.arange(len(vectors)), vectors)
    queries = vectors[:16].copy()

    def search() -> None:
        ids, _ = c.search(queries, k=5)
        assert ids[0, 0] == 0

    assert run_until_parallel(search) >= 2
    one, two = throughput(search, 1, 40), throughput(search, 2, 40)
    print(f"collection.search: {one:.0f}/s on one thread, {two:.0f}/s on two ({two / one:.2f}x)")


def test_two_threads_search_a_library_and_embed_at_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    lib = imgsearch.Library.open(tmp_path / "lib", models=["color_layout", "phash"])
    for i in range(40):
        lib.add_image(_png(class_picture(list(COLOURS.values())[i % 3], i % 4, rng)))
    query = _png(class_picture(COLOURS["green"], 1, rng))
    assert run_until_parallel(lambda: lib.search(query, k=5, fuse="rrf")) >= 2

    pictures = [class_picture(COLOURS["blue"], i % 4, rng) for i in range(16)]
    embedder = imgsearch.Embedder("color_layout", threads=1)
    assert run_until_parallel(lambda: embedder.embed(pictures)) >= 2


def _png(picture: np.ndarray) -> bytes:
    from conftest import png_bytes

    return png_bytes(picture)
