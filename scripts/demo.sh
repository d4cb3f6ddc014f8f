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
echo "== learn how to fuse the models on the sample classes: each model's weight, and what to"
echo "   expect on classes not tuned on (cross-validated: tuned on all classes but one, scored"
echo "   on that one), against the best single model; re-ranking is kept only if it helps there"
"$IMGSEARCH" tune "$SAMPLES" --db "$DB" -k 5
echo
echo "== the same query by id, leaving it out, with one ranking fused as tuned"
"$IMGSEARCH" search id:1 --db "$DB" -k 3 --exclude-self --fuse auto
echo
echo "== how far the models agree on that query"
"$IMGSEARCH" compare "$SAMPLES/sunsets/sunsets_0.jpg" --db "$DB" -k 6 --fuse auto --html "$BUILD_DIR/compare.html"
echo
echo "== retrieval quality per model and fused, the folders being the classes (fused: equal-"
echo "   weight RRF; tuned: the fusion learned above, scored here on the classes it was tuned"
echo "   on, so tune's held-out column is the figure to expect on new classes)"
"$IMGSEARCH" eval "$SAMPLES" --db "$DB" -k 5 --json >"$BUILD_DIR/demo-eval.json"
"$IMGSEARCH" eval "$SAMPLES" --db "$DB" -k 5
/usr/bin/python3 - "$BUILD_DIR/demo-eval.json" <<'PY'
import json, sys
models = json.load(open(sys.argv[1]))["models"]
singles = {m: s["map"] for m, s in models.items() if m not in ("fused", "tuned") and "+" not in m}
best = max(singles, key=singles.get)
fused = max((m for m in models if m.split("+")[0] in ("fused", "tuned")), key=lambda m: models[m]["map"])
print(f"\nin this run: best single model {best} {singles[best]:.3f} mAP@5, "
      f"best fusion {fused} {models[fused]['map']:.3f} ({100 * (models[fused]['map'] - singles[best]):+.1f} points)")
PY
