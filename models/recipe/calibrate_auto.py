"""How far to trust the blur estimator: measures, on TRAINING photos, what the blind deblurrer gains over its
input when the restorer is told the estimated extent t, or less (t - 1, t - 2, ...), and when estimates the
estimator is unsure of pass the frame through. Writes every (photo, case, candidate) PSNR and the pooled
estimator outputs, so that the rule (estimator.decode_rule's `shrink` and `min_confidence`) is picked from this file
and then checked once on the validation photos by evaluate_camera.py.

    python models/recipe/calibrate_auto.py --restorer models/camera-f32.onnx \
        --estimator models/blur-estimator-f32.onnx [--photos 40] [--out models/work/calibrate_auto]

The cases are evaluate_camera's (blur_mix.EVAL_CASES, noise 2/255, JPEG 90; the sharp frame at noise 1/255),
drawn with other seeds, on --photos training photos spread over the list of data.split(camera=True). The
validation photos are never read here. `--report` prints the rules' table from a finished run's file. With
--checks each candidate's restored frame is also read again by the estimator, for the check rule
(estimator.decode_checked) that the table's last rows measure; with --trail a motion estimate's extent is
refined by its trail's dip (estimator.refine_trail) before the candidates are taken from it.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import blur_mix  # noqa: E402
import data  # noqa: E402
import estimator as est_mod  # noqa: E402
from evaluate import q8  # noqa: E402
from evaluate_camera import Estimator, Restorer, blur, camera_file, estimated_case, psnr, sample  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHRINKS = (0, 1, 2, 3, 4, 5, 6, 8)  # candidate extents t_est - s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--restorer", help="the camera restorer (.onnx or a checkpoint)")
    ap.add_argument("--estimator", help="the blur estimator (.onnx or a checkpoint)")
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "work", "calibrate_auto"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checks", action="store_true",
                    help="also read each candidate's restored frame again (the check rule's rows of the report)")
    ap.add_argument("--trail", action="store_true",
                    help="refine a motion estimate's extent by its trail's dip (estimator.refine_trail)")
    ap.add_argument("--report", action="store_true", help="only the rules' table, from <out>/calibration.json")
    args = ap.parse_args()
    if args.report:
        with open(os.path.join(args.out, "calibration.json")) as fh:
            return print(report(json.load(fh)))
    if not (args.restorer and args.estimator):
        ap.error("--restorer and --estimator are needed to measure (only --report reads an earlier run)")
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    train, _ = data.split(camera=True)
    chosen = train[:: max(1, len(train) // args.photos)][: args.photos]
    restorer, estimator = Restorer(args.restorer), Estimator(args.estimator, trail=args.trail)
    rows = []
    t0 = time.time()
    for i, path in enumerate(chosen):
        x0 = data.crop_to_stride(data.load_photo(path), 16).astype(np.float64).transpose(2, 0, 1) / 255
        seed = 500 + i  # not the validation cases' seeds (evaluate_camera uses the photo's index)
        cases = [(fam, label, blur_mix.eval_case(fam, t, seed)) for fam, lst in blur_mix.EVAL_CASES.items()
                 for label, t in lst]
        for fam, label, case in [("sharp", "n1", None)] + cases:
            if case is None:
                xb = camera_file(x0, 1 / 255, 7 + seed)
            else:
                xb = camera_file(blur(x0, case.psf()), 2 / 255, 1000 * seed + case.t)
            xf = xb.astype(np.float32)
            out = estimator.pooled(xf)
            logits = out[: len(est_mod.KINDS)]
            t_raw = float(out[len(est_mod.KINDS)]) * blur_mix.T
            d = np.zeros(blur_mix.DESCRIPTOR, np.float32)
            d[3:5] = out[len(est_mod.KINDS) + 1 : len(est_mod.KINDS) + 3]
            # what each blurred kind would give, whichever wins: the rule may overrule a "none"
            kind = est_mod.KINDS[1 + int(np.argmax(logits[1:]))]
            t_est = int(np.clip(round(t_raw), 1, blur_mix.T))
            cand, checks = {}, {}
            for s in SHRINKS:
                t = t_est - s
                if t >= 1:
                    dk = np.zeros(blur_mix.DESCRIPTOR, np.float32)
                    dk[est_mod.KINDS.index(kind) - 1] = 1.0
                    if kind == "motion":
                        dk[3:5] = d[3:5]
                    y = sample(restorer, xf, estimated_case(kind, t, dk), 1)
                    cand[str(t)] = psnr(y, x0)
                    if args.checks:
                        # the estimator's reading of the restored frame, for a rule that checks its own output
                        checks[str(t)] = est_mod.pooled(estimator.blocks, q8(y).astype(np.float32)).tolist()
            rows.append({"photo": data.camera_photo_name(path) if "/photos/" in path else data.photo_name(path),
                         "family": fam, "label": label, "t": case.t if case else 0,
                         "logits": logits.tolist(), "t_raw": t_raw, "kind_blurred": kind,
                         "input": psnr(xb, x0), "restored": cand, "checks": checks})
        print(f"photo {i + 1}/{len(chosen)} {time.time() - t0:.0f} s", flush=True)
        with open(os.path.join(args.out, "calibration.json"), "w") as fh:
            json.dump(rows, fh, indent=1)


def outcome(row, *rule):
    """PSNR of the output under a rule (estimator.decode_rule's shrink, min_confidence, shrink_trail,
    min_confidence_isotropic, sure_trail): the input where the rule passes the frame through."""
    kind, t, _ = est_mod.decode_rule(np.array(row["logits"] + [row["t_raw"] / blur_mix.T, 0.0, 0.0]), *rule)
    if kind == "none":
        return row["input"]
    got = row["restored"].get(str(t))
    assert got is not None, f"t {t} not among the candidates of {row['photo']}"
    return got


def outcome_checked(row, check, min_confidence):
    """PSNR of the output under estimator.decode_checked, from the estimator's readings of the restored candidates
    (here each whole restored frame, 8-bit)."""
    out = np.array(row["logits"] + [row["t_raw"] / blur_mix.T, 0.0, 0.0])
    kind, t, _ = est_mod.decode_checked(out, check, min_confidence,
                                        lambda kind, t, d: est_mod.residual(np.array(row["checks"][str(t)])))
    return row["input"] if kind == "none" else row["restored"][str(t)]


def report(rows):
    """Per rule: the mean gain over the input per family (all extents), the cases below the input, and the worst.
    The first rows gate every kind on its own probability and shrink every extent alike; the rows after them
    shrink trails and isotropic blurs apart and gate a disc or a Gaussian on the two kinds' probabilities
    together (estimator.decode_rule's shrink_trail, min_confidence_isotropic); the last rows tell a trail at least
    so probable at its measured length (sure_trail)."""
    fams = ["sharp", "defocus", "gaussian", "motion", "shake"]
    lines = ["| shrink | min confidence | " + " | ".join(fams) + " | mean | below input | worst |",
             "|---|---|" + "---|" * (len(fams) + 3)]

    def line(shrink_cell, conf_cell, rule, outcome_of=outcome):
        gains = {f: [] for f in fams}
        for r in rows:
            gains[r["family"]].append(outcome_of(r, *rule) - r["input"])
        allg = np.concatenate([gains[f] for f in fams])
        lines.append(f"| {shrink_cell} | {conf_cell} | " + " | ".join(f"{np.mean(gains[f]):+.2f}" for f in fams) +
                     f" | {allg.mean():+.2f} | {(allg < -0.05).sum()}/{len(allg)} | {allg.min():+.2f} |")

    for shrink in SHRINKS[:4]:
        for conf in (0.0, 0.4, 0.5, 0.6, 0.7):
            line(shrink, conf, (shrink, conf))
    for shrink in (1, 2):
        for shrink_trail in (0, 1):
            for conf in (0.4, 0.5):
                for conf_iso in (0.4, 0.5, 0.6, 0.7):
                    line(f"{shrink} isotropic, {shrink_trail} trail",
                         f"{conf_iso} isotropic (together), {conf} trail", (shrink, conf, shrink_trail, conf_iso))
    for sure in (0.5, 0.6, 0.7, 0.8, 0.9):
        line(f"1 isotropic, 1 trail, 0 a trail at least {sure}", "0.6 isotropic (together), 0.4 trail",
             (1, 0.4, 1, 0.6, sure))
    if all(r.get("checks") for r in rows if r["restored"]):
        for check in ((0, 1, 2, 3, 4, 5, 6, 8), (0, 2, 4, 6), (0, 3, 6)):
            for conf in (0.3, 0.4, 0.5):
                line(f"check {','.join(map(str, check))}", conf, (check, conf), outcome_checked)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
