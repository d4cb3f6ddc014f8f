#!/usr/bin/env python3
"""imgsearch against the recipe it replaces, on the same photos and the same two ONNX files
(the recipe's tf2onnx exports of Keras ResNet50 and VGG16, scripts/recipe_models.sh):

  (a) the recipe as written: per image and model a new onnxruntime InferenceSession,
      Keras's load_img + preprocess_input, the L2 norm; the vectors inserted into a real
      Milvus 2.3 with pymilvus, an IVF_FLAT index built, and one Redis SET id -> path;
  (b) a best-effort Python pipeline: one session per model, batches of --batch, decoding
      and preprocessing on a thread pool, the same Milvus inserts (per batch) and Redis
      (pipelined);
  (c) `imgsearch index` into its embedded store, with the float files and with int8
      copies made by `imgsearch quantize`.
  (d) `imgsearch index` into the same Milvus 2.3 (`--db milvus://`, the gRPC store), with the
      float files.

Then search, per query: the recipe's (both features with a session each, a Milvus search
per model, a Redis GET per hit) against `imgsearch search` (a process per query: opens the
library and both models, embeds, searches, prints) and against `imgsearch serve` (models
loaded once; a query is a POST /api/search with the image), and the store part alone
(Milvus search + Redis GETs for a ready vector).

Every figure carries the 1-minute load average when it was taken. The Milvus server is
started under `flock /tmp/imgsearch-milvus.lock` (one Milvus 2.3 per machine).

Run with the recipe's venv (scripts/requirements-recipe.txt, which has pymilvus and redis);
the Milvus server comes from the tests' venv (`milvus` package, Milvus 2.3.5), Redis is
Debian's redis-server. Everything listens on 127.0.0.1 only.

    TF_USE_LEGACY_KERAS=1 .deps/venv-recipe/bin/python bench/recipe_bench.py \\
        --photos ../shared/data/caltech101-dev --count 1000 --work build/recipe-bench
"""
import argparse
import fcntl
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
from numpy import linalg as LA  # noqa: E402
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, utility  # noqa: E402

if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
    from tf_keras.applications.resnet50 import preprocess_input as resnet_preprocess  # noqa: E402
    from tf_keras.applications.vgg16 import preprocess_input as vgg_preprocess  # noqa: E402
    from tf_keras.preprocessing import image  # noqa: E402
else:
    from keras.applications.resnet50 import preprocess_input as resnet_preprocess  # noqa: E402
    from keras.applications.vgg16 import preprocess_input as vgg_preprocess  # noqa: E402
    from keras.utils import img_to_array, load_img  # noqa: E402

    class image:  # noqa: N801 - the recipe's `from keras.preprocessing import image`
        load_img = staticmethod(load_img)
        img_to_array = staticmethod(img_to_array)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTENSIONS = (".jpg", ".jpeg", ".png")
TOP_K = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick_photos(folder, count):
    paths = sorted(os.path.join(d, f) for d, _, files in os.walk(folder) for f in files
                   if f.lower().endswith(EXTENSIONS))
    step = len(paths) / count
    return [paths[int(i * step)] for i in range(min(count, len(paths)))]


MILVUS_SERVER = """
import signal
import sys
from milvus import default_server
# Stopped with SIGTERM: the Milvus binary it started is stopped too, not left running
# (it would hold etcd's fixed port for the next run).
def stop(*_):
    default_server.stop()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
default_server.set_base_dir(sys.argv[1])
# Its own etcd client port: the package's default search from 2379 can land on 2380, the
# peer port of this same etcd, when another Milvus on the machine holds 2379.
default_server.config.set("etcd_port", int(sys.argv[2]))
default_server.start()
print(default_server.listen_port, flush=True)
default_server.wait()
"""


