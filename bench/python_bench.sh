#!/usr/bin/env bash
# The Python package's benchmark: Python search and embed against the same calls in C++
# (build/bench/python_parity_bench), and imgsearch.embed against onnxruntime's own Python
# package with PIL/numpy preprocessing (the recipe's way, and batched and threaded).
#
#   bench/python_bench.sh [PHOTOS_DIR] [MODEL.onnx] [IMAGES]
#
# Defaults: the shared Caltech-101 photos, MobileNetV2 (shared/data/models), 300 photos.
# Needs the build with the extension (scripts/build.sh after scripts/setup.sh --tests);
# makes .deps/venv-bench with scripts/requirements-bench.txt the first time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
PHOTOS="${1:-$ROOT/../shared/data/caltech101-dev}"
[ -d "$PHOTOS" ] || PHOTOS=/work/shared/data/caltech101-dev
MODEL="${2:-$(dirname "$PHOTOS")/models/mobilenetv2-fp32.onnx}"
IMAGES="${3:-300}"
VENV="$ROOT/.deps/venv-bench"
REQUIREMENTS="$ROOT/scripts/requirements-bench.txt"
stamp="$VENV/.requirements.sha256"
sum="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "[bench] making $VENV (onnxruntime, Pillow; pinned in $REQUIREMENTS)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --disable-pip-version-check -q -r "$REQUIREMENTS"
  echo "$sum" >"$stamp"
fi
[ -f "$BUILD_DIR/python/imgsearch/__init__.py" ] || {
  echo "no extension in $BUILD_DIR/python: run scripts/setup.sh --tests, then scripts/build.sh" >&2
  exit 1
}
cmake --build "$BUILD_DIR" --target python_parity_bench imgsearch_python >/dev/null
PYTHONPATH="$BUILD_DIR/python" "$VENV/bin/python" "$ROOT/bench/python_bench.py" \
  --photos "$PHOTOS" --model "$MODEL" --images "$IMAGES" \
  --cpp "$BUILD_DIR/bench/python_parity_bench"
