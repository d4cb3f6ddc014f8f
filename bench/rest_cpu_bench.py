#!/usr/bin/env python3
"""Serve's CPU per Milvus REST v2 call, one client, one keep-alive connection.

Starts `imgsearch serve` on a library that holds COLLECTION (for example the `lib` folder
bench/milvus_bench.sh leaves in its work folder; serve writes index snapshots there on
exit, so give it a copy), then loops over one http.client connection:

  search    POST /v2/vectordb/entities/search, one 512-float vector as JSON, limit 10
  describe  POST /v2/vectordb/collections/describe (the HTTP layer with little work behind)
  health    GET /api/health (the native API's cheapest route)

and prints serve's CPU (utime + stime of all its threads, /proc) per call for each, with
the load average before and after. The search minus MilvusApi::Call in process
(bench/milvus_layers_bench's rest_text) is the HTTP transport's share.

  rest_cpu_bench.py --imgsearch build/imgsearch --db LIB --queries QUERIES.f32 [--ef 10]
                    [--seconds 5] [--collection bench] [--only search] [--serve-args "..."]
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_serve(binary, db, extra):
    process = subprocess.Popen([binary, "serve", "--db", db, "--port", "0", "--grpc-port", "-1"] +
                               extra,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("imgsearch serve did not start")
        found = re.search(r"on http://[^:]+:(\d+)", line)
        if found:
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, int(found.group(1))


def measure(connection, pid, seconds, requests):
    """requests: list of (method, path, body). Returns (calls, serve CPU s, wall s)."""
    headers = {"Content-Type": "application/json"}
    for method, path, body in requests[:20]:  # warm up
        connection.request(method, path, body, headers)
        connection.getresponse().read()
    cpu, start, done = cpu_seconds(pid), time.time(), 0
    while time.time() < start + seconds:
        method, path, body = requests[done % len(requests)]
        connection.request(method, path, body, headers)
        reply = connection.getresponse()
        text = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"{path}: HTTP {reply.status}: {text[:200]}")
        done += 1
    return done, cpu_seconds(pid) - cpu, time.time() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--imgsearch", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--queries", required=True, help="float32 file, --dim floats a query")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--ef", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--only", choices=["search", "describe", "health"])
    parser.add_argument("--serve-args", default="", help="more arguments for serve, one string")
    args = parser.parse_args()
    queries = np.fromfile(args.queries, dtype=np.float32).reshape(-1, args.dim)[:500]
    searches = [("POST", "/v2/vectordb/entities/search",
                 json.dumps({"collectionName": args.collection, "data": [q.tolist()],
                             "limit": 10, "searchParams": {"params": {"ef": args.ef}}}))
                for q in queries]
    kinds = {
        "search": searches,
        "describe": [("POST", "/v2/vectordb/collections/describe",
                      json.dumps({"collectionName": args.collection}))],
        "health": [("GET", "/api/health", None)],
    }
    process, port = start_serve(args.imgsearch, args.db, args.serve_args.split())
    try:
        print(f"load before: {open('/proc/loadavg').read().strip()}")
        for name, requests in kinds.items():
            if args.only and name != args.only:
                continue
            connection = http.client.HTTPConnection("127.0.0.1", port)
            done, cpu, wall = measure(connection, process.pid, args.seconds, requests)
            connection.close()
            print(f"{name:<9} calls {done:6d}  {done / wall:7.0f}/s  "
                  f"serve cpu_ms_per_call {cpu / done * 1000:.4f}", flush=True)
        print(f"load after: {open('/proc/loadavg').read().strip()}")
    finally:
        process.terminate()
        process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
