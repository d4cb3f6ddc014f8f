"""Schema features image applications use, through pymilvus against imgsearch serve and,
where the real server has the feature, against it too (answers must agree):

- several vector fields in one collection (one vector per model) with hybrid search
  across them: milvus-lite 2.5 (Milvus 2.3 has one vector field per collection);
- Array fields (tags) and their filter functions: Milvus 2.3 and milvus-lite;
- a partition key: Milvus 2.3 (milvus-lite has no partitions);
- a bare schema waits for an index and a load: Milvus 2.3 (milvus-lite loads at once);
- default values and nullable fields: Milvus 2.5's semantics, checked on imgsearch alone
  (milvus-lite 2.5 refuses nullable fields and mis-fills defaults; Milvus 2.3 has
  neither)."""

import numpy as np
import pytest
from pymilvus import AnnSearchRequest, DataType, MilvusClient, RRFRanker, WeightedRanker

from test_pymilvus_differential import (assert_same_hits, by_id, hits_of, on_both, outcome,
                                        reference, unique)  # noqa: F401 (reference: a fixture)

DIM_A, DIM_B = 16, 8


def assert_same_fused(a, b):
    """Fused hits: the same scores rank by rank, and the same ids within each run of equal
    scores (servers order ties differently; a tie at the cut may keep either id)."""
    assert len(a) == len(b)
    for qa, qb in zip(a, b):
        assert len(qa) == len(qb)
        assert [h[1] for h in qa] == pytest.approx([h[1] for h in qb], rel=1e-3, abs=1e-4)
        last = qa[-1][1] if qa else None
        groups_a, groups_b = {}, {}
        for ha, hb in zip(qa, qb):
            if ha[1] != pytest.approx(last, rel=1e-3, abs=1e-4):
                groups_a.setdefault(round(ha[1], 4), set()).add(ha[0])
                groups_b.setdefault(round(hb[1], 4), set()).add(hb[0])
        assert groups_a == groups_b


def two_vector_rows(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, DIM_A)).astype(np.float32)
    b = rng.standard_normal((n, DIM_B)).astype(np.float32)
    return [{"pk": i, "resnet": a[i].tolist(), "vgg": b[i].tolist(), "year": 2000 + i % 20}
            for i in range(n)]


