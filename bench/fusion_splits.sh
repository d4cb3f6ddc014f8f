#!/usr/bin/env bash
# Tuned fusion on classes it was not tuned on: for each split of a labelled folder's
# classes, `tune` on one part and `eval` on the other, and compare the tuned fusion with
# the best single model there. Splits: alternate classes (A/B), first and second half
# (C/D), both ways, and N random halves both ways (seeded, so runs repeat).
#
# Usage: bench/fusion_splits.sh LIBRARY DIR [RANDOM_SPLITS] [IMGSEARCH]
#   LIBRARY  a library with DIR already indexed (it is copied, never changed)
#   DIR      one sub-folder per class, e.g. ../shared/data/caltech101-dev
set -euo pipefail
library=$1 dir=$2 randoms=${3:-6}
bin=${4:-$(dirname "$0")/../build/imgsearch}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$dir" "$randoms" >"$work/splits" <<'PY'
import os, random, sys
classes = sorted(c for c in os.listdir(sys.argv[1]) if os.path.isdir(os.path.join(sys.argv[1], c)))
half = len(classes) // 2 + len(classes) % 2
a, b, c, d = classes[0::2], classes[1::2], classes[:half], classes[half:]
splits = [("A->B", a, b), ("B->A", b, a), ("C->D", c, d), ("D->C", d, c)]
shuffler = random.Random(7)
for i in range(int(sys.argv[2])):
    s = classes[:]
    shuffler.shuffle(s)
    splits += [(f"R{i}a", s[:len(s) // 2], s[len(s) // 2:]), (f"R{i}b", s[len(s) // 2:], s[:len(s) // 2])]
for name, tune, test in splits:
    print(name, ",".join(tune), ",".join(test))
PY
while read -r name tune test; do
  rm -rf "$work/lib" && cp -r "$library" "$work/lib"
  "$bin" tune "$dir" --db "$work/lib" --classes "$tune" -k 10 --json >"$work/tune.json"
  "$bin" eval "$dir" --db "$work/lib" --classes "$test" -k 10 --json >"$work/eval.json"
  python3 - "$name" "$work/tune.json" "$work/eval.json" <<'PY'
import json, sys
weights = json.load(open(sys.argv[2]))["weights"]
maps = {m: s["map"] for m, s in json.load(open(sys.argv[3]))["models"].items()}
singles = {m: v for m, v in maps.items() if m not in ("fused", "tuned")}
best = max(singles, key=singles.get)
gap = 100 * (maps["tuned"] - singles[best])
print(f"{sys.argv[1]:5s} best {best} {singles[best]:.3f}  equal RRF {maps['fused']:.3f}  "
      f"tuned {maps['tuned']:.3f} ({gap:+.1f} points)  weights "
      + " ".join(f"{m}={w:.3g}" for m, w in sorted(weights.items())))
PY
done <"$work/splits"
