"""Quality of the shipped deblurrers on the validation photos, against classical restorers with the known PSF.

    python models/recipe/evaluate.py [--photos N] [--out models/work/eval_deblur]

Whole validation photos (short side 480, cropped to the stride), blurred by D at sigma 1.5 / 3 / 4.5 and saved
as 8-bit (what a camera file holds): "clean"; and the same with Gaussian sensor noise of std 0.01 added before
the 8-bit rounding: "noisy". Baselines with the exact Gaussian PSF: Wiener (scikit-image) on a reflect-padded
copy cropped back, and Richardson-Lucy written here with separable mirror-boundary convolutions (the same update
as scikit-image's, without its zero padding, and cheap enough to record 10..160 iterations in one run); each
gets the best of a few settings per severity and condition, picked on these same photos (which flatters them). The models run through onnxruntime with the same sampler as the Rust
binary (src/sampler.rs). PSNR and SSIM (higher is better) and GMSD (piq; a weight-free perceptual
full-reference metric, lower is better) on 8-bit outputs.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
import piq
import torch
from scipy.ndimage import correlate1d
from skimage.metrics import structural_similarity
from skimage.restoration import wiener

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
import degrade  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEVERITIES = [1.5, 3.0, 4.5]
STEPS = [1, 2, 4, 8]
RL_ITERS = [10, 20, 40, 80, 160]
NOISE = {"clean": 0.0, "noisy": 0.01}
WIENER_BAL = [0.001, 0.003, 0.01, 0.03, 0.1]


def blur(x, sigma):
    """D on [C, H, W]; scipy's 'mirror' is numpy's 'reflect' (checked against degrade.blur_numpy below)."""
    if sigma <= 0:
        return x.copy()
    k = degrade.gaussian_kernel(sigma)
    return correlate1d(correlate1d(x, k, axis=2, mode="mirror"), k, axis=1, mode="mirror")


def q8(x):
    return np.round(np.clip(x, 0, 1) * 255) / 255


def schedule(t_star, steps):
    s = max(1, min(steps, t_star))
    ts = [int(np.floor(t_star * (s - k) / s + 0.5)) for k in range(s + 1)]
    return sorted(set(ts), reverse=True)


def sample(sess, x, t_star, steps, sampler):
    """Mirror of src/sampler.rs: the last step returns the model's x0."""
    ts = schedule(t_star, steps)
    for t, nxt in zip(ts, ts[1:]):
        x0 = sess.run(None, {"image": x[None].astype(np.float32), "t": np.array([t], np.float32)})[0][0]
        if nxt == 0:
            return x0
        s_t, s_n = degrade.sigma_of(t), degrade.sigma_of(nxt)
        x = blur(x0, s_n) if sampler == "naive" else x - blur(x0, s_t) + blur(x0, s_n)
    return x


def psf2d(sigma):
    k = degrade.gaussian_kernel(sigma).astype(np.float64)
    return np.outer(k, k)


def richardson_lucy(x, sigma, record):
    """RL with the symmetric separable PSF; returns {iterations: estimate} for each count in `record`."""
    u = np.full_like(x, 0.5, dtype=np.float64)
    x = x.astype(np.float64)
    out = {}
    for i in range(1, max(record) + 1):
        u = u * blur(x / np.maximum(blur(u, sigma), 1e-12), sigma)
        if i in record:
            out[i] = np.clip(u, 0, 1)
    return out


def wiener_padded(x, sigma, balance):
    r = degrade.kernel_radius(sigma) * 2
    out = np.empty_like(x)
    for c in range(3):
        p = np.pad(x[c].astype(np.float64), r, mode="reflect")
        out[c] = wiener(p, psf2d(sigma), balance=balance, clip=True)[r:-r, r:-r]
    return out


