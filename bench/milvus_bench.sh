#!/usr/bin/env bash
# imgsearch serve against real Milvus 2.3 standalone, pymilvus over gRPC for both, in one
# run (issue 25 item 6): inserts, search q/s with 1 and 8 clients at recall@10 >= 0.95,
# RSS, the CPU cost of a search over gRPC / REST / in-process, and `imgsearch index` of
# Caltech photos into an embedded library and into Milvus. See bench/milvus_bench.py.
#
#   bench/milvus_bench.sh [--rows N] [--seconds S] [--only milvus|imgsearch] [--skip-searches]
#                         [--sq-type FP16] ...
#
# Needs the build (scripts/build.sh, target search_bench) and the tests' venv with pymilvus
# and the `milvus` package (scripts/setup.sh --tests); photos and MobileNetV2 from
# ../shared/data (PHOTOS=..., MODEL=... to change). Takes /tmp/imgsearch-milvus.lock while
# Milvus 2.3 runs (its embedded etcd binds a fixed port). About 15 minutes on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
DATA="$ROOT/../shared/data"
[ -d "$DATA" ] || DATA=/work/shared/data
PHOTOS="${PHOTOS:-$DATA/caltech101-dev}"
MODEL="${MODEL:-$DATA/models/mobilenetv2-fp32.onnx}"
WORK="${WORK:-$BUILD_DIR/bench-milvus}"
PYTHON="$ROOT/.deps/venv/bin/python"
[ -x "$PYTHON" ] && "$PYTHON" -c "import milvus, pymilvus" 2>/dev/null || {
  echo "no pymilvus / milvus in $ROOT/.deps/venv: run scripts/setup.sh --tests" >&2
  exit 1
}
for target in imgsearch bench/search_bench bench/milvus_layers_bench; do
  [ -x "$BUILD_DIR/$target" ] || {
    echo "no $BUILD_DIR/$target: build it (scripts/build.sh, or ninja -C $BUILD_DIR $(basename $target))" >&2
    exit 1
  }
done
echo "uptime before: $(uptime)"
"$PYTHON" "$ROOT/bench/milvus_bench.py" \
  --imgsearch "$BUILD_DIR/imgsearch" --search-bench "$BUILD_DIR/bench/search_bench" \
  --layers-bench "$BUILD_DIR/bench/milvus_layers_bench" \
  --photos "$PHOTOS" --model "$MODEL" --work "$WORK" "$@"
echo "uptime after: $(uptime)"
