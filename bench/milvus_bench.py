"""Real Milvus 2.3 standalone against `imgsearch serve`, both driven by pymilvus over gRPC,
on the same vectors in one run (issue 25, item 6). Run through bench/milvus_bench.sh.

Data: the MobileNetV2 embeddings (1280-d) of the Caltech photos, projected to DIM dims by
a fixed Gaussian random projection (seed 0) and L2-normalised; the base set is ROWS
vectors, row i = normalise(real[i mod N] + noise), the queries are other noisy copies of
random real vectors (never in the base set); the noise is Gaussian with a norm of NOISE
(a fraction of the median distance between a real vector and its nearest real neighbour).
Ground truth: exact L2 top-10 with numpy.

Measured per server: insert rows/s (pymilvus insert calls of BATCH rows), the time until
every row is indexed and the collection loaded, RSS of the server's process tree after
the load, the smallest `ef` with recall@10 >= 0.95, search q/s with 1 and 8 clients (8
client processes: one Python process cannot drive 8 gRPC calls at once under its GIL)
and the server's CPU-seconds during them (/proc). For imgsearch also: the same searches
over REST v2 (one keep-alive connection) and in-process (bench/search_bench), compared
per CPU-second of the server / of the in-process threads. Then `imgsearch index` of
PHOTOS photos with the built-in models into an embedded library and into the Milvus."""

import argparse
import fcntl
import http.client
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
from pymilvus import DataType, MilvusClient

COLLECTION = "bench"


class Done(Exception):
    """Ends a server's part of the run early (--skip-searches)."""
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*parts):
    print("[bench]", *parts, file=sys.stderr, flush=True)


def load_average():
    return open("/proc/loadavg").read().split()[0]


# --- the process tree of a server: RSS and CPU time --------------------------------------

def tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def rss_mb(pid, field="VmRSS"):
    """VmRSS of the tree; or RssAnon (anonymous memory) or RssFile (pages of mapped files,
    shared libraries included)."""
    total = 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid):
    total = 0
    for p in tree(pid):
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / CLK_TCK


# --- data ---------------------------------------------------------------------------------

def real_embeddings(args):
    cache = os.path.join(args.work, "mobilenetv2.npy")
    if os.path.exists(cache):
        return np.load(cache)
    photos = sorted(os.path.join(d, f) for d, _, files in os.walk(args.photos) for f in files)
    listing = os.path.join(args.work, "photos.txt")
    with open(listing, "w") as f:
        f.write("\n".join(photos) + "\n")
    log(f"embedding {len(photos)} photos with {os.path.basename(args.model)}")
    out = subprocess.run([args.imgsearch, "embed", "-m", args.model, "--files-from", listing],
                         capture_output=True, text=True, check=True).stdout
    vectors = np.array([[float(x) for x in line.split("\t")[2].split()]
                        for line in out.splitlines()], dtype=np.float32)
    np.save(cache, vectors)
    return vectors


