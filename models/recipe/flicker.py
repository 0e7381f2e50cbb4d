"""Does a stream's inpainted hole flicker? Issue #19's measure, through the binary itself.

    python models/recipe/flicker.py [--bin target/release/coldframe] [--model inpaint-int8] [--photos 7]

Each validation photo (short side 480) becomes a still clip with fresh sensor noise in every frame (ffmpeg's
temporal noise filter, alls=6: std about 2.7 levels of 255, the noise of a small sensor in indoor light), 8 frames;
coldframe stream inpaint fills a fixed mask of each kind (masks.eval_mask, the same seed in every frame). Measured:
the mean absolute change between consecutive output frames inside the hole, against the same change over the
known pixels within 8 pixels of it (which the binary passes through). A ratio of at most 1 means the fill
varies no more than the border it is computed from.
"""
import argparse
import os
import random
import subprocess
import sys

import numpy as np
from PIL import Image
from scipy.ndimage import binary_dilation

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
import masks  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KINDS = ["brush", "box", "text", "lines", "blob"]
FRAMES = 8


def change(frames, sel):
    return float(np.abs(np.diff(frames.astype(np.float64), axis=0))[:, sel].mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "coldframe"))
    ap.add_argument("--model", default="inpaint-int8")
    ap.add_argument("--photos", type=int, default=7)
    args = ap.parse_args()
    _, val = data.split()
    ratios = {k: [] for k in KINDS}
    tmp = os.path.join(ROOT, "models", "work", "flicker")
    os.makedirs(tmp, exist_ok=True)
    for i, path in enumerate(val[: args.photos]):
        img = data.crop_to_stride(data.load_photo(path))
        h, w = img.shape[:2]
        still = os.path.join(tmp, "still.png")
        Image.fromarray(img).save(still)
        clip = subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
             f"movie={still},loop=loop={FRAMES - 1}:size=1:start=0,noise=alls=6:allf=t",
             "-frames:v", str(FRAMES), "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
            capture_output=True, check=True).stdout
        for kind in KINDS:
            mask = masks.eval_mask(kind, h, w, random.Random(100 * i + KINDS.index(kind)))
            mpath = os.path.join(tmp, "mask.png")
            Image.fromarray(mask.astype(np.uint8) * 255).save(mpath)
            out = subprocess.run([args.bin, "stream", "inpaint", "--format", "rgb24", "--size", f"{w}x{h}",
                                  "--mask", mpath, "--model", args.model],
                                 input=clip, capture_output=True, check=True).stdout
            frames = np.frombuffer(out, np.uint8).reshape(FRAMES, h, w, 3)
            ring = binary_dilation(mask, np.ones((17, 17), bool)) & ~mask
            hole, known = change(frames, mask), change(frames, ring)
            ratios[kind].append(hole / known)
            print(f"{data.photo_name(path)} {kind}: hole {hole:.3f} ring {known:.3f} ratio {hole / known:.3f}",
                  flush=True)
    print(f"| mask | {args.model}: hole / ring, mean (max) over {len(val[: args.photos])} photos |\n|---|---|")
    for k in KINDS:
        print(f"| {k} | {np.mean(ratios[k]):.2f} ({np.max(ratios[k]):.2f}) |")


if __name__ == "__main__":
    main()
