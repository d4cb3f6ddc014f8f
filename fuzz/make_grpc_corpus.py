#!/usr/bin/env python3
"""Writes the seed corpus of the milvus_grpc target (fuzz/corpus/milvus_grpc): requests as
pymilvus builds them, against the collections of fuzz/milvus_fixture.cc. Run with the
tests' virtual environment (it has pymilvus's message classes):

    .deps/venv/bin/python fuzz/make_grpc_corpus.py [fuzz/corpus/milvus_grpc]

An input is calls of: one byte picking the RPC (its index in MilvusService of the
.proto files the build compiles, .deps/milvus-proto/milvus.proto), two bytes of
length (little-endian), the request message."""
import os
import re
import struct
import sys

from pymilvus import DataType, MilvusClient
from pymilvus.client.prepare import Prepare
from pymilvus.grpc_gen import milvus_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus", "milvus_grpc")
PROTO = os.path.join(ROOT, ".deps", "milvus-proto", "milvus.proto")


def methods():
    text = open(PROTO).read()
    service = text[text.index("service MilvusService"):]
    service = service[:service.index("\n}")]
    return re.findall(r"^\s*rpc (\w+)\(", service, re.M)


METHODS = methods()


def call(name, message):
    data = message.SerializeToString()
    return bytes([METHODS.index(name)]) + struct.pack("<H", len(data)) + data


def write(name, *calls):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b"".join(calls))


def float_rows():
    rows = []
    for i in range(3):
        rows.append({"id": 10 + i, "vector": [0.1 * i, 1.0, 0.5, -1.0], "path": f"x/{i}.jpg",
                     "width": 100 + i, "meta": {"tags": ["a"]}})
    return rows


def photos_fields():
    return [
        {"name": "id", "type": DataType.INT64, "is_primary": True, "auto_id": False},
        {"name": "vector", "type": DataType.FLOAT_VECTOR, "params": {"dim": 4}},
        {"name": "path", "type": DataType.VARCHAR, "params": {"max_length": 64}},
        {"name": "width", "type": DataType.INT64},
        {"name": "meta", "type": DataType.JSON},
    ]


def main():
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=32)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("year", DataType.INT64, nullable=True)
    create = Prepare.create_collection_request("made", schema)
    write("create_and_describe", call("CreateCollection", create),
          call("DescribeCollection", milvus_pb2.DescribeCollectionRequest(collection_name="made")))
    insert = Prepare.row_insert_param("photos", float_rows(), "", photos_fields())
    write("insert", call("Insert", insert))
    upsert = Prepare.row_upsert_param("photos", float_rows(), "", photos_fields())
    write("upsert_then_query", call("Upsert", upsert),
          call("Query", Prepare.query_request("photos", "width >= 100", ["path", "width"], None,
                                              limit=5)))
    search = Prepare.search_requests_with_expr(
        "photos", [[1.0, 2.0, 0.5, -1.0], [0.0, 1.0, 0.0, 0.0]], "vector",
        {"metric_type": "L2", "params": {"ef": 16}}, 3, "width > 100", None, ["path", "meta"])
    write("search", call("Search", search))
    bits = Prepare.search_requests_with_expr("bits", [bytes([1, 2])], "bits",
                                             {"metric_type": "HAMMING"}, 2)
    write("search_binary", call("Search", bits))
    write("count", call("Query", Prepare.query_request("photos", "", ["count(*)"], None)))
    write("delete", call("Delete", Prepare.delete_request("photos", "id in [1, 2]", None, 0)))
    index = milvus_pb2.CreateIndexRequest(collection_name="photos", field_name="vector")
    for key, value in {"index_type": "HNSW", "metric_type": "L2",
                       "params": '{"M": 8, "efConstruction": 32}'}.items():
        index.extra_params.add(key=key, value=value)
    write("index", call("ReleaseCollection", milvus_pb2.ReleaseCollectionRequest(collection_name="photos")),
          call("CreateIndex", index),
          call("DescribeIndex", milvus_pb2.DescribeIndexRequest(collection_name="photos")),
          call("LoadCollection", milvus_pb2.LoadCollectionRequest(collection_name="photos")))
    write("partitions", call("CreatePartition", milvus_pb2.CreatePartitionRequest(
        collection_name="photos", partition_name="p1")),
          call("ShowPartitions", milvus_pb2.ShowPartitionsRequest(collection_name="photos")))
    write("aliases", call("CreateAlias", milvus_pb2.CreateAliasRequest(collection_name="photos",
                                                                        alias="pics")),
          call("ListAliases", milvus_pb2.ListAliasesRequest(collection_name="photos")))
    write("connect", call("Connect", milvus_pb2.ConnectRequest()),
          call("ShowCollections", milvus_pb2.ShowCollectionsRequest()))
    write("unserved", call("CreateCredential", milvus_pb2.CreateCredentialRequest(username="u")))
    hybrid = milvus_pb2.HybridSearchRequest(collection_name="photos", requests=[search, search])
    hybrid.rank_params.add(key="strategy", value="rrf")
    hybrid.rank_params.add(key="params", value='{"k": 60}')
    hybrid.rank_params.add(key="limit", value="3")
    write("hybrid", call("HybridSearch", hybrid))
    flush = milvus_pb2.FlushRequest(collection_names=["photos"])
    write("flush_stats", call("Flush", flush), call("GetCollectionStatistics",
          milvus_pb2.GetCollectionStatisticsRequest(collection_name="photos")))


if __name__ == "__main__":
    main()
