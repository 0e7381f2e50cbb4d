"""Exports the EMA weights to ONNX (f32), quantizes to int8, and records the test fixtures the Rust side checks.

    python models/recipe/export.py --ckpt models/work/deblur/last.pt --default-steps N
    python models/recipe/export.py --task inpaint --ckpt models/work/inpaint/last.pt --default-steps N
    python models/recipe/export.py --task inpaint --requantize   # int8 file (and its fixture) from the f32 one

Writes models/deblur-f32.onnx, models/deblur-int8.onnx (static QDQ int8, per-channel weights, calibrated on
training crops), tests/data/blur_vectors.bin (Rust D == Python D), tests/data/parity_*.bin (tract ==
onnxruntime, for both files) and tests/data/sampler_f32.bin (Rust sampler == the evaluation's Python sampler).
`--vectors` rewrites only the degradations' shared vectors (blur, camera blur, mask, pyramid fills).
For inpaint: models/inpaint-{f32,int8}.onnx, tests/data/mask_vectors.bin (Rust mask schedule == Python's),
tests/data/parity_inpaint_{f32,int8}.bin and tests/data/sampler_inpaint_f32.bin.
"""
import argparse
import os
import random
import struct
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)

sys.path.insert(0, os.path.dirname(__file__))
import blur_mix  # noqa: E402
import camera_blur  # noqa: E402
import data  # noqa: E402
import degrade  # noqa: E402
from net import ColdUNet, Exported, macs_per_pixel  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def inpaint_metadata(name, precision, default_steps):
    return {
        "coldframe.format": "1",
        "name": name,
        "task": "inpaint",
        "T": str(degrade.T_MASK),
        "mask_schedule": degrade.MASK_SCHEDULE,
        "fill": str(degrade.FILL),
        "stride": str(ColdUNet.STRIDE),
        "macs_per_pixel": f"{macs_per_pixel(ColdUNet(in_ch=4, T=degrade.T_MASK), 4):.0f}",
        "precision": precision,
        "default_steps": str(default_steps),
        "input_layout": "image: float32 [1,4,H,W]: RGB in [0,1] with the fill (metadata fill) where missing, then the "
                        "still-missing mask (1 = missing); H and W multiples of stride; t: float32 [1] step",
        "output": "x0: float32 [1,3,H,W] RGB in [0,1]",
        "degradation": "missing where depth2 * T^2 > dmax2 * (T - t)^2, depth2 = squared Euclidean distance to the "
                       "nearest known pixel (models/recipe/degrade.py)",
        "model_version": "7",
    }


def metadata(name, precision, default_steps):
    return {
        "coldframe.format": "1",
        "name": name,
        "task": "deblur",
        "T": str(degrade.T_BLUR),
        "sigma_schedule": ",".join(f"{s:g}" for s in degrade.sigma_schedule()),
        "stride": str(ColdUNet.STRIDE),
        "macs_per_pixel": f"{macs_per_pixel(ColdUNet(in_ch=3, T=degrade.T_BLUR), 3):.0f}",
        "precision": precision,
        "default_steps": str(default_steps),
        "input_layout": "image: float32 [1,3,H,W] RGB in [0,1], H and W multiples of stride; t: float32 [1] step",
        "output": "x0: float32 [1,3,H,W] RGB in [0,1]",
        "degradation": "gaussian blur, total sigma(t), radius ceil(3 sigma), reflect padding (models/recipe/degrade.py)",
        "model_version": "1",
    }


def camera_metadata(name, precision, default_steps):
    return {
        "coldframe.format": "1",
        "name": name,
        "task": "camera-deblur",
        "T": str(blur_mix.T),
        "sigma_schedule": ",".join(f"{s:g}" for s in degrade.sigma_schedule()),
        "extent_step": ",".join(f"{f}:{v:g}" for f, v in camera_blur.STEP.items()),
        "stride": str(ColdUNet.STRIDE),
        "macs_per_pixel": f"{macs_per_pixel(ColdUNet(T=blur_mix.T, cond=blur_mix.DESCRIPTOR), 3, cond=blur_mix.DESCRIPTOR):.0f}",
        "precision": precision,
        "default_steps": str(default_steps),
        "input_layout": "image: float32 [1,3,H,W] RGB in [0,1], H and W multiples of stride; t: float32 [1] step; "
                        "blur: float32 [1,5] descriptor: one-hot gaussian, defocus, motion (shake is motion), then "
                        "(mxx - myy) / (mxx + myy), 2 mxy / (mxx + myy) of the PSF (models/recipe/blur_mix.py)",
        "output": "x0: float32 [1,3,H,W] RGB in [0,1]",
        "degradation": "gaussian (sigma 0.25 t, models/recipe/degrade.py), defocus (radius 0.4 t), motion and shake "
                       "(length 1.25 t; models/recipe/camera_blur.py), reflect padding",
        "model_version": "1",
    }


