"""What pymilvus itself costs per insert call: the bound the client puts on any server's
insert rows/s in bench/milvus_bench.py (issue 25, item 6).

The benchmark's insert loop (MilvusClient.insert of BATCH rows given as dicts of an int id
and a 512-float numpy vector) is run against a server that answers at once: a gRPC server
in a process of its own that takes each request as bytes, unparsed, and replies with an
empty MutationResult (status Success). Measured per call: the client's wall time, the
client process's CPU (every thread: pymilvus packing the rows into the InsertRequest in
Python, protobuf serialising it, gRPC sending it) and the null server's CPU. Then, in
process and without gRPC, the CPU of the two steps pymilvus does itself: building the
rows as the benchmark does, and Prepare.row_insert_param + SerializeToString.

    .deps/venv/bin/python bench/pymilvus_insert_floor.py [--calls 20] [--batch 5000]

With no server work at all, 5000 rows / (wall per call) is the highest insert rows/s the
benchmark's client can report; against a server whose work per call is W, at most
5000 / (wall + W), since pymilvus waits for each reply before building the next call."""

import argparse
import multiprocessing
import os
import resource
import socket
import sys
import time
from concurrent import futures

import numpy as np


def cpu_of(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def null_server(port, ready):
    """Answers every MilvusService call without parsing it: DescribeCollection with the
    benchmark's schema (pymilvus needs the fields to pack rows), everything else with the
    empty message of its reply type (status Success)."""
    import grpc
    from pymilvus.grpc_gen import milvus_pb2, schema_pb2

    schema = schema_pb2.CollectionSchema(name="bench")
    schema.fields.add(fieldID=100, name="id", is_primary_key=True, data_type=schema_pb2.Int64)
    vector = schema.fields.add(fieldID=101, name="vector", data_type=schema_pb2.FloatVector)
    vector.type_params.add(key="dim", value="512")
    described = milvus_pb2.DescribeCollectionResponse(schema=schema, collectionID=1,
                                                      collection_name="bench").SerializeToString()

    class Handler(grpc.GenericRpcHandler):
        def service(self, details):
            name = details.method.rsplit("/", 1)[-1]
            reply = described if name == "DescribeCollection" else b""
            return grpc.unary_unary_rpc_method_handler(
                lambda request, context: reply,
                request_deserializer=None, response_serializer=None)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2),
                         options=[("grpc.max_receive_message_length", -1)])
    server.add_generic_rpc_handlers((Handler(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    ready.set()
    server.wait_for_termination()


def rows_of(base, at, batch):
    return [{"id": at + i, "vector": v} for i, v in enumerate(base[at:at + batch])]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    from pymilvus import MilvusClient
    from pymilvus.client.prepare import Prepare

    rng = np.random.default_rng(0)
    base = rng.standard_normal((args.batch * args.calls, args.dim)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that started gRPC
    ready = spawn.Event()
    server = spawn.Process(target=null_server, args=(port, ready), daemon=True)
    server.start()
    if not ready.wait(60):
        raise RuntimeError("the null server did not start")
    client = MilvusClient(uri=f"http://127.0.0.1:{port}")
    client.insert("bench", rows_of(base, 0, args.batch))  # the schema is cached from here
    load = open("/proc/loadavg").read().split()[0]
    wall, cpu, server_cpu = time.time(), self_cpu(), cpu_of(server.pid)
    for call in range(args.calls):
        client.insert("bench", rows_of(base, call * args.batch, args.batch))
    wall, cpu = time.time() - wall, self_cpu() - cpu
    server_cpu = cpu_of(server.pid) - server_cpu
    client.close()
    server.terminate()

    fields = [{"name": "id", "type": 5, "is_primary": True, "auto_id": False, "params": {}},
              {"name": "vector", "type": 101, "params": {"dim": args.dim}}]
    build = pack = 0.0
    size = 0
    for call in range(args.calls):
        t = time.process_time()
        rows = rows_of(base, call * args.batch, args.batch)
        build += time.process_time() - t
        t = time.process_time()
        request = Prepare.row_insert_param("bench", rows, "", fields)
        size = len(request.SerializeToString())
        pack += time.process_time() - t

    n = args.calls
    print(f"pymilvus insert against a server that answers at once: {n} calls of {args.batch} "
          f"rows x {args.dim} floats (load average {load} before)")
    print(f"  wall per call          {wall / n * 1000:7.1f} ms  -> at most "
          f"{args.batch * n / wall:,.0f} rows/s for any server")
    print(f"  client CPU per call    {cpu / n * 1000:7.1f} ms  (every thread of the client)")
    print(f"  null server CPU/call   {server_cpu / n * 1000:7.1f} ms  (receiving {size / 1e6:.1f} MB)")
    print(f"  in process: rows as dicts {build / n * 1000:.1f} ms, "
          f"row_insert_param + SerializeToString {pack / n * 1000:.1f} ms per call")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
