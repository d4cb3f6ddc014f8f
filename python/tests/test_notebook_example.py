"""examples/notebook.py runs as a script: on a folder, and on the stand-in Milvus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imgsearch
from test_milvus import milvus  # noqa: F401 - the stand-in Milvus fixture

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.py"


def run(args: list[str], cwd: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(Path(imgsearch.__file__).resolve().parents[1]))
    done = subprocess.run([sys.executable, str(NOTEBOOK), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_notebook_on_a_folder(tmp_path: Path, classes_dir: Path) -> None:
    out = run([str(classes_dir / "red"), "--db", str(tmp_path / "lib"), "--out", str(tmp_path),
               "-k", "3"], tmp_path)
    assert "colour vs hash: overlap@k" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no thumbnails" in out
    else:
        assert (tmp_path / "side_by_side.png").stat().st_size > 1000


def test_notebook_on_milvus(milvus: str, tmp_path: Path, classes_dir: Path) -> None:  # noqa: F811
    out = run([str(classes_dir / "green"), "--db", milvus, "--uploads", str(tmp_path / "up"),
               "--model", "a=color_layout", "--model", "b=phash", "--out", str(tmp_path)], tmp_path)
    assert "a vs b: overlap@k" in out
