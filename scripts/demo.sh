#!/usr/bin/env bash
# The README's first command: the main job on the embedded default with the built-in
# models. Installs what is missing, builds, makes a small set of sample images, indexes
# them into a database with every built-in model, and searches it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
# Setup and build report their steps and progress on stderr; the demo's own output is stdout.
bash "$ROOT/scripts/build.sh" >&2
SAMPLES="$BUILD_DIR/samples"
echo "[demo] sample images in $SAMPLES: $(/usr/bin/python3 "$ROOT/tools/make_samples.py" "$SAMPLES")" >&2
IMGSEARCH="$BUILD_DIR/imgsearch"

DB="$BUILD_DIR/demo-db"

echo "== built-in models"
"$IMGSEARCH" models
echo
echo "== index $SAMPLES into $DB (a second run skips unchanged files)"
"$IMGSEARCH" index "$SAMPLES" --db "$DB"
echo
echo "== images most like sunsets/sunsets_0.jpg, per model"
"$IMGSEARCH" search "$SAMPLES/sunsets/sunsets_0.jpg" --db "$DB" -k 5
echo
echo "== the same by id, leaving the query out, with one ranking fused across the models"
"$IMGSEARCH" search id:1 --db "$DB" -k 3 --exclude-self --fuse rrf
echo
echo "== how far the models agree on that query"
"$IMGSEARCH" compare "$SAMPLES/sunsets/sunsets_0.jpg" --db "$DB" -k 6 --fuse rrf --html "$BUILD_DIR/compare.html"
echo
echo "== retrieval quality per model, the folders being the classes"
"$IMGSEARCH" eval "$SAMPLES" --db "$DB" -k 5
