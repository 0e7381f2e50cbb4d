"""Cuts the small validation crops that tests/ and the README use (tests/data/val_*.png, tests/data/sample.png),
and draws the masks the inpainting tests and README use (tests/data/mask_*.png, sample_mask.png; masks.py).

Each is the window of a validation photo with the most detail that a sigma-3 blur removes, so the end-to-end
test measures deblurring where there is something to deblur (many of these wallpapers are mostly bokeh).
"""
import os
import random
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
import degrade  # noqa: E402
import masks  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CROPS = {  # validation photo -> (file, width, height); odd sizes exercise pad-to-stride and crop-back
    "Bridge_by_Sander_Klootwijk.jpg": ("val_bridge.png", 101, 75),
    "LadyBird.jpg": ("val_ladybird.png", 101, 75),
    "picosdeeuropa_by_Aitzol_Berasategi.jpg": ("val_picosdeeuropa.png", 101, 75),
    "Dragonfly_by_Bolly.jpg": ("sample.png", 320, 240),
}


def most_detailed_window(im, w, h):
    g = im.astype(np.float32).mean(2)
    e = (g - degrade.blur_numpy(g[None], 3.0)[0]) ** 2
    ii = np.pad(e.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    s = ii[h:, w:] - ii[:-h, w:] - ii[h:, :-w] + ii[:-h, :-w]
    y, x = np.unravel_index(np.argmax(s), s.shape)
    return im[y : y + h, x : x + w]


def main():
    _, val = data.split()
    for p in val:
        if data.photo_name(p) in CROPS:
            name, w, h = CROPS[data.photo_name(p)]
            Image.fromarray(most_detailed_window(data.load_photo(p), w, h)).save(os.path.join(ROOT, "tests", "data", name))
            print(name)
    # masks for the 101x75 crops (one per kind the issue names) and for the 320x240 sample (an OSD and strokes)
    for kind in ("brush", "text", "lines", "blob", "box"):
        m = masks.eval_mask(kind, 75, 101, random.Random(7)) if kind != "box" else masks.box(75, 101, random.Random(7))
        Image.fromarray(m.astype(np.uint8) * 255).save(os.path.join(ROOT, "tests", "data", f"mask_{kind}.png"))
    m = masks.text(240, 320, random.Random(3)) | masks.brush(240, 320, random.Random(4))
    Image.fromarray(m.astype(np.uint8) * 255).save(os.path.join(ROOT, "tests", "data", "sample_mask.png"))


if __name__ == "__main__":
    main()
