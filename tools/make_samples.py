#!/usr/bin/env python3
"""Writes a small, deterministic set of sample images in class folders, for the demo:

    /usr/bin/python3 tools/make_samples.py OUT_DIR

Four classes of six pictures each (sunsets, checkers, circles, stripes), drawn with PIL,
mostly JPEG with some PNG and greyscale, so that a fresh machine can run the whole flow
without downloading anything. Files whose bytes would not change are left alone, so a
second run keeps them (and their mtimes) as they are. Needs Debian's python3-pil.
"""
import io
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter

SIZE = (320, 240)


def sunset(rng):
    img = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(img)
    top = (rng.randint(20, 80), rng.randint(0, 40), rng.randint(80, 160))
    bottom = (rng.randint(200, 255), rng.randint(90, 160), rng.randint(0, 60))
    for y in range(SIZE[1]):
        t = y / (SIZE[1] - 1)
        draw.line([(0, y), (SIZE[0], y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    x, y, r = rng.randint(60, 260), rng.randint(100, 180), rng.randint(20, 40)
    draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 230, rng.randint(80, 160)))
    draw.rectangle([0, 200 + rng.randint(0, 20), SIZE[0], SIZE[1]], fill=(20, 15, 30))
    return img


def checkers(rng):
    img = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(img)
    cell = rng.choice([16, 20, 32, 40])
    a = tuple(rng.randint(0, 80) for _ in range(3))
    b = tuple(rng.randint(170, 255) for _ in range(3))
    for y in range(0, SIZE[1], cell):
        for x in range(0, SIZE[0], cell):
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=a if (x // cell + y // cell) % 2 else b)
    return img


def circles(rng):
    img = Image.new("RGB", SIZE, (245, 245, 240))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(8, 15)):
        x, y, r = rng.randint(0, SIZE[0]), rng.randint(0, SIZE[1]), rng.randint(10, 45)
        draw.ellipse([x - r, y - r, x + r, y + r],
                     fill=(rng.randint(150, 255), rng.randint(0, 90), rng.randint(0, 120)))
    return img


def stripes(rng):
    img = Image.new("RGB", SIZE, (10, 60, 40))
    draw = ImageDraw.Draw(img)
    width = rng.randint(8, 20)
    color = (rng.randint(0, 80), rng.randint(150, 255), rng.randint(100, 200))
    for x in range(-SIZE[1], SIZE[0], width * 2):
        draw.polygon([(x, SIZE[1]), (x + width, SIZE[1]), (x + width + SIZE[1], 0), (x + SIZE[1], 0)],
                     fill=color)
    return img


def save_if_changed(img, path, **params):
    """Writes the file only when its bytes differ, so that a second run leaves the files
    (and their mtimes) alone and `imgsearch index` finds them unchanged."""
    encoded = io.BytesIO()
    img.save(encoded, format="PNG" if path.endswith(".png") else "JPEG", **params)
    data = encoded.getvalue()
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    with open(path, "wb") as f:
        f.write(data)
    return True


def main():
    out = sys.argv[1]
    rng = random.Random(2024)
    written = unchanged = 0
    for name, draw in (("sunsets", sunset), ("checkers", checkers), ("circles", circles),
                       ("stripes", stripes)):
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        for i in range(6):
            img = draw(rng).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
            if i == 4:
                changed = save_if_changed(img, os.path.join(folder, "%s_%d.png" % (name, i)))
            elif i == 5:
                changed = save_if_changed(img.convert("L"),
                                          os.path.join(folder, "%s_%d_grey.jpg" % (name, i)), quality=88)
            else:
                changed = save_if_changed(img, os.path.join(folder, "%s_%d.jpg" % (name, i)), quality=88)
            written += changed
            unchanged += not changed
    print("%d written, %d unchanged" % (written, unchanged))


if __name__ == "__main__":
    main()
