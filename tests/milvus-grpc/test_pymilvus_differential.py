"""The differential pymilvus suite: every case runs the same MilvusClient calls against a
real Milvus (2.3 standalone, and milvus-lite 2.5 where it has the feature) and against
`imgsearch serve`'s gRPC port, and the answers must agree: ids and order for exact search,
counts, fields, error or not."""

import math
import uuid

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

DIM = 16


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["milvus23", "milvus_lite"])
def reference(request):
    """The real Milvus a case is compared with."""
    return request.param, request.getfixturevalue(request.param)


def clients(imgsearch, reference):
    name, uri = reference
    return {"imgsearch": MilvusClient(uri=imgsearch.uri), name: MilvusClient(uri=uri)}


def on_both(imgsearch, reference, case):
    """Runs case(client) on imgsearch and on the real Milvus; returns both answers."""
    answers = {}
    for name, client in clients(imgsearch, reference).items():
        try:
            answers[name] = case(client)
        finally:
            client.close()
    values = list(answers.values())
    return values[0], values[1]


def outcome(call):
    """The answer of call(), or ("error", code) when it raises a MilvusException."""
    try:
        return call()
    except MilvusException as e:
        return ("error", e.code)


def random_rows(n, seed, extra=True):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    rows = []
    for i in range(n):
        row = {"id": i, "vector": vectors[i].tolist()}
        if extra:
            row.update({"num": i, "color": ["red", "green", "blue"][i % 3]})
        rows.append(row)
    return rows


def hits_of(result):
    out = []
    for hits in result:
        row = []
        for hit in hits:
            fields = dict(hit)
            key = fields.get("id", fields.get("pk"))
            row.append((key, round(fields["distance"], 4), dict(fields["entity"])))
        out.append(row)
    return out


def assert_same_hits(a, b):
    assert len(a) == len(b)
    for qa, qb in zip(a, b):
        assert [h[0] for h in qa] == [h[0] for h in qb]
        for ha, hb in zip(qa, qb):
            assert math.isclose(ha[1], hb[1], rel_tol=1e-3, abs_tol=1e-3)
            assert ha[2] == hb[2]


def by_id(rows):
    return sorted((dict(r) for r in rows), key=lambda r: r.get("id", r.get("pk")))


def test_quick_start(imgsearch, reference):
    """pymilvus's MilvusClient quick start, unchanged: dynamic fields, search with a filter
    and output fields, query, count(*), get, delete by ids and by filter."""
    name = unique("quick")
    rows = random_rows(200, seed=1)
    queries = [r["vector"] for r in random_rows(3, seed=2, extra=False)]

    def case(client):
        client.create_collection(name, dimension=DIM, consistency_level="Strong")
        out = {"has": client.has_collection(name), "listed": name in client.list_collections()}
        out["insert"] = client.insert(name, rows)["insert_count"]
        out["search"] = hits_of(client.search(name, queries, limit=10, filter="num > 50",
                                              output_fields=["color", "num"]))
        out["query"] = by_id(client.query(name, filter="num < 10", output_fields=["color"]))
        out["count"] = client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
        out["get"] = by_id(client.get(name, ids=[3, 4, 5], output_fields=["num", "color"]))
        client.delete(name, ids=[3, 4])
        client.delete(name, filter="num >= 190")
        out["after"] = client.query(name, filter="num >= 0", output_fields=["count(*)"])[0]
        out["gone"] = [dict(r) for r in client.get(name, ids=[3, 4, 195])]
        client.drop_collection(name)
        out["dropped"] = client.has_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    assert_same_hits(mine.pop("search"), theirs.pop("search"))
    assert mine == theirs
    assert mine["count"] == 200 and mine["after"]["count(*)"] == 188