class Services:
    """A Redis and a Milvus 2.3 of this run's own, on free loopback ports."""

    def __init__(self, work):
        # One Milvus 2.3 per machine (its etcd's fixed peer port): wait for the others.
        self.lock = open("/tmp/imgsearch-milvus.lock", "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.redis_port = free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "",
             "--appendonly", "no", "--dir", work], stdout=subprocess.DEVNULL)
        milvus_dir = os.path.join(work, "milvus")
        shutil.rmtree(milvus_dir, ignore_errors=True)
        if not self.wait_for_etcd_peer_port():
            # Milvus 2.3's embedded etcd always takes 127.0.0.1:2380; while another Milvus 2.3
            # on the machine holds it, the recipe's inserts go to milvus-lite (Milvus's C++
            # engine as one binary, pymilvus's local mode), said in the results.
            self.store = "milvus-lite"
            self.milvus = None
            connections.connect(uri=os.path.abspath(os.path.join(work, "milvus-lite.db")))
            self.connect_redis()
            return
        self.store = "milvus-2.3"
        # default_server takes the first free ports from Milvus's defaults upwards.
        self.milvus = subprocess.Popen(
            [os.path.join(ROOT, ".deps/venv/bin/python"), "-c", MILVUS_SERVER,
             os.path.abspath(milvus_dir), str(free_port())],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        started = self.milvus.stdout.readline()
        if not started.strip():
            raise RuntimeError("the Milvus server did not start (milvus package, .deps/venv)")
        self.milvus_port = int(started)
        deadline = time.time() + 240
        while True:
            try:
                connections.connect(host="127.0.0.1", port=str(self.milvus_port), timeout=5)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.time() > deadline or self.milvus.poll() is not None:
                    raise RuntimeError("Milvus did not start")
                time.sleep(2)
        self.connect_redis()

    def connect_redis(self):
        self.red = redis.Redis(host="127.0.0.1", port=self.redis_port)
        for _ in range(50):
            try:
                self.red.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.2)
        self.red.ping()

    @staticmethod
    def wait_for_etcd_peer_port(seconds=60):
        deadline = time.time() + seconds
        while True:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", 2380))
                    return True
                except OSError:
                    if time.time() > deadline:
                        return False
            time.sleep(5)

    def stop(self):
        connections.disconnect("default")
        for process in (self.milvus, self.redis):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        fcntl.flock(self.lock, fcntl.LOCK_UN)
        self.lock.close()


