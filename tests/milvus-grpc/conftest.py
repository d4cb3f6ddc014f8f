"""Servers for the pymilvus suite: `imgsearch serve` (its gRPC port) and real Milvus servers
from PyPI (Milvus 2.3 standalone from the `milvus` package, milvus-lite 2.5), each started
once per run on loopback and stopped at the end.

Environment: IMGSEARCH_BINARY (the imgsearch executable), IMGSEARCH_TEST_TMP (a folder for
the servers' data). IMGSEARCH_REAL_MILVUS=0 leaves the real servers out (the suite then
runs against imgsearch alone, and says so)."""

import fcntl
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

TMP = os.environ.get("IMGSEARCH_TEST_TMP", "/tmp/imgsearch-pymilvus")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ImgsearchServer:
    """`imgsearch serve` on a fresh library, HTTP and gRPC on free ports."""

    def __init__(self, folder, tokens=()):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        args = [os.environ["IMGSEARCH_BINARY"], "serve", "--db", os.path.join(folder, "lib"),
                "--port", "0", "--grpc-port", "-1"]
        for token in tokens:
            args += ["--token", token]
        self.log = open(os.path.join(folder, "serve.log"), "w")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.grpc_port = self.http_port = None
        deadline = time.time() + 60
        while time.time() < deadline and self.grpc_port is None:
            line = self.process.stdout.readline()
            if not line:
                break
            http = re.search(r"serving .* on http://[^:]+:(\d+)", line)
            if http:
                self.http_port = int(http.group(1))
            found = re.search(r"Milvus gRPC .* on [^:]+:(\d+)", line)
            if found:
                self.grpc_port = int(found.group(1))
        if self.grpc_port is None:
            self.stop()
            raise RuntimeError("imgsearch serve did not report its gRPC port; see " + folder)
        # Keep reading stdout so the server never blocks on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self.uri = f"http://127.0.0.1:{self.grpc_port}"

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def real_milvus_wanted():
    return os.environ.get("IMGSEARCH_REAL_MILVUS", "1") != "0"


@pytest.fixture(scope="session")
def imgsearch():
    server = ImgsearchServer(os.path.join(TMP, "imgsearch"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def milvus23_server():
    """Milvus 2.3 standalone (the `milvus` package: the real server with embedded etcd),
    one per run: its embedded etcd takes a fixed peer port, so two cannot run at once."""
    if not real_milvus_wanted():
        pytest.skip("IMGSEARCH_REAL_MILVUS=0")
    from milvus import default_server

    # The machine-wide lock the benchmarks take too: a second Milvus 2.3 would find etcd's
    # peer port taken.
    lock = open("/tmp/imgsearch-milvus.lock", "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    default_server.set_base_dir(os.path.join(TMP, "milvus23"))
    default_server.listen_port = free_port()
    default_server.start()
    yield default_server
    default_server.stop()
    lock.close()


@pytest.fixture(scope="session")
def milvus23(milvus23_server):
    return f"http://127.0.0.1:{milvus23_server.listen_port}"


@pytest.fixture(scope="session")
def milvus_lite():
    """milvus-lite 2.5 (the C++ Milvus engine as one binary) serving gRPC on loopback."""
    if not real_milvus_wanted():
        pytest.skip("IMGSEARCH_REAL_MILVUS=0")
    from milvus_lite.server import Server

    folder = os.path.join(TMP, "milvus-lite")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    port = free_port()
    server = Server(os.path.join(folder, "lite.db"), f"127.0.0.1:{port}")
    if not server.init() or not server.start():
        raise RuntimeError("milvus-lite did not start")
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    yield uri
    server.stop()
