#!/usr/bin/env python3
"""serve's CPU per gRPC call, for one or more `imgsearch` binaries side by side: no-op
calls (GetVersion, the transport's floor) and pymilvus searches with 1 and N client
processes, each binary's `serve` on the same library, in alternating rounds so that the
machine's load falls on all of them alike. CPU from /proc (all of serve's threads).

    .deps/venv/bin/python bench/grpc_call_cost.py --binary build/imgsearch \\
        --binary /other/build/imgsearch --work WORK [--rounds 2] [--seconds 5]

WORK is a bench/milvus_bench.sh work folder: its library WORK/imgsearch/lib (collection
"bench") and its queries WORK/queries.f32. Prints one line per binary, round and load.
"""
import argparse
import multiprocessing as mp
import os
import socket
import subprocess
import time

import numpy as np

COLLECTION = "bench"


def cpu_seconds(pid):
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        fields = open(f"/proc/{pid}/task/{task}/stat").read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def load():
    return open("/proc/loadavg").read().split()[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def noop(port, pid, seconds):
    import grpc
    from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = milvus_pb2_grpc.MilvusServiceStub(channel)
    stub.GetVersion(milvus_pb2.GetVersionRequest())
    start, cpu, n = time.time(), cpu_seconds(pid), 0
    while time.time() - start < seconds:
        stub.GetVersion(milvus_pb2.GetVersionRequest())
        n += 1
    channel.close()
    return (cpu_seconds(pid) - cpu) * 1000 / n


def searcher(port, queries_file, first, start_at, seconds, out):
    from pymilvus import MilvusClient
    queries = np.fromfile(queries_file, dtype=np.float32).reshape(-1, 512)
    client = MilvusClient(uri=f"http://127.0.0.1:{port}")
    params = {"metric_type": "L2", "params": {"ef": 10}}
    client.search(COLLECTION, data=[queries[0].tolist()], limit=10, search_params=params)
    while time.time() < start_at:
        time.sleep(0.001)
    n = 0
    while time.time() < start_at + seconds:
        query = queries[(first + 7 * n) % len(queries)].tolist()
        client.search(COLLECTION, data=[query], limit=10, search_params=params)
        n += 1
    out.put(n)


def search(port, pid, queries_file, clients, seconds):
    out, start_at = mp.Queue(), time.time() + 3
    workers = [mp.Process(target=searcher, args=(port, queries_file, k, start_at, seconds, out))
               for k in range(clients)]
    for w in workers:
        w.start()
    while time.time() < start_at:
        time.sleep(0.001)
    cpu = cpu_seconds(pid)
    time.sleep(seconds)
    cpu = cpu_seconds(pid) - cpu
    n = sum(out.get() for _ in workers)
    for w in workers:
        w.join()
    return cpu * 1000 / n, n / seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", action="append", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    lib, queries = os.path.join(args.work, "imgsearch", "lib"), os.path.join(args.work, "queries.f32")
    servers = []
    for binary in args.binary:
        port = free_port()
        proc = subprocess.Popen([binary, "serve", "--db", lib, "--port", "0", "--grpc-port", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            if "gRPC" in line:
                break
        servers.append((binary, port, proc))
    try:
        for r in range(args.rounds):
            for binary, port, proc in servers:
                before = load()
                no_op = noop(port, proc.pid, args.seconds)
                one, one_rate = search(port, proc.pid, queries, 1, args.seconds)
                many, many_rate = search(port, proc.pid, queries, args.clients, args.seconds)
                print(f"{binary} round {r + 1}: no-op {no_op:.4f} ms; search, 1 client {one:.4f} ms "
                      f"({one_rate:.0f} q/s), {args.clients} clients {many:.4f} ms "
                      f"({many_rate:.0f} q/s); load {before} -> {load()}", flush=True)
    finally:
        for _, _, proc in servers:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
