#!/usr/bin/env bash
# The wheel as a user gets it: built by pip with scikit-build-core (python/pyproject.toml)
# over the repository's CMake, installed into fresh virtual environments, imported from a
# folder outside the source tree, and used (ONNX Runtime found next to the extension).
#
#   python/tests/wheel_test.sh BUILD_DIR SOURCE_DIR WORK_DIR PYTHON
#
# PYTHON (the .deps venv's) has scikit-build-core and nanobind; the wheel is built without
# build isolation with BUILD_DIR as scikit-build-core's build directory, so the objects
# already compiled there are reused and the run takes a minute, not a full build.
set -euo pipefail
BUILD="$1" SRC="$2" WORK="$3" PY="$4"
rm -rf "$WORK" && mkdir -p "$WORK"
started=$(date +%s)

"$PY" -c "import scikit_build_core, nanobind" 2>/dev/null || {
  echo "skipped: $PY lacks scikit-build-core or nanobind (scripts/setup.sh --tests)"
  exit 77
}
echo "building the wheel (pip wheel ./python, build-dir $BUILD)"
"$PY" -m pip wheel --no-build-isolation --no-deps --disable-pip-version-check -q \
  -w "$WORK/dist" "$SRC/python" -Cbuild-dir="$BUILD" >"$WORK/pip-wheel.log" 2>&1 || {
  tail -n 40 "$WORK/pip-wheel.log" >&2
  exit 1
}
WHEEL="$(ls "$WORK"/dist/imgsearch-*.whl)"
echo "built $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1)) in $(($(date +%s) - started)) s"
"$PY" - "$WHEEL" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["imgsearch/__init__.py", "imgsearch/_errors.py", "imgsearch/py.typed",
        "imgsearch/_imgsearch.pyi", "imgsearch/libonnxruntime.so.1"]
missing = [n for n in need if n not in names]
ext = [n for n in names if n.startswith("imgsearch/_imgsearch.") and n.endswith(".so")]
assert not missing and ext, (missing, names)
assert not [n for n in names if n.endswith(".h") or "/include/" in n], names
print("wheel holds:", ", ".join(sorted(n for n in names if n.startswith("imgsearch/"))))
PYEOF

# A smoke test run from an empty folder with -I (no source tree, no PYTHONPATH).
mkdir -p "$WORK/elsewhere"
cat >"$WORK/elsewhere/smoke.py" <<'PYEOF'
import os, struct, sys, tempfile, zlib
from pathlib import Path
import numpy as np
import imgsearch

package = Path(imgsearch.__file__).parent
assert Path(sys.prefix) in package.parents, (imgsearch.__file__, sys.prefix)
def png(rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[r].tobytes() for r in range(h))
    def chunk(k, d):
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
work = Path(tempfile.mkdtemp())
photos = work / "photos"
photos.mkdir()
rng = np.random.default_rng(0)
for i in range(6):
    (photos / f"p{i}.png").write_bytes(png(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)))
vectors = imgsearch.embed(sorted(photos.iterdir()), "color_layout")
assert vectors.shape == (6, 32) and vectors.dtype == np.float32
maps = Path("/proc/self/maps").read_text()
ort = [line.split()[-1] for line in maps.splitlines() if "libonnxruntime" in line]
assert ort and all(Path(p).parent == package for p in ort), ort
lib = imgsearch.Library.open(os.fspath(work / "lib"))
assert lib.index(photos).added == 6
hit = lib.search(photos / "p3.png", k=1)
assert Path(hit["color_layout"].paths[0]).name == "p3.png"
db = imgsearch.Database.open(work / "db")
c = db.create_collection("v", dimension=32)
c.insert(np.arange(6), vectors)
ids, _ = c.search(vectors, k=1)
assert list(ids[:, 0]) == list(range(6))
try:
    db.get_collection("absent")
except imgsearch.NotFound:
    pass
print(f"ok: imgsearch {imgsearch.__version__} from {package}, numpy {np.__version__}, "
      f"Python {sys.version.split()[0]} ({sys.executable})")
PYEOF

# PYTHON's own interpreter (the one the machine has), numpy from the package index.
BASE_PY="$("$PY" -c 'import sys; print(sys._base_executable)')"
run_in_venv() {  # NAME PYTHON [venv options...]
  local name="$1" python="$2"
  shift 2
  "$python" -m venv "$@" "$WORK/$name"
  "$WORK/$name/bin/pip" install --disable-pip-version-check -q "$WHEEL" >"$WORK/$name-pip.log" 2>&1 || {
    tail -n 30 "$WORK/$name-pip.log" >&2
    exit 1
  }
  (cd "$WORK/elsewhere" && "$WORK/$name/bin/python" -I smoke.py)
}
run_in_venv venv-machine "$BASE_PY"
# Debian's Python 3.11 with Debian's numpy (python3-numpy), when this machine has it.
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys, numpy; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  run_in_venv venv-debian /usr/bin/python3 --system-site-packages
fi
echo "wheel test took $(($(date +%s) - started)) s"
echo "1 passed, 0 failed"
