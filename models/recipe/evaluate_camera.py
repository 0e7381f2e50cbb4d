"""The camera deblurrer against the blurs of issue #23, blind and told, beside Wiener and Richardson-Lucy given
the true PSF.

    python models/recipe/evaluate_camera.py --restorer models/work/camera/last.pt \
        --estimator models/work/estimator/last.pt [--photos N] [--out models/work/eval_camera]

Validation photos of data.split(camera=True) (short side 480, cropped to 16), each blurred by blur_mix.EVAL_CASES
(defocus r 2/4/6, Gaussian 1.5/3, motion and shake 7.5/12.5/18.75 px; directions and shake shapes drawn per photo),
then sensor noise of std 2/255, JPEG quality 90 and 8 bits, as a camera file holds it. Also the sharp photo with
noise 1/255 and JPEG 90 ("sharp"), which must come back nearly as it went in.

- blurred input;
- Wiener (scikit-image, reflect-padded) and Richardson-Lucy (mirror boundaries) given the true PSF, each at the
  setting best for that case over the photos (an oracle nobody has: it knows the kernel and the answer);
- the restorer told the true blur (kind, extent step, descriptor; its sampler's D the true family) at S = 1, 2, 4;
- the restorer blind: the estimator reads the degraded frame, a "none" passes it through, otherwise the restorer is
  told the estimate and the sampler's D is the estimated family (a shake is estimated as a line: motion).
PSNR / SSIM on 8-bit outputs; the estimator's errors per kind. Runs checkpoints through torch (CPU), or exported
ONNX files through onnxruntime (--restorer / --estimator ending in .onnx).
"""
import argparse
import io
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from scipy.ndimage import convolve
from scipy.signal import fftconvolve
from skimage.metrics import structural_similarity
from skimage.restoration import wiener

sys.path.insert(0, os.path.dirname(__file__))
import blur_mix  # noqa: E402
import data  # noqa: E402
import estimator as est_mod  # noqa: E402
from evaluate import q8, schedule  # noqa: E402  (one definition of each, as evaluate_inpaint.py)
from net import ColdUNet  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STEPS = [1, 2, 4]
RL_ITERS = [5, 10, 20, 40]
WIENER_BAL = [0.003, 0.01, 0.03, 0.1]


def blur(x, k):
    """D on [C, H, W] with reflect padding (scipy's 'mirror'); k is a PSF, convolve() flips it as D does."""
    return np.stack([convolve(c, k.astype(np.float64), mode="mirror") for c in x.astype(np.float64)])


def camera_file(x, noise, seed):
    """Sensor noise, then JPEG at quality 90 from 8 bits, as [C, H, W] float in [0, 1]."""
    x = x + noise * np.random.default_rng(seed).standard_normal(x.shape)
    u8 = (q8(x) * 255).astype(np.uint8).transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=90)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).transpose(2, 0, 1) / 255.0


def rl_fft(x, k, record):
    """Richardson-Lucy on a reflect-padded copy (FFT convolutions), {iterations: estimate} for each in record."""
    r = max(k.shape) // 2 + 8
    p = np.pad(x, ((0, 0), (r, r), (r, r)), mode="reflect").astype(np.float64)
    kf = k[::-1, ::-1].astype(np.float64)
    u = np.full_like(p, 0.5)
    out = {}
    for i in range(1, max(record) + 1):
        est = np.stack([fftconvolve(c, k, mode="same") for c in u])
        ratio = p / np.maximum(est, 1e-12)
        u = u * np.stack([fftconvolve(c, kf, mode="same") for c in ratio])
        if i in record:
            out[i] = np.clip(u[:, r:-r, r:-r], 0, 1)
    return out


def wiener_padded(x, k, balance):
    r = max(k.shape) // 2 * 2 + 4
    out = np.empty_like(x)
    for c in range(3):
        p = np.pad(x[c].astype(np.float64), r, mode="reflect")
        out[c] = wiener(p, k.astype(np.float64), balance=balance, clip=True)[r:-r, r:-r]
    return out


def psnr(y, ref):
    return 10 * np.log10(1 / max(float(np.mean((q8(y) - ref) ** 2)), 1e-12))


def metrics(y, ref):
    return psnr(y, ref), structural_similarity(q8(y), ref, channel_axis=0, data_range=1.0)


