#!/usr/bin/env bash
# Installs everything imgsearch needs to build, test and run on Debian bookworm.
# Idempotent and quick when everything is already present. Called by scripts/demo.sh
# and scripts/test.sh; safe to run by hand. With --tests it also installs what only the
# tests use: Debian's chromium and, from npm, playwright-core (tests/web) and the Milvus
# Node SDK (tests/milvus-sdk). With --recipe it also makes .deps/venv-recipe, the recipe's
# TensorFlow tools (scripts/recipe_models.sh).
#
# Every step says what it does; the output of apt-get and npm goes to .deps/logs/, and a
# step that fails prints the tool's own last lines, what to check, and exits 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
LOGS="$DEPS/logs"
ORT_NPM_VERSION="1.30.0"       # onnxruntime-node: ships libonnxruntime.so.1 for linux-x64
ORT_HEADERS_SUITE="trixie"     # libonnxruntime-dev of the next Debian release: headers only
MILVUS_PROTO_NPM="@zilliz/milvus2-sdk-node@2.5.8"  # its tarball carries Milvus's .proto files
NODE_MIN_MAJOR=18              # playwright-core (pinned in tests/web) runs on Node.js >= 18
APT_LOCK_WAIT="${APT_LOCK_WAIT:-600}"  # seconds to wait for another apt/dpkg to finish

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  clang libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer comes with clang's runtime
  libomp-14-dev  # clang's OpenMP (FAISS's headers need it in the fuzz and TSan builds)
  libgtest-dev libgmock-dev libbenchmark-dev
  libjpeg62-turbo-dev libpng-dev libwebp-dev libtiff-dev libgif-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libsqlite3-dev libhiredis-dev redis-server
  libcpp-httplib-dev libssl-dev  # OpenSSL: milvus+https:// (cpp-httplib is built with it)
  openssl  # the TLS test makes a self-signed certificate with it
  libhnswlib-dev libfaiss-dev libopenblas-dev
  libonnx-dev libprotobuf-dev
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc  # Milvus gRPC: the client
  libnghttp2-dev  # Milvus gRPC: serve's server (HTTP/2)
  python3 python3-numpy python3-pil python3-onnx python3-venv
  python3-dev  # headers: `pip install ./python` with Debian's Python
  ca-certificates
)
WITH_TESTS=0
[ "${1:-}" = "--tests" ] && WITH_TESTS=1
WITH_RECIPE=0  # --recipe: only the recipe's Python tools (scripts/recipe_models.sh)
[ "${1:-}" = "--recipe" ] && WITH_RECIPE=1
[ "$WITH_TESTS" = 1 ] && APT_PACKAGES+=(chromium fonts-dejavu-core)
# Node.js and npm fetch the ONNX Runtime library; a machine may already have them from
# another source (e.g. NodeSource), whose nodejs conflicts with Debian's npm.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

log() { printf '[setup] %s\n' "$*" >&2; }

fail() {
  log "error: $1"
  [ -n "${2:-}" ] && log "check: $2"
  exit 1
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# run_logged NAME ADVICE COMMAND...: runs COMMAND with its output in .deps/logs/NAME.log.
# On failure: the tool's last lines, the log's path, what to check, exit 1.
run_logged() {
  local name="$1" advice="$2" status=0
  shift 2
  local logfile="$LOGS/$name.log"
  "$@" >"$logfile" 2>&1 || status=$?
  [ "$status" -eq 0 ] && return 0
  log "error: '$*' failed with exit code $status; its last lines (all of them: $logfile):"
  tail -n 25 "$logfile" | sed 's/^/    /' >&2
  log "check: $advice"
  exit 1
}

missing_apt_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      printf '%s\n' "$pkg"
    fi
  done
}

# Names the apt/dpkg processes running now (e.g. unattended-upgrades after boot).
package_managers_running() {
  local comm
  for comm in /proc/[0-9]*/comm; do
    case "$(cat "$comm" 2>/dev/null)" in
      apt | apt-get | aptitude | dpkg | unattended-upgr) printf '%s ' "$(cat "$comm") (pid $(basename "$(dirname "$comm")"))" ;;
    esac
  done
}

