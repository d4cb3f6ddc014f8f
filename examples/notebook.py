# %% [markdown]
# # Two models side by side, in a notebook
#
# The recipe imgsearch replaces — Keras feature extractors, a vector database, an id→path
# store, matplotlib thumbnails — as a few cells. Open this file in Jupyter (jupytext,
# VS Code and PyCharm read the `# %%` cells) or run it as a script:
#
#     python examples/notebook.py PHOTOS_DIR [--model NAME=MODEL.onnx]... [--db LIBRARY]
#
# Models default to the two built into imgsearch (`color_layout`, `phash`); give two ONNX
# files (ResNet50 and VGG16 as the recipe had, or any image model) with `--model`.
# `--db milvus://HOST:PORT` keeps the library in a Milvus server instead of a folder:
# nothing else in the code changes.

# %%
import argparse
import sys
from pathlib import Path

import imgsearch


def settings() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Two models side by side on a folder")
    parser.add_argument("photos", nargs="?", default="photos", help="a folder of images")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=SOURCE",
                        help="an ONNX file or built-in model (twice, for two models)")
    parser.add_argument("--db", default="library", help="a folder, or milvus://HOST:PORT")
    parser.add_argument("--uploads", default=None, help="uploads folder (needed with Milvus)")
    parser.add_argument("--query", default=None, help="the query image (default: the first)")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--out", default=".", help="where the thumbnails page is written")
    # In Jupyter, sys.argv holds the kernel's arguments: use the defaults there.
    return parser.parse_args([] if "ipykernel" in sys.modules else sys.argv[1:])


cfg = settings()
models = dict(m.split("=", 1) for m in cfg.model) or {"colour": "color_layout", "hash": "phash"}

# %% [markdown]
# ## Index a folder under both models
# One decode per image feeds every model; unchanged files are skipped on the next run;
# Ctrl-C (or the notebook's stop button) stops it with everything so far kept.

# %%
lib = imgsearch.Library.open(cfg.db, models=models, uploads_dir=cfg.uploads)
report = lib.index(cfg.photos, progress=True)
print(report, f"- {len(lib)} images under {lib.models}")

# %% [markdown]
# ## Search, and compare the two models' answers

# %%
query = cfg.query or sorted(p for p in Path(cfg.photos).rglob("*") if p.is_file())[0]
results = lib.search(query, k=cfg.k, fuse="rrf", exclude_self=False)
try:
    table = results.to_pandas()  # model, rank, id, distance, score, path
    print(table.to_string(index=False))
except ImportError:
    print(results.to_dict())
agreement = lib.compare(results)["pairs"][0]
print("{a} vs {b}: overlap@k {overlap:.2f}, Spearman {spearman:.2f}".format(**agreement))

# %% [markdown]
# ## Thumbnails: the query, then one row per model

# %%
try:
    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.image import imread
except ImportError:
    plt = None
    print("matplotlib is not installed: no thumbnails (pip install matplotlib pillow)")

if plt is not None:
    rows = [(name, results[name].paths, results[name].distances) for name in results]
    fig, axes = plt.subplots(len(rows), cfg.k + 1, figsize=(2 * (cfg.k + 1), 2.2 * len(rows)),
                             squeeze=False)
    for row, (name, paths, distances) in zip(axes, rows):
        row[0].imshow(imread(query))
        row[0].set_title(f"query ({name})", fontsize=8)
        for ax, path, distance in zip(row[1:], paths, distances):
            ax.imshow(imread(path))
            ax.set_title(f"{Path(path).name}\n{distance:.3f}", fontsize=7)
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    out = Path(cfg.out) / "side_by_side.png"
    fig.savefig(out, dpi=80)
    print("thumbnails:", out)
