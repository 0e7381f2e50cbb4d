"""Which initial fill should the mask degradation D use? A measurement for the inpainting card's next step.

    python models/recipe/fill_study.py [--masks M] [--out models/work/fill_study]

The first models' D put mid-grey (0.5) in every missing pixel (docs/design.md §3), so the restorer's global residual
had to produce "true value - 0.5" there; the card traced the model's error floor next to known pixels to that. The
alternative is a data-dependent fill computed inside D from the known pixels alone, cheap and exactly
reproducible in Rust (version 2 took push-pull, version 3 the smooth fill, version 4 sor, all from this study). This script measures, on the evaluation's frames and masks (masks.eval_mask, the same
seeds as evaluate_inpaint.py), how close each candidate fill alone comes to the truth inside the hole, beside
OpenCV Telea (the target's reference) and scikit-image's biharmonic (a smooth fill at solver cost):

- grey: the first contract, 0.5;
- nearest: each missing pixel takes the value of its nearest known pixel (the exact Euclidean feature transform,
  scipy's tie-breaking);
- pyramid: push-pull (degrade.pyramid_fill, written for an exact port: a mean pyramid of the known pixels, each
  missing pixel filled from the next coarser level, bilinearly upsampled, coarsest first): O(pixels);
- smooth: push-pull with each level's empty cells relaxed by a few harmonic and damped biharmonic Jacobi sweeps
  (degrade.pyramid_fill(relax="jacobi")), a cheap multigrid-like approximation of the biharmonic solve;
- sor: the same with successive over-relaxation sweeps (degrade.pyramid_fill(relax="sor")), closer to converged.

Prints and writes a table of PSNR dB inside the hole per mask kind, and seconds per frame in numpy.
"""
import argparse
import json
import os
import sys
import time

import cv2
import numpy as np
from scipy import ndimage
from skimage.restoration import inpaint_biharmonic

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
import degrade  # noqa: E402
import masks  # noqa: E402
from evaluate_inpaint import cases, cv_inpaint, hole_psnr  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def fill_nearest(img, mask):
    """Each missing pixel gets its nearest known pixel's value. img [3, H, W]; mask bool [H, W] (True = missing)."""
    _, (iy, ix) = ndimage.distance_transform_edt(mask, return_indices=True)
    return img[:, iy, ix]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--masks", type=int, default=2, help="masks of each kind per photo")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "work", "fill_study"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    val, photos = data.validation_photos()
    rows, timing = {}, {}
    for i, kind, m, xin in cases(photos, args.masks):
        methods = {
            "grey (version 1)": lambda: xin,
            "nearest known pixel": lambda: fill_nearest(xin, m),
            "pyramid (push-pull)": lambda: degrade.pyramid_fill(xin, m),
            "smooth (push-pull relaxed, Jacobi)": lambda: degrade.pyramid_fill(xin, m, relax="jacobi"),
            "sor (push-pull relaxed, SOR)": lambda: degrade.pyramid_fill(xin, m, relax="sor"),
            "OpenCV Telea r3": lambda: cv_inpaint(xin, m, cv2.INPAINT_TELEA, 3),
            "scikit-image biharmonic": lambda: inpaint_biharmonic(
                xin.transpose(1, 2, 0), m, channel_axis=-1).transpose(2, 0, 1),
        }
        for name, f in methods.items():
            s = time.time()
            y = f()
            timing.setdefault(name, []).append(time.time() - s)
            rows.setdefault((kind, name), []).append(hole_psnr(y, photos[i], m))
    names = list(dict.fromkeys(n for _, n in rows))
    lines = ["PSNR dB inside the hole (fill alone, no network); seconds per frame in numpy", "",
             "| fill | " + " | ".join(masks.KINDS) + " | s/frame |", "|---|" + "---|" * (len(masks.KINDS) + 1)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{np.mean(rows[(k, n)]):.2f}" for k in masks.KINDS)
                     + f" | {np.mean(timing[n]):.3f} |")
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"photos": [data.photo_name(p) for p in val], "masks_per_kind": args.masks,
                   "mean": {"@".join(k): float(np.mean(v)) for k, v in rows.items()},
                   "seconds_per_frame": {k: float(np.mean(v)) for k, v in timing.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
