"""Cancelling a long index: Ctrl-C (SIGINT) in a real process, and an exception raised by
the progress callback. Either stops the run between chunks with everything so far
committed, raises in the caller, and a second run continues where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import imgsearch
from conftest import write_png

CHILD = textwrap.dedent("""
    import json, sys
    import imgsearch
    lib = imgsearch.Library.open(sys.argv[1], models=["color_layout", "phash"])
    def progress(p):
        # One write per line: print() writes the newline apart, and Ctrl-C may land between.
        sys.stdout.write(json.dumps({"done": p.done, "total": p.total}) + "\\n")
        sys.stdout.flush()
    try:
        report = lib.index(sys.argv[2], chunk=1, decode_threads=1, progress=progress)
    except KeyboardInterrupt as e:
        tb = e.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        # "<module>": raised by index itself (the cancellation hook ran the signal
        # handler between chunks); "progress": raised while the callback ran.
        where = tb.tb_frame.f_code.co_name
        print(json.dumps({"interrupted": True, "images": len(lib), "where": where}), flush=True)
        sys.exit(0)
    print(json.dumps({"finished": True, "images": len(lib)}), flush=True)
    sys.exit(3)
""")


@pytest.fixture(scope="module")
def big_pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pictures large enough that decoding them takes a while (the run is long), in
    blocks of 8x8 pixels so that their files stay small."""
    folder = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(11)
    for i in range(80):
        blocks = rng.integers(0, 256, (113, 150, 3), dtype=np.uint8)
        picture = np.kron(blocks, np.ones((8, 8, 1), np.uint8))[:900, :1200]
        write_png(folder / f"big_{i:02d}.png", np.ascontiguousarray(picture))
    return folder


def test_ctrl_c_cancels_index_with_everything_committed(tmp_path: Path, big_pictures: Path) -> None:
    library = tmp_path / "lib"
    env = dict(os.environ, PYTHONPATH=str(Path(imgsearch.__file__).resolve().parents[1]))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(library), str(big_pictures)],
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    first = json.loads(child.stdout.readline())
    assert first["done"] >= 1 and first["total"] == 80
    time.sleep(0.05)  # most likely inside C++ now, decoding the next picture
    child.send_signal(signal.SIGINT)  # as Ctrl-C in a terminal or a notebook's interrupt
    lines = [json.loads(line) for line in child.stdout]
    assert child.wait(timeout=120) == 0, lines
    outcome = lines[-1]
    assert outcome.get("interrupted"), lines
    assert 1 <= outcome["images"] < 80
    print(f"interrupted after {outcome['images']} of 80 images, raised in {outcome['where']}")

    # Everything committed is there, and the next run continues from it.
    lib = imgsearch.Library.open(library)
    assert len(lib) == outcome["images"]
    report = lib.index(big_pictures)
    assert report.unchanged == outcome["images"] and report.added == 80 - outcome["images"]
    assert len(lib) == 80


def test_signal_during_cpp_work_is_seen_between_chunks(tmp_path: Path, big_pictures: Path) -> None:
    """No Python code runs during this index (no progress callback): only the
    cancellation hook, calling PyErr_CheckSignals, can run the SIGINT handler."""

    class Interrupted(Exception):
        pass

    def handler(signum: int, frame: object) -> None:
        raise Interrupted()

    lib = imgsearch.Library.open(tmp_path / "lib", models=["color_layout"])
    watcher = imgsearch.Database.open(tmp_path / "lib")  # a second handle, to watch commits

    def interrupt_after_first_commit() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(watcher["images"]) == 0:
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        thread = threading.Thread(target=interrupt_after_first_commit)
        thread.start()
        with pytest.raises(Interrupted) as raised:
            lib.index(big_pictures, chunk=1, decode_threads=1)
        thread.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    # Raised by the index call itself, not inside a callback.
    tb = raised.value.__traceback__
    names = []
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert names[-1] == "handler" and names[-2] == "test_signal_during_cpp_work_is_seen_between_chunks"
    assert 1 <= len(lib) < 80


def test_exception_in_progress_stops_the_run(tmp_path: Path, big_pictures: Path) -> None:
    lib = imgsearch.Library.open(tmp_path / "lib", models=["color_layout"])

    class Enough(Exception):
        pass

    def progress(p: imgsearch.IndexProgress) -> None:
        if p.done >= 3:
            raise Enough(p.done)

    with pytest.raises(Enough):
        lib.index(big_pictures, chunk=1, progress=progress)
    assert len(lib) == 3
    assert lib.index(big_pictures).added == 77


def test_bad_progress_argument(tmp_path: Path) -> None:
    lib = imgsearch.Library.open(tmp_path / "lib", models=["color_layout"])
    with pytest.raises(imgsearch.InvalidArgument, match="progress"):
        lib.index(tmp_path, progress=42)
