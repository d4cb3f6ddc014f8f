"""The library in a real Milvus: `imgsearch` commands with --db milvus://HOST:PORT (gRPC)
against Milvus 2.3 standalone and milvus-lite 2.5, compared with the same commands on an
embedded library. The images are the test fixtures (tests/make_fixtures.py): ten images
in three classes, one exact duplicate and one file that is no image."""

import json
import os
import shutil
import subprocess
import uuid

import pytest
from conftest import TMP
from pymilvus import MilvusClient

FIXTURES = os.environ.get("IMGSEARCH_FIXTURE_DIR", "")


@pytest.fixture(params=["milvus23", "milvus_lite"])
def milvus(request):
    """A real Milvus with no collections left by an earlier case: (name, uri, location)."""
    uri = request.getfixturevalue(request.param)
    client = MilvusClient(uri=uri)
    for name in client.list_collections():
        client.drop_collection(name)
    client.close()
    return request.param, uri, "milvus://" + uri.split("://", 1)[1]


def run(*args, check=True):
    result = subprocess.run([os.environ["IMGSEARCH_BINARY"], *args, "--json"],
                            capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, f"{args[0]}: {result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else None


def index_args(name):
    # milvus-lite 2.x indexes with FLAT, IVF_FLAT and AUTOINDEX only.
    return ["--milvus-index", "FLAT"] if name == "milvus_lite" else []


def copy_classes():
    if not FIXTURES:
        pytest.skip("IMGSEARCH_FIXTURE_DIR is not set")
    folder = os.path.join(TMP, "images-" + uuid.uuid4().hex[:8])
    shutil.copytree(os.path.join(FIXTURES, "classes"), folder)
    return folder


def by_distance(hits):
    """Hits as distance -> paths, the group at the cut-off left out (K may cut it)."""
    groups = {}
    for hit in hits:
        groups.setdefault(round(hit["distance"], 4), set()).add(os.path.basename(hit["path"]))
    if groups:
        del groups[max(groups)]
    return groups


def test_index_search_reindex_delete_prune(milvus):
    name, _, remote = milvus
    images = copy_classes()
    local = os.path.join(TMP, "local-" + uuid.uuid4().hex[:8])
    first = run("index", images, "--db", remote, *index_args(name))
    assert (first["scanned"], first["added"], first["duplicates"], len(first["failures"])) == \
        (11, 10, 1, 1)
    run("index", images, "--db", local)
    assert run("index", images, "--db", remote, *index_args(name))["unchanged"] == 10

    query = os.path.join(images, "blue", "blue_1.png")
    far = run("search", query, "--db", remote, "-k", "5", "--fuse", "rrf")
    near = run("search", query, "--db", local, "-k", "5", "--fuse", "rrf")
    for model in ("phash", "color_layout"):
        assert len(far["results"][model]) == 5, model
        assert by_distance(far["results"][model]) == by_distance(near["results"][model]), model
        assert abs(far["results"][model][0]["distance"]) < 1e-4
    assert len(far["fused"]) == 5

    # A changed file is embedded again under its id; a removed one is pruned.
    shutil.copyfile(os.path.join(images, "red", "red_1.png"), os.path.join(images, "blue", "blue_2.png"))
    os.remove(os.path.join(images, "green", "green_1.png"))
    again = run("index", images, "--db", remote, "--prune", *index_args(name))
    assert again["updated"] == 1 and again["pruned"] == 1, again
    rows = {c["name"]: c["rows"] for c in run("collections", "--db", remote)}
    assert rows["images"] == 9 and rows["phash"] == 9 and rows["color_layout"] == 9, rows

    run("delete", os.path.join(images, "blue", "blue_1.png"), "--db", remote)
    rows = {c["name"]: c["rows"] for c in run("collections", "--db", remote)}
    assert rows["images"] == 8 and rows["phash"] == 8, rows


def test_two_shards_cover_the_folder_once(milvus):
    name, _, remote = milvus
    images = copy_classes()
    for shard in ("0/2", "1/2"):
        run("index", images, "--db", remote, "--shard", shard, *index_args(name))
    rows = {c["name"]: c["rows"] for c in run("collections", "--db", remote)}
    assert rows["images"] == 10 and rows["phash"] == 10 and rows["color_layout"] == 10, rows
    assert run("index", images, "--db", remote, *index_args(name))["unchanged"] == 10
