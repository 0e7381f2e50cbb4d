"""Quality of the shipped inpainters on the validation photos, against classical inpainting, per mask kind.

    python models/recipe/evaluate_inpaint.py [--set validation|opencv-doc] [--photos N] [--masks M] [--out DIR]

Whole validation photos (short side 480, cropped to the stride; --set opencv-doc: opencv-doc's sample photos,
data.opencv_photos), M seeded masks of each kind per photo (masks.eval_mask: brush, box = one box of 5-20% of
the frame's area, text = camera OSD, lines = scratches and dead columns, blob). Baselines: OpenCV Telea and
Navier-Stokes (radius 3 and 5, the better one per kind, picked on these photos) and scikit-image biharmonic. The
models run through onnxruntime with the same sampler as the binary (src/inpaint.rs; a test checks the two
agree). Metrics on 8-bit outputs: PSNR inside the hole (the only pixels that change), SSIM of the whole frame
(how well the fill sits in its surroundings).
"""
import argparse
import json
import os
import random
import sys
import time

import cv2
import numpy as np
import onnxruntime as ort
from skimage.metrics import structural_similarity
from skimage.restoration import inpaint_biharmonic

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
import degrade  # noqa: E402
import masks  # noqa: E402
from evaluate import q8, schedule  # noqa: E402  (the deblur evaluation's: one definition of each)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STEPS = [1, 2, 4, 8]


def inpaint(sess, img, mask, steps, T=degrade.T_MASK, fill=None, full_update=False):
    """Mirror of src/inpaint.rs + src/sampler.rs: the improved sampler down to t = 0 (for the mask the last step
    is the full update: it fills the remaining hole and keeps every ring settled before), known pixels copied
    back. The model's estimate is used where the state is still missing only (src/inpaint.rs HoleOnly), so
    `here` = D(x0, t) equals x exactly and each update x - here + there is `there` = D(x0, next): like the binary
    (sampler.rs, Restore::reproduces_its_state) this computes `there` alone unless full_update, which computes
    Algorithm 2's whole formula (export.py's sampler fixture does, so the Rust shortcut is tested against it).
    img [3, H, W] float32 with H, W multiples of the stride; mask bool [H, W]. `fill`: the model's metadata fill."""
    img = img.astype(np.float32)
    d2 = degrade.depth2(mask)
    ts = schedule(T, steps)
    if fill is None:
        fill = sess.get_modelmeta().custom_metadata_map["fill"]
    x = degrade.mask_degrade(img, degrade.missing_at(d2, T), fill)
    for t, nxt in zip(ts, ts[1:]):
        x0 = sess.run(None, {"image": x[None], "t": np.array([t], np.float32)})[0][0]
        x0 = np.where(x[3:4] > 0, x0, x[:3])
        there = degrade.mask_degrade(x0, degrade.missing_at(d2, nxt), fill)
        if full_update:
            here = degrade.mask_degrade(x0, degrade.missing_at(d2, t), fill)
            x = x - here + there
        else:
            x = there
    return np.where(mask[None], x[:3], img).astype(np.float32)


def hole_psnr(y, ref, mask):
    """PSNR dB of the 8-bit output inside the hole."""
    err = ((q8(y) - ref) ** 2)[:, mask]
    return 10 * np.log10(1 / max(float(err.mean()), 1e-12))


def metrics(y, ref, mask):
    ss = structural_similarity(q8(y), ref, channel_axis=0, data_range=1.0)
    return hole_psnr(y, ref, mask), ss


def cases(photos, masks_per_kind):
    """The evaluation's masks, seeded per photo, kind and index: (photo index, kind, mask, input with the hole
    grey: what is under the mask is never seen by any method)."""
    for i, x0 in enumerate(photos):
        h, w = x0.shape[1:]
        for kind in masks.KINDS:
            for j in range(masks_per_kind):
                m = masks.eval_mask(kind, h, w, random.Random(1000 * i + 10 * j + masks.KINDS.index(kind)))
                yield i, kind, m, np.where(m[None], np.float32(0.5), x0)


def cv_inpaint(img, mask, method, radius):
    u8 = (np.round(np.clip(img, 0, 1) * 255)).astype(np.uint8).transpose(1, 2, 0)
    out = cv2.inpaint(np.ascontiguousarray(u8), mask.astype(np.uint8) * 255, radius, method)
    return out.transpose(2, 0, 1).astype(np.float32) / 255