def test_search_with_every_field(imgsearch, reference):
    """output_fields=["*"] (the Node SDK's default): the key, the vector and the dynamic
    fields come back as Milvus returns them."""
    name = unique("star")
    rows = random_rows(50, seed=5)
    queries = [r["vector"] for r in random_rows(2, seed=6, extra=False)]

    def case(client):
        client.create_collection(name, dimension=DIM, consistency_level="Strong")
        client.insert(name, rows)
        out = hits_of(client.search(name, queries, limit=5, output_fields=["*"]))
        client.drop_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    assert_same_hits(mine, theirs)
    assert set(mine[0][0][2]) >= {"id", "vector", "num", "color"}, mine[0][0][2]


def schema_collection(client, name, key_type, metric, index_type, params):
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    if key_type == DataType.VARCHAR:
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
    else:
        schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("year", DataType.INT64)
    schema.add_field("path", DataType.VARCHAR, max_length=256)
    index = client.prepare_index_params()
    index.add_index("vector", index_type=index_type, metric_type=metric, params=params)
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


@pytest.mark.parametrize("key_type", [DataType.VARCHAR, DataType.INT64])
@pytest.mark.parametrize("metric", ["L2", "IP"])
def test_schema_form_flat(imgsearch, reference, key_type, metric):
    name = unique("schema")
    base = random_rows(300, seed=3, extra=False)
    rows = [{"pk": f"img-{r['id']:04d}" if key_type == DataType.VARCHAR else r["id"],
             "vector": r["vector"], "year": 1990 + r["id"] % 30,
             "path": f"photos/{r['id'] % 7}/{r['id']}.jpg"} for r in base]
    queries = [r["vector"] for r in random_rows(2, seed=4, extra=False)]

    def case(client):
        schema_collection(client, name, key_type, metric, "FLAT", {})
        client.insert(name, rows)
        out = {"search": hits_of(client.search(name, queries, limit=8, filter="year >= 2000",
                                                output_fields=["path", "year"],
                                                search_params={"metric_type": metric}))}
        out["query"] = by_id(client.query(name, filter='path like "photos/3/%"',
                                          output_fields=["path"], limit=1000))
        fields = client.describe_collection(name)["fields"]
        out["fields"] = sorted((f["name"], int(f["type"])) for f in fields)
        client.drop_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    assert_same_hits(mine.pop("search"), theirs.pop("search"))
    assert mine == theirs


def test_hnsw_search_with_ef(imgsearch, reference):
    if reference[0] == "milvus_lite":
        pytest.skip("milvus-lite 2.x indexes with FLAT, IVF_FLAT and AUTOINDEX only")
    name = unique("hnsw")
    rows = [{"pk": r["id"], "vector": r["vector"], "year": 2000, "path": "p"}
            for r in random_rows(500, seed=5, extra=False)]
    queries = [r["vector"] for r in random_rows(4, seed=6, extra=False)]

    def case(client):
        schema_collection(client, name, DataType.INT64, "L2", "HNSW",
                          {"M": 16, "efConstruction": 200})
        client.insert(name, rows)
        out = hits_of(client.search(name, queries, limit=5,
                                    search_params={"metric_type": "L2", "params": {"ef": 200}}))
        client.drop_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    assert_same_hits(mine, theirs)  # 500 rows, ef 200: both exact


def test_binary_vectors_hamming(imgsearch, reference):
    name = unique("binary")
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2, size=(200, 64), dtype=np.uint8)
    rows = [{"pk": i, "code": np.packbits(bits[i]).tobytes()} for i in range(200)]
    query = np.packbits(bits[17]).tobytes()

    def case(client):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("code", DataType.BINARY_VECTOR, dim=64)
        index = client.prepare_index_params()
        index.add_index("code", index_type="BIN_FLAT", metric_type="HAMMING")
        client.create_collection(name, schema=schema, index_params=index,
                                 consistency_level="Strong")
        client.insert(name, rows)
        hits = client.search(name, [query], limit=10, search_params={"metric_type": "HAMMING"})
        client.drop_collection(name)
        return [(key, distance) for key, distance, _ in hits_of(hits)[0]]

    mine, theirs = on_both(imgsearch, reference, case)
    # Hamming distances tie: the distances must agree in order, the ids at each distance.
    assert [d for _, d in mine] == [d for _, d in theirs]
    assert mine[0] == (17, 0.0) and theirs[0] == (17, 0.0)
    last = mine[-1][1]
    assert {i for i, d in mine if d < last} == {i for i, d in theirs if d < last}


