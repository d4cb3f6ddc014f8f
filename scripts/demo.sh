#!/usr/bin/env bash
# The README's first command: the main job on the embedded default with the built-in
# models. Installs what is missing, builds, makes a small set of sample images, indexes
# them into a database with every built-in model, and searches it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/build.sh" >/dev/null
SAMPLES="$BUILD_DIR/samples"
/usr/bin/python3 "$ROOT/tools/make_samples.py" "$SAMPLES" >/dev/null
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
echo "== the same by id, leaving the query out"
"$IMGSEARCH" search id:1 --db "$DB" -k 3 --exclude-self
