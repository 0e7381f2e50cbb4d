"""Does the inpainter lose to its own fill on thin masks because it was trained on camera artefacts?

    python models/recipe/artefact_probe.py

The evaluation's frames are clean photos; the training frames' known pixels carry sensor noise and JPEG
(data.camera_artefacts), so the network may have learnt to smooth its fill. This scores, on the evaluation's
text, lines and brush masks (same seeds as evaluate_inpaint.py, S=1, the f32 model), both the model and its fill
alone with the known pixels as given (clean) and with noise (std 0.004-0.012) and JPEG 85 on them (camera),
always against the clean photo inside the hole. If the artefacts were the cause, the model's gap to its fill would
close on the camera frames. The card (models/inpaint.md, Quality) quotes the result.
"""
import io
import os
import random
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
import degrade  # noqa: E402
import evaluate_inpaint as ev  # noqa: E402
import masks  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KINDS = ["text", "lines", "brush"]


def camera(x0, rng, seed):
    """x0 [3, H, W] with sensor noise and JPEG 85, as 8-bit values."""
    noisy = x0.transpose(1, 2, 0) + rng.uniform(0.004, 0.012) * np.random.default_rng(seed).standard_normal(
        x0.shape[1:] + (3,))
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.round(noisy * 255), 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=85)
    buf.seek(0)
    return (np.asarray(Image.open(buf).convert("RGB")).astype(np.float32) / 255).transpose(2, 0, 1)


def main():
    _, photos = data.validation_photos()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(ROOT, "models", "inpaint-f32.onnx"), so,
                                providers=["CPUExecutionProvider"])
    res = {}
    for i, x0 in enumerate(photos):
        h, w = x0.shape[1:]
        for kind in KINDS:
            for j in range(2):
                m = masks.eval_mask(kind, h, w, random.Random(1000 * i + 10 * j + masks.KINDS.index(kind)))
                for cond, src in (("clean", x0), ("camera", camera(x0, random.Random(77 + i * 10 + j), i * 7 + j))):
                    xin = np.where(m[None], np.float32(0.5), src).astype(np.float32)
                    res.setdefault((kind, cond, "fill"), []).append(
                        ev.hole_psnr(degrade.pyramid_fill(xin, m, relax=degrade.RELAX_OF_FILL[degrade.FILL]), x0, m))
                    res.setdefault((kind, cond, "model"), []).append(ev.hole_psnr(ev.inpaint(sess, xin, m, 1), x0, m))
    for kind in KINDS:
        for cond in ("clean", "camera"):
            f, mo = np.mean(res[(kind, cond, "fill")]), np.mean(res[(kind, cond, "model")])
            print(f"{kind:6s} {cond:7s} fill {f:.2f} model {mo:.2f} model - fill {mo - f:+.2f} dB")


if __name__ == "__main__":
    main()
