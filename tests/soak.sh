#!/usr/bin/env bash
# The soak test (not in CI): `imgsearch serve` under mixed load, SIGKILLed and restarted
# every few seconds, every acknowledged write verified at the end (tests/soak.mjs).
#
#   tests/soak.sh SECONDS [MAX_SECONDS_BETWEEN_KILLS]
#
# Uses the imgsearch built in build/ (or $BUILD_DIR); run scripts/build.sh first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
SECONDS_TO_RUN="${1:?usage: tests/soak.sh SECONDS [MAX_SECONDS_BETWEEN_KILLS]}"
[[ -x "$BUILD_DIR/imgsearch" ]] || { echo "no $BUILD_DIR/imgsearch: run scripts/build.sh first" >&2; exit 2; }
exec node "$ROOT/tests/soak.mjs" "$BUILD_DIR/imgsearch" "$BUILD_DIR/soak" "$SECONDS_TO_RUN" "${2:-3}"