def metrics(y, ref):
    y = q8(y)
    mse = float(np.mean((y - ref) ** 2))
    ps = 10 * np.log10(1 / max(mse, 1e-12))
    ss = structural_similarity(y, ref, channel_axis=0, data_range=1.0)
    g = float(piq.gmsd(torch.from_numpy(y[None]).float(), torch.from_numpy(ref[None]).float(), data_range=1.0))
    return ps, ss, g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=0, help="use only the first N validation photos (0: all)")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "work", "eval_deblur"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    val, photos = data.validation_photos(args.photos)
    chk = np.random.default_rng(0).random((3, 20, 30), dtype=np.float32)
    assert np.abs(blur(chk, 2.0) - degrade.blur_numpy(chk, 2.0)).max() < 1e-5

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = {p: ort.InferenceSession(os.path.join(ROOT, "models", f"deblur-{p}.onnx"), so,
                                    providers=["CPUExecutionProvider"]) for p in ("f32", "int8")}
    rows = {}  # (method, severity) -> list of (psnr, ssim, gmsd)

    def add(key, m):
        rows.setdefault(key, []).append(m)

    t0 = time.time()
    for i, x0 in enumerate(photos):
        for cond, noise in NOISE.items():
            rng = np.random.default_rng(1000 + i)
            for sev in SEVERITIES:
                t_star = int(round(sev / degrade.SIGMA_STEP))
                sigma = degrade.sigma_of(t_star)
                xb = q8(blur(x0, sigma) + noise * rng.standard_normal(x0.shape))
                add((cond, "blurred input", sev), metrics(xb, x0))
                for it, y in richardson_lucy(xb, sigma, RL_ITERS).items():
                    add((cond, f"rl:{it}", sev), metrics(y, x0))
                for b in WIENER_BAL:
                    add((cond, f"wiener:{b}", sev), metrics(wiener_padded(xb, sigma, b), x0))
                for prec, s in sess.items():
                    for sampler in ("improved", "naive"):
                        for steps in STEPS:
                            if steps == 1 and sampler == "naive":
                                continue  # S = 1 is the same direct prediction for both samplers
                            # S above t* runs t* steps, as in the binary
                            y = sample(s, xb, t_star, steps, sampler)
                            add((cond, f"{prec}:{sampler}:{steps}", sev), metrics(y, x0))
        print(f"photo {i + 1}/{len(photos)} done, {time.time() - t0:.0f} s", flush=True)

    mean = {k: np.mean(v, axis=0).tolist() for k, v in rows.items()}
    best = {}
    for cond in NOISE:
        for name, params in (("rl", RL_ITERS), ("wiener", WIENER_BAL)):
            for sev in SEVERITIES:
                best[(cond, name, sev)] = max(params, key=lambda q: mean[(cond, f"{name}:{q}", sev)][0])
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"photos": [data.photo_name(p) for p in val],
                   "mean": {"@".join(map(str, k)): v for k, v in mean.items()},
                   "best_classical": {"@".join(map(str, k)): v for k, v in best.items()}}, f, indent=1)

    out = []
    for cond in NOISE:
        def cell(key):
            p, s_, g = mean[(cond,) + key]
            return f"{p:.2f} / {s_:.3f} / {g:.3f}"

        lines = [f"**{cond}** input (PSNR dB / SSIM / GMSD)", "",
                 "| restorer | " + " | ".join(f"sigma {s}" for s in SEVERITIES) + " |",
                 "|---|" + "---|" * len(SEVERITIES)]
        lines.append("| blurred input | " + " | ".join(cell(("blurred input", s)) for s in SEVERITIES) + " |")
        for name, label in (("rl", "Richardson-Lucy (best iterations)"), ("wiener", "Wiener (best balance)")):
            lines.append(f"| {label} | " + " | ".join(
                cell((f"{name}:{best[(cond, name, s)]}", s)) + f" ({best[(cond, name, s)]})" for s in SEVERITIES) + " |")
        for prec in ("f32", "int8"):
            for sampler in ("improved", "naive"):
                for steps in STEPS:
                    if steps == 1 and sampler == "naive":
                        continue
                    label = f"model {prec}, {'direct (S=1)' if steps == 1 else f'{sampler}, S={steps}'}"
                    lines.append(f"| {label} | " + " | ".join(cell((f"{prec}:{sampler}:{steps}", s)) for s in SEVERITIES) + " |")
        out.append("\n".join(lines))
    table = "\n\n".join(out)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    # default steps: the smallest S (f32, improved, clean) within 0.5 dB of the best, PSNR averaged over severities
    avg = {st: np.mean([mean[("clean", f"f32:improved:{st}", s)][0] for s in SEVERITIES]) for st in STEPS}
    top = max(avg.values())
    default = min(st for st in STEPS if avg[st] >= top - 0.5)
    print("mean PSNR per S (f32 improved, clean):", {k: round(float(v), 2) for k, v in avg.items()},
          "default steps:", default)


if __name__ == "__main__":
    main()
