"""Masks like the ones users of a camera inpainter have (the inpainting issue): brush strokes of several widths,
boxes, on-screen text and timestamps (camera OSD), thin lines and dead pixel columns, and blobs.

Every generator takes the frame size and a `random.Random` and returns a bool [H, W] array (True = missing). Sizes
scale with the frame, so the same generators make 96-pixel training masks and whole-frame evaluation masks.
"""
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

KINDS = ["brush", "box", "text", "lines", "blob"]


def _canvas(h, w):
    im = Image.new("L", (w, h), 0)
    return im, ImageDraw.Draw(im)


def brush(h, w, rng: random.Random):
    """1-4 strokes, each a random walk of 2-6 segments with round joints, width 2-16% of the short side."""
    im, d = _canvas(h, w)
    s = min(h, w)
    for _ in range(rng.randint(1, 4)):
        width = max(2, round(s * rng.uniform(0.02, 0.16)))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        ang = rng.uniform(0, 2 * math.pi)
        pts = [(x, y)]
        for _ in range(rng.randint(2, 6)):
            ang += rng.uniform(-1.2, 1.2)
            step = s * rng.uniform(0.1, 0.35)
            x = min(max(x + step * math.cos(ang), 0), w - 1)
            y = min(max(y + step * math.sin(ang), 0), h - 1)
            pts.append((x, y))
        d.line(pts, fill=255, width=width)
        for px, py in pts:
            r = width / 2
            d.ellipse([px - r, py - r, px + r, py + r], fill=255)
    return np.asarray(im) > 0


def box(h, w, rng: random.Random, max_frac=0.45):
    """1-2 rectangles; each side up to max_frac of the frame's (training: up to 45% of a crop's side)."""
    m = np.zeros((h, w), bool)
    for _ in range(rng.randint(1, 2)):
        bw = rng.randint(max(2, w // 24), max(3, int(w * max_frac)))
        bh = rng.randint(max(2, h // 24), max(3, int(h * max_frac)))
        x, y = rng.randint(0, w - bw), rng.randint(0, h - bh)
        m[y : y + bh, x : x + bw] = True
    return m


def _font(size):
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable built-in font
    except TypeError:
        return ImageFont.load_default()


def osd_text(rng: random.Random):
    stamp = (f"{rng.randint(2015, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
             f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}")
    choices = [
        stamp,
        f"CAM {rng.randint(1, 16):02d}",
        f"{rng.randint(0, 99):02d}.{rng.randint(0, 9)} C  {rng.randint(900, 1100)} hPa",
        "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ") for _ in range(rng.randint(4, 16))),
        f"REC  {rng.randint(0, 9)}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
    ]
    return rng.choice(choices)


def text(h, w, rng: random.Random):
    """Camera OSD: 1-3 lines of timestamps / labels in a corner or anywhere, 4-9% of the short side high, some
    with a dark outline (which the mask covers too, as a real OSD's outline would be)."""
    im, d = _canvas(h, w)
    s = min(h, w)
    for _ in range(rng.randint(1, 3)):
        size = max(7, round(s * rng.uniform(0.04, 0.09)))
        font = _font(size)
        stroke = rng.choice([0, 0, 1, 2])
        msg = osd_text(rng)
        x0, y0, x1, y1 = d.textbbox((0, 0), msg, font=font, stroke_width=stroke)
        tw, th = x1 - x0, y1 - y0
        x = rng.randint(-x0, max(-x0, w - tw - x0))
        y = rng.randint(-y0, max(-y0, h - th - y0))
        d.text((x, y), msg, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    return np.asarray(im) > 0


def lines(h, w, rng: random.Random):
    """Thin scratches (1-3 px, any angle) and dead sensor columns or rows (1-2 px, the whole frame)."""
    im, d = _canvas(h, w)
    for _ in range(rng.randint(0, 4)):
        d.line([(rng.uniform(0, w), rng.uniform(0, h)), (rng.uniform(0, w), rng.uniform(0, h))], fill=255,
               width=rng.randint(1, 3))
    m = np.asarray(im) > 0
    m = m.copy()
    for _ in range(rng.randint(1, 3)):
        k = rng.randint(1, 2)
        if rng.random() < 0.7:
            x = rng.randint(0, w - k)
            m[:, x : x + k] = True
        else:
            y = rng.randint(0, h - k)
            m[y : y + k, :] = True
    return m


def blob(h, w, rng: random.Random):
    """1-3 rotated ellipses, radii 3-22% of the short side (dirt on the lens, a reflection to remove)."""
    s = min(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    m = np.zeros((h, w), bool)
    for _ in range(rng.randint(1, 3)):
        a, b = s * rng.uniform(0.03, 0.22), s * rng.uniform(0.03, 0.22)
        cx, cy, th = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, math.pi)
        u = (xx - cx) * math.cos(th) + (yy - cy) * math.sin(th)
        v = -(xx - cx) * math.sin(th) + (yy - cy) * math.cos(th)
        m |= (u / a) ** 2 + (v / b) ** 2 <= 1.0
    return m


GENERATORS = {"brush": brush, "box": box, "text": text, "lines": lines, "blob": blob}


def random_mask(h, w, rng: random.Random):
    """Training mix: one kind, sometimes two combined; never empty, never the whole frame."""
    while True:
        kinds = [rng.choice(KINDS)]
        if rng.random() < 0.25:
            kinds.append(rng.choice(KINDS))
        m = np.zeros((h, w), bool)
        for k in kinds:
            m |= GENERATORS[k](h, w, rng)
        if m.any() and not m.all() and m.mean() < 0.6:
            return m


def eval_mask(kind, h, w, rng: random.Random):
    """Evaluation masks on whole frames. 'box' here is one box of up to a fifth of the frame's area."""
    while True:
        if kind == "box":
            m = np.zeros((h, w), bool)
            area = rng.uniform(0.05, 0.2) * h * w
            aspect = rng.uniform(0.6, 1.6)
            bw = min(w - 2, int(round(math.sqrt(area * aspect))))
            bh = min(h - 2, int(round(area / bw)))
            x, y = rng.randint(0, w - bw), rng.randint(0, h - bh)
            m[y : y + bh, x : x + bw] = True
        else:
            m = GENERATORS[kind](h, w, rng)
        if m.any() and not m.all():
            return m


def frame_scale_mask(crop, rng: random.Random, short_sides=(240, 720)):
    """A training mask for a crop x crop window, drawn at the scale of a whole frame: a random_mask of a virtual
    frame whose short side is uniform in short_sides (4:3 or 16:9), seen through a window placed over part of the
    mask. Users' masks are drawn on frames, so their strokes, glyphs and boxes are frame-sized: masks drawn for the
    crop itself (random_mask(crop, crop)) are 2-7x thinner than those of a 480-line frame."""
    while True:
        s = rng.randint(*short_sides)
        long = round(s * rng.choice([4 / 3, 16 / 9]))
        h, w = (s, long) if rng.random() < 0.8 else (long, s)
        h, w = max(h, crop), max(w, crop)
        m = random_mask(h, w, rng)
        ys, xs = np.nonzero(m)
        k = rng.randrange(len(ys))
        # the window holds that mask pixel anywhere inside it
        y = min(max(ys[k] - rng.randrange(crop), 0), h - crop)
        x = min(max(xs[k] - rng.randrange(crop), 0), w - crop)
        c = m[y : y + crop, x : x + crop]
        if c.any() and c.mean() < 0.6:
            return np.ascontiguousarray(c)
