"""The Python package's figures (run by bench/python_bench.sh).

1. Python against C++, the same calls on the same data: Collection.search (one query,
   and a batch of 64), Library.search by an image file (two built-in models, fused),
   and imgsearch.embed over real photos with a real model. Ratio = C++ time / Python
   time (1.0: no overhead; the goal is >= 0.9). Each side is timed three times, in turn,
   and the best of each kept (the machine may be shared).
2. imgsearch.embed against onnxruntime's Python package with PIL/numpy preprocessing,
   on the same model and photos: the recipe's way (one photo at a time), and a batched,
   threaded best effort. ONNX Runtime runs in its own process (two builds of it in one
   process would be a different benchmark), three times in turn with imgsearch.embed
   (best of each), and the vectors are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

import imgsearch


def median_time(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternate(python, cpp, rounds: int = 3) -> tuple[float, float]:
    """Python and C++ timed in turn, `rounds` times each; the best of each side (the
    machine may be shared: the best round is the least disturbed one)."""
    py_times, cpp_times = [], []
    for _ in range(rounds):
        py_times.append(python())
        cpp_times.append(cpp())
    return min(py_times), min(cpp_times)


def cpp_seconds(args: list[str]) -> float:
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return float(out.split("seconds ")[1].split()[0])


def photo_list(root: Path, count: int) -> list[str]:
    files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(files) > count:  # spread over the classes
        files = [files[i * len(files) // count] for i in range(count)]
    return files


ORT_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from concurrent.futures import ThreadPoolExecutor
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    model, files_json, out_prefix = sys.argv[1], sys.argv[2], sys.argv[3]
    files = json.load(open(files_json))
    MEAN = np.array([0.485, 0.456, 0.406], np.float32)
    STD = np.array([0.229, 0.224, 0.225], np.float32)

    def preprocess(path):
        # torchvision's transforms, as the models' spec says: shorter side to 256
        # (bilinear), centre crop 224, /255, ImageNet mean and std, CHW.
        img = Image.open(path).convert("RGB")
        w, h = img.size
        s = 256 / min(w, h)
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
        w, h = img.size
        left, top = int(round((w - 224) / 2.0)), int(round((h - 224) / 2.0))
        img = img.crop((left, top, left + 224, top + 224))
        x = (np.asarray(img, np.float32) / 255.0 - MEAN) / STD
        return x.transpose(2, 0, 1)

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    output = [o.name for o in session.get_outputs()][0]

    def norm(v):
        v = v.reshape(len(v), -1)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    results = {}
    # The recipe's way: one photo at a time, preprocessed then run.
    start = time.perf_counter()
    vectors = [session.run([output], {name: preprocess(f)[None]})[0] for f in files]
    results["one_at_a_time"] = time.perf_counter() - start
    np.save(out_prefix + "_ort.npy", norm(np.concatenate(vectors)))

    # Best effort: preprocessing on a thread pool (PIL releases the GIL), batches of 32.
    start = time.perf_counter()
    batched = []
    with ThreadPoolExecutor(max_workers=len(__import__("os").sched_getaffinity(0))) as pool:
        tensors = list(pool.map(preprocess, files))
        for i in range(0, len(tensors), 32):
            batched.append(session.run([output], {name: np.stack(tensors[i:i + 32])})[0])
    results["batched_threaded"] = time.perf_counter() - start
    print(json.dumps(results))
""")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--cpp", required=True, help="build/bench/python_parity_bench")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="python-bench-"))
    files = photo_list(Path(args.photos), args.images)
    rows: list[tuple[str, float, float]] = []
    print(f"{len(files)} photos from {args.photos}; model {Path(args.model).name}; "
          f"{os.cpu_count()} cores; imgsearch {imgsearch.__version__}, numpy {np.__version__}",
          flush=True)

    # 1a. Collection.search: 20,000 random 512-d vectors, FLAT (exact), k=10.
    db = imgsearch.Database.open(work / "db")
    c = db.create_collection("v", dimension=512)
    vectors = np.random.default_rng(0).standard_normal((20000, 512)).astype(np.float32)
    c.insert(np.arange(len(vectors)), vectors)
    c.flush()
    db.close()
    db = imgsearch.Database.open(work / "db")  # reopened, as the C++ program opens it
    c = db["v"]
    for nq, repeats in ((1, 300), (64, 30)):
        queries = np.ascontiguousarray(vectors[:nq] + 0.01)
        queries.tofile(work / f"q{nq}.f32")
        c.search(queries, k=10)  # warm
        py, cpp = alternate(
            lambda: median_time(lambda: c.search(queries, k=10), repeats),
            lambda: cpp_seconds([args.cpp, "search-collection", str(work / "db"), "v",
                                 str(work / f"q{nq}.f32"), str(nq), "10", str(repeats)]))
        rows.append((f"Collection.search, {nq} quer{'y' if nq == 1 else 'ies'}, 20k x 512 FLAT", cpp, py))
    # The binding's own cost: the same call on a collection of 10 vectors.
    tiny = db.create_collection("tiny", dimension=512)
    tiny.insert(np.arange(10), vectors[:10])
    db.close()
    db = imgsearch.Database.open(work / "db")
    tiny = db["tiny"]
    queries = np.ascontiguousarray(vectors[:1] + 0.01)
    py, cpp = alternate(
        lambda: median_time(lambda: tiny.search(queries, k=10), 3000),
        lambda: cpp_seconds([args.cpp, "search-collection", str(work / "db"), "tiny",
                             str(work / "q1.f32"), "1", "10", "3000"]))
    rows.append(("Collection.search, 1 query, 10 x 512 (the call's own cost)", cpp, py))
    db.close()

    # 1b. Library.search by an image file: the built-in models, fused with RRF, k=10.
    lib = imgsearch.Library.open(work / "lib", models=["color_layout", "phash"])
    lib.index(files)
    query = files[len(files) // 2]
    lib.search(query, k=10, fuse="rrf")
    py, cpp = alternate(
        lambda: median_time(lambda: lib.search(query, k=10, fuse="rrf"), 100),
        lambda: cpp_seconds([args.cpp, "search-library", str(work / "lib"), query, "10", "100"]))
    lib.close()
    rows.append(("Library.search by file, 2 built-in models + RRF", cpp, py))

    # 1c. imgsearch.embed of the photos with the real model, batch 8 (the default).
    (work / "files.txt").write_text("\n".join(files) + "\n")
    embedder = imgsearch.Embedder(args.model)
    embedder.embed(files[:8])  # warm, as the C++ run's first batch warms its session
    result: dict[str, np.ndarray] = {}

    def python_embed() -> float:
        start = time.perf_counter()
        result["ours"] = embedder.embed(files)
        return time.perf_counter() - start

    py, cpp = alternate(python_embed, lambda: cpp_seconds([args.cpp, "embed", args.model, "8",
                                                            str(work / "files.txt")]))
    ours = result["ours"]
    rows.append((f"imgsearch.embed, {len(files)} photos, {Path(args.model).stem}", cpp, py))

    print("\n| call | C++ (ms) | Python (ms) | C++/Python |\n|---|---|---|---|")
    for name, cpp, py in rows:
        print(f"| {name} | {cpp * 1e3:.4f} | {py * 1e3:.4f} | {cpp / py:.2f} |")

    # 2. onnxruntime's Python package with PIL preprocessing, on the same photos.
    (work / "files.json").write_text(json.dumps(files))
    script = work / "ort_recipe.py"
    script.write_text(ORT_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no imgsearch there
    ort = {"one_at_a_time": float("inf"), "batched_threaded": float("inf")}
    for _ in range(3):  # in turn with imgsearch.embed, best of three each
        out = subprocess.run([sys.executable, str(script), args.model, str(work / "files.json"),
                              str(work / "vectors")], check=True, capture_output=True,
                             text=True, env=env).stdout
        for key, seconds in json.loads(out.strip().splitlines()[-1]).items():
            ort[key] = min(ort[key], seconds)
        py = min(py, python_embed())
    theirs = np.load(work / "vectors_ort.npy")
    cosine = (ours * theirs).sum(axis=1)
    n = len(files)
    print(f"\n| {n} photos, {Path(args.model).stem} | seconds | photos/s | vs imgsearch.embed |")
    print("|---|---|---|---|")
    for name, seconds in (("imgsearch.embed", py),
                          ("onnxruntime + PIL, one photo at a time (the recipe)", ort["one_at_a_time"]),
                          ("onnxruntime + PIL, threaded preprocessing, batches of 32", ort["batched_threaded"])):
        print(f"| {name} | {seconds:.2f} | {n / seconds:.1f} | {seconds / py:.2f}x the time |")
    print(f"\nvectors agree: cosine median {np.median(cosine):.5f}, min {cosine.min():.5f} "
          f"(imgsearch vs onnxruntime + PIL)")


if __name__ == "__main__":
    main()