def estimator_metadata(name, precision, version="1", shrink=0, min_confidence=0.0, trail=False, shrink_trail=None,
                       min_confidence_isotropic=None):
    import estimator

    # written only when given, so that a file keeps version 1-2's rule (one shrink, each kind gated on its own)
    rule_extras = {key: str(v) for key, v in (("auto_shrink_trail", shrink_trail),
                                               ("auto_min_confidence_isotropic", min_confidence_isotropic))
                   if v is not None}

    return {
        "coldframe.format": "1",
        "name": name,
        "task": "blur-estimate",
        "T": str(blur_mix.T),
        "kinds": ",".join(estimator.KINDS),
        "stride": "16",
        "precision": precision,
        "input_layout": "image: float32 [1,3,H,W] RGB in [0,1], H and W multiples of stride",
        "output": "blocks: float32 [1,8,H/16,W/16]: per 16x16 block, logits of kinds, t / T, the trail's "
                  "(mxx - myy) / (mxx + myy) and 2 mxy / (mxx + myy), then the block's score; the frame's "
                  "estimate is the softmax-of-scores weighted mean over the blocks of every crop read "
                  "(models/recipe/estimator.py pool, decode_rule)",
        # the binary's trust rule (estimator.decode_rule), picked on training photos by calibrate_auto.py
        "auto_shrink": str(shrink),
        "auto_min_confidence": str(min_confidence),
        **rule_extras,
        # a motion estimate's extent from its trail's dip (estimator.refine_trail)
        "auto_trail": "1" if trail else "0",
        "model_version": version,
    }


def set_metadata(path, props):
    m = onnx.load(path)
    del m.metadata_props[:]
    for k, v in props.items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, path)


class InpaintCalib(CalibrationDataReader):
    """Training crops with training masks (frame scale, as trained) at uniform steps: what the sampler shows the
    model."""

    def __init__(self, n=48, crop=256):
        import masks

        train, _ = data.split()
        crops = data.Crops(train, crop, seed=99)
        rng = random.Random(5)
        self.items = []
        for _ in range(n):
            x0 = crops.batch(1)[0].astype(np.float32).transpose(2, 0, 1) / 255.0
            t = rng.randint(1, degrade.T_MASK)
            miss = degrade.missing_at(degrade.depth2(masks.frame_scale_mask(crop, rng)), t)
            self.items.append({"image": degrade.mask_degrade(x0, miss)[None], "t": np.array([t], np.float32)})
        self.it = iter(self.items)

    def get_next(self):
        return next(self.it, None)


class CameraCalib(CalibrationDataReader):
    """Training crops blurred by random cases of the camera mix, with their true descriptors."""

    def __init__(self, n=64):
        train, _ = data.split(camera=True)
        crops = data.Crops(train, 128, seed=99)
        rng = random.Random(5)
        self.items = []
        for _ in range(n):
            x0 = torch.from_numpy(crops.batch(1).astype(np.float32) / 255.0).permute(0, 3, 1, 2)
            case = blur_mix.random_case(rng)
            xt = camera_blur.blur_torch(x0, [case.psf()]).numpy().astype(np.float32)
            self.items.append({"image": xt, "t": np.array([case.t], np.float32),
                               "blur": case.descriptor()[None]})
        self.it = iter(self.items)

    def get_next(self):
        return next(self.it, None)


