#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds examples/2-index-and-search.cc
# against the installed package twice, as a library user would: with CMake
# (find_package(imgsearch)) and with pkg-config, and runs both on the class fixtures.
#
#   tests/install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR FIXTURE_DIR
set -euo pipefail
BUILD="$1" SRC="$2" WORK="$3" FIXTURES="$4"
rm -rf "$WORK" && mkdir -p "$WORK"
PREFIX="$WORK/prefix"
cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log"
echo "installed into $PREFIX"

# Only the public API is installed: no internal header.
if find "$PREFIX/include" -name '*.h' | grep -v '/include/imgsearch/' | grep -q .; then
  echo "FAIL: headers outside include/imgsearch/ were installed" >&2
  exit 1
fi
"$PREFIX/bin/imgsearch" --version | grep -qx "imgsearch $(sed -n 's/^project(imgsearch VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")"
echo "imgsearch --version prints the CMake project version"

run_example() {  # BINARY LIBRARY_DIR
  "$1" "$FIXTURES/classes" "$2" "$FIXTURES/classes/red/red_1.png" >"$2.out" 2>/dev/null
  grep -q "distance 0.0000  .*red_1.png" "$2.out" && grep -q "^fused:" "$2.out" || {
    echo "FAIL: $1 printed:" >&2
    cat "$2.out" >&2
    exit 1
  }
}

cmake -S "$SRC/tests/install" -B "$WORK/cmake-user" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DEXAMPLE_SOURCE="$SRC/examples/2-index-and-search.cc" >"$WORK/cmake-user.log"
cmake --build "$WORK/cmake-user" >>"$WORK/cmake-user.log"
run_example "$WORK/cmake-user/2-index-and-search" "$WORK/library-cmake"
echo "find_package(imgsearch): built and ran examples/2-index-and-search"

PC_DIR="$(dirname "$(find "$PREFIX" -name imgsearch.pc | head -n1)")"
# shellcheck disable=SC2046
c++ -std=c++20 "$SRC/examples/2-index-and-search.cc" -o "$WORK/pkg-config-user" \
  $(PKG_CONFIG_PATH="$PC_DIR" pkg-config --cflags --libs imgsearch)
run_example "$WORK/pkg-config-user" "$WORK/library-pkg-config"
echo "pkg-config imgsearch: built and ran examples/2-index-and-search"
echo "1 passed, 0 failed"
