"""degrade.pyramid_fill(relax="sor") for a batch, in PyTorch: training only, so that a GPU run fills its batches on
the GPU instead of in the data-loader processes (the numpy fill is most of a batch's CPU time: 2.2 s for 32 crops
of 256 pixels on one core, against a few milliseconds on a GPU).

The same operations as the numpy reference, but over whole levels: each colour's update is computed for every cell
and kept where the cell is empty and of that colour, which is what the reference's gathered neighbours give (all
of a colour's reads come before its writes; edges clamp). The sums run in another order (a convolution), so it
agrees with the reference to float rounding, not bit for bit; the binary's fill (src/degrade/pyramid_fill.rs)
stays tested against the numpy one. `python models/recipe/fill_torch.py` checks the two agree on training masks.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import degrade  # noqa: E402


def _push(a):
    """[N, C, H, W] -> [N, C, ceil(H/2), ceil(W/2)]: zero-padded 2x2 cell sums."""
    h, w = a.shape[-2:]
    a = F.pad(a, (0, w % 2, 0, h % 2))
    return ((a[..., 0::2, 0::2] + a[..., 0::2, 1::2]) + a[..., 1::2, 0::2]) + a[..., 1::2, 1::2]


def _upsample2(x):
    """degrade._upsample2 for [N, C, H, W]: half-pixel bilinear 2x, edges clamped, rows then columns."""
    def axis(v, dim):
        n = v.shape[dim]
        lo = torch.cat([v.narrow(dim, 0, 1), v.narrow(dim, 0, n - 1)], dim)
        hi = torch.cat([v.narrow(dim, 1, n - 1), v.narrow(dim, n - 1, 1)], dim)
        even, odd = 0.25 * lo + 0.75 * v, 0.75 * v + 0.25 * hi
        shape = list(v.shape)
        shape[dim] *= 2
        return torch.stack([even, odd], dim + 1).reshape(shape)
    return axis(axis(x, 2), 3)


def _stencil(offsets_weights, device):
    k = torch.zeros(1, 1, 5, 5, device=device)
    for (dy, dx), wt in offsets_weights:
        k[0, 0, 2 + dy, 2 + dx] = wt
    return k


def _relax_sor(est, empty, biharmonic_sweeps, kernels):
    """degrade._relax_sor over a batch: est [N, C, H, W], empty bool [N, 1, H, W]."""
    if not bool(empty.any()):
        return est
    n, c, h, w = est.shape
    ys = torch.arange(h, device=est.device).view(h, 1)
    xs = torch.arange(w, device=est.device).view(1, w)
    harmonic_k, biharmonic_k = kernels

    def apply(e, k):
        p = F.pad(e.reshape(n * c, 1, h, w), (2, 2, 2, 2), mode="replicate")
        return F.conv2d(p, k).view(n, c, h, w)

    # each colour's update as one lerp whose weight is omega on the cells it updates and 0 elsewhere (e + 0 * (u - e)
    # is e exactly): three kernels a colour, since on a GPU their launches, not the arithmetic, set the pace
    omega_h, omega_b = float(degrade.SOR_HARMONIC_OMEGA), float(degrade.SOR_BIHARMONIC_OMEGA)
    harmonic = [omega_h * (empty & ((xs + ys) % 2 == col)).float() for col in range(2)]
    biharmonic = [omega_b * (empty & ((ys + 2 * xs) % 5 == col)).float() for col in range(5)]
    for _ in range(degrade.SOR_HARMONIC_SWEEPS):
        for weight in harmonic:
            est = torch.lerp(est, apply(est, harmonic_k), weight)
    for _ in range(biharmonic_sweeps):
        for weight in biharmonic:
            est = torch.lerp(est, apply(est, biharmonic_k), weight)
    return est


def sor_fill(img, missing):
    """img float32 [N, C, H, W], missing bool [N, H, W] (each sample with a known pixel) -> the sor fill's
    [N, C, H, W]: img where known, the relaxed push-pull estimate in the hole, clamped to [0, 1]."""
    dev = img.device
    kernels = (
        _stencil([((dy, dx), 0.25) for dy, dx in degrade._HARMONIC_OFFSETS], dev),
        _stencil([(o, 8 / 20) for o in degrade._BIHARMONIC_OFFSETS[:4]]
                 + [(o, -2 / 20) for o in degrade._BIHARMONIC_OFFSETS[4:8]]
                 + [(o, -1 / 20) for o in degrade._BIHARMONIC_OFFSETS[8:]], dev),
    )
    miss = missing[:, None]
    known = (~miss).float()
    levels = [(img * known, known)]
    while max(levels[-1][1].shape[-2:]) > 1:
        c, w = levels[-1]
        levels.append((_push(c), _push(w)))
    c, w = levels[-1]
    est = torch.where(w > 0, c / w.clamp(min=1e-30), torch.full_like(c, 0.5))
    for k, (c, w) in enumerate(reversed(levels[:-1])):
        up = _upsample2(est)[..., : w.shape[-2], : w.shape[-1]]
        est = torch.where(w > 0, c / w.clamp(min=1e-30), up)
        finest = k == len(levels) - 2
        est = _relax_sor(est, w == 0, degrade.SOR_BIHARMONIC_SWEEPS_FINEST if finest else
                         degrade.SOR_BIHARMONIC_SWEEPS, kernels)
    return torch.where(miss, est.clamp(0, 1), img)


def _check(n=8, size=256, seed=0):
    """Largest difference from degrade.pyramid_fill(relax="sor") on n frame-scale training masks."""
    import random

    import numpy as np

    import masks

    rng = random.Random(seed)
    gen = np.random.default_rng(seed)
    imgs, miss = [], []
    for _ in range(n):
        m = masks.frame_scale_mask(size, rng)
        if m.all() or not m.any():
            continue
        # a smooth scene with some texture, so the fill has something to continue
        y, x = np.mgrid[0:size, 0:size] / size
        img = np.stack([0.5 + 0.3 * np.sin(6 * x + k) * np.cos(4 * y) for k in range(3)]).astype(np.float32)
        img += gen.normal(0, 0.02, img.shape).astype(np.float32)
        imgs.append(img)
        miss.append(degrade.missing_at(degrade.depth2(m), rng.randint(1, degrade.T_MASK)))
    ref = np.stack([degrade.pyramid_fill(i, m, relax="sor") for i, m in zip(imgs, miss)])
    got = sor_fill(torch.from_numpy(np.stack(imgs)), torch.from_numpy(np.stack(miss))).numpy()
    return float(np.abs(got - ref).max()), len(imgs)


if __name__ == "__main__":
    diff, count = _check()
    print(f"sor fill, torch against numpy on {count} training masks: largest difference {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit("the torch fill is not the reference's")