def test_upsert_replaces_rows(imgsearch, reference):
    name = unique("upsert")
    rows = random_rows(20, seed=8)

    def case(client):
        client.create_collection(name, dimension=DIM, consistency_level="Strong")
        client.insert(name, rows)
        changed = dict(rows[5], color="purple", num=500)
        out = {"upsert": client.upsert(name, [changed])["upsert_count"]}
        out["row"] = client.get(name, ids=[5], output_fields=["color", "num"])
        out["count"] = client.query(name, filter="", output_fields=["count(*)"])[0]
        client.drop_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    assert mine == theirs


def test_partitions(imgsearch, reference):
    if reference[0] == "milvus_lite":
        pytest.skip("milvus-lite 2.x has no partitions")
    name = unique("parts")
    rows = random_rows(60, seed=9)
    queries = [r["vector"] for r in random_rows(1, seed=10, extra=False)]

    def case(client):
        client.create_collection(name, dimension=DIM, consistency_level="Strong")
        client.create_partition(name, "cats")
        client.insert(name, rows[:30])
        client.insert(name, rows[30:], partition_name="cats")
        out = {"has": client.has_partition(name, "cats"),
               "list": sorted(client.list_partitions(name))}
        out["in_cats"] = hits_of(client.search(name, queries, limit=5, partition_names=["cats"]))
        out["count"] = client.query(name, filter="", output_fields=["count(*)"],
                                    partition_names=["cats"])[0]
        client.release_partitions(name, ["cats"])
        client.drop_partition(name, "cats")
        out["after"] = sorted(client.list_partitions(name))
        client.drop_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    assert_same_hits(mine.pop("in_cats"), theirs.pop("in_cats"))
    assert mine == theirs


def test_aliases(imgsearch, reference):
    if reference[0] == "milvus_lite":
        pytest.skip("milvus-lite 2.x has no aliases")
    name = unique("aliased")
    alias = unique("alias")

    def case(client):
        client.create_collection(name, dimension=DIM, consistency_level="Strong")
        client.insert(name, random_rows(10, seed=11))
        client.create_alias(name, alias)
        out = {"describe": client.describe_alias(alias)["collection_name"],
               "list": client.list_aliases(name)["aliases"],
               "count": client.query(alias, filter="", output_fields=["count(*)"])[0]}
        dropped = outcome(lambda: client.drop_collection(name))
        if dropped is not None:  # refused while aliased (Milvus 2.4 on; 2.3 drops it)
            client.drop_alias(alias)
            client.drop_collection(name)
        return out, dropped

    (mine, refused), (theirs, _) = on_both(imgsearch, reference, case)
    assert mine == theirs
    assert refused == ("error", 1100)  # imgsearch answers as Milvus 2.4 and later


def test_errors_carry_milvus_codes(imgsearch, reference):
    missing = unique("missing")

    def case(client):
        return {
            "has": client.has_collection(missing),
            "describe": outcome(lambda: client.describe_collection(missing)),
            "search": outcome(lambda: client.search(missing, [[0.0] * DIM], limit=3)),
            "query": outcome(lambda: client.query(missing, filter="id > 0")),
        }

    mine, theirs = on_both(imgsearch, reference, case)
    assert mine["has"] is False and theirs["has"] is False
    assert mine["describe"] == theirs["describe"] == ("error", 100)
    for key in ("search", "query"):
        assert mine[key][0] == "error" and theirs[key][0] == "error", key
