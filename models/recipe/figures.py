"""Figures for the README and the model card, made with the coldframe binary itself.

    python models/recipe/figures.py --bin target/release/coldframe

- tests/data/sample_blur3.png: tests/data/sample.png blurred by `coldframe degrade blur --severity 3` (the
  README's first command restores it).
- docs/before_after.png: sharp | blurred (sigma 3) | restored by the default model.
- docs/real_blur.png: opencv-doc's and scikit-image's photos with real defocus / motion blur (no D made them):
  as shot | `coldframe deblur` with default flags (blind: the estimate it printed) | told a blur picked by eye
  (REAL_BLUR) | the Gaussian-only model at its default sigma 2, the default before the camera deblurrer.
- docs/inpaint.png: tests/data/sample.png | the mask of tests/data/sample_mask.png (an OSD line and brush
  strokes) shown in magenta | OpenCV Telea | `coldframe inpaint`, PSNR inside the hole in the labels.
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image, ImageDraw

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPENCV = "/usr/share/doc/opencv-doc/examples/data"


def run(binary, *args):
    subprocess.run([binary, *args], check=True)


def labelled(images, labels):
    h = max(i.height for i in images)
    out = Image.new("RGB", (sum(i.width for i in images) + 4 * (len(images) - 1), h + 18), "white")
    x = 0
    d = ImageDraw.Draw(out)
    for im, lab in zip(images, labels):
        out.paste(im, (x, 18))
        d.text((x + 4, 3), lab, fill="black")
        x += im.width + 4
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "coldframe"))
    args = ap.parse_args()
    data = os.path.join(ROOT, "tests", "data")
    sharp = os.path.join(data, "sample.png")
    blurred = os.path.join(data, "sample_blur3.png")
    run(args.bin, "degrade", "blur", "--severity", "3", sharp, blurred)
    with tempfile.TemporaryDirectory() as tmp:
        restored = os.path.join(tmp, "restored.png")
        run(args.bin, "deblur", "--severity", "3", blurred, restored)
        ims = [Image.open(p).convert("RGB") for p in (sharp, blurred, restored)]
        a = [np.asarray(i).astype(np.float64) for i in ims]
        psnr = lambda x: 10 * np.log10(255**2 / np.mean((x - a[0]) ** 2))  # noqa: E731
        labelled(ims, ["sharp", f"blurred, sigma 3 ({psnr(a[1]):.1f} dB)", f"coldframe deblur ({psnr(a[2]):.1f} dB)"]).save(
            os.path.join(ROOT, "docs", "before_after.png"))
        real_blur_figure(args.bin, tmp)
        inpaint_figure(args.bin, data, tmp)


# photos with real blur (not made by any D): opencv-doc's and scikit-image's, each cropped to its subject
# and a told blur for each, picked by eye from a few kinds, extents and angles (no ground truth exists)
REAL_BLUR = [
    (os.path.join(OPENCV, "text_motion.jpg"), (0, 0, 400, 240), ["--blur", "motion", "--severity", "20"]),
    (os.path.join(OPENCV, "text_defocus.jpg"), (0, 0, 400, 240), ["--blur", "defocus", "--severity", "7"]),
    (os.path.join(OPENCV, "licenseplate_motion.jpg"), (100, 200, 500, 440),
     ["--blur", "motion", "--severity", "20"]),
    ("skimage:clock_motion.png", (0, 0, 400, 300), ["--blur", "motion", "--severity", "18"]),
]


def real_blur_figure(binary, tmp):
    """docs/real_blur.png: as shot | `coldframe deblur` with default flags (the estimate it printed) | told by
    hand | the Gaussian-only model at its default sigma 2 (the default before the camera deblurrer)."""
    import skimage

    rows = []
    for src, box, told in REAL_BLUR:
        if src.startswith("skimage:"):
            src = os.path.join(os.path.dirname(skimage.__file__), "data", src.split(":", 1)[1])
        if not os.path.exists(src):
            continue
        name = os.path.basename(src)
        im = Image.open(src).convert("RGB")
        im = im.crop((box[0], box[1], min(im.width, box[2]), min(im.height, box[3])))
        p = os.path.join(tmp, name + ".png")
        im.save(p)
        auto, gauss = os.path.join(tmp, name + "-auto.png"), os.path.join(tmp, name + "-gauss.png")
        said = subprocess.run([binary, "deblur", p, auto], check=True, capture_output=True, text=True).stderr
        estimate = said.strip().split(": ")[-1]
        run(binary, "deblur", "--model", os.path.join(ROOT, "models", "deblur-int8.onnx"), p, gauss)
        by_hand = os.path.join(tmp, name + "-told.png")
        run(binary, "deblur", *told, p, by_hand)
        rows.append(labelled([im, Image.open(auto).convert("RGB"), Image.open(by_hand).convert("RGB"),
                              Image.open(gauss).convert("RGB")],
                             [f"{name} as shot", f"default: {estimate}", " ".join(told[1::2]) + " (told by hand)",
                              "Gaussian-only model, sigma 2"]))
    fig = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        fig.paste(r, (0, y))
        y += r.height
    fig.save(os.path.join(ROOT, "docs", "real_blur.png"))


def inpaint_figure(binary, data, tmp):
    import cv2

    src, mask_path = os.path.join(data, "sample.png"), os.path.join(data, "sample_mask.png")
    out = os.path.join(tmp, "inpainted.png")
    run(binary, "inpaint", "--mask", mask_path, src, out)
    x0 = np.asarray(Image.open(src).convert("RGB"))
    m = np.asarray(Image.open(mask_path).convert("L")) > 0
    shown = x0.copy()
    shown[m] = [255, 0, 255]
    telea = cv2.inpaint(np.where(m[..., None], 128, x0).astype(np.uint8), m.astype(np.uint8) * 255, 3,
                        cv2.INPAINT_TELEA)
    ours = np.asarray(Image.open(out).convert("RGB"))
    hole = lambda y: 10 * np.log10(255**2 / np.mean((y[m].astype(np.float64) - x0[m]) ** 2))  # noqa: E731
    labelled([Image.fromarray(a) for a in (x0, shown, telea, ours)],
             ["original", "mask (magenta)", f"OpenCV Telea ({hole(telea):.1f} dB in the hole)",
              f"coldframe inpaint ({hole(ours):.1f} dB)"]).save(os.path.join(ROOT, "docs", "inpaint.png"))


if __name__ == "__main__":
    main()