def normalise(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_data(args):
    real = real_embeddings(args)
    rng = np.random.default_rng(0)
    projection = rng.standard_normal((real.shape[1], args.dim)).astype(np.float32)
    real = normalise(real @ projection)
    sq = (real * real).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2 * real @ real.T
    np.fill_diagonal(d2, np.inf)
    nn = float(np.median(np.sqrt(np.maximum(d2.min(1), 0))))
    sigma = args.noise * nn / np.sqrt(args.dim)
    base = normalise(real[np.arange(args.rows) % len(real)] +
                     sigma * rng.standard_normal((args.rows, args.dim)).astype(np.float32))
    picks = rng.integers(0, len(real), args.queries)
    queries = normalise(real[picks] +
                        sigma * rng.standard_normal((args.queries, args.dim)).astype(np.float32))
    truth = []
    for start in range(0, len(queries), 200):
        q = queries[start:start + 200]
        d = (base * base).sum(1)[None, :] - 2 * q @ base.T
        truth.append(np.argsort(d, axis=1)[:, :10])
    return real, nn, base.astype(np.float32), queries.astype(np.float32), np.vstack(truth)


# --- servers ------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Milvus23:
    name = "Milvus 2.3"

    def __init__(self, work):
        from milvus import default_server
        self.server = default_server
        folder = os.path.join(work, "milvus23")
        shutil.rmtree(folder, ignore_errors=True)
        self.server.set_base_dir(folder)
        self.server.listen_port = free_port()
        self.server.start()
        self.pid = self.server.server_proc.pid
        self.uri = f"http://127.0.0.1:{self.server.listen_port}"
        self.location = f"milvus://127.0.0.1:{self.server.listen_port}"
        client = MilvusClient(uri=self.uri)
        self.version = "Milvus " + client.get_server_version() + " standalone (pip milvus " + \
            __import__("importlib.metadata").metadata.version("milvus") + ")"
        client.close()

    def stop(self):
        self.server.stop()


class Imgsearch:
    name = "imgsearch"

    def __init__(self, binary, work):
        self.folder = os.path.join(work, "imgsearch")
        shutil.rmtree(self.folder, ignore_errors=True)
        os.makedirs(self.folder)
        self.db = os.path.join(self.folder, "lib")
        self.log = open(os.path.join(self.folder, "serve.log"), "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--db", self.db, "--port", "0", "--grpc-port", "-1"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.pid = self.process.pid
        grpc = http = None
        while grpc is None:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("imgsearch serve did not start; see " + self.folder)
            http = http or re.search(r"on http://[^:]+:(\d+)", line)
            grpc = re.search(r"Milvus gRPC .* on [^:]+:(\d+)", line)
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self.uri = f"http://127.0.0.1:{grpc.group(1)}"
        self.http_port = int(http.group(1))
        self.version = "imgsearch " + subprocess.run(
            [binary, "--version"], capture_output=True, text=True).stdout.strip().split()[-1] + \
            " (" + subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)),
                                   "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True).stdout.strip() + ")"

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)
        self.log.close()


# --- the measurements ---------------------------------------------------------------------

def create(client, sq_type=None):
    """HNSW M=16 efConstruction=200, or with sq_type HNSW_SQ (Milvus 2.5+) with the same
    graph over vectors kept in that encoding."""
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=512)
    index = client.prepare_index_params()
    params = {"M": 16, "efConstruction": 200}
    if sq_type:
        params["sq_type"] = sq_type
    index.add_index("vector", index_type="HNSW_SQ" if sq_type else "HNSW", metric_type="L2",
                    params=params)
    # Bounded is Milvus's default; Strong makes every Milvus search wait for a time tick.
    client.create_collection(COLLECTION, schema=schema, index_params=index,
                             consistency_level="Bounded")


def own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread: pymilvus and gRPC's
    return usage.ru_utime + usage.ru_stime


def insert_and_load(client, base, batch, pid, out):
    start, client_cpu, server_cpu = time.time(), own_cpu_seconds(), cpu_seconds(pid)
    for at in range(0, len(base), batch):
        rows = [{"id": at + i, "vector": v} for i, v in enumerate(base[at:at + batch])]
        client.insert(COLLECTION, rows)
    inserted = time.time() - start
    calls = (len(base) + batch - 1) // batch
    out["insert_wall_ms"] = inserted / calls * 1000
    out["insert_client_ms"] = (own_cpu_seconds() - client_cpu) / calls * 1000
    out["insert_server_ms"] = (cpu_seconds(pid) - server_cpu) / calls * 1000
    client.flush(COLLECTION)
    while True:  # every row in the HNSW index
        info = client.describe_index(COLLECTION, "vector")
        if int(info.get("indexed_rows", 0)) >= len(base) and \
                int(info.get("pending_index_rows", 0)) == 0:
            break
        time.sleep(0.5)
    client.load_collection(COLLECTION)
    while client.get_load_state(COLLECTION)["state"].name != "Loaded":
        time.sleep(0.5)
    return len(base) / inserted, len(base) / (time.time() - start)


def recall(client, queries, truth, ef):
    hits = 0
    for at in range(0, len(queries), 50):
        answers = client.search(COLLECTION, data=queries[at:at + 50].tolist(), limit=10,
                                search_params={"metric_type": "L2", "params": {"ef": ef}})
        for row, answer in enumerate(answers):
            hits += len(set(truth[at + row]) & {hit["id"] for hit in answer})
    return hits / (10 * len(queries))


