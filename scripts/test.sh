#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, checks formatting, and
# runs the whole test suite through CTest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/setup.sh" --tests
bash "$ROOT/scripts/build.sh"
bash "$ROOT/scripts/check_format.sh"
cd "$BUILD_DIR"
echo "[test] running the test suite with ctest (a few minutes on 2 cores)" >&2
ctest --output-on-failure --parallel "$(nproc)" --timeout 600
