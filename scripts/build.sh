#!/usr/bin/env bash
# Configures and builds imgsearch into build/ (or $BUILD_DIR). Runs setup first.
# Warnings are errors in every build these scripts make, so that the README's two
# commands share one build and CI sees what a developer sees.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/setup.sh"
if [ -x "$BUILD_DIR/imgsearch" ]; then
  echo "[build] bringing $BUILD_DIR up to date" >&2
else
  echo "[build] building imgsearch into $BUILD_DIR: the first build takes about 10 minutes" \
    "on 2 cores ($(nproc) here); ninja shows its progress as [done/total]" >&2
fi
# The Python extension (python/) is built too when the tests' venv has nanobind
# (scripts/setup.sh --tests): the pytest suite imports it from $BUILD_DIR/python.
PYTHON_ARGS=()
VENV_PYTHON="$ROOT/.deps/venv/bin/python"
if [ -x "$VENV_PYTHON" ] && "$VENV_PYTHON" -c "import nanobind" 2>/dev/null; then
  PYTHON_ARGS=(-DIMGSEARCH_BUILD_PYTHON_MODULE=ON "-DPython_EXECUTABLE=$VENV_PYTHON")
fi
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DIMGSEARCH_WERROR=ON "${PYTHON_ARGS[@]}" ${CMAKE_EXTRA_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