def pick_ef(client, queries, truth, target):
    for ef in (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512):
        r = recall(client, queries[:200], truth[:200], ef)
        if r >= target:
            full = recall(client, queries, truth, ef)
            if full >= target:
                return ef, full
    raise RuntimeError("recall target not reached")


def search_worker(uri, queries, ef, seconds, start_at, result):
    client = MilvusClient(uri=uri)
    params = {"metric_type": "L2", "params": {"ef": ef}}
    client.search(COLLECTION, data=[queries[0].tolist()], limit=10, search_params=params)
    while time.time() < start_at:
        time.sleep(0.001)
    done, i = 0, 0
    while time.time() < start_at + seconds:
        client.search(COLLECTION, data=[queries[i % len(queries)].tolist()], limit=10,
                      search_params=params)
        done, i = done + 1, i + 7
    result.put(done)


def search_rate(server, queries, ef, clients, seconds):
    """One query per call, `clients` processes at once: (q/s, server CPU-s per 1000 q)."""
    result = multiprocessing.Queue()
    start_at = time.time() + 3 + 0.5 * clients
    workers = [multiprocessing.Process(target=search_worker,
                                       args=(server.uri, queries[c::clients], ef, seconds,
                                             start_at, result)) for c in range(clients)]
    for w in workers:
        w.start()
    while time.time() < start_at:
        time.sleep(0.001)
    cpu = cpu_seconds(server.pid)
    time.sleep(seconds)
    cpu = cpu_seconds(server.pid) - cpu
    done = sum(result.get() for _ in workers)
    for w in workers:
        w.join()
    return done / seconds, cpu, done


def rest_rate(port, queries, ef, seconds, pid):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    bodies = [json.dumps({"collectionName": COLLECTION, "data": [q.tolist()], "limit": 10,
                          "searchParams": {"params": {"ef": ef}}}) for q in queries[:500]]
    headers = {"Content-Type": "application/json"}
    cpu, start, done = cpu_seconds(pid), time.time(), 0
    while time.time() < start + seconds:
        connection.request("POST", "/v2/vectordb/entities/search", bodies[done % len(bodies)],
                           headers)
        reply = json.loads(connection.getresponse().read())
        assert reply["code"] == 0, reply
        done += 1
    elapsed = time.time() - start
    return done / elapsed, cpu_seconds(pid) - cpu, done


def noop_cost(uri, pid, seconds):
    """Server CPU ms per GetVersion call: the gRPC transport's floor, no work behind it."""
    import grpc
    from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc
    stub = milvus_pb2_grpc.MilvusServiceStub(grpc.insecure_channel(uri.split("://")[1]))
    stub.GetVersion(milvus_pb2.GetVersionRequest())
    cpu, start, done = cpu_seconds(pid), time.time(), 0
    while time.time() < start + seconds:
        stub.GetVersion(milvus_pb2.GetVersionRequest())
        done += 1
    return (cpu_seconds(pid) - cpu) / done * 1000


def layers(args, db, ef):
    out = subprocess.run([args.layers_bench, db, COLLECTION, os.path.join(args.work, "queries.f32"),
                          str(ef), str(max(2.0, args.seconds / 4))],
                         capture_output=True, text=True, check=True).stdout
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"layer (\w+) searches \d+ cpu_ms_per_search ([0-9.]+)", out)}


def in_process_rate(args, db, queries, ef):
    path = os.path.join(args.work, "queries.f32")
    queries.tofile(path)
    out = subprocess.run([args.search_bench, db, COLLECTION, str(args.seconds), "--queries",
                          path, "--ef", str(ef), "--threads", "1"],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"searches/s ([0-9.]+)", out).group(1))
    cpu = float(re.search(r"cpu_seconds ([0-9.]+)", out).group(1))
    done = int(re.search(r"searches (\d+)", out).group(1))
    return rate, cpu, done


