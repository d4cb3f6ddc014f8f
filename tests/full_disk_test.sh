#!/usr/bin/env bash
# A real full disk: a library on a small tmpfs, filled by `imgsearch index` and by uploads
# to `imgsearch serve`. Each must stop with a clear error naming the disk, keep everything
# it acknowledged, and carry on once space is freed.
#
#   tests/full_disk_test.sh IMGSEARCH PYTHON WORKDIR
#
# The tmpfs is mounted in a private mount namespace (`unshare --mount`, as an unprivileged
# user inside a user namespace when not root). Where neither is permitted the test is
# skipped with a message (exit 77, CTest's SKIP_RETURN_CODE).
set -euo pipefail
IMGSEARCH="$1"
PYTHON="$2"
WORK="$3"

if [[ "${IMGSEARCH_IN_MOUNT_NAMESPACE:-}" != 1 ]]; then
  export IMGSEARCH_IN_MOUNT_NAMESPACE=1
  for unshare_args in "--mount" "--user --map-root-user --mount"; do
    # shellcheck disable=SC2086
    if unshare $unshare_args true 2>/dev/null; then
      exec unshare $unshare_args bash "$0" "$@"
    fi
  done
  echo "SKIPPED: cannot create a mount namespace here (unshare --mount is not permitted)"
  exit 77
fi

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

rm -rf "$WORK"
mkdir -p "$WORK/disk" "$WORK/photos" "$WORK/uploads"
mount -t tmpfs -o size=600k tmpfs "$WORK/disk" || {
  echo "SKIPPED: cannot mount a tmpfs here"
  exit 77
}
LIB="$WORK/disk/lib"

# 300 distinct small photos outside the small disk, and 100 more to upload.
"$PYTHON" - "$WORK" <<'EOF'
import sys
import numpy as np
from PIL import Image
work = sys.argv[1]
rng = np.random.default_rng(7)
for folder, count in (("photos", 300), ("uploads", 100)):
    for i in range(count):
        pixels = (rng.random((12, 16, 3)) * 255).astype("uint8")
        Image.fromarray(pixels).resize((64, 48)).save(f"{work}/{folder}/{i:03d}.png")
EOF

rows_in() {  # the images the library holds, as `stats` reports them
  "$IMGSEARCH" stats --db "$LIB" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["images"]["rows"])'
}

echo "== index until the disk is full"
if "$IMGSEARCH" index --db "$LIB" "$WORK/photos" >"$WORK/index.out" 2>"$WORK/index.err"; then
  fail "index succeeded on a 600 KB disk"
fi
grep -E "disk is full|No space left" "$WORK/index.err" | grep -q "$WORK/disk" ||
  fail "the error does not say the disk holding $WORK/disk is full: $(tail -3 "$WORK/index.err")"
# "indexed N/300" is printed after each batch is committed: N images were acknowledged.
acknowledged=$(grep -o 'indexed [0-9]*/' "$WORK/index.err" | tail -1 | tr -dc 0-9)
stored=$(rows_in)
echo "acknowledged $acknowledged, stored $stored: $(grep -E 'full|space' "$WORK/index.err" | tail -1)"
[[ -n "$acknowledged" && "$acknowledged" -gt 0 ]] || fail "nothing was indexed before the disk filled"
[[ "$stored" -ge "$acknowledged" ]] || fail "acknowledged $acknowledged images, $stored kept"

echo "== free space: indexing resumes where it stopped"
mount -o remount,size=64m "$WORK/disk"
"$IMGSEARCH" index --db "$LIB" "$WORK/photos" >"$WORK/resume.out" 2>&1 ||
  fail "index does not resume: $(tail -3 "$WORK/resume.out")"
[[ "$(rows_in)" == 300 ]] || fail "after resuming the library holds $(rows_in) images, not 300"
"$IMGSEARCH" search --db "$LIB" -k 1 "$WORK/photos/123.png" | grep -q "123.png" ||
  fail "a search does not find an indexed photo"

echo "== uploads to the server until the disk is full"
used=$(df -k --output=used "$WORK/disk" | tail -1)
mount -o remount,size=$((used + 200))k "$WORK/disk"
"$IMGSEARCH" serve --db "$LIB" --port 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
server=$!
trap 'kill -9 $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "serving" "$WORK/serve.out" 2>/dev/null && break
  sleep 0.1
done
url=$(grep -o -m1 'http://[^ ]*' "$WORK/serve.out") || fail "the server did not start: $(cat "$WORK/serve.err")"
: >"$WORK/acknowledged-ids"
full_answer=""
for photo in "$WORK"/uploads/*.png; do
  code=$(curl -s -o "$WORK/answer.json" -w '%{http_code}' -F "image=@$photo" "$url/api/images")
  if [[ "$code" == 200 || "$code" == 201 ]]; then
    "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/answer.json" \
      >>"$WORK/acknowledged-ids"
    continue
  fi
  full_answer="$code $(cat "$WORK/answer.json")"
  break
done
[[ -n "$full_answer" ]] || fail "every upload succeeded on a nearly full disk"
echo "after $(wc -l <"$WORK/acknowledged-ids") uploads: $full_answer"
[[ "$full_answer" == 507* ]] || fail "a full disk answers $full_answer, not 507"
[[ "$full_answer" == *"$WORK/disk"* ]] || fail "the answer does not name the disk: $full_answer"
curl -sf "$url/api/health" >/dev/null || fail "the server went down after a full disk"
kill -9 "$server"
wait "$server" 2>/dev/null || true

echo "== free space: every acknowledged upload is there, and uploads work again"
mount -o remount,size=64m "$WORK/disk"
ids=$(paste -sd, "$WORK/acknowledged-ids")
for model in phash color_layout; do
  "$IMGSEARCH" export --db "$LIB" -m "$model" -o "$WORK/$model.jsonl" --json >/dev/null ||
    fail "export of $model failed"
  missing=$("$PYTHON" -c '
import json, sys
wanted = set(int(i) for i in sys.argv[1].split(",") if i)
seen = set(json.loads(line)["id"] for line in open(sys.argv[2]))
print(len(wanted - seen))' "$ids" "$WORK/$model.jsonl")
  [[ "$missing" == 0 ]] || fail "$missing acknowledged uploads are missing from $model"
done
"$IMGSEARCH" serve --db "$LIB" --port 0 >"$WORK/serve2.out" 2>&1 &
server=$!
for _ in $(seq 100); do
  grep -q "serving" "$WORK/serve2.out" 2>/dev/null && break
  sleep 0.1
done
url=$(grep -o -m1 'http://[^ ]*' "$WORK/serve2.out")
code=$(curl -s -o /dev/null -w '%{http_code}' -F "image=@$WORK/uploads/099.png" "$url/api/images")
[[ "$code" == 201 ]] || fail "an upload after freeing space answers $code"
echo "PASS"
