#!/usr/bin/env bash
# ThreadSanitizer over the tests that run threads against each other: searches during
# writes and two handles on one database (store_test), parallel HTTP clients (server_test),
# concurrent index searches (index_test), the thread pool (base_test). Configures
# build-tsan/ (or $BUILD_DIR) with IMGSEARCH_TSAN=ON, builds only those test binaries and
# runs them with halt_on_error=1, so the first report fails the script. CI runs it after
# the README's test command, which has installed everything and made the fixtures.
#
# Left out: model_test. ONNX Runtime is a prebuilt, uninstrumented library with its own
# thread pool, so what it does inside is invisible to TSan; the server tests still run
# the built-in models through it (tests/tsan.supp says what it is blamed for).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-tsan}"
JOBS="${JOBS:-$(nproc)}"
TESTS=(base_test index_test store_test server_test)
# Single-threaded tests that take most of the time under TSan (recall over 20k vectors,
# the filter parser's depth limits) are left to the normal build's CTest.
declare -A SKIP=(
  [index_test]="AllIndexes/*"
  [store_test]="CollectionTest.EveryIndexKeepsRecallAgainstFlat:FilterTest.*:FaultInjectionTest.*"
)
started=$(date +%s)

# -O1 with line tables only: half the compile time of RelWithDebInfo's -O2 -g, and TSan
# still names file and line in its reports.
echo "[tsan] configuring $BUILD_DIR (ThreadSanitizer) and building ${TESTS[*]}" >&2
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DIMGSEARCH_WERROR=ON -DIMGSEARCH_TSAN=ON -DIMGSEARCH_BUILD_BENCH=OFF \
  ${CMAKE_EXTRA_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" --parallel "$JOBS" --target "${TESTS[@]}"
built=$(date +%s)

# The fixtures the tests read (images, tiny models), as CTest's make_fixtures makes them.
# Debian's python3 (numpy, PIL, onnx), as IMGSEARCH_PYTHON defaults to.
"${IMGSEARCH_PYTHON:-/usr/bin/python3}" "$ROOT/tests/make_fixtures.py" "$BUILD_DIR/fixtures" >/dev/null

# halt_on_error: the first report ends the test binary with an error. FAISS runs its
# OpenMP regions on one thread: libgomp is not instrumented, so TSan cannot see its
# barriers and blames FAISS's own memory on them; our threads are all still checked.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$ROOT/tests/tsan.supp"
export OMP_NUM_THREADS=1
status=0
for test in "${TESTS[@]}"; do
  echo "[tsan] running $test" >&2
  if ! "$BUILD_DIR/tests/$test" --gtest_brief=1 --gtest_filter="-${SKIP[$test]:-}" \
    >"$BUILD_DIR/$test.log" 2>&1; then
    echo "[tsan] $test failed; its output (all of it: $BUILD_DIR/$test.log):" >&2
    grep -A40 -m1 "WARNING: ThreadSanitizer\|FAILED\|Failure" "$BUILD_DIR/$test.log" >&2 ||
      tail -n 40 "$BUILD_DIR/$test.log" >&2
    status=1
  fi
done
echo "[tsan] build $((built - started)) s, tests $(($(date +%s) - built)) s" >&2
exit "$status"
