"""The blur estimator: what `--severity auto` knows of a frame's blur, from the frame alone.

    python models/recipe/estimator.py --out models/work/estimator --steps 12000 [--minutes 40]

A small network reads a frame at full resolution (blur lives in its finest detail) and answers, for every
16x16 block it sees, the blur's kind (none, gaussian, defocus, motion; a shake trail is "motion"), its extent as
the step t / T of blur_mix's schedule, and the trail's second-moment direction (blur_mix.descriptor_of's last
two values), plus a score of how much that block can tell (a flat sky tells nothing). The frame's answer is the
score-weighted mean over blocks (a softmax over the blocks' scores), so one figure comes out whatever the frame's
size, and textured regions decide it. Trained on blur_mix's cases with the camera artefacts, on the training
photos only (data.split(camera=True)); "none" is one case in five.

Cost: ~2.3 k multiply-adds per pixel it reads; the binary reads a fixed number of crops of a frame, not all of it.
Resumes from <out>/last.pt like train.py.
"""
import argparse
import copy
import functools
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import blur_mix  # noqa: E402
import camera_blur  # noqa: E402
import data  # noqa: E402
import train  # noqa: E402  (its data-loader workers)
from net import macs_per_pixel, param_count  # noqa: E402

KINDS = ("none", "gaussian", "defocus", "motion")
# output channels per block: 4 kind logits, t / T, two direction values, the block's score
OUT = len(KINDS) + 1 + 2 + 1
MARGIN = 16  # as train.CAMERA_MARGIN: the blur of a scene that goes on past the crop


class BlurEstimator(nn.Module):
    def __init__(self, c=(16, 32, 48, 64)):
        super().__init__()
        shapes = [(3, c[0], 1), (c[0], c[1], 2), (c[1], c[2], 2), (c[2], c[3], 2), (c[3], c[3], 2), (c[3], c[3], 1)]
        self.convs = nn.ModuleList([nn.Conv2d(i, o, 3, stride=s, padding=1, bias=False) for i, o, s in shapes])
        # batch norm: blur shows in small differences between neighbours, and without it that signal faded to
        # nothing by the fourth layer (measured: 0.2% of its units active, the loss stuck at the class prior);
        # export folds each into its convolution
        self.norms = nn.ModuleList([nn.BatchNorm2d(o) for _, o, _ in shapes])
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        self.head = nn.Conv2d(c[3], OUT, 1)

    @staticmethod
    def channels_of(state):
        """The widths a state dict was trained with (--channels), read from its convolutions' weights."""
        return tuple(state[f"convs.{i}.weight"].shape[0] for i in range(4))

    def blocks(self, image):
        h = image - 0.5
        for conv, norm in zip(self.convs, self.norms):
            h = F.relu(norm(conv(h)))
        return self.head(h)

    def forward(self, image):
        """image [N, 3, H, W] (H, W multiples of 16) -> [N, OUT - 1]: kind logits, t / T, two direction values."""
        b = self.blocks(image)
        n = b.shape[0]
        b = b.reshape(n, OUT, -1)
        w = torch.softmax(b[:, -1:], dim=2)
        return (b[:, :-1] * w).sum(2)


CROP = 256  # the side of the crops the binary reads (src/blur_estimate.rs)
GRID = 3  # at most GRID x GRID crops


