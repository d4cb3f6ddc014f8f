"""A real Milvus (2.3 standalone) killed with SIGKILL while `imgsearch index` writes into
it, then started again on the same data: the index run that was cut short fails with a
clear error, the next run completes, and every image is then present exactly once in
every model's collection. Nothing acknowledged is lost, nothing is written twice."""

import json
import os
import struct
import subprocess
import time

import numpy as np
from conftest import TMP
from pymilvus import MilvusClient

COUNT = 240


def write_bmp(path, pixels):
    """A 24-bit BMP (imgsearch decodes BMP; the venv has no image library)."""
    height, width, _ = pixels.shape
    row = (width * 3 + 3) & ~3
    data = bytearray()
    for y in range(height - 1, -1, -1):
        line = pixels[y, :, ::-1].tobytes()
        data += line + b"\0" * (row - len(line))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(data), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    with open(path, "wb") as f:
        f.write(header + info + data)


def make_images(folder):
    rng = np.random.default_rng(12)
    os.makedirs(folder, exist_ok=True)
    for i in range(COUNT):
        blocks = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
        write_bmp(os.path.join(folder, f"img_{i:04d}.bmp"), np.kron(blocks, np.ones((16, 16, 1), np.uint8)))


def count_rows(uri, collection):
    client = MilvusClient(uri=uri)
    try:
        if not client.has_collection(collection):
            return 0
        return client.query(collection, filter="", output_fields=["count(*)"],
                            consistency_level="Strong")[0]["count(*)"]
    finally:
        client.close()


def test_index_resumes_after_milvus_is_killed(milvus23_server):
    own_milvus = milvus23_server  # killed and started again on the same data
    uri = f"http://127.0.0.1:{own_milvus.listen_port}"
    client = MilvusClient(uri=uri)
    for name in client.list_collections():
        client.drop_collection(name)
    client.close()
    location = f"milvus://127.0.0.1:{own_milvus.listen_port}"
    images = os.path.join(TMP, "killed-images")
    make_images(images)
    env = dict(os.environ, IMGSEARCH_MILVUS_TOKEN="")
    run = subprocess.Popen([os.environ["IMGSEARCH_BINARY"], "index", images, "--db", location,
                            "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env)
    deadline = time.time() + 240
    while time.time() < deadline and count_rows(uri, "images") < 20 and run.poll() is None:
        time.sleep(0.2)
    assert run.poll() is None, "the index run ended before Milvus could be killed"
    own_milvus.server_proc.kill()  # SIGKILL, mid-run
    own_milvus.server_proc.wait()
    own_milvus.server_proc = None
    for fd in own_milvus.proc_fds.values():
        fd.close()
    own_milvus.proc_fds.clear()
    _, err = run.communicate(timeout=300)
    assert run.returncode != 0, "the run that lost its Milvus said it succeeded"
    assert "milvus" in err.lower(), err

    own_milvus.start()  # the same data folder
    again = subprocess.run([os.environ["IMGSEARCH_BINARY"], "index", images, "--db", location,
                            "--json"], capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["added"] + report["unchanged"] + report["updated"] == COUNT, report

    client = MilvusClient(uri=uri)
    rows = client.query("images", filter="id >= 0", output_fields=["path"], limit=16384,
                        consistency_level="Strong")
    paths = [r["path"] for r in rows]
    assert len(paths) == COUNT and len(set(paths)) == COUNT
    ids = {r["id"] for r in rows}
    for model in ("phash", "color_layout"):
        vectors = client.query(model, filter="id >= 0", output_fields=["id"], limit=16384,
                               consistency_level="Strong")
        assert sorted(v["id"] for v in vectors) == sorted(ids), model
    client.close()
