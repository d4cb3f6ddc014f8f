#!/usr/bin/env python3
"""Writes the seed corpus of the grpc_h2 target (fuzz/corpus/grpc_h2): the bytes that
grpcio's client (pymilvus's transport) sends on one connection, one file per connection,
recorded by a relay in front of a running `imgsearch serve`. Run with the tests' virtual
environment (it has grpcio and pymilvus):

    .deps/venv/bin/python fuzz/make_h2_corpus.py build/imgsearch [fuzz/corpus/grpc_h2]
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from pymilvus import MilvusClient
from pymilvus.grpc_gen import milvus_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "fuzz", "corpus", "grpc_h2")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay:
    """Forwards connections to the server and keeps what each client sent."""

    def __init__(self, target):
        self.target, self.sent, self.lock = target, [], threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target))
            record = bytearray()
            with self.lock:
                self.sent.append(record)
            threading.Thread(target=self.pump, args=(client, server, record), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, None), daemon=True).start()

    @staticmethod
    def pump(src, dst, record):
        try:
            while data := src.recv(65536):
                if record is not None:
                    record.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def take(self):
        time.sleep(0.3)
        with self.lock:
            taken, self.sent = self.sent, []
        return [bytes(r) for r in taken]


def raw(port, method, payload, metadata=()):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        channel.unary_unary(method)(payload, timeout=30, metadata=metadata)
    except grpc.RpcError:
        pass
    channel.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp()
    grpc_port = free_port()
    serve = subprocess.Popen([BINARY, "serve", "--db", os.path.join(work, "db"), "--port", "0",
                              "--grpc-port", str(grpc_port)], stdout=subprocess.PIPE, text=True)
    for line in serve.stdout:
        if "gRPC" in line:
            break
    relay = Relay(grpc_port)
    seeds = {}
    service = "/milvus.proto.milvus.MilvusService/"
    raw(relay.port, service + "GetVersion", b"")
    seeds["get_version"] = relay.take()
    raw(relay.port, service + "ShowCollections", milvus_pb2.ShowCollectionsRequest().SerializeToString(),
        metadata=(("authorization", "dG9rZW4="),))
    seeds["authorization"] = relay.take()
    raw(relay.port, "/other.Service/Method", b"\x08\x01")
    seeds["other_service"] = relay.take()
    raw(relay.port, service + "Search", b"\xff\xff\xff\xff\x0f garbage")
    seeds["garbage_message"] = relay.take()
    client = MilvusClient(uri=f"http://127.0.0.1:{relay.port}")
    client.create_collection("c", dimension=4, consistency_level="Strong")
    client.insert("c", [{"id": i, "vector": [float(i), 0.5, 0.25, 0]} for i in range(40)])
    client.search("c", [[1.0, 0.5, 0.25, 0]], limit=3)
    client.query("c", filter="id < 3", output_fields=["id"])
    client.close()
    seeds["pymilvus_session"] = relay.take()
    serve.terminate()
    serve.wait()
    shutil.rmtree(work)
    for name, connections in seeds.items():
        for i, data in enumerate(connections):
            with open(os.path.join(OUT, f"{name}_{i}"), "wb") as f:
                f.write(data)
            print(f"{name}_{i}: {len(data)} bytes")


if __name__ == "__main__":
    main()
