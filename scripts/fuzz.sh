#!/usr/bin/env bash
# libFuzzer over the code that reads outside input (fuzz/, doc/fuzzing.md).
#
#   scripts/fuzz.sh TARGET MINUTES   builds, then fuzzes one target for that long
#   scripts/fuzz.sh --ci             builds every target and runs each over its corpus
#                                    plus a short fixed budget (all together < 3 minutes)
#   scripts/fuzz.sh --list           the targets
#
# Builds build-fuzz/ (or $BUILD_DIR) with clang, IMGSEARCH_FUZZ=ON and -O1 -g1: only the
# fuzz targets and what they link. The committed corpus fuzz/corpus/TARGET is only read;
# new inputs go to $BUILD_DIR/fuzz-work/TARGET, and a crash, leak, timeout or
# out-of-memory leaves its input in $BUILD_DIR/fuzz-crashes/ and makes the script fail.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-fuzz}"
JOBS="${JOBS:-$(nproc)}"
CI_SECONDS="${CI_SECONDS:-20}"  # per target in --ci
# Keep in step with fuzz/CMakeLists.txt.
TARGETS=(image_decode model_spec filter store_files milvus_api milvus_grpc native_api multipart milvus_answer grpc_h2)

usage() {
  echo "usage: $0 TARGET MINUTES | --ci | --list   (targets: ${TARGETS[*]})" >&2
  exit 2
}

build() {
  command -v clang++ >/dev/null ||
    { echo "[fuzz] clang++ not found: run scripts/setup.sh (it installs clang)" >&2; exit 1; }
  echo "[fuzz] configuring $BUILD_DIR (clang, libFuzzer, ASan, UBSan) and building $*" >&2
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DIMGSEARCH_FUZZ=ON -DIMGSEARCH_WERROR=ON \
    -DIMGSEARCH_BUILD_TESTS=OFF -DIMGSEARCH_BUILD_BENCH=OFF ${CMAKE_EXTRA_ARGS:-} >/dev/null
  local targets=()
  for t in "$@"; do targets+=("${t}_fuzzer"); done
  cmake --build "$BUILD_DIR" --parallel "$JOBS" --target "${targets[@]}"
}

# run TARGET SECONDS: fuzzes for SECONDS over the committed corpus; new inputs go to the
# scratch corpus. Returns libFuzzer's status.
run() {
  local target="$1" seconds="$2"
  local work="$BUILD_DIR/fuzz-work/$target" crashes="$BUILD_DIR/fuzz-crashes"
  # The targets make their scratch databases under TMPDIR, in memory when /dev/shm is
  # there (SQLite's fsyncs would otherwise set the pace); a crashed run leaves them.
  local tmp_root="$BUILD_DIR/fuzz-tmp"
  [ -d /dev/shm ] && [ -w /dev/shm ] && tmp_root="/dev/shm/imgsearch-fuzz-$(id -u)"
  local scratch="${FUZZ_TMP:-$tmp_root}/$target"
  rm -rf "$scratch"
  mkdir -p "$work" "$crashes" "$scratch"
  local args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
              -artifact_prefix="$crashes/$target-")
  case "$target" in
    filter) args+=(-dict="$ROOT/fuzz/filter.dict") ;;
    model_spec | milvus_api | native_api | multipart) args+=(-dict="$ROOT/fuzz/json.dict") ;;
  esac
  echo "[fuzz] $target for ${seconds} s" >&2
  # Leaks count as failures (libFuzzer's -detect_leaks); UBSan already aborts (the build
  # sets -fno-sanitize-recover).
  ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1}" UBSAN_OPTIONS="print_stacktrace=1" \
    LSAN_OPTIONS="suppressions=$ROOT/fuzz/lsan.supp" \
    TMPDIR="$scratch" "$BUILD_DIR/fuzz/${target}_fuzzer" "${args[@]}" "$work" \
    "$ROOT/fuzz/corpus/$target"
}

case "${1:-}" in
  --list)
    printf '%s\n' "${TARGETS[@]}"
    ;;
  --ci)
    started=$(date +%s)
    build "${TARGETS[@]}"
    built=$(date +%s)
    failed=()
    for target in "${TARGETS[@]}"; do
      log="$BUILD_DIR/fuzz-$target.log"
      if ! run "$target" "$CI_SECONDS" >"$log" 2>&1; then
        echo "[fuzz] $target FAILED; the end of its log (all of it: $log):" >&2
        tail -n 60 "$log" >&2
        failed+=("$target")
      else
        grep -m1 "stat::number_of_executed_units" "$log" | sed "s/^/[fuzz] $target: /" >&2 || true
      fi
    done
    echo "[fuzz] build $((built - started)) s, fuzzing $(($(date +%s) - built)) s" >&2
    if [ "${#failed[@]}" -gt 0 ]; then
      echo "[fuzz] failed: ${failed[*]} (inputs in $BUILD_DIR/fuzz-crashes/)" >&2
      exit 1
    fi
    echo "fuzz: ${#TARGETS[@]} passed, 0 failed"
    ;;
  -*|"")
    usage
    ;;
  *)
    target="$1" minutes="${2:-}"
    [[ " ${TARGETS[*]} " == *" $target "* ]] || usage
    [[ "$minutes" =~ ^[0-9]+$ ]] || usage
    build "$target"
    run "$target" $((minutes * 60))
    ;;
esac