# Waits (at most APT_LOCK_WAIT seconds) while another package manager runs; apt-get's
# own DPkg::Lock::Timeout covers the moment between this check and its start.
wait_for_package_managers() {
  local others waited=0
  others="$(package_managers_running)"
  [ -z "$others" ] && return 0
  log "another package manager is running: $others- waiting up to $APT_LOCK_WAIT s for it to finish"
  while [ -n "$(package_managers_running)" ]; do
    [ "$waited" -ge "$APT_LOCK_WAIT" ] &&
      fail "apt/dpkg still busy after $APT_LOCK_WAIT s: $(package_managers_running)" \
        "let it finish (or stop it), then run this again; APT_LOCK_WAIT=SECONDS waits longer"
    sleep 5
    waited=$((waited + 5))
  done
  log "the other package manager has finished"
}

# apt-get update does not wait for the lists lock (DPkg::Lock::Timeout covers dpkg's only):
# while another process holds it, try again every 5 s, for at most APT_LOCK_WAIT seconds.
update_package_lists() {
  local waited=0 logfile="$LOGS/apt-update.log"
  while ! "$@" update >"$logfile" 2>&1; do
    if ! grep -q "Could not get lock" "$logfile" || [ "$waited" -ge "$APT_LOCK_WAIT" ]; then
      run_logged apt-update \
        "that this machine reaches its Debian mirror (/etc/apt/sources.list.d/, any proxy in /etc/apt/apt.conf.d/) and that its clock is right; if another package manager holds the lock, APT_LOCK_WAIT=SECONDS waits longer (now $APT_LOCK_WAIT)" \
        "$@" update
      return 0
    fi
    [ "$waited" -eq 0 ] && log "$(grep -m1 "Could not get lock" "$logfile" | sed 's/^E: //') - waiting up to $APT_LOCK_WAIT s"
    sleep 5
    waited=$((waited + 5))
  done
}

install_apt_packages() {
  local missing
  missing="$(missing_apt_packages)"
  [ -z "$missing" ] && return 0
  local count
  count="$(echo "$missing" | wc -l)"
  wait_for_package_managers
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o "DPkg::Lock::Timeout=$APT_LOCK_WAIT")
  [ -n "$SUDO" ] && apt=("$SUDO" "${apt[@]}")
  log "updating the Debian package lists (apt-get update)"
  update_package_lists "${apt[@]}"
  log "installing Debian packages ($count) and what they need: $(echo "$missing" | tr '\n' ' ')"
  log "(a few minutes on a fresh machine; progress in $LOGS/apt-install.log)"
  # shellcheck disable=SC2086
  run_logged apt-install \
    "the apt-get messages above; free disk space (df -h /); after an interrupted install, 'apt-get -f install'; if another package manager holds the lock, APT_LOCK_WAIT=SECONDS waits longer (now $APT_LOCK_WAIT)" \
    "${apt[@]}" install -y --no-install-recommends $missing
  log "Debian packages installed"
}

# Node.js 18 or newer runs playwright-core in the browser test.
check_node_version() {
  local version major
  version="$(node --version 2>/dev/null || true)"
  [ -n "$version" ] || fail "npm is installed but node is not on PATH" \
    "install Debian's Node.js (apt-get install nodejs npm) or put node on PATH"
  major="${version#v}"
  major="${major%%.*}"
  if ! [ "$major" -ge "$NODE_MIN_MAJOR" ] 2>/dev/null; then
    fail "Node.js $version ($(command -v node)) is too old: the browser test needs Node.js $NODE_MIN_MAJOR or newer" \
      "install Debian bookworm's Node.js 18 (apt-get install nodejs npm) or put a newer node first on PATH"
  fi
}

npm_advice() {
  printf '%s' "that npm reaches its registry ($(npm config get registry 2>/dev/null)) through any" \
    " proxy (npm config get https-proxy); for a certificate error, that npm trusts your network's" \
    " CA (npm config set cafile /etc/ssl/certs/ca-certificates.crt, or NODE_EXTRA_CA_CERTS)"
}