def index_photos(args, location, count):
    if not location.startswith("milvus"):
        shutil.rmtree(location, ignore_errors=True)
    listing = os.path.join(args.work, "photos-index.txt")
    photos = sorted(os.path.join(d, f) for d, _, files in os.walk(args.photos) for f in files)
    with open(listing, "w") as f:
        f.write("\n".join(photos[:count]) + "\n")
    start = time.time()
    out = subprocess.run([args.imgsearch, "index", "--files-from", listing, "--db", location,
                          "--json"], capture_output=True, text=True)
    elapsed = time.time() - start
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    report = json.loads(out.stdout)
    return report["added"] / elapsed, report["added"], elapsed


def bench_server(server, args, base, queries, truth, sq_type=None):
    out = {"version": server.version}
    client = MilvusClient(uri=server.uri)
    if client.has_collection(COLLECTION):
        client.drop_collection(COLLECTION)
    create(client, sq_type)
    log(f"{server.name}: inserting {len(base)} rows (load {load_average()})")
    out["insert"], out["searchable"] = insert_and_load(client, base, args.batch, server.pid, out)
    time.sleep(2)
    out["rss"] = rss_mb(server.pid)
    out["rss_anon"], out["rss_file"] = rss_mb(server.pid, "RssAnon"), rss_mb(server.pid, "RssFile")
    if args.skip_searches:
        out["load"] = load_average()
        return out
    log(f"{server.name}: {out['insert']:.0f} rows/s, RSS {out['rss']:.0f} MB; picking ef")
    out["ef"], out["recall"] = pick_ef(client, queries, truth, args.recall)
    client.close()
    for clients in (1, 8):
        log(f"{server.name}: {clients} client(s), {args.seconds} s (load {load_average()})")
        rate, cpu, done = search_rate(server, queries, out["ef"], clients, args.seconds)
        out[f"qps{clients}"], out[f"cpu{clients}"] = rate, cpu / done * 1000
    out["rss_after"] = rss_mb(server.pid)
    out["rss_after_anon"] = rss_mb(server.pid, "RssAnon")
    out["rss_after_file"] = rss_mb(server.pid, "RssFile")
    out["load"] = load_average()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imgsearch", required=True)
    parser.add_argument("--search-bench", required=True)
    parser.add_argument("--layers-bench", required=True)
    parser.add_argument("--photos", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--recall", type=float, default=0.95)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--photos-to-index", type=int, default=2000)
    parser.add_argument("--milvus-photos", type=int, default=0,
                        help="photos indexed into Milvus (default: --photos-to-index)")
    parser.add_argument("--only", choices=["milvus", "imgsearch"])
    parser.add_argument("--skip-searches", action="store_true",
                        help="inserts, indexing and memory only (no ef search, q/s, photos)")
    parser.add_argument("--sq-type", choices=["FP16", "BF16", "SQ8"],
                        help="also measure imgsearch with HNSW_SQ of this sq_type (Milvus 2.3 "
                             "has no HNSW_SQ: Milvus stays HNSW), reported as its own column")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    began, load_before = time.time(), open("/proc/loadavg").read().strip()
    real, nn, base, queries, truth = make_data(args)
    log(f"{len(base)} x {base.shape[1]} vectors from {len(real)} MobileNetV2 embeddings, "
        f"noise norm {args.noise} x {nn:.3f}; {len(queries)} queries")
    results = {}

    if args.only != "milvus":
        server = Imgsearch(args.imgsearch, args.work)
        try:
            results["imgsearch"] = r = bench_server(server, args, base, queries, truth)
            if args.skip_searches:
                raise Done
            log(f"imgsearch: REST, 1 client, {args.seconds} s")
            rate, cpu, done = rest_rate(server.http_port, queries, r["ef"], args.seconds,
                                        server.pid)
            r["rest_qps"], r["rest_cpu"] = rate, cpu / done * 1000
            r["grpc_cpu"] = r["cpu1"]
            r["noop_cpu"] = noop_cost(server.uri, server.pid, args.seconds / 3)
        except Done:
            pass
        finally:
            server.stop()
        if not args.skip_searches:
            log(f"in-process search (bench/search_bench, 1 thread, ef {r['ef']})")
            rate, cpu, done = in_process_rate(args, server.db, queries, r["ef"])
            r["inproc_qps"], r["inproc_cpu"] = rate, cpu / done * 1000
            r["layers"] = layers(args, server.db, r["ef"])
            if args.photos_to_index > 0:
                log(f"imgsearch index of {args.photos_to_index} photos into an embedded library")
                r["photos"] = index_photos(args, os.path.join(args.work, "photos-lib"),
                                           args.photos_to_index)
        if args.sq_type:
            server = Imgsearch(args.imgsearch, args.work)
            try:
                log(f"imgsearch with HNSW_SQ sq_type={args.sq_type}")
                results["imgsearch_sq"] = bench_server(server, args, base, queries, truth,
                                                       args.sq_type)
            finally:
                server.stop()

    if args.only != "imgsearch":
        # Milvus 2.3's embedded etcd binds a fixed port: one instance on the machine at a time.
        lock = open("/tmp/imgsearch-milvus.lock", "a")
        log("waiting for /tmp/imgsearch-milvus.lock (one Milvus 2.3 on the machine at a time)")
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            busy = subprocess.run(["ss", "-ltnpH", "sport = :2380"], capture_output=True,
                                  text=True).stdout.strip()
            if busy:  # a Milvus started without the lock: this one's etcd would crash
                raise RuntimeError("127.0.0.1:2380 (Milvus 2.3's embedded etcd) is taken: " + busy)
            server = Milvus23(args.work)
            try:
                results["milvus"] = m = bench_server(server, args, base, queries, truth)
                MilvusClient(uri=server.uri).drop_collection(COLLECTION)
                count = args.milvus_photos or args.photos_to_index
                if not args.skip_searches and count > 0:
                    log(f"imgsearch index of {count} photos into {server.name}")
                    m["photos"] = index_photos(args, server.location, count)
            finally:
                server.stop()
        except Exception as failure:  # the imgsearch half is still reported
            log(f"Milvus 2.3 not measured: {failure}")
        finally:
            lock.close()

    report(args, results, load_before, time.time() - began, nn)


