#!/usr/bin/env bash
# Tuned fusion on classes it was not tuned on: for each split of a labelled folder's
# classes, `tune` on one part and `eval` on the other, and compare the tuned fusion with
# the best single model there. Splits: alternate classes (A/B), first and second half
# (C/D), both ways, and N random halves both ways (seeded, so runs repeat).
# Re-ranking (doc/fusion.md): each split is tuned twice on a copy of the library, with
# `tune --dba off` (weights and query expansion) and then with `tune --dba $DBA` (tune also
# tries database-side augmentation and keeps it only if held-out folds improve), each
# followed by `eval` on the held-out classes. A split reports the tuned fusion without
# re-ranking (the reference), "QE" (the fusion re-ranked as the first tune stored it), and
# "DBA + QE" (what the library does after the second tune: the twins if kept, re-ranked as
# stored), each gain in points of mAP@10 over the reference, and the search time per query
# (eval's latency: the models' collection searches, embedding excluded; the query is an
# indexed image) as a ratio to the reference's plain search. The last lines summarise.
#
# Usage: bench/fusion_splits.sh LIBRARY DIR [RANDOM_SPLITS] [IMGSEARCH]
#   LIBRARY  a library with DIR already indexed (it is copied, never changed)
#   DIR      one sub-folder per class, e.g. ../shared/data/caltech101-dev
# Environment: TUNE_ARGS / EVAL_ARGS, extra arguments of tune and eval (e.g.
# "--max-queries 500" to tune on an even sample); DBA, what the second tune's --dba tries
# (default auto; "off" skips the second tune); SPLITS, a comma-separated subset of the
# split names to run (e.g. A->B,C->D).
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
# tune_eval NAME TUNE_CLASSES TEST_CLASSES DBA: tune on a copy already made, then eval.
tune_eval() {
  # shellcheck disable=SC2086
  "$bin" tune "$dir" --db "$work/lib" --classes "$2" -k 10 --dba "$4" ${TUNE_ARGS:-} \
    --json >"$work/tune.$1.json"
  local tried
  tried=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("rerank_tried") or "off")' \
    "$work/tune.$1.json")
  # shellcheck disable=SC2086
  "$bin" eval "$dir" --db "$work/lib" --classes "$3" -k 10 --rerank "$tried" ${EVAL_ARGS:-} \
    --json >"$work/eval.$1.json"
}
: >"$work/lines"
while read -r name tune test; do
  if [ -n "${SPLITS:-}" ] && [[ ",$SPLITS," != *",$name,"* ]]; then continue; fi
  rm -rf "$work/lib" && cp -r "$library" "$work/lib"
  started=$(date +%s)
  tune_eval plain "$tune" "$test" off
  rm -f "$work/tune.dba.json" "$work/eval.dba.json"
  if [ "${DBA:-auto}" != off ]; then
    tune_eval dba "$tune" "$test" "${DBA:-auto}"
  fi
  python3 - "$name" "$work" "$(($(date +%s) - started))" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    >>"$work/lines" <<'PY'
import json, os, sys
name, work, seconds, load = sys.argv[1:5]
def load_json(what):
    path = os.path.join(work, what + ".json")
    return json.load(open(path)) if os.path.exists(path) else None
tune, ev = load_json("tune.plain"), load_json("eval.plain")["models"]
maps = {m: s["map"] for m, s in ev.items()}
singles = {m: v for m, v in maps.items() if m not in ("fused", "tuned") and "+" not in m}
best = max(singles, key=singles.get)
ref, ref_ms = maps["tuned"], ev["tuned"]["latency_ms"]
def stored(tune, ev):
    """What the library does after this tune: re-ranked when tune kept it."""
    if tune.get("rerank", "off") != "off":
        return ev["tuned+qe"]["map"], ev["tuned+qe"]["latency_ms"], tune["rerank"]
    return ev["tuned"]["map"], ev["tuned"]["latency_ms"], "off"
qe_map, qe_ms, qe = stored(tune, ev)
row = {"split": name, "best": best, "best_map": singles[best], "tuned": ref, "tuned_ms": ref_ms,
       "qe": qe, "qe_map": qe_map, "qe_gain": 100 * (qe_map - ref), "qe_ratio": qe_ms / ref_ms,
       "weights": tune["weights"], "seconds": int(seconds), "load": load}
dtune, dev = load_json("tune.dba"), load_json("eval.dba")
if dtune:
    dev = dev["models"]
    d_map, d_ms, d_qe = stored(dtune, dev)
    row.update({"dba": dtune["dba"], "dba_tried": dtune["dba_tried"],
                "dba_cv": dtune["dba_held_out_map"], "dba_cv_without": dtune["dba_held_out_without_map"],
                "twins_map": dev["tuned"]["map"], "twins_ms": dev["tuned"]["latency_ms"],
                "dba_qe": d_qe, "dba_qe_map": d_map, "dba_qe_gain": 100 * (d_map - ref),
                "dba_qe_ratio": d_ms / ref_ms, "dba_qe_ratio_twins": d_ms / dev["tuned"]["latency_ms"]})
line = (f"{name:5s} best {best} {singles[best]:.3f}  tuned {ref:.3f} ({ref_ms:.2f} ms)  "
        f"| QE {qe}: {qe_map:.3f} ({row['qe_gain']:+.1f}, {row['qe_ratio']:.2f}x)")
if dtune:
    line += (f"  | DBA {row['dba']} [{row['dba_tried']}; without {row['dba_cv_without']:.3f}]: "
             f"twins {row['twins_map']:.3f}, + {d_qe}: {d_map:.3f} ({row['dba_qe_gain']:+.1f}, "
             f"{row['dba_qe_ratio']:.2f}x the plain search, {row['dba_qe_ratio_twins']:.2f}x the twins')")
line += f"  | {seconds} s, load {load}"
print(line, file=sys.stderr, flush=True)
print(json.dumps(row), flush=True)
PY
done <"$work/splits"
python3 - "$work/lines" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def summary(what, gain, ratio):
    g = [r[gain] for r in rows if gain in r]
    t = [r[ratio] for r in rows if ratio in r]
    if not g:
        return
    print(f"{what} over {len(g)} splits: mean {sum(g) / len(g):+.2f}, from {min(g):+.1f} to "
          f"{max(g):+.1f}, below the tuned fusion on {sum(x < 0 for x in g)}, >= +3 on "
          f"{sum(x >= 3 for x in g)}; search time {min(t):.2f}-{max(t):.2f}x the plain search "
          f"(mean {sum(t) / len(t):.2f}x)")
summary("QE", "qe_gain", "qe_ratio")
summary("DBA + QE", "dba_qe_gain", "dba_qe_ratio")
for r in rows:
    print(json.dumps(r))
PY