class Calib(CalibrationDataReader):
    def __init__(self, n=48):
        train, _ = data.split()
        crops = data.Crops(train, 128, seed=99)
        rng = random.Random(5)
        self.items = []
        for _ in range(n):
            x0 = torch.from_numpy(crops.batch(1).astype(np.float32) / 255.0).permute(0, 3, 1, 2)
            t = rng.randint(1, degrade.T_BLUR)
            xt = degrade.blur_t(x0, [t]).numpy().astype(np.float32)
            self.items.append({"image": xt, "t": np.array([t], np.float32)})
        self.it = iter(self.items)

    def get_next(self):
        return next(self.it, None)


def write_tensor(f, a):
    a = np.ascontiguousarray(a, dtype=np.float32)
    f.write(struct.pack("<I", a.ndim))
    f.write(struct.pack(f"<{a.ndim}I", *a.shape))
    f.write(a.tobytes())


def blur_vectors(path):
    """Random images, including one smaller than the kernel (reflection folds), at several sigmas."""
    rng = np.random.default_rng(11)
    cases = [(rng.random((3, 29, 37), dtype=np.float32), s) for s in (0.25, 1.0, 1.75, 3.0, 5.0)]
    cases.append((rng.random((3, 7, 9), dtype=np.float32), 5.0))
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(cases)))
        for img, s in cases:
            f.write(struct.pack("<f", s))
            write_tensor(f, img)
            write_tensor(f, degrade.blur_numpy(img, s))


def parity_fixture(model_path, out_path):
    """One validation crop blurred at t = 8, run through onnxruntime: tract must give the same x0."""
    _, val = data.split()
    img = data.load_photo(val[0])[:48, :64].astype(np.float32) / 255.0
    x = degrade.blur_numpy(img.transpose(2, 0, 1), degrade.sigma_of(8))[None]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    y = s.run(None, {"image": x, "t": np.array([8.0], np.float32)})[0]
    with open(out_path, "wb") as f:
        f.write(struct.pack("<f", 8.0))
        write_tensor(f, x)
        write_tensor(f, y)


def sampler_fixture(model_path, out_path, t_star=12, steps=4):
    """The evaluation's Python sampler (evaluate.sample) on one crop: the Rust sampler must reproduce it."""
    import evaluate

    _, val = data.split()
    img = data.load_photo(val[1])[:48, :64].astype(np.float32) / 255.0
    x = degrade.blur_numpy(img.transpose(2, 0, 1), degrade.sigma_of(t_star))
    s = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    with open(out_path, "wb") as f:
        f.write(struct.pack("<III", t_star, steps, 2))
        write_tensor(f, x)
        for sampler in ("improved", "naive"):
            write_tensor(f, evaluate.sample(s, x, t_star, steps, sampler))


def fixture_masks():
    """Small masks of every kind the Rust side must reproduce, plus hand-made edge cases."""
    import masks

    rng = random.Random(21)
    out = [masks.GENERATORS[k](h, w, rng) for k in masks.KINDS for (h, w) in ((24, 40), (31, 17))]
    m = np.zeros((9, 13), bool)
    m[:, 4] = True  # a dead column, top to bottom
    out.append(m)
    m = np.ones((10, 12), bool)
    m[9, 11] = False  # one known pixel in a corner
    out.append(m)
    m = np.zeros((16, 16), bool)
    m[3:13, 2:14] = True
    out.append(m)
    return [m for m in out if m.any() and not m.all()]


def mask_vectors(path):
    """u32 cases; each: u32 h, u32 w, mask u8[h*w], depth2 u32[h*w], u32 nt, then nt x (u32 t, missing u8[h*w])."""
    cases = fixture_masks()
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(cases)))
        for m in cases:
            h, w = m.shape
            d2 = degrade.depth2(m)
            f.write(struct.pack("<II", h, w))
            f.write(m.astype(np.uint8).tobytes())
            f.write(d2.astype("<u4").tobytes())
            ts = list(range(degrade.T_MASK + 1))
            f.write(struct.pack("<I", len(ts)))
            for t in ts:
                f.write(struct.pack("<I", t))
                f.write(degrade.missing_at(d2, t).astype(np.uint8).tobytes())