def table(mean, best):
    """The table of the card (markdown) from the mean (PSNR, SSIM) per (kind, method) and the best radii."""
    def cell(kind, method):
        p, s_ = mean[(kind, method)]
        return f"{p:.2f} / {s_:.3f}"

    lines = ["PSNR dB inside the hole / SSIM of the whole frame", "",
             "| method | " + " | ".join(masks.KINDS) + " |", "|---|" + "---|" * len(masks.KINDS)]
    lines.append("| masked input (fill 0.5) | " + " | ".join(cell(k, "masked input (fill 0.5)") for k in masks.KINDS) + " |")
    for fill, label in (("push-pull fill", "version 2's D"), ("smooth fill", "version 3's D"),
                        ("sor fill", "version 4's D")):
        lines.append(f"| {fill} alone ({label}, no network) | " + " | ".join(cell(k, fill) for k in masks.KINDS)
                     + " |")
    for name, label in (("telea", "OpenCV Telea"), ("ns", "OpenCV Navier-Stokes")):
        lines.append(f"| {label} (best radius) | " + " | ".join(
            cell(k, f"{name}:{best[(k, name)]}") + f" (r{best[(k, name)]})" for k in masks.KINDS) + " |")
    lines.append("| scikit-image biharmonic | " + " | ".join(cell(k, "biharmonic") for k in masks.KINDS) + " |")
    for prec in ("f32", "int8"):
        for steps in STEPS:
            label = f"model {prec}, {'direct (S=1)' if steps == 1 else f'S={steps}'}"
            lines.append(f"| {label} | " + " | ".join(cell(k, f"{prec}:{steps}") for k in masks.KINDS) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=0, help="use only the set's first N photos (0: all)")
    ap.add_argument("--masks", type=int, default=2, help="masks of each kind per photo")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    ap.add_argument("--set", default="validation", choices=["validation", "opencv-doc"],
                    help="the 7 validation photos (the card's table), or opencv-doc's 17 sample photos (also never "
                         "trained on: a second opinion on a small validation set)")
    ap.add_argument("--models", default=os.path.join(ROOT, "models"),
                    help="folder holding inpaint-f32.onnx and inpaint-int8.onnx (another version's, say)")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "work", "eval_inpaint"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.set == "validation":
        val, photos = data.validation_photos(args.photos)
        names = [data.photo_name(p) for p in val]
    else:
        names, photos = data.opencv_photos()
        names, photos = (names[: args.photos], photos[: args.photos]) if args.photos else (names, photos)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sess = {p: ort.InferenceSession(os.path.join(args.models, f"inpaint-{p}.onnx"), so,
                                    providers=["CPUExecutionProvider"]) for p in ("f32", "int8")}
    rows = {}  # (kind, method) -> list of (psnr_hole, ssim)
    timing = {}

    def add(kind, method, m, secs):
        rows.setdefault((kind, method), []).append(m)
        timing.setdefault(method, []).append(secs)

    t0 = time.time()
    for i, kind, m, xin in cases(photos, args.masks):
        x0 = photos[i]
        add(kind, "masked input (fill 0.5)", metrics(xin, x0, m), 0)
        s = time.time()
        add(kind, "push-pull fill", metrics(degrade.pyramid_fill(xin, m), x0, m), time.time() - s)
        s = time.time()
        add(kind, "smooth fill", metrics(degrade.pyramid_fill(xin, m, relax="jacobi"), x0, m), time.time() - s)
        s = time.time()
        add(kind, "sor fill", metrics(degrade.pyramid_fill(xin, m, relax="sor"), x0, m), time.time() - s)
        for name, flag in (("telea", cv2.INPAINT_TELEA), ("ns", cv2.INPAINT_NS)):
            for r in (3, 5):
                s = time.time()
                y = cv_inpaint(xin, m, flag, r)
                add(kind, f"{name}:{r}", metrics(y, x0, m), time.time() - s)
        s = time.time()
        y = inpaint_biharmonic(xin.transpose(1, 2, 0), m, channel_axis=-1).transpose(2, 0, 1)
        add(kind, "biharmonic", metrics(y, x0, m), time.time() - s)
        for prec, se in sess.items():
            for steps in STEPS:
                s = time.time()
                y = inpaint(se, xin, m, steps)
                add(kind, f"{prec}:{steps}", metrics(y, x0, m), time.time() - s)
        if kind == masks.KINDS[-1]:
            print(f"photo {i + 1}/{len(photos)}: {time.time() - t0:.0f} s", flush=True)

    mean = {k: np.mean(v, axis=0).tolist() for k, v in rows.items()}
    best = {}
    for kind in masks.KINDS:
        for name in ("telea", "ns"):
            best[(kind, name)] = max((3, 5), key=lambda r: mean[(kind, f"{name}:{r}")][0])
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"set": args.set, "photos": names, "masks_per_kind": args.masks,
                   "mean": {"@".join(k): v for k, v in mean.items()},
                   "best_radius": {"@".join(k): v for k, v in best.items()},
                   "seconds_per_frame": {k: float(np.mean(v)) for k, v in timing.items()}}, f, indent=1)

    table_md = table(mean, best)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table_md + "\n")
    print(table_md)
    telea = {k: mean[(k, f"telea:{best[(k, 'telea')]}")][0] for k in masks.KINDS}
    for st in STEPS:
        gain = {k: round(mean[(k, f"f32:{st}")][0] - telea[k], 2) for k in masks.KINDS}
        print(f"f32 S={st}: dB over Telea inside the hole", gain)
    # default steps: the smallest S within 0.3 dB of the best mean hole PSNR (f32, all kinds)
    avg = {st: np.mean([mean[(k, f"f32:{st}")][0] for k in masks.KINDS]) for st in STEPS}
    top = max(avg.values())
    print("mean hole PSNR per S (f32):", {k: round(float(v), 2) for k, v in avg.items()},
          "default steps:", min(st for st in STEPS if avg[st] >= top - 0.3))


if __name__ == "__main__":
    main()
