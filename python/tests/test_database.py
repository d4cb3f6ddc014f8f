"""imgsearch.Database and Collection: numpy round trips, as faiss and usearch are used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import imgsearch


def random_vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_insert_search_round_trip(tmp_path: Path) -> None:
    db = imgsearch.Database.open(tmp_path / "db")
    c = db.create_collection("docs", dimension=16, metric="L2")
    assert isinstance(c, imgsearch.Collection) and c.name == "docs" and c.metric == "L2"
    vectors = random_vectors(200, 16)
    ids = np.arange(1000, 1200, dtype=np.int64)
    assert np.array_equal(c.insert(ids, vectors), ids)
    assert len(c) == 200 and c.count == 200

    found, distances = c.search(vectors[:5], k=3)
    assert found.shape == (5, 3) and found.dtype == np.int64
    assert distances.shape == (5, 3) and distances.dtype == np.float32
    assert np.array_equal(found[:, 0], ids[:5])
    assert np.allclose(distances[:, 0], 0.0, atol=1e-5)
    # Squared L2, as Milvus and faiss give it.
    expected = ((vectors[found[0, 1] - 1000] - vectors[0]) ** 2).sum()
    assert distances[0, 1] == pytest.approx(expected, rel=1e-4)

    # Vectors come back bit for bit.
    back = c.get_vectors(ids[[7, 3]])
    assert back.dtype == np.float32 and np.array_equal(back, vectors[[7, 3]])
    single, _ = c.search(vectors[9], k=1)  # a 1-d vector is one query
    assert single.shape == (1, 1) and single[0, 0] == 1009

    db.close()
    reopened = imgsearch.Database.open(tmp_path / "db", create=False)
    assert "docs" in reopened and reopened.list_collections() == ["docs"]
    assert np.array_equal(reopened["docs"].get_vectors([1199]), vectors[[199]])


def test_fields_filter_query_upsert_delete(tmp_path: Path) -> None:
    db = imgsearch.Database.open(tmp_path / "db")
    c = db.create_collection("items", dimension=4, fields={"label": "VarChar", "year": {"type": "Int64", "indexed": True}})
    assert c.schema["fields"]["year"]["indexed"]
    vectors = random_vectors(6, 4, seed=1)
    c.insert([1, 2, 3, 4, 5, 6], vectors,
             fields={"label": ["a", "b", "a", "b", "a", "b"], "year": [2020, 2021, 2022, 2023, 2024, 2025]})
    ids, _ = c.search(vectors[0], k=6, filter='label == "b"')
    assert sorted(ids[0][ids[0] >= 0]) == [2, 4, 6]
    assert [r["id"] for r in c.query("year >= 2024")] == [5, 6]
    row = c.get([3])[0]
    assert row["label"] == "a" and row["year"] == 2022 and np.array_equal(row["vector"], vectors[2])
    assert c.get([3], output_fields=["year"]) == [{"year": 2022, "id": 3}]

    new = np.ones((1, 4), np.float32)
    c.upsert([3], new, fields=[{"label": "z", "year": 1999}])
    assert c.get([3], ["label"])[0]["label"] == "z"
    assert np.array_equal(c.get_vectors(3), new)
    assert c.delete([3, 99]) == 1
    assert c.delete_where('label == "a"') == 2
    assert len(c) == 3
    stats = c.stats()
    assert stats["row_count"] == 3


def test_padding_cosine_and_index(tmp_path: Path) -> None:
    db = imgsearch.Database.open(tmp_path / "db")
    c = db.create_collection("few", dimension=8, metric="COSINE", index="HNSW", index_params={"M": 8, "efConstruction": 64})
    assert c.index["index_type"] == "HNSW" and c.index["params"]["M"] == 8
    vectors = random_vectors(3, 8, seed=2)
    c.insert(np.array([10, 11, 12]), vectors)
    ids, distances = c.search(vectors[:1], k=5)
    assert list(ids[0][:3]) == [10, 11, 12] or ids[0][0] == 10
    assert list(ids[0][3:]) == [-1, -1]
    assert np.all(np.isneginf(distances[0][3:]))  # larger is nearer for COSINE
    assert distances[0][0] == pytest.approx(1.0, abs=1e-5)
    c.create_index("FLAT", metric="L2")
    assert c.metric == "L2"
    ids, distances = c.search(vectors[:1], k=4)
    assert ids[0][3] == -1 and np.isposinf(distances[0][3])


def test_binary_collection(tmp_path: Path) -> None:
    db = imgsearch.Database.open(tmp_path / "db")
    c = db.create_collection("hashes", dimension=64, binary=True)
    assert c.binary and c.metric == "HAMMING"
    bits = np.random.default_rng(4).integers(0, 256, (10, 8), dtype=np.uint8)
    c.insert(np.arange(10), bits)
    ids, distances = c.search(bits[3], k=2)
    assert ids[0, 0] == 3 and distances[0, 0] == 0
    assert np.array_equal(c.get_vectors([3]), bits[[3]])
    with pytest.raises(imgsearch.InvalidArgument, match="uint8"):
        c.insert(np.arange(10, 20), bits.astype(np.int16))


def test_auto_id(tmp_path: Path) -> None:
    db = imgsearch.Database.open(tmp_path / "db")
    c = db.create_collection("auto", dimension=2, auto_id=True)
    ids = c.insert(None, np.array([[0, 1], [1, 0]], np.float32))
    assert ids.shape == (2,) and ids[0] != ids[1]
    plain = db.create_collection("plain", dimension=2)
    with pytest.raises(imgsearch.InvalidArgument, match="ids"):
        plain.insert(None, np.zeros((1, 2), np.float32))


def test_numpy_inputs_are_checked_not_converted(tmp_path: Path) -> None:
    db = imgsearch.Database.open(tmp_path / "db")
    c = db.create_collection("strict", dimension=4)
    good = random_vectors(4, 4)
    with pytest.raises(imgsearch.InvalidArgument, match="float32.*float64"):
        c.insert(np.arange(4), good.astype(np.float64))
    with pytest.raises(imgsearch.InvalidArgument, match="4 columns"):
        c.insert(np.arange(4), random_vectors(4, 5))
    with pytest.raises(imgsearch.InvalidArgument, match="contiguous"):
        c.insert(np.arange(4), np.asfortranarray(good))
    with pytest.raises(imgsearch.InvalidArgument, match="contiguous"):
        c.search(random_vectors(4, 8)[:, ::2], k=1)
    with pytest.raises(imgsearch.InvalidArgument, match="2-d"):
        c.search(good.reshape(2, 2, 4), k=1)
    with pytest.raises(imgsearch.InvalidArgument, match="integer"):
        c.insert(np.arange(4, dtype=np.float64), good)
    with pytest.raises(imgsearch.InvalidArgument, match="3 ids for 4"):
        c.insert([1, 2, 3], good)
    with pytest.raises(ValueError):  # InvalidArgument is a ValueError too
        c.search(good, k=0)
    assert len(c) == 0  # nothing was written by the refused calls
    c.insert([1, 2], [[1, 2, 3, 4], [5, 6, 7, 8]])  # lists have no dtype to lose: converted
    assert np.array_equal(c.get_vectors([2]), np.array([[5, 6, 7, 8]], np.float32))
    # int32 ids and a strided id array are read as they are.
    c.insert(np.array([3, 0, 4, 0], np.int32)[::2], good[:2])
    assert sorted(r["id"] for r in c.query("id >= 0", output_fields=[])) == [1, 2, 3, 4]


def test_errors(tmp_path: Path) -> None:
    db = imgsearch.Database.open(tmp_path / "db")
    with pytest.raises(imgsearch.NotFound, match="nope"):
        db.get_collection("nope")
    db.create_collection("once", dimension=2)
    with pytest.raises(imgsearch.Error):
        db.create_collection("once", dimension=2)
    c = db["once"]
    c.insert([1], np.zeros((1, 2), np.float32))
    with pytest.raises(imgsearch.Error, match="1"):
        c.insert([1], np.zeros((1, 2), np.float32))  # an existing id
    with pytest.raises(imgsearch.InvalidArgument):
        c.search(np.zeros((1, 2), np.float32), k=1, filter="label ==")
    with pytest.raises(imgsearch.NotFound):
        c.get_vectors([42])
    db.rename_collection("once", "twice")
    assert db.list_collections() == ["twice"]
    db.drop_collection("twice")
    assert "twice" not in db
    with pytest.raises(imgsearch.InvalidArgument):
        db.create_collection("bad name!", dimension=2)
