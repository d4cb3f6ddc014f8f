#!/usr/bin/env bash
# The README's first command: the main job on the embedded default with the built-in
# models. Installs what is missing, builds, makes a small set of sample images, and embeds
# them with every built-in model.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/build.sh" >/dev/null
SAMPLES="$BUILD_DIR/samples"
/usr/bin/python3 "$ROOT/tools/make_samples.py" "$SAMPLES" >/dev/null
IMGSEARCH="$BUILD_DIR/imgsearch"

echo "== built-in models"
"$IMGSEARCH" models
echo
echo "== vectors of the sample images ($SAMPLES)"
"$IMGSEARCH" embed "$SAMPLES"/*/*