def crop_origins(h, w):
    """Where the crops of a frame start, as the binary places them: up to GRID per axis, CROP pixels each, evenly
    spread from edge to edge (one, centred, where the frame holds fewer than two); a frame smaller than a crop is
    read whole, cropped to a multiple of 16. Returns (ys, xs, side_y, side_x)."""
    def axis(n):
        if n < CROP:
            return [0], n - n % 16
        k = min(GRID, n // CROP)
        if k == 1:
            return [(n - CROP) // 2], CROP
        return [(n - CROP) * i // (k - 1) for i in range(k)], CROP

    (ys, sy), (xs, sx) = axis(h), axis(w)
    return ys, xs, sy, sx


def pool(blocks):
    """Per-block outputs [OUT, B] (numpy, every block of every crop) -> the frame's estimate [OUT - 1]: the
    softmax of the blocks' scores weighs their answers."""
    score = blocks[-1].astype(np.float64)
    w = np.exp(score - score.max())
    w /= w.sum()
    return (blocks[:-1].astype(np.float64) * w).sum(1)


def pooled(blocks_of, x):
    """The pooled answer [OUT - 1] for frame x [3, H, W] as the binary computes it: blocks_of maps a crop
    [3, h, w] to its block outputs [OUT, h/16, w/16]; every crop's blocks are pooled together."""
    ys, xs, sy, sx = crop_origins(x.shape[1], x.shape[2])
    blocks = [blocks_of(x[:, y : y + sy, x0 : x0 + sx]).reshape(OUT, -1) for y in ys for x0 in xs]
    return pool(np.concatenate(blocks, 1))


def estimate(blocks_of, x):
    """The estimate of frame x [3, H, W] as the binary makes it (pooled, then decoded)."""
    return decode(pooled(blocks_of, x))


class Blocks(nn.Module):
    """What the ONNX file computes: the per-block outputs; pooling and decoding are the binary's."""

    def __init__(self, est):
        super().__init__()
        self.est = est

    def forward(self, image):
        return self.est.blocks(image)


def decode(out):
    """An estimator output [OUT - 1] (numpy) -> (kind, t as an integer step 0..T, descriptor [5]), as the network
    answers it, without a rule."""
    return decode_rule(out, 0, 0.0)


def decode_rule(out, shrink, min_confidence, shrink_trail=None, min_confidence_isotropic=None, sure_trail=None):
    """decode with the binary's rule (metadata `auto_shrink`, `auto_min_confidence`, `auto_shrink_trail`,
    `auto_min_confidence_isotropic`; picked by calibrate_auto.py). The kind is the most probable blurred one. It
    passes the frame through ("none") unless its evidence outweighs "none" and reaches the kind's confidence:
    a trail's evidence is its own softmax probability (min_confidence); a disc's or a Gaussian's, with
    min_confidence_isotropic given, the two isotropic kinds' probabilities together (the network often cannot
    tell a small disc from a Gaussian and splits its answer between them, which is no doubt about there being a
    blur), else its own (min_confidence). The extent step is told shrink (a trail: shrink_trail, when given)
    steps less (under-sharpening costs a little gain, over-sharpening makes halos), "none" where that leaves
    nothing; a trail at least sure_trail probable is told at its (measured) length (measured, not the binary's:
    models/camera.md)."""
    logits = np.asarray(out[: len(KINDS)], np.float64)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    k = 1 + int(np.argmax(logits[1:]))
    kind = KINDS[k]
    trail = kind == "motion"
    if trail or min_confidence_isotropic is None:
        evidence, needed = p[k], min_confidence
    else:
        evidence, needed = p[KINDS.index("gaussian")] + p[KINDS.index("defocus")], min_confidence_isotropic
    if p[0] >= evidence or evidence < needed:
        return "none", 0, np.zeros(blur_mix.DESCRIPTOR, np.float32)
    s = shrink_trail if trail and shrink_trail is not None else shrink
    if trail and sure_trail is not None and p[k] >= sure_trail:
        s = 0
    t = int(np.clip(round(float(out[len(KINDS)]) * blur_mix.T), 1, blur_mix.T)) - s
    if t < 1:
        return "none", 0, np.zeros(blur_mix.DESCRIPTOR, np.float32)
    d = np.zeros(blur_mix.DESCRIPTOR, np.float32)
    d[k - 1] = 1.0
    if trail:
        d[3:5] = out[len(KINDS) + 1 : len(KINDS) + 3]
    return kind, t, d


TRAIL_MAX_LAG = 32  # pixels: past the longest trail of the families (25)
TRAIL_WINDOW = (0.6, 1.3)  # the lags searched, as fractions of the network's trail length
MOTION_STEP = 1.25  # pixels of trail per extent step (camera_blur.extent for motion)


def bilinear(g, ys, xs):
    """g [H, W] (float64) at the points (ys, xs), all inside it with a pixel to spare."""
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    fy, fx = ys - y0, xs - x0
    return ((1 - fy) * ((1 - fx) * g[y0, x0] + fx * g[y0, x0 + 1])
            + fy * ((1 - fx) * g[y0 + 1, x0] + fx * g[y0 + 1, x0 + 1]))


def trail_dips(planes, angle):
    """How sharply the directional derivative of a trail-blurred image anticorrelates with itself at each lag
    along angle (degrees, counter-clockwise from x, y down): a line of length L leaves two edges L apart in every
    edge it smears, so the derivative's autocorrelation dips at lag L (Yitzhaky and Kopeika's motion
    identification). planes: [H, W] float64 images (the channel means of the estimator's crops), read only
    TRAIL_MAX_LAG + 4 pixels in from their edges. Returns D[k - 1] for k = 1..TRAIL_MAX_LAG: the normalised
    autocorrelation at k minus the mean of its values at k - 2 and k + 2 (the scene's own slow decay cancels),
    inf where that is undefined; None when no plane is large enough."""
    a = np.deg2rad(angle)
    ux, uy = np.cos(a), -np.sin(a)
    K, m = TRAIL_MAX_LAG, TRAIL_MAX_LAG + 4
    num, den = np.zeros(K), 0.0
    for g in planes:
        h, w = g.shape
        if h <= 2 * m or w <= 2 * m:
            continue
        ys, xs = np.mgrid[m : h - m, m : w - m].astype(np.float64)
        s = [bilinear(g, ys + k * uy, xs + k * ux) for k in range(K + 2)]
        d = s[1] - s[0]
        den += float(np.sum(d * d))
        for k in range(1, K + 1):
            num[k - 1] += float(np.sum(d * (s[k + 1] - s[k])))
    if den <= 0:
        return None
    r = num / den
    dips = np.full(K, np.inf)
    for k in range(3, K - 1):
        dips[k - 1] = r[k - 1] - 0.5 * (r[k - 3] + r[k + 1])
    return dips


def refine_trail(out, x):
    """The pooled answer with a motion estimate's extent taken from the trail's own dip (trail_dips along the
    estimated direction, in the estimator's crops of frame x [3, H, W]), searched within TRAIL_WINDOW of the
    network's length: the network reads short trails long and long ones short, the dip is where the edges'
    two copies lie. Other kinds, and frames without a dip in the window, keep the network's answer."""
    out = np.array(out, np.float64)
    if int(np.argmax(out[: len(KINDS)])) != KINDS.index("motion"):
        return out
    length = float(out[len(KINDS)]) * blur_mix.T * MOTION_STEP
    angle = blur_mix.motion_angle(np.concatenate([np.zeros(3), out[len(KINDS) + 1 : len(KINDS) + 3]]))
    ys, xs, sy, sx = crop_origins(x.shape[1], x.shape[2])
    planes = [x[:, y : y + sy, x0 : x0 + sx].astype(np.float64).mean(0) for y in ys for x0 in xs]
    dips = trail_dips(planes, angle)
    if dips is None:
        return out
    lags = np.arange(1, TRAIL_MAX_LAG + 1)
    win = (lags >= TRAIL_WINDOW[0] * length) & (lags <= TRAIL_WINDOW[1] * length) & np.isfinite(dips)
    if not win.any():
        return out
    best = int(lags[win][np.argmin(dips[win])])
    out[len(KINDS)] = best / MOTION_STEP / blur_mix.T
    return out


CHECK_MARGIN = 32  # pixels of context restored around each crop when a candidate is checked


def check_regions(h, w):
    """The regions restored to check a candidate extent: each of crop_origins' crops
    with up to CHECK_MARGIN pixels of the frame around it on every side (a multiple of 8, so that the restorer
    takes the region as it is). Returns [((y, x, height, width) of the region, (y, x, height, width) of the crop
    inside it)]."""
    ys, xs, sy, sx = crop_origins(h, w)
    m = lambda room: min(CHECK_MARGIN, room) // 8 * 8  # noqa: E731
    out = []
    for y in ys:
        for x in xs:
            top, left, bottom, right = m(y), m(x), m(h - y - sy), m(w - x - sx)
            out.append(((y - top, x - left, sy + top + bottom, sx + left + right), (top, left, sy, sx)))
    return out


def residual(out):
    """How much blur the estimator still reads in a restored frame (its pooled answer out): the extent in steps
    times the probability that there is any. The check picks the candidate that leaves the least."""
    logits = np.asarray(out[: len(KINDS)], np.float64)
    p = np.exp(logits - logits.max())
    return float(out[len(KINDS)]) * blur_mix.T * (1.0 - p[0] / p.sum())


def decode_checked(out, check, min_confidence, residual_of):
    """decode_rule with a check in place of a fixed shrink (measured by calibrate_auto.py and evaluate_camera.py
    --check; not the binary's rule, models/camera.md says why): past the confidence gate, each candidate extent
    t_est - s (s in check, t >= 1) is restored and residual_of(kind, t, descriptor) says how much blur the
    estimator still reads in it; the least wins, the smaller t on a tie."""
    kind, t_est, d = decode_rule(out, 0, min_confidence)
    cands = [t_est - s for s in check if t_est - s >= 1]
    if kind == "none" or not cands:
        return "none", 0, np.zeros(blur_mix.DESCRIPTOR, np.float32)
    return kind, min(cands, key=lambda t: (residual_of(kind, t, d), t)), d


def decode_vectors(path, n=400):
    """Shared test vectors for the binary's decode (src/restorer/blur_estimator.rs): one line per case, the pooled
    answer (7 numbers), the rule (shrink, shrink_trail, min_confidence, min_confidence_isotropic; "-" where not
    given), then what decode_rule makes of it (kind, t and, for motion, the direction). Drawn near the rule's
    edges: close logits, extents near step boundaries."""
    rng = np.random.default_rng(23)
    with open(path, "w") as f:
        f.write("# l_none l_gaussian l_defocus l_motion t/T d0 d1 shrink shrink_trail min_confidence "
                "min_confidence_isotropic -> kind t d0 d1\n")
        for _ in range(n):
            out = np.concatenate([rng.normal(0, 1.5, 4), [rng.integers(0, 21) / 20 + rng.choice([-1, 1]) * 0.024],
                                  rng.uniform(-1, 1, 2)])
            shrink, conf = int(rng.integers(0, 4)), float(rng.choice([0.0, 0.3, 0.4, 0.5, 0.7]))
            shrink_trail = int(rng.integers(0, 4)) if rng.random() < 0.5 else None
            conf_iso = float(rng.choice([0.0, 0.4, 0.6, 0.8])) if rng.random() < 0.5 else None
            kind, t, d = decode_rule(out, shrink, conf, shrink_trail, conf_iso)
            given = lambda v: "-" if v is None else str(v)  # noqa: E731
            f.write(" ".join(repr(float(v)) for v in out) + f" {shrink} {given(shrink_trail)} {conf} "
                    f"{given(conf_iso)} -> {kind} {t} {float(d[3])!r} {float(d[4])!r}\n")


def export_convs(path):
    """An exported estimator's initializers (name -> tensor) and its Conv nodes in graph order."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    return inits, [n for n in model.graph.node if n.op_type == "Conv"]


def export_channels(path):
    """The widths of an exported estimator's first four convolutions."""
    inits, convs = export_convs(path)
    return tuple(inits[c.input[1]].shape[0] for c in convs[:4])


def from_export(net, path, x):
    """Load an exported estimator (its batch norms folded into the convolutions) into net, so that training can
    go on from it: each convolution takes the folded weights, and its batch norm is set to undo its own
    normalisation on the batch x ([N, 3, H, W], training crops): scale the folded output's spread, shift its
    mean plus the folded bias. In eval mode net then computes exactly the export; in training mode, on batches
    like x, nearly so."""
    inits, convs = export_convs(path)
    if len(convs) != len(net.convs) + 1:
        raise SystemExit(f"{path}: {len(convs)} convolutions, not an export of this estimator")
    with torch.no_grad():
        h = x - 0.5
        for conv, norm, node in zip(net.convs, net.norms, convs):
            w, b = inits[node.input[1]], inits[node.input[2]]
            conv.weight.copy_(w)
            y = conv(h)
            mean, var = y.mean((0, 2, 3)), y.var((0, 2, 3), unbiased=False)
            norm.weight.copy_(torch.sqrt(var + norm.eps))
            norm.bias.copy_(mean + b)
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            h = F.relu(y + b[None, :, None, None])
        net.head.weight.copy_(inits[convs[-1].input[1]])
        net.head.bias.copy_(inits[convs[-1].input[2]])


def make_batch(crops, n, rng):
    """(x, kind index, t / T, direction [2]) for n crops, one case in five sharp."""
    big = torch.from_numpy(crops.batch(n).astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    cases = [None if rng.random() < 0.2 else blur_mix.random_case(rng) for _ in range(n)]
    psfs = [c.psf() if c else np.ones((1, 1), np.float32) for c in cases]
    x = camera_blur.blur_torch(big, psfs)[:, :, MARGIN:-MARGIN, MARGIN:-MARGIN]
    x = torch.from_numpy(data.camera_artefacts(x.permute(0, 2, 3, 1).numpy(), rng)).permute(0, 3, 1, 2)
    kind = torch.tensor([0 if c is None else KINDS.index("motion" if c.family == "shake" else c.family)
                         for c in cases])
    tt = torch.tensor([0.0 if c is None else c.t / blur_mix.T for c in cases])
    dirs = torch.from_numpy(np.stack([c.descriptor()[3:5] if c else np.zeros(2, np.float32) for c in cases]))
    return x.contiguous(), kind, tt, dirs


def loss_of(out, kind, tt, dirs, quantile=0.5):
    """Cross-entropy of the kind, the extent's pinball loss at `quantile` (twice it: 0.5 is the L1 loss; under 0.5
    an over-estimate costs more than an under-estimate, so an ambiguous frame is told the smaller blur), the
    direction's L1 on trails."""
    ce = F.cross_entropy(out[:, : len(KINDS)], kind)
    blurred = (kind > 0).float()
    err = tt - out[:, len(KINDS)]
    pinball = 2 * torch.maximum(quantile * err, (quantile - 1) * err)
    lt = (pinball * blurred).sum() / blurred.sum().clamp(min=1)
    moving = (kind == KINDS.index("motion")).float()
    ld = ((out[:, len(KINDS) + 1 :] - dirs).abs().sum(1) * moving).sum() / moving.sum().clamp(min=1)
    return ce + 4.0 * lt + ld, (ce.item(), lt.item(), ld.item())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/work/estimator")
    ap.add_argument("--steps", type=int, default=12000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--minutes", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=0, help="data-loader worker processes (0: inline)")
    ap.add_argument("--channels", default="16,32,48,64",
                    help="the widths of the first four convolutions (the last two keep the fourth's) of a run "
                         "from scratch; --init and a resumed run take the widths they go on from")
    ap.add_argument("--quantile", type=float, default=0.5,
                    help="the extent's loss: pinball at this quantile (0.5: L1; lower: fewer over-estimates)")
    ap.add_argument("--init", default="", help="a fresh run only: start from this checkpoint's EMA weights, or "
                                                "from an exported .onnx (from_export)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)
    channels = tuple(int(c) for c in args.channels.split(","))
    if len(channels) != 4:
        raise SystemExit("--channels takes four widths")
    ck = os.path.join(args.out, "last.pt")
    st = torch.load(ck, map_location=device, weights_only=False) if os.path.exists(ck) else None
    fresh_init = bool(args.init) and st is None
    from_onnx = args.init.endswith(".onnx")
    init = torch.load(args.init, map_location=device, weights_only=False)["ema"] \
        if fresh_init and not from_onnx else None
    # a resumed or initialised run has the widths of what it goes on from
    if st is not None:
        channels = BlurEstimator.channels_of(st["ema"])
    elif init is not None:
        channels = BlurEstimator.channels_of(init)
    elif fresh_init:
        channels = export_channels(args.init)
    net = BlurEstimator(channels).to(device)
    ema = copy.deepcopy(net).eval()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    step, trained_s, rng = 0, 0.0, random.Random(11)
    if fresh_init:
        rng = random.Random(12)  # not the first run's crops and cases again
    if init is not None:
        net.load_state_dict(init)
        ema.load_state_dict(init)
        print(f"initialised from {args.init}", flush=True)
    if st is not None:
        net.load_state_dict(st["net"])
        ema.load_state_dict(st["ema"])
        opt.load_state_dict(st["opt"])
        step, trained_s = st["step"], st["trained_s"]
        rng.setstate(st["rng"])
        print(f"resumed at step {step}", flush=True)
    train_photos, val_photos = data.split(camera=True)
    images = [im for p in train_photos for im in data.load_scales(p)]
    crops = data.Crops(None, args.crop + 2 * MARGIN, seed=step + (7919 if args.init else 0), images=images,
                        augment=True)
    val = data.Crops(val_photos, args.crop + 2 * MARGIN, seed=5)
    vx, vk, vt, vd = (a.to(device) for a in make_batch(val, 64, random.Random(9)))
    if fresh_init and from_onnx:  # after the crops: its batch norms are set on a batch of them
        from_export(net, args.init, make_batch(crops, 64, random.Random(13))[0].to(device))
        ema.load_state_dict(net.state_dict())
        print(f"initialised from {args.init}", flush=True)
    # counted on a copy: the net may be on the GPU, and a forward pass in training mode would move its batch norms
    macs = macs_per_pixel(_Blocks(copy.deepcopy(net).cpu().eval()), 3)
    meta = {"photos_train": len(images), "photos_val": len(val_photos), "params": param_count(net),
            "macs_per_pixel": macs, "batch": args.batch, "crop": args.crop,
            "lr": args.lr, "threads": args.threads, "quantile": args.quantile, "init": args.init, "device": device,
            "workers": args.workers, "channels": list(channels)}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta), flush=True)
    log = open(os.path.join(args.out, "log.tsv"), "a")
    start, run = time.time(), np.zeros(3)

    def save():
        torch.save({"net": net.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                    "trained_s": trained_s + time.time() - start, "rng": rng.getstate()}, ck + ".tmp")
        os.replace(ck + ".tmp", ck)

    batches = None
    if args.workers > 0:
        batches = train.worker_batches(crops, 1 + step, functools.partial(make_batch, n=args.batch), args.workers,
                                       device)
    while step < args.steps:
        done = step / args.steps
        if args.minutes:
            done = max(done, (time.time() - start) / (args.minutes * 60))
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / 300) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(done, 1))))
        batch = next(batches) if batches is not None else make_batch(crops, args.batch, rng)
        x, k, tt, d = (a.to(device, non_blocking=True) for a in batch)
        net.train()
        loss, parts = loss_of(net(x), k, tt, d, args.quantile)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            dec = min(0.999, (1 + step) / (10 + step))
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.mul_(dec).add_(p.detach(), alpha=1 - dec)
            for be, b in zip(ema.buffers(), net.buffers()):
                be.copy_(b)
        step += 1
        run += parts
        if step % 250 == 0:
            with torch.no_grad():
                vo = ema(vx)
            acc = (vo[:, : len(KINDS)].argmax(1) == vk).float().mean().item()
            blurred = vk > 0
            terr = ((vo[:, len(KINDS)] - vt).abs()[blurred]).mean().item() * blur_mix.T
            tbias = ((vo[:, len(KINDS)] - vt)[blurred]).mean().item() * blur_mix.T
            line = (f"{step}\t{run[0] / 250:.4f}\t{run[1] / 250:.4f}\t{run[2] / 250:.4f}\t{acc:.3f}\t{terr:.2f}\t"
                    f"{trained_s + time.time() - start:.0f}\t{tbias:+.2f}")
            print(line, flush=True)
            log.write(line + "\n")
            log.flush()
            run[:] = 0
        if step % 1000 == 0:
            save()
        if args.minutes and time.time() - start > args.minutes * 60:
            break
    save()
    print(f"stopped at step {step}", flush=True)


class _Blocks(nn.Module):
    """The per-block part, for net.macs_per_pixel (which calls a net with (image, t))."""

    def __init__(self, est):
        super().__init__()
        self.est = est

    def forward(self, image, t, blur=None):
        return self.est.blocks(image)


if __name__ == "__main__":
    main()
