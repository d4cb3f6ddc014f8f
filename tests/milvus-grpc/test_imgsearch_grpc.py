"""What only imgsearch's side shows: tokens mapped onto Milvus's authorization metadata,
one library behind REST and gRPC at once, RPCs it does not serve named in UNIMPLEMENTED,
and requests that are not messages at all."""

import json
import os
import struct
import subprocess
import urllib.request

import grpc
import pytest
from conftest import TMP, ImgsearchServer
from pymilvus import DataType, MilvusClient, MilvusException

DIM = 4
READ = "read-token-0123456789"
WRITE = "write-token-0123456789"


@pytest.fixture(scope="module")
def guarded():
    server = ImgsearchServer(os.path.join(TMP, "guarded"), tokens=[READ, WRITE + ":write"])
    yield server
    server.stop()


def test_tokens_map_onto_scopes(guarded):
    writer = MilvusClient(uri=guarded.uri, token=WRITE)
    writer.create_collection("scoped", dimension=DIM, consistency_level="Strong")
    writer.insert("scoped", [{"id": 1, "vector": [1.0, 0, 0, 0]}])
    # user:password, with the token as the password, is a credential too.
    reader = MilvusClient(uri=guarded.uri, user="anyone", password=READ)
    assert [dict(r) for r in reader.query("scoped", filter="id == 1", output_fields=["id"])] == \
        [{"id": 1}]
    # As Milvus's authorization checks: a gRPC status, not a Milvus code.
    with pytest.raises(grpc.RpcError) as refused:
        reader.insert("scoped", [{"id": 2, "vector": [0, 1.0, 0, 0]}])
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "may read but not write" in refused.value.details()
    with pytest.raises((MilvusException, grpc.RpcError)) as unknown:
        MilvusClient(uri=guarded.uri, token="not-a-token-at-all-0000")
    assert "token" in str(unknown.value)
    assert writer.query("scoped", filter="", output_fields=["count(*)"])[0]["count(*)"] == 1