class Restorer:
    def __init__(self, path):
        self.onnx = path.endswith(".onnx")
        if self.onnx:
            import onnxruntime as ort
            self.sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        else:
            self.net = ColdUNet(T=blur_mix.T, cond=blur_mix.DESCRIPTOR)
            self.net.load_state_dict(torch.load(path, weights_only=False)["ema"])
            self.net.eval()

    def __call__(self, x, t, d):
        if self.onnx:
            return self.sess.run(None, {"image": x[None].astype(np.float32), "t": np.array([t], np.float32),
                                        "blur": d[None].astype(np.float32)})[0][0]
        with torch.no_grad():
            return self.net(torch.from_numpy(x[None]).float(), torch.tensor([float(t)]),
                            torch.from_numpy(d[None]).float())[0].clamp(0, 1).numpy()


def rule_of(props):
    """estimator.decode_rule's rule from an estimator file's metadata, as the binary reads it."""
    given = lambda key, kind: kind(props[key]) if key in props else None  # noqa: E731
    return (int(props.get("auto_shrink", 0)), float(props.get("auto_min_confidence", 0.0)),
            given("auto_shrink_trail", int), given("auto_min_confidence_isotropic", float))


class Estimator:
    """rule: (shrink, min_confidence) of estimator.decode_rule, and trail (estimator.refine_trail); rule None: an
    ONNX file's own, with its trail setting (its metadata, as the binary reads it), nothing for a checkpoint. check: the candidate shrinks that estimator.decode_checked
    restores and reads again, in place of the rule's shrink (measured, not the binary's: models/camera.md)."""

    def __init__(self, path, rule=None, check=None, trail=False):
        self.onnx = path.endswith(".onnx")
        self.rule = rule or (0, 0.0)
        self.check = tuple(check or ())
        self.trail = trail
        if self.onnx:
            import onnx
            import onnxruntime as ort
            self.sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            if rule is None:
                props = {p.key: p.value for p in onnx.load(path).metadata_props}
                self.rule = rule_of(props)
                self.trail = trail or props.get("auto_trail") == "1"
        else:
            ema = torch.load(path, weights_only=False)["ema"]
            self.net = est_mod.BlurEstimator(est_mod.BlurEstimator.channels_of(ema))
            self.net.load_state_dict(ema)
            self.net.eval()

    def blocks(self, crop):
        if self.onnx:
            return self.sess.run(None, {"image": crop[None].astype(np.float32)})[0][0]
        with torch.no_grad():
            return self.net.blocks(torch.from_numpy(np.ascontiguousarray(crop)[None]).float())[0].numpy()

    def pooled(self, x):
        """The pooled answer for frame x, a motion estimate's extent refined by its trail's dip (--trail)."""
        out = est_mod.pooled(self.blocks, x)
        return est_mod.refine_trail(out, x) if self.trail else out

    def __call__(self, x, restorer=None):
        """(kind, t, descriptor) from the crops the binary reads (estimator.crop_origins), under the rule; with a
        check, each candidate is restored by restorer (at S = 1) in estimator.check_regions and read again."""
        out = self.pooled(x)
        if not self.check:
            return est_mod.decode_rule(out, *self.rule)
        regions = est_mod.check_regions(x.shape[1], x.shape[2])

        def residual_of(kind, t, d):
            blocks = []
            for (y, x0, h, w), (cy, cx, ch, cw) in regions:
                got = sample(restorer, x[:, y : y + h, x0 : x0 + w], estimated_case(kind, t, d), 1)
                crop = np.ascontiguousarray(got[:, cy : cy + ch, cx : cx + cw], np.float32)
                blocks.append(self.blocks(crop).reshape(est_mod.OUT, -1))
            return est_mod.residual(est_mod.pool(np.concatenate(blocks, 1)))

        return est_mod.decode_checked(out, self.check, self.rule[1], residual_of)


def sample(restorer, x, case, steps):
    """The improved cold sampler (src/sampler.rs) with D the case's family; the last step returns R's x0."""
    d = case.descriptor()
    ts = schedule(case.t, steps)
    for t, nxt in zip(ts, ts[1:]):
        x0 = restorer(x, t, d)
        if nxt == 0:
            return x0
        at = blur_mix.BlurCase(case.family, t, case.angle, case.seed)
        an = blur_mix.BlurCase(case.family, nxt, case.angle, case.seed)
        x = x - blur(x0, at.psf()) + blur(x0, an.psf())
    return x