def test_several_vector_fields_with_hybrid_search(imgsearch, reference):
    if reference[0] == "milvus23":
        pytest.skip("Milvus 2.3 has one vector field per collection")
    name = unique("models")
    rows = two_vector_rows(120, seed=21)
    qa = np.random.default_rng(22).standard_normal((2, DIM_A)).astype(np.float32).tolist()
    qb = np.random.default_rng(23).standard_normal((2, DIM_B)).astype(np.float32).tolist()

    def case(client):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("resnet", DataType.FLOAT_VECTOR, dim=DIM_A)
        schema.add_field("vgg", DataType.FLOAT_VECTOR, dim=DIM_B)
        schema.add_field("year", DataType.INT64)
        index = client.prepare_index_params()
        index.add_index("resnet", index_type="FLAT", metric_type="L2")
        index.add_index("vgg", index_type="FLAT", metric_type="IP")
        client.create_collection(name, schema=schema, index_params=index,
                                 consistency_level="Strong")
        out = {"insert": client.insert(name, rows)["insert_count"]}
        described = client.describe_collection(name)
        out["fields"] = sorted((f["name"], int(f["type"])) for f in described["fields"])
        out["indexes"] = sorted(client.list_indexes(name))
        out["by_resnet"] = hits_of(client.search(name, qa, anns_field="resnet", limit=5,
                                                 filter="year >= 2005",
                                                 output_fields=["year", "vgg"]))
        out["by_vgg"] = hits_of(client.search(name, qb, anns_field="vgg", limit=5,
                                              output_fields=["resnet"],
                                              search_params={"metric_type": "IP"}))
        out["no_field"] = outcome(lambda: client.search(name, qa, limit=3))
        out["query"] = by_id(client.query(name, filter="pk in [3, 4]",
                                          output_fields=["resnet", "vgg", "year"]))
        # One query each: milvus-lite 2.5 ranks a second query's hits after the first's.
        both = [AnnSearchRequest(qa[:1], "resnet", {}, 10), AnnSearchRequest(qb[:1], "vgg", {}, 10)]
        out["rrf"] = hits_of(client.hybrid_search(name, both, RRFRanker(), limit=5))
        out["weighted"] = hits_of(client.hybrid_search(name, both, WeightedRanker(0.7, 0.3),
                                                       limit=5, output_fields=["year"]))
        client.delete(name, filter="year < 2003")
        out["after"] = client.query(name, filter="", output_fields=["count(*)"])[0]
        out["after_vgg"] = [h[0] for h in hits_of(
            client.search(name, qb, anns_field="vgg", limit=120,
                          search_params={"metric_type": "IP"}))[0]]
        client.drop_collection(name)
        out["dropped"] = client.has_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    for key in ("by_resnet", "by_vgg"):
        assert_same_hits(mine.pop(key), theirs.pop(key))
    for key in ("rrf", "weighted"):
        assert_same_fused(mine.pop(key), theirs.pop(key))
    for answer in (mine, theirs):  # vectors as float32 round trips, compared as such
        for row in answer["query"]:
            row["resnet"] = np.float32(row["resnet"]).tolist()
            row["vgg"] = np.float32(row["vgg"]).tolist()
    assert mine["no_field"][0] == "error" and theirs["no_field"][0] == "error"
    mine.pop("no_field"), theirs.pop("no_field")
    assert mine == theirs
    assert mine["after"]["count(*)"] == 120 - 18 and len(mine["after_vgg"]) == 102
    assert mine["query"][0]["vgg"] == pytest.approx(rows[3]["vgg"], rel=1e-6)


def test_array_fields_and_their_filters(imgsearch, reference):
    name = unique("tags")
    words = ["cat", "dog", "red", "blue", "sea", "snow"]
    rng = np.random.default_rng(31)
    rows = []
    for i in range(80):
        tags = [words[j] for j in rng.choice(len(words), size=i % 4, replace=False)]
        rows.append({"pk": i, "vector": rng.standard_normal(DIM_B).astype(np.float32).tolist(),
                     "tags": tags, "sizes": [int(x) for x in rng.integers(0, 9, size=i % 3)]})
    query = [rng.standard_normal(DIM_B).astype(np.float32).tolist()]

    def case(client):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM_B)
        schema.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4,
                         max_length=16)
        schema.add_field("sizes", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="L2")
        client.create_collection(name, schema=schema, index_params=index,
                                 consistency_level="Strong")
        client.insert(name, rows)
        out = {}
        for f in ['array_contains(tags, "cat")', 'array_contains_all(tags, ["cat", "red"])',
                  'array_contains_any(tags, ["sea", "snow"])', "array_contains(sizes, 3)",
                  'tags[0] == "dog"', "sizes[1] > 4"]:
            out[f] = by_id(client.query(name, filter=f, output_fields=["tags", "sizes"]))
        out["search"] = hits_of(client.search(name, query, limit=5,
                                              filter='array_contains(tags, "blue")',
                                              output_fields=["tags"]))
        out["too_many"] = outcome(lambda: client.insert(
            name, [{"pk": 999, "vector": [0.0] * DIM_B, "tags": words[:5], "sizes": []}]))
        client.drop_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    assert_same_hits(mine.pop("search"), theirs.pop("search"))
    assert mine.pop("too_many")[0] == "error"
    too_many = theirs.pop("too_many")  # milvus-lite does not check max_capacity
    assert reference[0] == "milvus_lite" or too_many[0] == "error"
    assert mine == theirs
    assert 0 < len(mine['array_contains(tags, "cat")']) < 80


