#!/usr/bin/env bash
# Load benchmark of `imgsearch serve` (a benchmark, not a test). Indexes a folder of
# images with the built-in models, adds a 128-d vector collection through the Milvus
# dialect, then drives the server with wrk from several connections on loopback:
#   GET  /api/health                (the HTTP floor: a route that does no work)
#   POST /api/search                (by id, every model, fused with RRF, k = 10)
#   POST /v2/vectordb/entities/search (random 128-d vector, limit 10, HNSW)
# and reports requests/s, p50/p99 latency and the server's RSS before and after, with
# each search rate as a ratio to the same searches called in-process (bench/search_bench)
# in the same run.
#
#   bench/server_load.sh [IMAGE_DIR]      (default: ../shared/data/caltech101-dev)
#   DURATION=30 CONNECTIONS=16 bench/server_load.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build}"
IMAGES="${1:-$ROOT/../shared/data/caltech101-dev}"
DURATION="${DURATION:-20}"
CONNECTIONS="${CONNECTIONS:-8}"
VECTORS="${VECTORS:-20000}"
WORK="$BUILD/bench-server"

command -v wrk >/dev/null || { sudo -n true 2>/dev/null && SUDO=sudo || SUDO=""; $SUDO apt-get install -y -qq wrk >/dev/null; }
[ -x "$BUILD/imgsearch" ] && [ -x "$BUILD/bench/search_bench" ] || bash "$ROOT/scripts/build.sh"

rm -rf "$WORK" && mkdir -p "$WORK"
echo "indexing $IMAGES"
"$BUILD/imgsearch" index "$IMAGES" --db "$WORK/db" >"$WORK/index.log" 2>&1 || true
tail -1 "$WORK/index.log"

"$BUILD/imgsearch" serve --db "$WORK/db" --port 0 --threads 64 >"$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "on http" "$WORK/serve.log" && break; sleep 0.1; done
URL="$(grep -o 'http://[0-9.]*:[0-9]*' "$WORK/serve.log")"

# The vector collection, the request bodies, and wrk's scripts.
python3 - "$URL" "$WORK" "$VECTORS" <<'EOF'
import json, random, sys, time, urllib.request
url, work, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(route, body):
    req = urllib.request.Request(url + "/v2/vectordb/" + route, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    reply = json.load(urllib.request.urlopen(req))
    assert reply["code"] == 0, reply
    return reply["data"]
rng = random.Random(1)
vec = lambda: [round(rng.gauss(0, 1), 5) for _ in range(128)]
call("collections/create", {"collectionName": "vectors", "dimension": 128})
for start in range(0, count, 1000):
    call("entities/insert", {"collectionName": "vectors",
                             "data": [{"id": i, "vector": vec()} for i in range(start, start + 1000)]})
while call("indexes/describe", {"collectionName": "vectors", "indexName": "vector"})[0]["pendingRows"]:
    time.sleep(0.5)
ids = [r["id"] for r in call("entities/query", {"collectionName": "phash", "filter": "id >= 0",
                                               "limit": 16384, "outputFields": []})]
def lua(name, path, bodies):
    with open(f"{work}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        f.write("local bodies = {\n" + ",\n".join(json.dumps(json.dumps(b)) for b in bodies) + "}\n")
        f.write("request = function() return wrk.format(nil, %s, nil, bodies[math.random(#bodies)]) end\n"
                % json.dumps(path))
lua("native", "/api/search", [{"id": rng.choice(ids), "k": 10, "fuse": "rrf"} for _ in range(500)])
lua("milvus", "/v2/vectordb/entities/search",
    [{"collectionName": "vectors", "data": [vec()], "limit": 10} for _ in range(500)])
print(f"{len(ids)} images, {count} vectors of 128-d")
EOF

rss() { awk '/VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$SERVER/status"; }
RSS_BEFORE="$(rss)"
# wrk with one thread leaves the other core to the server.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$SERVER/stat"; }
run_wrk() {  # name, extra wrk arguments...
  local name="$1"; shift
  local cpu_before
  cpu_before="$(cpu_seconds)"
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" >"$WORK/$name.wrk"
  awk -v after="$(cpu_seconds)" -v before="$cpu_before" 'BEGIN {print after - before}' >"$WORK/$name.cpu"
  local rate p50 p99 errors
  rate="$(awk '/Requests\/sec/ {print $2}' "$WORK/$name.wrk")"
  p50="$(awk '$1 == "50%" {print $2}' "$WORK/$name.wrk")"
  p99="$(awk '$1 == "99%" {print $2}' "$WORK/$name.wrk")"
  errors="$(awk '/Non-2xx/ {print $5}' "$WORK/$name.wrk")"
  printf '%-8s %10s req/s  p50 %-9s p99 %-9s non-2xx %s\n' "$name" "$rate" "$p50" "$p99" "${errors:-0}"
  echo "$rate" >"$WORK/$name.rate"
}
echo "wrk: $CONNECTIONS connections, ${DURATION}s each, server $URL"
run_wrk health "$URL/api/health"
run_wrk native -s "$WORK/native.lua" "$URL"
run_wrk milvus -s "$WORK/milvus.lua" "$URL"
RSS_AFTER="$(rss)"
echo "server RSS: $RSS_BEFORE before, $RSS_AFTER after $((3 * DURATION)) s of load"

kill -TERM "$SERVER" && wait "$SERVER" || true
trap - EXIT
echo "in-process reference (bench/search_bench, same searches, no HTTP):"
"$BUILD/bench/search_bench" "$WORK/db" images "$DURATION" >"$WORK/native.ref"
"$BUILD/bench/search_bench" "$WORK/db" vectors "$DURATION" >"$WORK/milvus.ref"
# wrk takes one of the machine's cores, so rates are compared per CPU-second as well:
# the server's CPU time during each run (from /proc) against the in-process threads'.
python3 - "$WORK" "$DURATION" <<'EOF'
import re, sys
work, duration = sys.argv[1], float(sys.argv[2])
for name, label in (("native", "native search by id"), ("milvus", "milvus vector search")):
    rate = float(open(f"{work}/{name}.rate").read())
    cpu = float(open(f"{work}/{name}.cpu").read())
    ref = open(f"{work}/{name}.ref").read()
    ref_rate = float(re.search(r"searches/s ([0-9.]+)", ref).group(1))
    threads = int(re.search(r"threads (\d+)", ref).group(1))
    per_cpu, ref_per_cpu = rate * duration / cpu, ref_rate / threads
    print(f"{label}: {rate:.0f}/s over HTTP vs {ref_rate:.0f}/s in-process = {rate / ref_rate:.2f}x; "
          f"per CPU-second {per_cpu:.0f} vs {ref_per_cpu:.0f} = {per_cpu / ref_per_cpu:.2f}x")
EOF