def estimated_case(kind, t, d):
    """The blur case the sampler runs for an estimate: a motion estimate is a line along the descriptor's
    direction."""
    family = "gaussian" if kind == "gaussian" else kind
    angle = blur_mix.motion_angle(d) if kind == "motion" else 0.0
    return blur_mix.BlurCase(family, t, angle, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--restorer", required=True)
    ap.add_argument("--estimator", required=True)
    ap.add_argument("--photos", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "work", "eval_camera"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blind-only", action="store_true",
                    help="only the blind columns and the estimates (another estimator against the same cases)")
    ap.add_argument("--gaussian-check", default="",
                    help="only compare with this Gaussian model (e.g. models/deblur-f32.onnx) on its own test: the 7 "
                         "validation photos of data.split(), clean and noisy, sigma 3 and 4.5, both told the sigma")
    ap.add_argument("--rule", default="",
                    help="SHRINK,MIN_CONFIDENCE[,SHRINK_TRAIL,MIN_CONFIDENCE_ISOTROPIC[,SURE_TRAIL]]: the estimator's "
                         "trust rule (estimator.decode_rule; default: the ONNX file's metadata; 0,0 for a checkpoint; "
                         "SURE_TRAIL is a measured variant the binary does not read)")
    ap.add_argument("--trail", action="store_true",
                    help="refine a motion estimate's extent by its trail's dip (estimator.refine_trail)")
    ap.add_argument("--check", default="",
                    help="S,S,...: restore each candidate t_est - S and keep the one the estimator reads as least "
                         "blurred (estimator.decode_checked, with --rule's min confidence; not what the binary "
                         "does: models/camera.md)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    if args.gaussian_check:
        return gaussian_check(Restorer(args.restorer), args.gaussian_check, args.out)
    _, val = data.split(camera=True)
    if args.photos:
        val = val[: args.photos]
    photos = [data.crop_to_stride(data.load_photo(p), 16).astype(np.float64).transpose(2, 0, 1) / 255 for p in val]
    rule = None
    if args.rule:
        given = args.rule.split(",")
        rule = (int(given[0]), float(given[1])) + ((int(given[2]), float(given[3])) if len(given) > 2 else ())
        rule += (float(given[4]),) if len(given) > 4 else ()
    check = [int(v) for v in args.check.split(",") if v]
    restorer, estimator = Restorer(args.restorer), Estimator(args.estimator, rule, check, args.trail)
    rows, est_rows = {}, []
    t0 = time.time()
    for i, x0 in enumerate(photos):
        cases = [(fam, label, blur_mix.eval_case(fam, t, i)) for fam, lst in blur_mix.EVAL_CASES.items()
                 for label, t in lst]
        for fam, label, case in [("sharp", "n1", None)] + cases:
            key = (fam, label)
            if case is None:
                xb = camera_file(x0, 1 / 255, 7 + i)
            else:
                k = case.psf()
                xb = camera_file(blur(x0, k), 2 / 255, 1000 * i + case.t)
            r = rows.setdefault(key, {})
            r.setdefault("blurred input", []).append(metrics(xb, x0))
            if case is not None and not args.blind_only:
                for it, y in rl_fft(xb, k, RL_ITERS).items():
                    r.setdefault(f"rl:{it}", []).append(metrics(y, x0))
                for b in WIENER_BAL:
                    r.setdefault(f"wiener:{b}", []).append(metrics(wiener_padded(xb, k, b), x0))
                for s in STEPS:
                    r.setdefault(f"told:{s}", []).append(metrics(sample(restorer, xb, case, s), x0))
            kind, t, d = estimator(xb.astype(np.float32), restorer)
            est_rows.append({"photo": i, "family": fam, "label": label, "t": case.t if case else 0,
                             "angle": case.angle if case else None, "kind": kind, "t_est": t,
                             "d_true": case.descriptor()[3:].tolist() if case else [0, 0], "d_est": d[3:].tolist()})
            for s in STEPS:
                y = xb if kind == "none" else sample(restorer, xb.astype(np.float32), estimated_case(kind, t, d), s)
                r.setdefault(f"blind:{s}", []).append(metrics(y, x0))
        print(f"photo {i + 1}/{len(photos)} {time.time() - t0:.0f} s", flush=True)

    mean = {f"{f}@{l}@{m}": np.mean(v, axis=0).tolist() for (f, l), r in rows.items() for m, v in r.items()}
    per_photo = {f"{f}@{l}@{m}": [x[0] for x in v] for (f, l), r in rows.items() for m, v in r.items()}
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump({"photos": [data.camera_photo_name(p) if "/photos/" in p or "lxqt" in p else data.photo_name(p)
                              for p in val], "mean": mean, "psnr_per_photo": per_photo, "estimates": est_rows},
                  fh, indent=1)
    print(table(rows), flush=True)
    print(estimate_table(est_rows), flush=True)


def estimate_table(est_rows):
    """The estimator's errors per kind: the kind it names (shake counts as motion), the extent error in the true
    family's unit (step error times its step size), the direction error of trails."""
    unit = {"gaussian": 0.25, "defocus": 0.4, "motion": 1.25, "shake": 1.25}
    lines = ["| blur | cases | kind right | named instead | extent error (mean abs) | direction error (mean, median) |",
             "|---|---|---|---|---|---|"]
    for fam in ["sharp", "gaussian", "defocus", "motion", "shake"]:
        rows = [r for r in est_rows if r["family"] == fam]
        if not rows:
            continue
        want = {"sharp": "none", "shake": "motion"}.get(fam, fam)
        right = [r for r in rows if r["kind"] == want]
        wrong = {}
        for r in rows:
            if r["kind"] != want:
                wrong[r["kind"]] = wrong.get(r["kind"], 0) + 1
        instead = ", ".join(f"{k} {v}" for k, v in sorted(wrong.items(), key=lambda kv: -kv[1])) or "-"
        ext = dirs = "-"
        if fam != "sharp":
            e = [abs(r["t_est"] - r["t"]) * unit[fam] for r in rows]
            ext = f"{np.mean(e):.2f} px" + (" (sigma)" if fam == "gaussian" else "")
        if fam in ("motion", "shake"):
            moving = [r for r in rows if r["kind"] == "motion"]
            if moving:
                d = [blur_mix.angle_error(blur_mix.motion_angle(np.array([0, 0, 0] + r["d_est"])),
                                          blur_mix.motion_angle(np.array([0, 0, 0] + r["d_true"]))) for r in moving]
                dirs = f"{np.mean(d):.1f} deg, {np.median(d):.1f} deg"
        lines.append(f"| {fam} | {len(rows)} | {len(right)} | {instead} | {ext} | {dirs} |")
    return "\n".join(lines)


def gaussian_check(restorer, old_path, out_dir):
    """evaluate.py's Gaussian test (the old deblurrer's own) for the old model and the camera one told the sigma."""
    import onnxruntime as ort
    import evaluate

    old = ort.InferenceSession(old_path, providers=["CPUExecutionProvider"])
    _, photos = data.validation_photos()
    rows = {}
    for i, x0 in enumerate(photos):
        for cond, noise in evaluate.NOISE.items():
            rng = np.random.default_rng(1000 + i)
            for sev in (3.0, 4.5):
                t = int(round(sev / 0.25))
                xb = q8(evaluate.blur(x0, sev) + noise * rng.standard_normal(x0.shape)).astype(np.float32)
                case = blur_mix.BlurCase("gaussian", t)
                for steps in (1, 2):
                    rows.setdefault((cond, sev, "old", steps), []).append(
                        psnr(evaluate.sample(old, xb, t, steps, "improved"), x0))
                    rows.setdefault((cond, sev, "camera", steps), []).append(
                        psnr(sample(restorer, xb, case, steps), x0))
        print(f"photo {i + 1}/{len(photos)}", flush=True)
    lines = ["| input | sigma | S | Gaussian model | camera model told the sigma | difference |", "|---|---|---|---|---|---|"]
    for cond in evaluate.NOISE:
        for sev in (3.0, 4.5):
            for steps in (1, 2):
                a, b = np.mean(rows[(cond, sev, "old", steps)]), np.mean(rows[(cond, sev, "camera", steps)])
                lines.append(f"| {cond} | {sev} | {steps} | {a:.2f} | {b:.2f} | {b - a:+.2f} |")
    text = "\n".join(lines)
    with open(os.path.join(out_dir, "gaussian_check.md"), "w") as fh:
        fh.write(text + "\n")
    print(text)


def table(rows):
    lines = ["| case | input | Wiener oracle | RL oracle | told S=1 | told S=2 | told S=4 | blind S=1 | blind S=2 | "
             "blind S=4 | blind below input |", "|---|" + "---|" * 10]
    for (fam, label), r in rows.items():
        m = {k: np.mean([x[0] for x in v]) for k, v in r.items()}
        wi = max((m.get(f"wiener:{b}", float("nan")) for b in WIENER_BAL))
        rl = max((m.get(f"rl:{it}", float("nan")) for it in RL_ITERS))
        below = sum(b[0] < a[0] for a, b in zip(r["blurred input"], r["blind:1"]))
        cells = [m["blurred input"], wi, rl] + [m.get(f"told:{s}", float("nan")) for s in STEPS] + \
            [m[f"blind:{s}"] for s in STEPS]
        lines.append(f"| {fam} {label} | " + " | ".join(f"{c:.2f}" for c in cells) + f" | {below}/{len(r['blind:1'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