def report(args, results, load_before, seconds, nn):
    i, m = results.get("imgsearch"), results.get("milvus")
    sq = results.get("imgsearch_sq")
    rows = []

    def ratio_of(a, b, better, target):
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float)) and b):
            return ""
        ratio = f"{a / b:.2f}x"
        if target:
            ok = a / b >= target if better == "higher" else a / b <= target
            ratio += f" ({'meets' if ok else 'misses'} {'>=' if better == 'higher' else '<='}"\
                     f" {target}x)"
        return ratio

    def row(label, key, fmt, better, target=None):
        a = i.get(key) if i else None
        b = m.get(key) if m else None
        c = sq.get(key) if sq else None
        cell = lambda v: fmt.format(v) if isinstance(v, (int, float)) else (v or "-")
        rows.append((label, cell(a), cell(b), ratio_of(a, b, better, target), cell(c),
                     ratio_of(c, b, better, target)))

    row("insert rows/s (pymilvus insert, 5000 rows/call)", "insert", "{:.0f}", "higher", 2)
    row("  per insert call: wall ms", "insert_wall_ms", "{:.0f}", "lower")
    row("  per insert call: client CPU ms (pymilvus)", "insert_client_ms", "{:.0f}", "lower")
    row("  per insert call: server CPU ms", "insert_server_ms", "{:.0f}", "lower")
    row("rows/s until indexed and loaded", "searchable", "{:.0f}", "higher")
    row("RSS after load, MB (server process tree)", "rss", "{:.0f}", "lower", 0.3)
    row("  of which anonymous, MB", "rss_anon", "{:.0f}", "lower")
    row("  of which file-backed, MB", "rss_file", "{:.0f}", "lower")
    row("ef for recall@10 >= 0.95", "ef", "{}", "")
    row("recall@10 at that ef (1000 queries)", "recall", "{:.3f}", "")
    row("search q/s, 1 client", "qps1", "{:.0f}", "higher", 3)
    row("search q/s, 8 clients", "qps8", "{:.0f}", "higher", 3)
    row("server CPU ms per search, 1 client", "cpu1", "{:.2f}", "lower")
    row("server CPU ms per search, 8 clients", "cpu8", "{:.2f}", "lower")
    row("RSS after the searches, MB", "rss_after", "{:.0f}", "lower")
    row("  of which anonymous, MB", "rss_after_anon", "{:.0f}", "lower")
    row("  of which file-backed, MB", "rss_after_file", "{:.0f}", "lower")
    print()
    print(f"imgsearch serve vs Milvus 2.3 standalone, pymilvus over gRPC, {args.rows} x {args.dim}"
          f" vectors, HNSW M=16 efConstruction=200, L2, k=10")
    print(f"  imgsearch: {i['version'] if i else '-'}")
    print(f"  Milvus:    {m['version'] if m else '-'}")
    print(f"  load average before: {load_before}; after each server: imgsearch "
          f"{i['load'] if i else '-'}, Milvus {m['load'] if m else '-'}; total {seconds:.0f} s")
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  {'imgsearch':>10}  {'Milvus 2.3':>10}  ratio")
    for label, a, b, ratio, _, _ in rows:
        print(f"{label:<{width}}  {a:>10}  {b:>10}  {ratio}")
    if sq:
        print(f"\nimgsearch with HNSW_SQ (M=16 efConstruction=200 sq_type={args.sq_type}; the "
              f"float32 originals stay in its store) vs Milvus 2.3 with HNSW (it has no HNSW_SQ);"
              f" load average after: {sq['load']}")
        print(f"{'':<{width}}  {'HNSW_SQ':>10}  {'Milvus 2.3':>10}  ratio")
        for label, _, b, _, c, ratio in rows:
            print(f"{label:<{width}}  {c:>10}  {b:>10}  {ratio}")
    if (i and "photos" in i) or (m and "photos" in m):
        print("\nimgsearch index --files-from (the first Caltech photos in path order, built-in "
              "models phash + color_layout):")
        for name, r in (("embedded library", i), ("Milvus 2.3 (milvus://)", m)):
            if r and "photos" in r:
                rate, added, elapsed = r["photos"]
                print(f"  {name:<24} {added} images in {elapsed:.1f} s = {rate:.0f} photos/s")
        if i and "photos" in i and m and "photos" in m:
            print(f"  ratio embedded / Milvus: {i['photos'][0] / m['photos'][0]:.2f}x")
    if i and "rest_qps" in i:
        print(f"\nCPU cost of one search (imgsearch, ef {i['ef']}, 1 client), server CPU ms per "
              "search and throughput per CPU-second vs in-process:")
        ref = i["inproc_cpu"]
        for label, cpu, qps in (("in-process (search_bench)", i["inproc_cpu"], i["inproc_qps"]),
                                ("gRPC (pymilvus)", i["grpc_cpu"], None),
                                ("REST v2 (http.client)", i["rest_cpu"], i["rest_qps"])):
            per = 1000 / cpu
            print(f"  {label:<26} {cpu:6.3f} ms  {per:7.0f} searches/CPU-s  "
                  f"{ref / cpu:.2f}x of in-process (target >= 0.7x)")
        lay = i.get("layers", {})
        print("  where the server's CPU goes (one thread, in process, bench/milvus_layers_bench; "
              "the rest is the transport):")
        for key, label in (("store", "Collection::Search"),
                           ("milvus_object", "+ Milvus dialect, vector as JSON numbers"),
                           ("milvus_binary", "+ Milvus dialect, vector as bytes (gRPC's)"),
                           ("grpc_message", "+ gRPC message <-> dialect (AnswerMilvusCall)"),
                           ("rest_text", "+ REST JSON text (MilvusApi::Call)")):
            if key in lay:
                print(f"    {label:<48} {lay[key]:6.3f} ms")
        print(f"    {'gRPC no-op call (GetVersion) over the network':<48} {i['noop_cpu']:6.3f} ms")
        if "grpc_message" in lay:
            print(f"    {'gRPC transport share of a search':<48} "
                  f"{i['grpc_cpu'] - lay['grpc_message']:6.3f} ms")
        if "rest_text" in lay:
            print(f"    {'HTTP transport share of a REST search':<48} "
                  f"{i['rest_cpu'] - lay['rest_text']:6.3f} ms")


if __name__ == "__main__":
    main()
