#!/usr/bin/python3
"""Writes the seed corpora of fuzz/corpus/ (all but store_files, whose seeds its target
writes itself: see doc/fuzzing.md). Deterministic; needs Debian's python3-pil.

    /usr/bin/python3 fuzz/make_corpus.py [fuzz/corpus]
"""
import io
import json
import os
import re
import sys

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus")


def write(target, name, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def picture(mode="RGB", size=(8, 6)):
    img = Image.new("RGB", size)
    img.putdata([((x * 37) % 256, (y * 53) % 256, (x * y * 11) % 256)
                 for y in range(size[1]) for x in range(size[0])])
    return img.convert(mode)


def encoded(img, fmt, **options):
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def images():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90
    seeds = {
        "baseline.jpg": encoded(picture(), "JPEG", quality=80),
        "progressive.jpg": encoded(picture(size=(17, 9)), "JPEG", progressive=True),
        "gray.jpg": encoded(picture("L"), "JPEG"),
        "cmyk.jpg": encoded(picture("CMYK"), "JPEG"),
        "exif_rotate.jpg": encoded(picture(), "JPEG", exif=exif.tobytes()),
        "scaled.jpg": encoded(picture(size=(64, 40)), "JPEG", quality=50),
        "rgb.png": encoded(picture(), "PNG"),
        "rgba.png": encoded(picture("RGBA"), "PNG"),
        "palette.png": encoded(picture("P"), "PNG"),
        "gray16.png": encoded(picture("L").convert("I").point(lambda v: v * 200), "PNG"),
        "interlaced.png": encoded(picture(), "PNG", interlace=1),
        "exif.png": encoded(picture(), "PNG", exif=exif.tobytes()),
        "lossy.webp": encoded(picture(), "WEBP", quality=50),
        "lossless.webp": encoded(picture("RGBA"), "WEBP", lossless=True),
        "rgb.bmp": encoded(picture(), "BMP"),
        "palette.bmp": encoded(picture("P"), "BMP"),
        "gray.bmp": encoded(picture("L"), "BMP"),
        "rgb.tif": encoded(picture(), "TIFF"),
        "lzw.tif": encoded(picture(), "TIFF", compression="tiff_lzw"),
        "gray.tif": encoded(picture("L"), "TIFF", compression="packbits"),
        "still.gif": encoded(picture("P"), "GIF"),
    }
    frames = [picture("P"), picture("P", size=(8, 6)).rotate(90)]
    seeds["animated.gif"] = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    for name, data in seeds.items():
        write("image_decode", name, data)


def model_specs():
    sidecars = {
        "keras_caffe": {"preset": "keras-caffe"},
        "torch": {"preset": "torch", "name": "resnet", "pooling": "avg"},
        "full": {"name": "m", "preprocess": {"width": 32, "height": 24, "resize": "center_crop",
                                              "resize_shorter": 40, "interpolation": "bicubic",
                                              "channel_order": "bgr", "scale": 0.0039,
                                              "mean": [0.4, 0.5, 0.6], "std": [0.2, 0.2, 0.3],
                                              "layout": "nhwc"},
                 "input": "images", "output": "features", "pooling": "max",
                 "output_layout": "nchw", "normalize": "binary"},
        "small": {"preset": "clip", "preprocess": {"width": 7, "height": 5,
                                                   "interpolation": "area"}},
        "nearest": {"preprocess": {"width": 3, "height": 3, "interpolation": "nearest"},
                    "normalize": "none"},
    }
    for name, spec in sidecars.items():
        write("model_spec", "sidecar_" + name, "\0" + json.dumps(spec))
    # Metadata as the built-in models carry it, and key by key.
    write("model_spec", "metadata_whole",
          "\1imgsearch=" + json.dumps({"preset": "tf", "normalize": "binary"}))
    write("model_spec", "metadata_keys",
          "\1name=phash\npreset=torch\npooling=avg\npreprocess={\"width\": 16, \"height\": 16}\n"
          "normalize=l2\noutput_layout=nhwc")


def filters():
    test = open(os.path.join(ROOT, "src", "store", "filter_test.cc")).read()
    found = re.findall(r'(?:Eval|Parse|Refused|Fails)\("((?:[^"\\]|\\.)*)"', test)
    for i, text in enumerate(sorted(set(found))):
        text = bytes(text, "utf-8").decode("unicode_escape")
        write("filter", "test_%02d" % i, text)
    extra = [
        'width in [1, 2, 640] and path == "cats/tabby_01.jpg"',
        'path in ["3", "dogs/rex%_.png"] or width == -3',
        'not (meta["tags"][1] like "in%") && ok != false',
        '(score + 1) * 2 ** -1 >= 0.5 || caption is not null',
        '-(-width) % 7 == 3 and 10 < score * 100 <= 100',
    ]
    for i, text in enumerate(extra):
        write("filter", "extra_%d" % i, text)
    row = {"width": 3, "score": 1.5, "path": "cats/x.jpg", "ok": True,
           "meta": {"camera": {"iso": 800}, "tags": ["cat", "outdoor"]}, "caption": "hi"}
    write("filter", "with_row", 'width == 3 and meta["camera"]["iso"] > 400\0' + json.dumps(row))


MILVUS_ROUTES = ["collections/create", "collections/describe", "collections/list",
                 "collections/has", "collections/drop", "collections/get_stats",
                 "collections/load", "collections/release", "collections/get_load_state",
                 "entities/insert", "entities/upsert", "entities/delete", "entities/get",
                 "entities/query", "entities/search", "indexes/create", "indexes/describe",
                 "indexes/list", "indexes/drop", "collections/rename",
                 "entities/hybrid_search", "partitions/create", "partitions/list",
                 "partitions/has", "partitions/drop", "partitions/load", "partitions/release",
                 "partitions/get_stats", "aliases/create", "aliases/describe", "aliases/list",
                 "aliases/alter", "aliases/drop",
                 "entities/advanced_search"]  # MilvusApi::Routes(), in order


def milvus_call(route, body):
    return chr(MILVUS_ROUTES.index(route)) + json.dumps(body)


def milvus():
    p = {"collectionName": "photos"}
    calls = {
        "describe": [("collections/describe", p)],
        "list": [("collections/list", {})],
        "stats": [("collections/get_stats", p)],
        "get": [("entities/get", dict(p, id=[1, 3, 99], outputFields=["*"]))],
        "query": [("entities/query", dict(p, filter='width >= 300 and meta["iso"] < 600',
                                          limit=3, outputFields=["path", "meta"]))],
        "search": [("entities/search", dict(p, data=[[1, 3, 0.5, -1], [0, 1, 0, 0]], limit=2,
                                            filter='path like "img/%"',
                                            searchParams={"params": {"radius": 10}}))],
        "search_bits": [("entities/search", {"collectionName": "bits", "data": [[255, 0]],
                                             "limit": 3})],
        "insert_search": [("entities/insert", dict(p, data=[
                              {"id": 10, "vector": [0, 0, 1, 1], "path": "n.jpg", "width": 5,
                               "meta": None}])),
                          ("entities/search", dict(p, data=[[0, 0, 1, 1]], limit=1))],
        "upsert_delete": [("entities/upsert", dict(p, data=[
                              {"id": 2, "vector": [1, 1, 1, 1], "path": "u.jpg", "width": 7,
                               "meta": {"x": 1}}])),
                          ("entities/delete", dict(p, filter="id in [1, 3]")),
                          ("entities/query", dict(p, filter="id > 0", limit=10))],
        "create_quick": [("collections/create", {"collectionName": "quick", "dimension": 2}),
                         ("entities/insert", {"collectionName": "quick",
                                              "data": [{"id": 1, "vector": [1, 0]}]})],
        "index_hnsw": [("indexes/create", dict(p, indexParams=[
                           {"fieldName": "vector", "indexName": "h", "metricType": "L2",
                            "params": {"index_type": "HNSW", "M": 8,
                                       "efConstruction": 32}}])),
                       ("indexes/describe", dict(p, indexName="h"))],
        "index_ivf": [("indexes/create", dict(p, indexParams=[
                          {"fieldName": "vector", "indexName": "ivf", "metricType": "L2",
                           "params": {"index_type": "IVF_FLAT", "nlist": 2}}])),
                      ("entities/search", dict(p, data=[[1, 2, 3, 4]], limit=2,
                                               searchParams={"params": {"nprobe": 2}}))],
        "release_load": [("collections/release", p), ("collections/get_load_state", p),
                         ("collections/load", p)],
        "drop": [("collections/drop", {"collectionName": "bits"}), ("collections/list", {})],
        "create_schema": [("collections/create", {
            "collectionName": "s", "schema": {"autoId": True, "fields": [
                {"fieldName": "pk", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 3}},
                {"fieldName": "tag", "dataType": "VarChar", "elementTypeParams":
                 {"max_length": 8}, "nullable": True}]},
            "indexParams": [{"fieldName": "v", "metricType": "IP", "indexName": "v",
                             "params": {"index_type": "FLAT"}}]})],
        "partitions": [("partitions/create", dict(p, partitionName="cats")),
                       ("entities/insert", dict(p, partitionName="cats", data=[
                           {"id": 20, "vector": [0, 1, 0, 1], "path": "c.jpg", "width": 9,
                            "meta": {"k": 1}}])),
                       ("partitions/release", dict(p, partitionNames=["_default"])),
                       ("entities/search", dict(p, data=[[0, 1, 0, 1]], limit=3,
                                                partitionNames=["cats"]))],
        "partitions_admin": [("partitions/create", dict(p, partitionName="dogs")),
                             ("partitions/list", p),
                             ("partitions/get_stats", dict(p, partitionName="dogs")),
                             ("partitions/drop", dict(p, partitionName="dogs"))],
        "partitions_load": [("partitions/has", dict(p, partitionName="_default")),
                            ("collections/release", p),
                            ("partitions/load", dict(p, partitionNames=["_default"])),
                            ("entities/query", dict(p, filter="id > 2", limit=5,
                                                    partitionNames=["_default"]))],
        "aliases": [("aliases/create", dict(p, aliasName="pics")),
                    ("entities/query", {"collectionName": "pics", "filter": "id < 3",
                                        "outputFields": ["count(*)"]}),
                    ("aliases/alter", {"collectionName": "bits", "aliasName": "pics"}),
                    ("aliases/describe", {"aliasName": "pics"})],
        "aliases_list": [("aliases/list", {}), ("aliases/drop", {"aliasName": "pics"})],
        "rename": [("collections/rename", dict(p, newCollectionName="renamed")),
                   ("collections/describe", {"collectionName": "renamed"})],
        "hybrid_rrf": [("entities/hybrid_search", dict(p, search=[
                           {"data": [[1, 2, 0.5, -1]], "limit": 4, "filter": "width > 100"},
                           {"data": [[0, 0, 1, 0]], "limit": 4, "metricType": "L2"}],
                           rerank={"strategy": "rrf", "params": {"k": 10}}, limit=3,
                           outputFields=["path"]))],
        "hybrid_weighted": [("entities/hybrid_search", dict(p, search=[
                                {"data": [[1, 2, 0.5, -1]], "limit": 4},
                                {"data": [[0, 0, 1, 0]], "limit": 4}],
                                rerank={"strategy": "weighted",
                                        "params": {"weights": [0.3, 0.7], "norm_score": False}},
                                limit=2))],
        "count": [("entities/query", dict(p, filter='path like "img/%"',
                                          outputFields=["count(*)"]))],
        "dynamic": [("collections/create", {"collectionName": "dyn", "dimension": 2,
                                            "dbName": "default"}),
                    ("entities/insert", {"collectionName": "dyn", "data": [
                        {"id": 1, "vector": [1, 0], "color": "red", "n": [1, 2]}]}),
                    ("entities/query", {"collectionName": "dyn",
                                        "filter": 'color == "red" and n[0] == 1',
                                        "outputFields": ["color", "$meta"]})],
        "varchar_key": [("collections/create", {
            "collectionName": "docs", "schema": {"fields": [
                {"fieldName": "doc", "dataType": "VarChar", "isPrimary": True,
                 "elementTypeParams": {"max_length": 16}},
                {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]}}),
                        ("entities/insert", {"collectionName": "docs", "data": [
                            {"doc": "a", "v": [0, 1]}, {"doc": "b\"", "v": [1, 0]}]}),
                        ("entities/upsert", {"collectionName": "docs", "data": [
                            {"doc": "a", "v": [1, 1]}]}),
                        ("entities/get", {"collectionName": "docs", "id": ["a", "b\""]})],
    }
    for name, sequence in calls.items():
        write("milvus_api", name, "\0".join(milvus_call(r, b) for r, b in sequence))


def native():
    bodies = {
        "plain": {"id": 1},
        "full": {"id": 2, "k": 3, "filter": 'fields["label"] == "cat"', "fuse": "rrf",
                 "models": ["phash", "color_layout"], "exclude_self": True},
        "weighted": {"id": 3, "k": 2, "fuse": "weighted", "models": ["color_layout"]},
        "filter": {"id": 4, "filter": "width > 8 and path like \"%\"", "exclude_self": False},
    }
    for name, body in bodies.items():
        write("native_api", name, json.dumps(body))


def multipart():
    jpeg = encoded(picture(), "JPEG", quality=60)

    def body(parts):
        out = b""
        for name, filename, content in parts:
            disposition = 'form-data; name="%s"' % name
            if filename:
                disposition += '; filename="%s"' % filename
            out += b"--XyZ\r\nContent-Disposition: " + disposition.encode() + b"\r\n"
            if filename:
                out += b"Content-Type: image/jpeg\r\n"
            out += b"\r\n" + (content if isinstance(content, bytes) else content.encode())
            out += b"\r\n"
        return out + b"--XyZ--\r\n"

    write("multipart", "search", b"\0" + body([
        ("image", "q.jpg", jpeg), ("k", None, "5"), ("filter", None, "width > 1"),
        ("fuse", None, "rrf"), ("models", None, "phash,color_layout"),
        ("models", None, "x"), ("exclude_self", None, "true")]))
    write("multipart", "upload", b"\1" + body([
        ("image", "u.jpg", jpeg), ("fields", None, json.dumps({"label": "cat", "n": 3}))]))
    write("multipart", "upload_plain", b"\1" + body([("image", "u.png", b"\x89PNG\r\n")]))


if __name__ == "__main__":
    images()
    model_specs()
    filters()
    milvus()
    native()
    multipart()
