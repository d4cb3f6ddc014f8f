#!/usr/bin/env bash
# Tuned fusion on classes it was not tuned on: for each split of a labelled folder's
# classes, `tune` on one part and `eval` on the other, and compare the tuned fusion with
# the best single model there. Splits: alternate classes (A/B), first and second half
# (C/D), both ways, and N random halves both ways (seeded, so runs repeat).
# Re-ranking (doc/fusion.md): `tune` also tries query expansion; each split reports the
# tuned fusion re-ranked by the candidate tune liked best ("qe", whether stored or not),
# what the library then does ("stored": the re-ranked fusion if tune kept it, else the
# plain one), the best single model re-ranked alone, and the search time per query with
# and without re-ranking (eval's latency: the models' collection searches, embedding
# excluded; the query is an indexed image).
#
# Usage: bench/fusion_splits.sh LIBRARY DIR [RANDOM_SPLITS] [IMGSEARCH]
#   LIBRARY  a library with DIR already indexed (it is copied, never changed)
#   DIR      one sub-folder per class, e.g. ../shared/data/caltech101-dev
# Environment: TUNE_ARGS / EVAL_ARGS, extra arguments of tune and eval (e.g.
# "--max-queries 500" to tune on an even sample; tune tries database-side augmentation by
# itself (--dba auto): "--dba off" for the fusion without it, "--dba 5" to try N = 5 only);
# SPLITS, a comma-separated subset of the split names to run (e.g. A->B,C->D).
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
  if [ -n "${SPLITS:-}" ] && [[ ",$SPLITS," != *",$name,"* ]]; then continue; fi
  rm -rf "$work/lib" && cp -r "$library" "$work/lib"
  # shellcheck disable=SC2086
  "$bin" tune "$dir" --db "$work/lib" --classes "$tune" -k 10 ${TUNE_ARGS:-} --json >"$work/tune.json"
  tried=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("rerank_tried") or "off")' "$work/tune.json")
  # shellcheck disable=SC2086
  "$bin" eval "$dir" --db "$work/lib" --classes "$test" -k 10 --rerank "$tried" ${EVAL_ARGS:-} \
    --json >"$work/eval.json"
  python3 - "$name" "$work/tune.json" "$work/eval.json" <<'PY'
import json, sys
tune = json.load(open(sys.argv[2]))
weights = tune["weights"]
models = json.load(open(sys.argv[3]))["models"]
maps = {m: s["map"] for m, s in models.items()}
singles = {m: v for m, v in maps.items() if m not in ("fused", "tuned") and "+" not in m}
best = max(singles, key=singles.get)
gap = 100 * (maps["tuned"] - singles[best])
line = (f"{sys.argv[1]:5s} best {best} {singles[best]:.3f}  equal RRF {maps['fused']:.3f}  "
        f"tuned {maps['tuned']:.3f} ({gap:+.1f} points)")
if "tuned+qe" in maps:
    stored = tune.get("rerank", "off")
    kept = maps["tuned+qe"] if stored != "off" else maps["tuned"]
    ratio = models["tuned+qe"]["latency_ms"] / models["tuned"]["latency_ms"]
    line += (f"  | {tune['rerank_tried']}: {maps['tuned+qe']:.3f} "
             f"({100 * (maps['tuned+qe'] - maps['tuned']):+.1f} over tuned)  stored {stored}: "
             f"{kept:.3f} ({100 * (kept - maps['tuned']):+.1f})  {best}+qe {maps[best + '+qe']:.3f}  "
             f"time {models['tuned']['latency_ms']:.2f} -> {models['tuned+qe']['latency_ms']:.2f} ms "
             f"({ratio:.2f}x)")
if tune.get("dba_tried"):
    line += (f"  | dba {tune['dba_tried']}: CV {tune['dba_held_out_map']:.3f} vs "
             f"{tune['dba_held_out_without_map']:.3f} -> {tune['dba']} "
             f"({tune['dba_vectors']} vectors, {tune['dba_seconds']:.1f} s)")
print(line + "  weights " + " ".join(f"{m}={w:.3g}" for m, w in sorted(weights.items())), flush=True)
PY
done <"$work/splits"