def pyramid_cases():
    """Frames and masks for the fill's shared vectors: every fixture mask (kinds, sizes 24x40 and 31x17, a dead
    column, one known corner pixel, a box) under seeded random colours, a validation crop with a brush stroke, and
    a single row and column."""
    rng = np.random.default_rng(4)
    out = [(rng.random((3,) + m.shape, dtype=np.float32), m) for m in fixture_masks()]
    img, m = inpaint_crop_and_mask(2)
    out.append((img, m))
    row = np.zeros((1, 9), bool)
    row[0, 2:7] = True
    col = np.zeros((7, 1), bool)
    col[:4, 0] = True
    out += [(rng.random((3,) + m.shape, dtype=np.float32), m) for m in (row, col)]
    return out


PYRAMID_VECTOR_FILLS = (None, "jacobi", "sor")  # tests/inpaint.rs reads them in this order


def pyramid_vectors(path):
    """u32 cases; each: u32 h, u32 w, image f32[3*h*w], mask u8[h*w], then degrade.pyramid_fill's output f32[3*h*w]
    for each fill in PYRAMID_VECTOR_FILLS (push-pull alone, the smooth fill, the sor fill)."""
    cases = pyramid_cases()
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(cases)))
        for img, m in cases:
            h, w = m.shape
            f.write(struct.pack("<II", h, w))
            f.write(img.astype("<f4").tobytes())
            f.write(m.astype(np.uint8).tobytes())
            for relax in PYRAMID_VECTOR_FILLS:
                f.write(degrade.pyramid_fill(img, m, relax=relax).astype("<f4").tobytes())


def inpaint_crop_and_mask(photo_index, t=None):
    import masks

    _, val = data.split()
    img = data.load_photo(val[photo_index])[:48, :64].astype(np.float32).transpose(2, 0, 1) / 255.0
    m = masks.brush(48, 64, random.Random(photo_index)) | masks.box(48, 64, random.Random(40 + photo_index))
    return img, m


def inpaint_parity_fixture(model_path, out_path, t=12):
    img, m = inpaint_crop_and_mask(0)
    x = degrade.mask_degrade(img, degrade.missing_at(degrade.depth2(m), t))[None]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    y = s.run(None, {"image": x, "t": np.array([float(t)], np.float32)})[0]
    with open(out_path, "wb") as f:
        f.write(struct.pack("<f", float(t)))
        write_tensor(f, x)
        write_tensor(f, y)


def inpaint_sampler_fixture(model_path, out_path, steps=4):
    """u32 steps; image [3,H,W]; mask [1,H,W] (1 = missing); the evaluation's inpaint result [3,H,W]."""
    import evaluate_inpaint

    img, m = inpaint_crop_and_mask(1)
    s = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    with open(out_path, "wb") as f:
        f.write(struct.pack("<I", steps))
        write_tensor(f, img)
        write_tensor(f, m[None].astype(np.float32))
        write_tensor(f, evaluate_inpaint.inpaint(s, img, m, steps, full_update=True))


# How each int8 file is quantized beyond the common settings (QDQ, per-channel int8 weights, u8 activations).
# The inpainter, with onnxruntime's defaults (min-max calibration, every convolution quantized), came out 0.3-0.6
# dB under f32 inside the hole on text, lines and brush masks (S=4, 7 validation photos, one mask per kind).
# Measured on that set, against f32: the stem convolution in float, -0.12..-0.52 dB; percentile calibration
# alone, within 0.22 dB; both, within 0.10 dB: kept. The stem sees the mask and the image's edge detail through
# 17 input channels; the ops that build its input (space-to-depth, the step channel, the concatenation) stay in
# float with it, or they would round the 0.5 fill to 128/255 for a convolution that reads floats anyway (and
# onnxruntime's optimiser drops those pairs while tract runs them: the two would disagree). It costs about 8% of
# the multiply-adds in float. The deblurrer loses under 0.1 dB with the defaults.
STEM_INPUT = ["/net/Reshape", "/net/Transpose", "/net/Reshape_1", "/net/Slice_1", "/net/Div_2", "/net/Mul_2",
              "/net/Concat_2"]
# The camera deblurrer's stem input holds the descriptor (values -1..1) beside the image: quantized together they
# would share one scale, so the stem stays in float as the inpainter's does (names read off its export).
CAMERA_STEM_INPUT = ["/net/Reshape", "/net/Transpose", "/net/Reshape_1", "/net/Slice_1", "/net/Reshape_2",
                     "/net/Div_2", "/net/Mul_2", "/net/Reshape_3", "/net/Mul_3", "/net/Concat_2", "/net/stem/Conv"]
