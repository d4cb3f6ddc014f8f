#!/usr/bin/env bash
# The recipe's ONNX files, made as the recipe makes them (tools/recipe_models.py): Keras
# ResNet50(include_top=False, pooling='max') and VGG16 (the same), random weights, saved
# as SavedModels and converted with `python -m tf2onnx.convert --saved-model`, in Keras 2
# naming (tf-keras: input_1 / max_pool) and Keras 3 naming (inputs / output_0), into
# .deps/recipe-models/keras2/ and keras3/ (kept: a second run costs nothing). Then checks
# once that Keras's own load_img + preprocess_input equal the reference tensor that
# tests/recipe computes without TensorFlow.
#
#   scripts/recipe_models.sh          # the full-size files (about 3 minutes the first time,
#                                     # plus the venv: 1.5 GB from the package index)
#   scripts/recipe_models.sh --tiny   # regenerates tests/recipe/models (the CI test's graphs)
#
# Not run by CI: the test uses the committed small graphs and needs no TensorFlow.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/.deps/recipe-models"
PY="$ROOT/.deps/venv-recipe/bin/python"
bash "$ROOT/scripts/setup.sh" --recipe
export TF_CPP_MIN_LOG_LEVEL=3
for style in keras2 keras3; do
  legacy=0
  [ "$style" = keras2 ] && legacy=1
  if [ "${1:-}" = "--tiny" ]; then
    TF_USE_LEGACY_KERAS=$legacy "$PY" "$ROOT/tools/recipe_models.py" tiny "$ROOT/tests/recipe/models"
    continue
  fi
  if [ -f "$OUT/$style/onnx_resnet50.onnx" ] && [ -f "$OUT/$style/onnx_vgg16.onnx" ]; then
    echo "[recipe] $OUT/$style: already made" >&2
  else
    echo "[recipe] exporting ResNet50 and VGG16 ($style naming) into $OUT/$style" >&2
    mkdir -p "$OUT/$style"
    TF_USE_LEGACY_KERAS=$legacy "$PY" "$ROOT/tools/recipe_models.py" full "$OUT/$style"
  fi
  TF_USE_LEGACY_KERAS=$legacy "$PY" "$ROOT/tools/recipe_models.py" check-reference
done
