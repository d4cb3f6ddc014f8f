#!/usr/bin/env python3
"""Watched folders: latency and burst rate of `imgsearch serve --watch` (a benchmark, not a test).

Latency: a picture is copied into the watched folder (written, then closed, as cp does)
and the server is asked, every 10 ms, to find it by its own bytes (/api/search under the
filter path == FILE); the time from the start of the copy to the first answer that holds
it, over N pictures one after another.

Burst: B pictures copied into a new folder inside the watched one as fast as Python copies
them; the time from the first copy until /metrics counts all B as indexed, as images/s.
The reference, in the same run: `imgsearch index` of the same B files into a new library.

    bench/watch_bench.py [--files 20] [--burst 2000] [--size 256] [--imgsearch build/imgsearch]

Generated pictures (PIL, from .deps/venv); every figure is printed with `uptime`.
"""
import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from PIL import Image


def picture(seed, size):
    rng = random.Random(seed)
    small = Image.new("RGB", (8, 8))
    small.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(64)])
    out = io.BytesIO()
    small.resize((size, size), Image.BILINEAR).save(out, "JPEG", quality=90)
    return out.getvalue()


def multipart(fields):
    boundary = uuid.uuid4().hex
    body = b""
    for name, (filename, value) in fields.items():
        body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"".encode()
        if filename:
            body += f"; filename=\"{filename}\"\r\nContent-Type: image/jpeg".encode()
        body += b"\r\n\r\n" + value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def found(port, path, data):
    body, content_type = multipart({
        "image": ("q.jpg", data),
        "k": (None, b"1"),
        "models": (None, b"color_layout"),
        "filter": (None, f'path == "{path}"'.encode()),
    })
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/search", body,
                                     {"Content-Type": content_type})
    with urllib.request.urlopen(request) as answer:
        hits = json.load(answer)["results"]["color_layout"]
    return len(hits) == 1 and hits[0]["path"] == path


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return -1


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, default=20)
    p.add_argument("--burst", type=int, default=2000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--imgsearch", default=os.path.join(root, "build", "imgsearch"))
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="watch-bench-", dir=os.path.join(root, "build"))
    watched = os.path.join(work, "watched")
    staging = os.path.join(work, "staging")
    os.makedirs(watched)
    os.makedirs(staging)
    for i in range(args.burst):
        with open(os.path.join(staging, f"b{i:05d}.jpg"), "wb") as f:
            f.write(picture(100000 + i, args.size))
    print(f"load before: {uptime()}")
    serve = subprocess.Popen([args.imgsearch, "serve", "--db", os.path.join(work, "lib"), "--port",
                              "0", "--grpc-port", "0", "--watch", watched],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(serve.stdout.readline().strip().rsplit(":", 1)[1])
        while metric(port, "imgsearch_watch_caught_up") != 1:
            time.sleep(0.05)

        latencies = []
        for i in range(args.files):
            data = picture(i, args.size)
            path = os.path.join(watched, f"latency-{i:03d}.jpg")
            start = time.monotonic()
            with open(path, "wb") as f:
                f.write(data)
            while not found(port, path, data):
                time.sleep(0.01)
            latencies.append(time.monotonic() - start)
            time.sleep(0.3)
        latencies.sort()
        print(f"latency (file written -> searchable through /api/search), {args.files} files of "
              f"{args.size}x{args.size}: median {statistics.median(latencies) * 1000:.0f} ms, "
              f"min {latencies[0] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
        print(f"load: {uptime()}")

        before = metric(port, "imgsearch_watch_indexed_total")
        batches_before = metric(port, "imgsearch_watch_batches_total")
        start = time.monotonic()
        shutil.copytree(staging, os.path.join(watched, "burst"))
        copied = time.monotonic() - start
        while metric(port, "imgsearch_watch_indexed_total") < before + args.burst:
            time.sleep(0.05)
        seconds = time.monotonic() - start
        batches = metric(port, "imgsearch_watch_batches_total") - batches_before
        overflows = metric(port, "imgsearch_watch_overflows_total")
        print(f"burst: {args.burst} files copied in {copied:.1f} s, all indexed after "
              f"{seconds:.1f} s: {args.burst / seconds:.0f} images/s in {batches:.0f} batches "
              f"({overflows:.0f} overflows)")
        print(f"load: {uptime()}")
    finally:
        serve.terminate()
        serve.wait()

    start = time.monotonic()
    subprocess.run([args.imgsearch, "index", staging, "--db", os.path.join(work, "reference"),
                    "--json"], check=True, capture_output=True)
    seconds = time.monotonic() - start
    print(f"reference: imgsearch index of the same {args.burst} files: {seconds:.1f} s, "
          f"{args.burst / seconds:.0f} images/s")
    print(f"load after: {uptime()}")
    shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