class Serve:
    """`imgsearch serve` on a library, on a free port; queries are POST /api/search."""

    def __init__(self, exe, db):
        self.process = subprocess.Popen([exe, "serve", "--db", db, "--port", "0", "--grpc-port",
                                         "0"], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        self.url = None
        deadline = time.time() + 300
        while time.time() < deadline and self.url is None:
            line = self.process.stdout.readline()
            if not line:
                break
            found = re.search(r"serving .* on (http://[^:]+:\d+)", line)
            if found:
                self.url = found.group(1)
        if self.url is None:
            self.stop()
            raise RuntimeError("imgsearch serve did not start")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self.session = requests.Session()

    def search(self, path):
        with open(path, "rb") as f:
            answer = self.session.post(f"{self.url}/api/search", files={"image": f},
                                       data={"k": str(TOP_K)})
        answer.raise_for_status()
        results = answer.json()["results"]
        assert all(len(hits) == TOP_K for hits in results.values()), results

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def load():
    return round(os.getloadavg()[0], 2)


def milvus_collection(name, dim):
    if utility.has_collection(name):
        utility.drop_collection(name)
    fields = [FieldSchema("id", DataType.INT64, is_primary=True, auto_id=True),
              FieldSchema("embedding", DataType.FLOAT_VECTOR, dim=dim)]
    return Collection(name, CollectionSchema(fields, description=name))


INDEX = {"metric_type": "L2", "index_type": "IVF_FLAT", "params": {"nlist": 128}}
SEARCH = {"metric_type": "L2", "params": {"nprobe": 16}}


# (a) -------------------------------------------------------------------------------------
def recipe_extract_feat(model_path, preprocess_input, img_path):
    """The recipe's function, line for line (a session per call)."""
    img = image.load_img(img_path, target_size=(224, 224))
    x = image.img_to_array(img)
    x = np.expand_dims(x, axis=0)
    x = preprocess_input(x)
    sess = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    feat = sess.run(None, {sess.get_inputs()[0].name: x})
    norm_feat = feat[0] / LA.norm(feat[0])
    return norm_feat.tolist()[0]


def run_recipe(models, paths, services, prefix):
    start = time.perf_counter()
    for name, (model_path, preprocess, dim) in models.items():
        feats = [recipe_extract_feat(model_path, preprocess, p) for p in paths]
        collection = milvus_collection(f"{prefix}_{name}", dim)
        mr = collection.insert([feats])
        ids = mr.primary_keys
        collection.create_index(field_name="embedding", index_params=INDEX)
        for i in range(len(paths)):
            services.red.set(f"{name}:{ids[i]}", paths[i])
    return time.perf_counter() - start


# (b) -------------------------------------------------------------------------------------
def run_best_effort(models, paths, services, prefix, batch):
    start = time.perf_counter()
    sessions = {name: onnxruntime.InferenceSession(m[0], providers=["CPUExecutionProvider"])
                for name, m in models.items()}
    collections = {name: milvus_collection(f"{prefix}_{name}", m[2]) for name, m in models.items()}

    def load(path):  # one decode feeds both models: their preprocessing is the same
        return resnet_preprocess(image.img_to_array(image.load_img(path, target_size=(224, 224))))

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        tensors = pool.map(load, paths)
        for first in range(0, len(paths), batch):
            chunk = paths[first:first + batch]
            x = np.stack([next(tensors) for _ in chunk])
            pipe = services.red.pipeline(transaction=False)
            for name, session in sessions.items():
                feat = session.run(None, {session.get_inputs()[0].name: x})[0]
                feat /= LA.norm(feat, axis=1, keepdims=True)
                ids = collections[name].insert([feat]).primary_keys
                for i, path in zip(ids, chunk):
                    pipe.set(f"{name}:{i}", path)
            pipe.execute()
    for collection in collections.values():
        collection.create_index(field_name="embedding", index_params=INDEX)
    return time.perf_counter() - start


# search ----------------------------------------------------------------------------------
def recipe_search(models, collections, services, query):
    """Per query: both features as the recipe makes them, a search per model, a GET per hit.
    Returns (total seconds, seconds of Milvus search + Redis alone)."""
    start = time.perf_counter()
    store = 0.0
    for name, (model_path, preprocess, _) in models.items():
        feat = recipe_extract_feat(model_path, preprocess, query)
        t = time.perf_counter()
        results = collections[name].search([feat], "embedding", SEARCH, limit=TOP_K)
        found = [services.red.get(f"{name}:{hit.id}") for hit in results[0]]
        store += time.perf_counter() - t
        assert len(found) == TOP_K and all(found)
    return time.perf_counter() - start, store


def cpu_seconds(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def timed_cpu(command):
    """Wall seconds and the CPU seconds of the command (user + system): on a shared machine
    the second says how much work it took, whatever share of the cores it was given."""
    before = cpu_seconds(resource.RUSAGE_CHILDREN)
    seconds = timed(command)
    return seconds, cpu_seconds(resource.RUSAGE_CHILDREN) - before


def in_process_cpu(run, *args):
    before = cpu_seconds(resource.RUSAGE_SELF)
    seconds = run(*args)
    return seconds, cpu_seconds(resource.RUSAGE_SELF) - before


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", default=os.path.join(ROOT, "../shared/data/caltech101-dev"))
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--recipe-count", type=int, default=0,
                        help="photos for (a), the first of the --count (default: all)")
    parser.add_argument("--models", default=os.path.join(ROOT, ".deps/recipe-models/keras2"))
    parser.add_argument("--imgsearch", default=os.path.join(ROOT, "build/imgsearch"))
    parser.add_argument("--work", default=os.path.join(ROOT, "build/recipe-bench"))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: a,b,c (both), c_int8, d, search")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    os.makedirs(args.work, exist_ok=True)
    paths = pick_photos(args.photos, args.count)
    recipe_paths = paths[:args.recipe_count or len(paths)]
    listing = os.path.join(args.work, "photos.txt")
    with open(listing, "w") as f:
        f.write("\n".join(paths) + "\n")
    resnet = os.path.join(args.models, "onnx_resnet50.onnx")
    vgg = os.path.join(args.models, "onnx_vgg16.onnx")
    models = {"resnet": (resnet, resnet_preprocess, 2048), "vgg": (vgg, vgg_preprocess, 512)}
    results = {"photos": len(paths), "recipe_photos": len(recipe_paths), "cores": os.cpu_count()}

    def report(key, seconds, count, cpu):
        results[key] = {"seconds": round(seconds, 2), "images_per_s": round(count / seconds, 2),
                        "cpu_seconds": round(cpu, 1), "images_per_cpu_s": round(count / cpu, 2),
                        "load": load()}
        print(f"{key}: {count} images in {seconds:.1f} s = {count / seconds:.2f} images/s, "
              f"{cpu:.0f} CPU s = {count / cpu:.2f} images per CPU second (load {load()})",
              flush=True)

    exe = args.imgsearch
    if "c" not in skip:
        int8 = os.path.join(args.work, "int8")
        os.makedirs(int8, exist_ok=True)
        for label, files in [("c_fp32", (resnet, vgg)),
                             ("c_int8", (os.path.join(int8, "onnx_resnet50.onnx"),
                                         os.path.join(int8, "onnx_vgg16.onnx")))]:
            if label in skip:
                continue
            if label == "c_int8":
                for source, out in zip((resnet, vgg), files):
                    q = subprocess.run([exe, "quantize", source, "--calibrate", args.photos,
                                        "--images", "100", "-o", out, "--json"],
                                       check=True, capture_output=True, text=True)
                    agreement = json.loads(q.stdout)["agreement"]
                    results[f"quantize_{os.path.basename(source)}"] = agreement
                    print(f"quantize {os.path.basename(source)}: agreement {agreement}",
                          flush=True)
            db = os.path.join(args.work, f"lib-{label}")
            shutil.rmtree(db, ignore_errors=True)
            seconds, cpu = timed_cpu([exe, "index", "--files-from", listing, "--db", db,
                                      "--model", f"resnet={files[0]}", "--model", f"vgg={files[1]}"])
            report(label, seconds, len(paths), cpu)
    services = Services(args.work)
    results["milvus"] = services.store
    if services.store == "milvus-lite":
        INDEX["index_type"], INDEX["params"] = "FLAT", {}
    try:
        if "d" not in skip and services.store == "milvus-2.3":
            seconds, cpu = timed_cpu([exe, "index", "--files-from", listing, "--db",
                                      f"milvus://127.0.0.1:{services.milvus_port}",
                                      "--model", f"resnet={resnet}", "--model", f"vgg={vgg}"])
            report("d_milvus_fp32", seconds, len(paths), cpu)
        if "a" not in skip:
            seconds, cpu = in_process_cpu(run_recipe, models, recipe_paths, services, "recipe")
            report("a_recipe", seconds, len(recipe_paths), cpu)
        if "b" not in skip:
            seconds, cpu = in_process_cpu(run_best_effort, models, paths, services, "python",
                                          args.batch)
            report("b_python", seconds, len(paths), cpu)
        if "search" not in skip:
            prefix = "python" if "b" not in skip else "recipe"
            collections = {name: Collection(f"{prefix}_{name}") for name in models}
            for c in collections.values():
                c.load()
            queries = random.Random(29).sample(paths, args.queries)
            recipe = [recipe_search(models, collections, services, q) for q in queries]
            results["search_recipe_ms"] = round(1000 * float(np.median([r[0] for r in recipe])), 1)
            results["search_recipe_store_ms"] = round(1000 * float(np.median([r[1] for r in recipe])), 2)
            for label in ("c_fp32", "c_int8"):
                db = os.path.join(args.work, f"lib-{label}")
                if not os.path.isdir(db):
                    continue
                times = [timed([exe, "search", q, "--db", db, "-k", str(TOP_K)]) for q in queries]
                results[f"search_{label}_cli_ms"] = round(1000 * float(np.median(times)), 1)
                server = Serve(exe, db)
                try:
                    server.search(queries[0])  # warm: first query pays the arena's growth
                    times = []
                    for q in queries:
                        t = time.perf_counter()
                        server.search(q)
                        times.append(time.perf_counter() - t)
                finally:
                    server.stop()
                results[f"search_{label}_serve_ms"] = round(1000 * float(np.median(times)), 1)
            results["search_load"] = load()
            print({k: v for k, v in results.items() if k.startswith("search")}, flush=True)
    finally:
        services.stop()
    for c in ("c_fp32", "c_int8", "d_milvus_fp32"):
        for ref in ("a_recipe", "b_python", "c_fp32"):
            if c == ref:
                continue
            if c in results and ref in results:
                ratio = results[c]["images_per_s"] / results[ref]["images_per_s"]
                results[f"ratio_{c}_over_{ref}"] = round(ratio, 2)
                ratio = results[c]["images_per_cpu_s"] / results[ref]["images_per_cpu_s"]
                results[f"cpu_ratio_{c}_over_{ref}"] = round(ratio, 2)
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