# The C/C++ headers come from the next Debian release's libonnxruntime-dev. The .deb is
# downloaded through a private source list and unpacked into .deps: nothing of that
# release is installed into the system (its library needs a newer glibc).
fetch_ort_headers() {
  local dest="$DEPS/onnxruntime/include"
  [ -f "$dest/onnxruntime_cxx_api.h" ] && return 0
  log "fetching ONNX Runtime headers (libonnxruntime-dev from Debian $ORT_HEADERS_SUITE, not installed)"
  local work="$DEPS/apt-$ORT_HEADERS_SUITE"
  rm -rf "$work" && mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/unpacked"
  local uri
  uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  [ -n "$uri" ] || uri="http://deb.debian.org/debian"
  echo "deb $uri $ORT_HEADERS_SUITE main" >"$work/sources.list"
  # The files stay in this private folder, which apt's _apt user may not be able to reach:
  # download as the user running setup instead of warning about it.
  local opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
    -o "APT::Sandbox::User=$(id -un)" -q)
  local advice="that this machine reaches $uri and that it carries the suite $ORT_HEADERS_SUITE"
  run_logged ort-headers-update "$advice" apt-get "${opts[@]}" update
  (cd "$work" && run_logged ort-headers-download "$advice" apt-get "${opts[@]}" download libonnxruntime-dev)
  dpkg -x "$work"/libonnxruntime-dev_*.deb "$work/unpacked"
  mkdir -p "$dest"
  cp "$work"/unpacked/usr/include/onnxruntime/*.h "$dest/"
  rm -rf "$work"
}

# npm_unpack WORK LOGNAME PACKAGE: a registry package's tarball (npm pack, its scripts not
# run) unpacked into a fresh WORK/package.
npm_unpack() {
  local work="$1" name="$2" package="$3"
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && run_logged "$name" "$(npm_advice)" \
    npm pack --ignore-scripts --no-audit --no-fund "$package")
  tar -xzf "$work"/*.tgz -C "$work"
}

# The shared library comes from the npm package onnxruntime-node (linux-x64 build).
# --ignore-scripts: its install script tries to download GPU extras and fails offline.
fetch_ort_library() {
  local dest="$DEPS/onnxruntime/lib"
  [ -f "$dest/libonnxruntime.so.1" ] && return 0
  log "fetching ONNX Runtime library (npm pack onnxruntime-node@$ORT_NPM_VERSION, about 60 MB)"
  local work="$DEPS/npm-ort"
  mkdir -p "$dest"
  npm_unpack "$work" ort-library "onnxruntime-node@$ORT_NPM_VERSION"
  cp "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$dest/"
  ln -sf libonnxruntime.so.1 "$dest/libonnxruntime.so"
  rm -rf "$work"
}

# Milvus's .proto files (the gRPC protocol imgsearch serves and speaks) come from the
# tarball of the Milvus Node SDK, which ships them; they are compiled at build time with
# Debian's protoc and grpc_cpp_plugin. descriptor.proto is Debian's own (libprotobuf-dev).
fetch_milvus_protos() {
  local dest="$DEPS/milvus-proto" files="common schema milvus feder msg rg" f
  [ -f "$dest/milvus.proto" ] && return 0
  log "fetching Milvus's .proto files (npm pack $MILVUS_PROTO_NPM)"
  local work="$DEPS/npm-milvus-proto"
  mkdir -p "$dest.tmp"
  npm_unpack "$work" milvus-proto "$MILVUS_PROTO_NPM"
  for f in $files; do cp "$work/package/dist/proto/proto/$f.proto" "$dest.tmp/"; done
  rm -rf "$dest" "$work" && mv "$dest.tmp" "$dest"
}

# playwright-core drives chromium in the web page test; its version is pinned by
# tests/web/package.json and package-lock.json.
install_browser_test_packages() {
  local web="$ROOT/tests/web" pinned installed=""
  pinned="$(node -p 'require(process.argv[1]).dependencies["playwright-core"]' "$web/package.json")"
  if [ -f "$web/node_modules/playwright-core/package.json" ]; then
    installed="$(node -p 'require(process.argv[1]).version' "$web/node_modules/playwright-core/package.json")"
  fi
  [ "$installed" = "$pinned" ] && return 0
  log "installing playwright-core $pinned for the browser test (npm ci in tests/web)"
  (cd "$web" && run_logged npm-ci-web "$(npm_advice)" npm ci --no-audit --no-fund)
}

# The official Milvus Node SDK drives the Milvus dialect in tests/milvus-sdk; its version
# is pinned by package.json and package-lock.json there.
install_milvus_sdk_test_packages() {
  local dir="$ROOT/tests/milvus-sdk" pinned installed=""
  pinned="$(node -p 'require(process.argv[1]).dependencies["@zilliz/milvus2-sdk-node"]' "$dir/package.json")"
  local manifest="$dir/node_modules/@zilliz/milvus2-sdk-node/package.json"
  if [ -f "$manifest" ]; then installed="$(node -p 'require(process.argv[1]).version' "$manifest")"; fi
  [ "$installed" = "$pinned" ] && return 0
  log "installing @zilliz/milvus2-sdk-node $pinned for the Milvus SDK test (npm ci in tests/milvus-sdk)"
  (cd "$dir" && run_logged npm-ci-milvus-sdk "$(npm_advice)" npm ci --no-audit --no-fund)
}

# Python tooling lives in virtual environments under .deps (never the system Python),
# made with the python3 on PATH: --tests installs the pinned packages of
# scripts/requirements-tests.txt into .deps/venv (pytest, pymilvus, the real Milvus
# servers, onnxruntime); --recipe those of scripts/requirements-recipe.txt into
# .deps/venv-recipe (tensorflow-cpu, tf-keras, tf2onnx: the recipe's own tools, whose pins
# of numpy and protobuf need not agree with the tests'). A stamp holds the requirements
# file's checksum, so an unchanged list costs nothing.
VENV="$DEPS/venv"
RECIPE_VENV="$DEPS/venv-recipe"
# install_venv VENV REQUIREMENTS LOGNAME WHAT
install_venv() {
  local venv="$1" requirements="$2" logname="$3" what="$4"
  local stamp="$venv/.requirements.sha256" sum
  sum="$(sha256sum "$requirements" | cut -d' ' -f1)"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
  if [ ! -x "$venv/bin/python" ]; then
    log "creating the Python virtual environment $venv ($(python3 --version 2>&1))"
    run_logged "venv-$logname" "that python3 has its venv module (Debian: apt-get install python3-venv)" \
      python3 -m venv "$venv"
  fi
  log "installing $what into $venv (pinned in $requirements; a few minutes the first time)"
  run_logged "pip-$logname" "that pip reaches its package index ($("$venv/bin/pip" config list 2>/dev/null | tr '\n' ' '))" \
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$requirements"
  echo "$sum" >"$stamp"
}

install_python_venv() {
  install_venv "$VENV" "$ROOT/scripts/requirements-tests.txt" tests "the tests' Python packages"
}

install_recipe_venv() {
  install_venv "$RECIPE_VENV" "$ROOT/scripts/requirements-recipe.txt" recipe \
    "the recipe's tools (tensorflow-cpu, tf-keras, tf2onnx; about 1.5 GB)"
}

mkdir -p "$LOGS"
# Fail before the long steps when the Node.js on PATH is too old.
if [ "$WITH_TESTS" = 1 ] && command -v npm >/dev/null 2>&1; then check_node_version; fi
install_apt_packages
if [ "$WITH_TESTS" = 1 ]; then check_node_version; fi
fetch_ort_headers
fetch_ort_library
fetch_milvus_protos
if [ "$WITH_TESTS" = 1 ]; then install_browser_test_packages; fi
if [ "$WITH_TESTS" = 1 ]; then install_milvus_sdk_test_packages; fi
if [ "$WITH_TESTS" = 1 ]; then install_python_venv; fi
if [ "$WITH_RECIPE" = 1 ]; then install_recipe_venv; fi