def test_partition_key(imgsearch, reference):
    if reference[0] == "milvus_lite":
        pytest.skip("milvus-lite 2.x has no partitions")
    name = unique("owners")
    rng = np.random.default_rng(41)
    owners = ["ann", "bob", "cy"]
    rows = [{"pk": i, "vector": rng.standard_normal(DIM_B).astype(np.float32).tolist(),
             "owner": owners[i % 3]} for i in range(60)]
    query = [rng.standard_normal(DIM_B).astype(np.float32).tolist()]

    def case(client):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM_B)
        schema.add_field("owner", DataType.VARCHAR, max_length=32, is_partition_key=True)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="L2")
        client.create_collection(name, schema=schema, index_params=index, num_partitions=4,
                                 consistency_level="Strong")
        client.insert(name, rows)
        out = {"partitions": sorted(client.list_partitions(name)),
               "key": [f["name"] for f in client.describe_collection(name)["fields"]
                       if f.get("is_partition_key")]}
        out["bob"] = hits_of(client.search(name, query, limit=5, filter='owner == "bob"',
                                           output_fields=["owner"]))
        out["count"] = client.query(name, filter='owner in ["ann", "cy"]',
                                    output_fields=["count(*)"])[0]
        out["create"] = outcome(lambda: client.create_partition(name, "mine")) is not None
        out["insert_named"] = outcome(lambda: client.insert(
            name, rows[:1], partition_name="_default_1")) is not None
        client.drop_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    assert_same_hits(mine.pop("bob"), theirs.pop("bob"))
    assert mine == theirs
    assert mine["create"] and mine["insert_named"] and mine["key"] == ["owner"]


def test_a_bare_schema_waits_for_an_index_and_a_load(imgsearch, reference):
    if reference[0] == "milvus_lite":
        pytest.skip("milvus-lite loads every collection at once")
    name = unique("bare")

    def case(client):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM_B)
        client.create_collection(name, schema=schema, consistency_level="Strong")
        out = {"state": str(client.get_load_state(name)["state"])}
        out["query"] = outcome(lambda: client.query(name, filter="pk > 0"))[0] == "error"
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="L2")
        client.create_index(name, index)
        client.load_collection(name)
        out["loaded"] = str(client.get_load_state(name)["state"])
        out["rows"] = client.query(name, filter="pk >= 0")
        client.drop_collection(name)
        return out

    mine, theirs = on_both(imgsearch, reference, case)
    assert mine == theirs
    assert mine["query"] is True and "NotLoad" in mine["state"] and "Loaded" in mine["loaded"]


def test_default_values_and_nullable_fields(imgsearch):
    """Milvus 2.5's rules: a field left out, or given null, takes its default; a nullable
    field without one becomes null; the defaults are described."""
    name = unique("defaults")
    client = MilvusClient(uri=imgsearch.uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("rating", DataType.INT64, default_value=3)
    schema.add_field("label", DataType.VARCHAR, max_length=16, default_value="none")
    schema.add_field("note", DataType.VARCHAR, max_length=64, nullable=True)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index)
    fields = {f["name"]: f for f in client.describe_collection(name)["fields"]}
    assert fields["rating"]["default_value"].long_data == 3
    assert fields["label"]["default_value"].string_data == "none"
    assert fields["note"]["nullable"] is True
    client.insert(name, [{"pk": 1, "vector": [0, 0]},
                         {"pk": 2, "vector": [1, 0], "rating": 5, "label": "x", "note": "hi"},
                         {"pk": 3, "vector": [2, 0], "rating": None, "note": None}])
    rows = by_id(client.query(name, filter="pk > 0", output_fields=["rating", "label", "note"]))
    assert rows == [{"pk": 1, "rating": 3, "label": "none", "note": None},
                    {"pk": 2, "rating": 5, "label": "x", "note": "hi"},
                    {"pk": 3, "rating": 3, "label": "none", "note": None}]
    assert [r["pk"] for r in client.query(name, filter="note is null")] == [1, 3]
    client.drop_collection(name)
    client.close()