def test_rest_and_grpc_share_one_library(imgsearch):
    client = MilvusClient(uri=imgsearch.uri)
    client.create_collection("shared", dimension=DIM, consistency_level="Strong")
    client.insert("shared", [{"id": 7, "vector": [0.5, 0.5, 0, 0], "tag": "grpc"}])
    body = json.dumps({"collectionName": "shared", "filter": "id == 7",
                       "outputFields": ["tag"]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{imgsearch.http_port}/v2/vectordb/entities/query",
                                     data=body, headers={"Content-Type": "application/json"})
    answer = json.load(urllib.request.urlopen(request, timeout=30))
    assert answer["code"] == 0 and answer["data"] == [{"id": 7, "tag": "grpc"}]
    # ... and the other way round: a row inserted over REST is read over gRPC.
    body = json.dumps({"collectionName": "shared",
                       "data": [{"id": 8, "vector": [0, 0, 1, 0], "tag": "rest"}]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{imgsearch.http_port}/v2/vectordb/entities/insert",
                                     data=body, headers={"Content-Type": "application/json"})
    assert json.load(urllib.request.urlopen(request, timeout=30))["code"] == 0
    assert [dict(r) for r in client.get("shared", ids=[8], output_fields=["tag"])] == \
        [{"id": 8, "tag": "rest"}]
    client.drop_collection("shared")


def raw_call(server, method, payload):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    call = channel.unary_unary(f"/milvus.proto.milvus.MilvusService/{method}")
    try:
        return call(payload, timeout=30)
    finally:
        channel.close()


def test_unserved_rpcs_are_named(imgsearch):
    with pytest.raises(grpc.RpcError) as users:
        raw_call(imgsearch, "CreateCredential", b"")
    assert users.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "MilvusService/CreateCredential" in users.value.details()
    assert "users" in users.value.details()  # the REST dialect's reason, word for word
    with pytest.raises(grpc.RpcError) as other:
        raw_call(imgsearch, "ManualCompaction", b"")
    assert other.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "MilvusService/ManualCompaction" in other.value.details()


def test_bytes_that_are_no_message_are_refused(imgsearch):
    with pytest.raises(grpc.RpcError) as bad:
        raw_call(imgsearch, "Search", b"\xff\xff\xff\xff\x0f garbage")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "SearchRequest" in bad.value.details()
    # The server is still up.
    assert "shared" not in MilvusClient(uri=imgsearch.uri).list_collections()


def test_a_taken_grpc_port_is_refused(imgsearch, tmp_path):
    """A second server on the gRPC port of a running one fails to start (gRPC's default
    SO_REUSEPORT would let both bind and split the calls between them)."""
    second = subprocess.run(
        [os.environ["IMGSEARCH_BINARY"], "serve", "--db", str(tmp_path / "lib"), "--port", "0",
         "--grpc-port", str(imgsearch.grpc_port)],
        capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert str(imgsearch.grpc_port) in second.stderr
    client = MilvusClient(uri=imgsearch.uri)  # the first one still answers
    assert isinstance(client.list_collections(), list)
    client.close()


def insert_columns(server, collection, vectors, dim, ids, binary=False):
    """An InsertRequest built by hand, so that its columns may disagree with the schema."""
    from pymilvus.grpc_gen import milvus_pb2, schema_pb2
    request = milvus_pb2.InsertRequest(collection_name=collection, num_rows=len(ids))
    key = request.fields_data.add(field_name="id", type=schema_pb2.DataType.Int64)
    key.scalars.long_data.data.extend(ids)
    column = request.fields_data.add(field_name="vector", type=schema_pb2.DataType.BinaryVector
                                     if binary else schema_pb2.DataType.FloatVector)
    column.vectors.dim = dim
    if binary:
        column.vectors.binary_vector = bytes(vectors)
    else:
        column.vectors.float_vector.data.extend(vectors)
    reply = milvus_pb2.MutationResult.FromString(
        raw_call(server, "Insert", request.SerializeToString()))
    return reply.status.code, reply.status.reason


def test_vectors_are_written_as_sent(imgsearch):
    """Insert's vectors go from the message to the store in binary form: every float comes
    back bit for bit, binary vectors byte for byte, and a column that does not fit the
    schema is refused with Milvus's insert-data code."""
    client = MilvusClient(uri=imgsearch.uri)
    client.create_collection("exact", dimension=DIM, consistency_level="Strong")
    values = [0.1, -3.4028234e38, 1e-45, 7.0, 2.5e-8, 1 / 3, -0.0, 123456.789]
    assert insert_columns(imgsearch, "exact", values, DIM, [1, 2]) == (0, "")
    got = {r["id"]: r["vector"] for r in client.get("exact", ids=[1, 2], output_fields=["vector"])}

    sent = struct.unpack("8f", struct.pack("8f", *values))  # as float32
    assert [struct.pack("f", x) for x in got[1] + got[2]] == [struct.pack("f", x) for x in sent]
    code, reason = insert_columns(imgsearch, "exact", [1.0] * 6, 3, [3, 4])
    assert code == 1804 and "3 values but the collection's dimension is 4" in reason, reason
    code, reason = insert_columns(imgsearch, "exact", [1.0] * 12, DIM, [5, 6])
    assert code == 1804 and "has 3 values for 2 rows" in reason, reason
    assert client.query("exact", filter="", output_fields=["count(*)"])[0]["count(*)"] == 2

    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.BINARY_VECTOR, dim=16)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="BIN_FLAT", metric_type="HAMMING")
    client.create_collection("bits", schema=schema, index_params=index,
                             consistency_level="Strong")
    assert insert_columns(imgsearch, "bits", [0x0f, 0xf0, 0xff, 0x01], 16, [1, 2],
                          binary=True) == (0, "")
    got = {r["id"]: r["vector"] for r in client.get("bits", ids=[1, 2], output_fields=["vector"])}
    assert [bytes(got[1][0]) if isinstance(got[1], list) else bytes(got[1]),
            bytes(got[2][0]) if isinstance(got[2], list) else bytes(got[2])] == \
        [b"\x0f\xf0", b"\xff\x01"]


def test_hnsw_sq_in_both_protocols(imgsearch):
    """HNSW_SQ (Milvus 2.5+; Milvus 2.3 has none, so no differential case) is created with
    Milvus's parameter names over gRPC and REST, refuses an sq_type it does not know, and
    finds each stored vector first when searched with it, with and without refine."""
    import random
    rng = random.Random(3)
    dim = 32
    vectors = [[rng.gauss(0, 1) for _ in range(dim)] for _ in range(300)]
    client = MilvusClient(uri=imgsearch.uri)
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    bad = client.prepare_index_params()
    bad.add_index("vector", index_type="HNSW_SQ", metric_type="L2",
                  params={"M": 8, "efConstruction": 64, "sq_type": "SQ5"})
    with pytest.raises(MilvusException) as refused:
        client.create_collection("sq_bad", schema=schema, index_params=bad)
    assert "sq_type" in str(refused.value)
    for name, params, search in [
            ("sq_fp16", {"M": 8, "efConstruction": 64, "sq_type": "FP16"}, {"ef": 32}),
            ("sq_refined", {"M": 8, "efConstruction": 64, "sq_type": "SQ8", "refine": True,
                            "refine_type": "FP16"}, {"ef": 32, "refine_k": 2})]:
        index = client.prepare_index_params()
        index.add_index("vector", index_type="HNSW_SQ", metric_type="L2", params=params)
        client.create_collection(name, schema=schema, index_params=index,
                                 consistency_level="Strong")
        client.insert(name, [{"id": i, "vector": v} for i, v in enumerate(vectors)])
        described = client.describe_index(name, "vector")
        assert described["index_type"] == "HNSW_SQ", described
        assert described["params"]["sq_type"] == params["sq_type"], described
        found = client.search(name, data=vectors[:50], limit=1,
                              search_params={"metric_type": "L2", "params": search})
        assert [hits[0]["id"] for hits in found] == list(range(50))

    # REST: the same parameters under indexParams.
    def post(path, body):
        request = urllib.request.Request(f"http://127.0.0.1:{imgsearch.http_port}/v2/vectordb/{path}",
                                          data=json.dumps(body).encode(),
                                          headers={"Content-Type": "application/json"})
        return json.load(urllib.request.urlopen(request, timeout=30))
    assert post("collections/create", {"collectionName": "sq_rest", "dimension": dim})["code"] == 0
    client.release_collection("sq_rest")
    client.drop_index("sq_rest", "vector")
    answer = post("indexes/create", {"collectionName": "sq_rest", "indexParams": [
        {"fieldName": "vector", "indexName": "vector", "metricType": "COSINE",
         "params": {"index_type": "HNSW_SQ", "M": 8, "efConstruction": 64, "sq_type": "BF16"}}]})
    assert answer["code"] == 0, answer
    answer = post("indexes/describe", {"collectionName": "sq_rest", "indexName": "vector"})
    assert answer["data"][0]["indexType"] == "HNSW_SQ", answer
