"""imgsearch.Library: every method, on generated pictures and the built-in models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import imgsearch
from conftest import COLOURS, class_picture, png_bytes, write_png


def test_open_index_search(tmp_path: Path, classes_dir: Path) -> None:
    lib = imgsearch.Library.open(str(tmp_path / "lib"), models={"colour": "color_layout", "hash": "phash"})
    assert lib.models == ["colour", "hash"]
    seen = []
    report = lib.index([classes_dir], progress=seen.append, chunk=4)
    assert isinstance(report, imgsearch.IndexReport)
    assert report.scanned == 14 and report.added == 13 and report.duplicates == 1
    assert [f.path for f in report.failures] == [str(classes_dir / "blue" / "broken.jpg")]
    assert not report.cancelled
    assert seen and seen[-1].done == seen[-1].total == 14 and seen[-1].seconds >= 0
    assert len(lib) == 13

    # Incremental: nothing changed, nothing embedded again.
    again = lib.index(classes_dir)
    assert again.added == 0 and again.unchanged == 13

    results = lib.search(classes_dir / "red" / "red_1.png", k=3, fuse="rrf")
    assert isinstance(results, imgsearch.SearchResults)
    assert list(results) == ["colour", "hash"] and len(results) == 2
    colour = results["colour"]
    assert colour.ids.dtype == np.int64 and colour.ids.shape == (3,)
    assert colour.distances.dtype == np.float32
    assert colour.paths[0] == str(classes_dir / "red" / "red_1.png")
    assert colour.distances[0] == pytest.approx(0.0, abs=1e-6)
    assert all(Path(p).parent.name == "red" for p in colour.paths)
    assert colour.rows[0]["width"] == 80 and colour.rows[0]["id"] == colour.ids[0]
    assert results.fused is not None and results.fused.method == "rrf"
    assert results.fused.ids.shape == (3,) and results.fused.scores.dtype == np.float64
    assert results.to_dict()["results"]["colour"][0]["rank"] == 1
    with pytest.raises(imgsearch.NotFound):
        results["nope"]
    lib.close()
    with pytest.raises(imgsearch.InvalidArgument, match="closed"):
        lib.search(classes_dir / "red" / "red_1.png")


def test_queries_by_id_bytes_and_pathlike(library: imgsearch.Library, classes_dir: Path) -> None:
    target = classes_dir / "green" / "green_2.png"
    by_path = library.search(target, k=1)
    image_id = int(by_path["color_layout"].ids[0])
    assert library.path_of(image_id) == str(target)
    by_id = library.search(image_id, k=2, exclude_self=True)
    assert image_id not in by_id["color_layout"].ids
    by_text_id = library.search(f"id:{image_id}", k=1)
    assert by_text_id["color_layout"].ids[0] == image_id
    by_bytes = library.search(target.read_bytes(), k=1, models=["color_layout"])
    assert list(by_bytes) == ["color_layout"]
    assert by_bytes["color_layout"].ids[0] == image_id
    with pytest.raises(imgsearch.NotFound):
        library.path_of(10**9)


def test_to_pandas(library: imgsearch.Library, classes_dir: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = library.search(classes_dir / "blue" / "blue_0.png", k=2, fuse="rrf").to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["model", "rank", "id", "distance", "score", "path"]
    assert set(frame["model"]) == {"color_layout", "phash", "fused"}
    assert len(frame) == 6
    fused = frame[frame["model"] == "fused"]
    assert fused["distance"].isna().all() and fused["score"].notna().all()


def test_add_image_fields_find_get_remove(library: imgsearch.Library, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    picture = class_picture(COLOURS["red"], 3, rng)
    added = library.add_image(png_bytes(picture), fields={"label": "cat", "year": 2024})
    assert added.created and added.width == 80 and added.height == 60
    assert Path(added.path).is_file()
    again = library.add_image(bytearray(png_bytes(picture)))
    assert again.id == added.id and not again.created

    file = write_png(tmp_path / "loose" / "one.png", class_picture(COLOURS["green"], 0, rng))
    from_file = library.add_image(file, fields={"label": "dog"})
    assert from_file.path == str(file)

    assert list(library.find('fields["label"] == "cat"')) == [added.id]
    found = library.find("width == 80")
    assert found.dtype == np.int64 and added.id in found

    library.set_fields(added.id, {"label": "lynx"})
    info = library.get([added.id, 10**9])
    assert len(info) == 1 and isinstance(info[0], imgsearch.ImageInfo)
    assert info[0].fields == {"label": "lynx"} and info[0].width == 80
    assert info[0].to_dict()["hash"] == info[0].hash and len(info[0].hash) == 16

    hits = library.search(png_bytes(picture), k=5, filter='fields["label"] == "lynx"')
    assert list(hits["color_layout"].ids) == [added.id]

    before = len(library)
    assert library.remove(np.array([added.id, from_file.id])) == 2
    assert library.remove(added.id) == 0
    assert len(library) == before - 2


def test_compare_evaluate_tune_duplicates(library: imgsearch.Library, classes_dir: Path) -> None:
    query = classes_dir / "red" / "red_2.png"
    comparison = library.compare(query, k=3)
    assert set(comparison["models"]) == {"color_layout", "phash"}
    assert comparison["pairs"][0]["a"] == "color_layout"
    results = library.search(query, k=3)
    assert library.compare(results)["pairs"] == comparison["pairs"]
    page = library.compare_html(results)
    assert page.startswith("<!DOCTYPE html>") or "<html" in page[:200]

    report = library.evaluate(classes_dir, k=3)
    assert isinstance(report, imgsearch.EvalReport)
    assert report.queries > 0 and report.classes == 3 and report.k == 3
    assert set(report.models) >= {"color_layout", "phash", "fused"}
    assert 0 < report.models["color_layout"].map <= 1
    assert len(report.curves["color_layout"]["precision"]) == 3
    assert "<svg" in report.to_html()
    pd = pytest.importorskip("pandas")
    frame = report.to_pandas()
    assert isinstance(frame, pd.DataFrame) and "map" in frame.columns

    tuned = library.tune(classes_dir, k=3, folds=3)
    assert isinstance(tuned, imgsearch.TuneReport)
    assert set(tuned.weights) == {"color_layout", "phash"} and max(tuned.weights.values()) == 1
    assert library.search(query, k=3, fuse="auto").fused.method == "tuned"

    duplicates = library.find_duplicates()
    assert isinstance(duplicates, imgsearch.DuplicateReport)
    paths = [{Path(i.path).name for i in g.images} for g in duplicates.groups]
    # red_2 is red_0 upside down (class_picture), so it may join their group.
    assert any({"red_0.png", "copy_of_red_0.png"} <= group for group in paths)
    assert duplicates.to_dict()["groups"] and "<html" in duplicates.to_html()[:300].lower()


def test_database_of_a_library(library: imgsearch.Library) -> None:
    db = library.database
    assert set(db.list_collections()) >= {"images", "color_layout", "phash"}
    colours = db["color_layout"]
    assert len(colours) == len(library) and colours.dimension == 32
    hashes = db["phash"]
    assert hashes.binary and hashes.metric == "HAMMING"
    library.close()  # the database still holds the library's store
    assert len(db["images"]) == len(colours)


def test_progress_bar(tmp_path: Path, classes_dir: Path) -> None:
    pytest.importorskip("tqdm")
    lib = imgsearch.Library.open(tmp_path / "lib", models=["color_layout"])
    assert lib.index(classes_dir, progress=True).added == 13
    assert lib.index(classes_dir, progress="tqdm").unchanged == 13


def test_prune_and_context_manager(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    rng = np.random.default_rng(5)
    for i in range(3):
        write_png(folder / f"p{i}.png", class_picture(COLOURS["blue"], i, rng))
    with imgsearch.Library.open(tmp_path / "lib", models=["color_layout"]) as lib:
        assert lib.index(folder).added == 3
        (folder / "p1.png").unlink()
        assert lib.index(folder, prune=True).pruned == 1
        assert len(lib) == 2
    assert "closed" in repr(lib)
    reopened = imgsearch.Library.open(tmp_path / "lib", create=False)
    assert reopened.models == ["color_layout"] and len(reopened) == 2


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(imgsearch.NotFound):
        imgsearch.Library.open(tmp_path / "missing", create=False)
    with pytest.raises(imgsearch.Error) as error:
        imgsearch.Library.open(tmp_path / "lib", models=["no_such_model"])
    assert "no_such_model" in str(error.value)
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "notes.txt").write_text("mine")
    with pytest.raises(imgsearch.Error, match="other files|not empty|refus"):
        imgsearch.Library.open(tmp_path / "occupied")