QUANT_OPTIONS = {
    "deblur": {},
    "camera": {"nodes_to_exclude": CAMERA_STEM_INPUT},
    "inpaint": {"nodes_to_exclude": STEM_INPUT + ["/net/stem/Conv"], "calibrate_method": CalibrationMethod.Percentile},
}


def quantize(task, f32, i8, calib, meta, default_steps):
    quantize_static(f32, i8, calib, quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, **QUANT_OPTIONS[task])
    set_metadata(i8, meta(f"{task}-int8", "int8", default_steps))


def export_pair(ckpt, task, in_ch, T, x, meta, calib, default_steps):
    """The EMA weights of `ckpt` to models/<task>-f32.onnx and the static-QDQ models/<task>-int8.onnx, with their
    metadata; the f32 export must agree with torch on `x` before anything else is trusted."""
    st = torch.load(ckpt, map_location="cpu", weights_only=False)
    net = ColdUNet(in_ch=in_ch, T=T)
    net.load_state_dict(st["ema"])
    model = Exported(net).eval()
    f32 = os.path.join(ROOT, "models", f"{task}-f32.onnx")
    i8 = os.path.join(ROOT, "models", f"{task}-int8.onnx")
    t = torch.tensor([8.0])
    torch.onnx.export(model, (x, t), f32, input_names=["image", "t"], output_names=["x0"], opset_version=17,
                      dynamic_axes={"image": {2: "H", 3: "W"}, "x0": {2: "H", 3: "W"}}, dynamo=False)
    set_metadata(f32, meta(f"{task}-f32", "f32", default_steps))
    quantize(task, f32, i8, calib, meta, default_steps)
    s = ort.InferenceSession(f32, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = model(x, t).numpy()
    got = s.run(None, {"image": x.numpy(), "t": t.numpy()})[0]
    print("torch vs onnxruntime f32 max abs diff", float(np.abs(ref - got).max()))
    return st, f32, i8


def export_camera(args):
    """models/camera-{f32,int8}.onnx: the camera deblurrer, with its third input `blur` (blur_mix's descriptor)."""
    st = torch.load(args.ckpt, map_location="cpu", weights_only=False)
    net = ColdUNet(T=blur_mix.T, cond=blur_mix.DESCRIPTOR)
    net.load_state_dict(st["ema"])
    model = Exported(net).eval()
    f32 = os.path.join(ROOT, "models", "camera-f32.onnx")
    i8 = os.path.join(ROOT, "models", "camera-int8.onnx")
    x, t, d = torch.rand(1, 3, 64, 96), torch.tensor([8.0]), torch.tensor([[0.0, 0.0, 1.0, 0.3, -0.5]])
    torch.onnx.export(model, (x, t, d), f32, input_names=["image", "t", "blur"], output_names=["x0"],
                      opset_version=17, dynamic_axes={"image": {2: "H", 3: "W"}, "x0": {2: "H", 3: "W"}},
                      dynamo=False)
    set_metadata(f32, camera_metadata("camera-f32", "f32", args.default_steps))
    names = {n.name for n in onnx.load(f32).graph.node}
    missing = [n for n in CAMERA_STEM_INPUT if n not in names]
    if missing:
        raise SystemExit(f"stem nodes not in the export (renamed by torch?): {missing}; stem-side nodes: "
                         f"{sorted(n for n in names if '/stem' in n or 'Concat' in n or 'Reshape' in n)}")
    quantize("camera", f32, i8, CameraCalib(), camera_metadata, args.default_steps)
    s = ort.InferenceSession(f32, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = model(x, t, d).numpy()
    got = s.run(None, {"image": x.numpy(), "t": t.numpy(), "blur": d.numpy()})[0]
    print("torch vs onnxruntime f32 max abs diff", float(np.abs(ref - got).max()))
    td = os.path.join(ROOT, "tests", "data")
    camera_parity_fixture(f32, os.path.join(td, "parity_camera_f32.bin"))
    camera_parity_fixture(i8, os.path.join(td, "parity_camera_int8.bin"))
    print("trained steps", st["step"], "minutes", st["trained_s"] / 60)


def camera_parity_fixture(model_path, out_path):
    """One validation crop blurred by a motion trail (t = 10, 30 degrees) with its descriptor, run through
    onnxruntime: tract must give the same x0."""
    _, val = data.split()
    photo = data.load_photo(val[0]).astype(np.float32) / 255.0
    # the most detailed 48x64 window (a flat one would barely show what the descriptor changes)
    detail = lambda y, x: np.abs(np.diff(photo[y : y + 48, x : x + 64], axis=1)).mean()  # noqa: E731
    y, x = max(((y, x) for y in range(0, photo.shape[0] - 48, 16) for x in range(0, photo.shape[1] - 64, 16)),
               key=lambda p: detail(*p))
    img = photo[y : y + 48, x : x + 64]
    case = blur_mix.BlurCase("motion", 10, 30.0)
    x = camera_blur.convolve(img.transpose(2, 0, 1), case.psf())[None]
    d = case.descriptor()
    s = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    y = s.run(None, {"image": x, "t": np.array([10.0], np.float32), "blur": d[None]})[0]
    with open(out_path, "wb") as f:
        f.write(struct.pack("<f", 10.0))
        f.write(struct.pack("<5f", *d))
        write_tensor(f, x)
        write_tensor(f, y)


def estimator_fixture(model_path, out_path):
    """A validation crop with a defocus blur, and the estimator's per-block outputs from onnxruntime."""
    _, val = data.split()
    img = data.load_photo(val[2])[:64, :96].astype(np.float32) / 255.0
    x = camera_blur.convolve(img.transpose(2, 0, 1), blur_mix.BlurCase("defocus", 8).psf())[None]
    y = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    with open(out_path, "wb") as f:
        write_tensor(f, x)
        write_tensor(f, y)


def export_estimator(args):
    """models/blur-estimator-f32.onnx (batch norms folded into the convolutions by the exporter)."""
    import estimator

    st = torch.load(args.ckpt, map_location="cpu", weights_only=False)
    net = estimator.BlurEstimator(estimator.BlurEstimator.channels_of(st["ema"]))
    net.load_state_dict(st["ema"])
    net.eval()
    out = os.path.join(ROOT, "models", "blur-estimator-f32.onnx")
    x = torch.rand(1, 3, 96, 128)
    blocks = estimator.Blocks(net).eval()
    torch.onnx.export(blocks, (x,), out, input_names=["image"], output_names=["blocks"], opset_version=17,
                      dynamic_axes={"image": {2: "H", 3: "W"}, "blocks": {2: "h", 3: "w"}}, dynamo=False)
    set_metadata(out, estimator_metadata("blur-estimator-f32", "f32", args.estimator_version, args.auto_shrink,
                                         args.auto_min_confidence, args.auto_trail, args.auto_shrink_trail,
                                         args.auto_min_confidence_isotropic))
    with torch.no_grad():
        ref = blocks(x).numpy()
    got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})[0]
    print("torch vs onnxruntime max abs diff", float(np.abs(ref - got).max()))
    estimator_fixture(out, os.path.join(ROOT, "tests", "data", "estimator_blocks.bin"))
    print("trained steps", st["step"], "minutes", st["trained_s"] / 60)


