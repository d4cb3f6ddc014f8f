#!/usr/bin/env bash
# Installs everything imgsearch needs to build, test and run on Debian bookworm.
# Idempotent and quick when everything is already present. Called by scripts/demo.sh
# and scripts/test.sh; safe to run by hand. With --tests it also installs what only the
# tests use: Debian's chromium and, from npm, playwright-core (tests/web).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
ORT_NPM_VERSION="1.30.0"       # onnxruntime-node: ships libonnxruntime.so.1 for linux-x64
ORT_HEADERS_SUITE="trixie"     # libonnxruntime-dev of the next Debian release: headers only

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  libgtest-dev libgmock-dev libbenchmark-dev
  libjpeg62-turbo-dev libpng-dev libwebp-dev libtiff-dev libgif-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libsqlite3-dev libhiredis-dev redis-server
  libcpp-httplib-dev
  libhnswlib-dev libfaiss-dev libopenblas-dev
  python3 python3-numpy python3-pil python3-onnx
  ca-certificates
)
WITH_TESTS=0
[ "${1:-}" = "--tests" ] && WITH_TESTS=1
[ "$WITH_TESTS" = 1 ] && APT_PACKAGES+=(chromium fonts-dejavu-core)
# Node.js and npm fetch the ONNX Runtime library; a machine may already have them from
# another source (e.g. NodeSource), whose nodejs conflicts with Debian's npm.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

log() { printf '[setup] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing_apt_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      printf '%s\n' "$pkg"
    fi
  done
}

install_apt_packages() {
  local missing
  missing="$(missing_apt_packages)"
  [ -z "$missing" ] && return 0
  log "installing Debian packages: $(echo "$missing" | tr '\n' ' ')"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# The C/C++ headers come from the next Debian release's libonnxruntime-dev. The .deb is
# downloaded through a private source list and unpacked into .deps: nothing of that
# release is installed into the system (its library needs a newer glibc).
fetch_ort_headers() {
  local dest="$DEPS/onnxruntime/include"
  [ -f "$dest/onnxruntime_cxx_api.h" ] && return 0
  log "fetching ONNX Runtime headers (libonnxruntime-dev from $ORT_HEADERS_SUITE)"
  local work="$DEPS/apt-$ORT_HEADERS_SUITE"
  rm -rf "$work" && mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/unpacked"
  local uri
  uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  [ -n "$uri" ] || uri="http://deb.debian.org/debian"
  echo "deb $uri $ORT_HEADERS_SUITE main" >"$work/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives" -qq)
  apt-get "${opts[@]}" update
  (cd "$work" && apt-get "${opts[@]}" download libonnxruntime-dev)
  dpkg -x "$work"/libonnxruntime-dev_*.deb "$work/unpacked"
  mkdir -p "$dest"
  cp "$work"/unpacked/usr/include/onnxruntime/*.h "$dest/"
  rm -rf "$work"
}

# The shared library comes from the npm package onnxruntime-node (linux-x64 build).
# --ignore-scripts: its install script tries to download GPU extras and fails offline.
fetch_ort_library() {
  local dest="$DEPS/onnxruntime/lib"
  [ -f "$dest/libonnxruntime.so.1" ] && return 0
  log "fetching ONNX Runtime library (npm onnxruntime-node@$ORT_NPM_VERSION)"
  local work="$DEPS/npm-ort"
  rm -rf "$work" && mkdir -p "$work" "$dest"
  (cd "$work" && npm pack --silent --ignore-scripts "onnxruntime-node@$ORT_NPM_VERSION" >/dev/null)
  tar -xzf "$work"/onnxruntime-node-*.tgz -C "$work"
  cp "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$dest/"
  ln -sf libonnxruntime.so.1 "$dest/libonnxruntime.so"
  rm -rf "$work"
}

# playwright-core drives chromium in the web page test; its version is pinned by
# tests/web/package-lock.json.
install_browser_test_packages() {
  [ -f "$ROOT/tests/web/node_modules/playwright-core/package.json" ] && return 0
  log "installing playwright-core for the browser test (npm ci in tests/web)"
  (cd "$ROOT/tests/web" && npm ci --silent --no-audit --no-fund >/dev/null)
}

install_apt_packages
mkdir -p "$DEPS"
fetch_ort_headers
fetch_ort_library
if [ "$WITH_TESTS" = 1 ]; then install_browser_test_packages; fi