def export_inpaint(args):
    x = torch.rand(1, 4, 64, 96)
    x[:, 3] = (x[:, 3] > 0.7).float()
    st, f32, i8 = export_pair(args.ckpt, "inpaint", 4, degrade.T_MASK, x, inpaint_metadata, InpaintCalib(),
                              args.default_steps)
    td = os.path.join(ROOT, "tests", "data")
    mask_vectors(os.path.join(td, "mask_vectors.bin"))
    pyramid_vectors(os.path.join(td, "pyramid_vectors.bin"))
    inpaint_parity_fixture(f32, os.path.join(td, "parity_inpaint_f32.bin"))
    inpaint_parity_fixture(i8, os.path.join(td, "parity_inpaint_int8.bin"))
    inpaint_sampler_fixture(f32, os.path.join(td, "sampler_inpaint_f32.bin"))
    print("trained steps", st["step"], "minutes", st["trained_s"] / 60)


def requantize(task):
    """models/<task>-int8.onnx again from the committed models/<task>-f32.onnx (same calibration, same default
    steps), and the int8 parity fixture with it."""
    f32 = os.path.join(ROOT, "models", f"{task}-f32.onnx")
    i8 = os.path.join(ROOT, "models", f"{task}-int8.onnx")
    steps = int({p.key: p.value for p in onnx.load(f32).metadata_props}["default_steps"])
    td = os.path.join(ROOT, "tests", "data")
    if task == "inpaint":
        quantize(task, f32, i8, InpaintCalib(), inpaint_metadata, steps)
        inpaint_parity_fixture(i8, os.path.join(td, "parity_inpaint_int8.bin"))
    else:
        quantize(task, f32, i8, Calib(), metadata, steps)
        parity_fixture(i8, os.path.join(td, "parity_int8.bin"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="deblur", choices=["deblur", "inpaint", "camera", "estimator"])
    ap.add_argument("--ckpt", default="models/work/deblur/last.pt")
    ap.add_argument("--default-steps", type=int, default=1)
    ap.add_argument("--requantize", action="store_true", help="only the int8 file, from the committed f32 one")
    ap.add_argument("--vectors", action="store_true", help="only the degradations' shared test vectors")
    ap.add_argument("--estimator-version", default="1", help="estimator: its model_version")
    ap.add_argument("--auto-shrink", type=int, default=0,
                    help="estimator: steps taken off the estimated extent (calibrate_auto.py picks it)")
    ap.add_argument("--auto-min-confidence", type=float, default=0.0,
                    help="estimator: a blurred kind less probable than this passes the frame through")
    ap.add_argument("--auto-shrink-trail", type=int,
                    help="estimator: steps taken off a trail's extent, where it differs from --auto-shrink")
    ap.add_argument("--auto-min-confidence-isotropic", type=float,
                    help="estimator: gate a disc or a Gaussian on the two kinds' probabilities together, at this")
    ap.add_argument("--auto-trail", action="store_true",
                    help="estimator: refine a motion estimate's extent by its trail's dip (estimator.refine_trail)")
    ap.add_argument("--rule-only", action="store_true",
                    help="estimator: only write the rule (--auto-shrink, --auto-min-confidence, --auto-trail, "
                         "--auto-shrink-trail, --auto-min-confidence-isotropic) into the committed file")
    args = ap.parse_args()
    if args.vectors:
        td = os.path.join(ROOT, "tests", "data")
        blur_vectors(os.path.join(td, "blur_vectors.bin"))
        camera_blur.vectors(os.path.join(td, "camera_blur_vectors.bin"))
        import estimator
        estimator.decode_vectors(os.path.join(td, "estimate_decode_vectors.txt"))
        mask_vectors(os.path.join(td, "mask_vectors.bin"))
        return pyramid_vectors(os.path.join(td, "pyramid_vectors.bin"))
    if args.requantize:
        return requantize(args.task)
    if args.task == "inpaint":
        return export_inpaint(args)
    if args.task == "camera":
        return export_camera(args)
    if args.task == "estimator" and args.rule_only:
        # the trust rule alone, into the committed file's metadata (its weights untouched)
        return set_metadata(os.path.join(ROOT, "models", "blur-estimator-f32.onnx"), estimator_metadata(
            "blur-estimator-f32", "f32", args.estimator_version, args.auto_shrink, args.auto_min_confidence,
            args.auto_trail, args.auto_shrink_trail, args.auto_min_confidence_isotropic))
    if args.task == "estimator":
        return export_estimator(args)
    st, f32, i8 = export_pair(args.ckpt, "deblur", 3, degrade.T_BLUR, torch.rand(1, 3, 64, 96), metadata, Calib(),
                              args.default_steps)
    os.makedirs(os.path.join(ROOT, "tests", "data"), exist_ok=True)
    blur_vectors(os.path.join(ROOT, "tests", "data", "blur_vectors.bin"))
    parity_fixture(f32, os.path.join(ROOT, "tests", "data", "parity_f32.bin"))
    parity_fixture(i8, os.path.join(ROOT, "tests", "data", "parity_int8.bin"))
    sampler_fixture(f32, os.path.join(ROOT, "tests", "data", "sampler_f32.bin"))
    print("trained steps", st["step"], "minutes", st["trained_s"] / 60)


if __name__ == "__main__":
    main()
