"""The forward operators D(x, t), exactly as the Rust binary computes them (src/degrade/blur.rs).

Blur: ONE separable Gaussian of total sigma(t) (docs/design.md §1: successive Gaussian blurs compose), sigma(t) =
SIGMA_STEP * t for t = 0..T, kernel radius ceil(3 sigma), weights exp(-k^2 / (2 sigma^2)) normalised to sum 1,
reflect padding (mirror without repeating the edge pixel, numpy's 'reflect'), per channel, in float32 on [0, 1].
Horizontal pass first, then vertical. t = 0 is the identity.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from padding import reflect_index

T_BLUR = 20
SIGMA_STEP = 0.25  # sigma(t) = 0.25 t: severity 0.25 .. 5.0 pixels


def sigma_of(t: int) -> float:
    return SIGMA_STEP * t


def sigma_schedule():
    return [sigma_of(t) for t in range(T_BLUR + 1)]


def kernel_radius(sigma: float) -> int:
    return int(math.ceil(3.0 * sigma)) if sigma > 0 else 0


def gaussian_kernel(sigma: float) -> np.ndarray:
    r = kernel_radius(sigma)
    k = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-(k * k) / (2.0 * sigma * sigma))
    return (w / w.sum()).astype(np.float32)


def blur_numpy(img: np.ndarray, sigma: float) -> np.ndarray:
    """Reference implementation on a [C, H, W] float32 array, used for the shared test vectors."""
    if sigma <= 0:
        return img.astype(np.float32).copy()
    k = gaussian_kernel(sigma)
    r = len(k) // 2
    c, h, w = img.shape
    xi = np.array([[reflect_index(x + j - r, w) for j in range(2 * r + 1)] for x in range(w)])
    yi = np.array([[reflect_index(y + j - r, h) for j in range(2 * r + 1)] for y in range(h)])
    img = img.astype(np.float32)
    tmp = np.einsum("chxk,k->chx", img[:, :, xi], k).astype(np.float32)
    out = np.einsum("cykx,k->cyx", tmp[:, yi, :], k).astype(np.float32)
    return out


def blur_torch(x: torch.Tensor, sigmas) -> torch.Tensor:
    """Blur a batch [N, C, H, W] with one sigma per sample (training). Needs H, W > radius."""
    out = torch.empty_like(x)
    for i, s in enumerate(sigmas):
        s = float(s)
        if s <= 0:
            out[i] = x[i]
            continue
        k = torch.from_numpy(gaussian_kernel(s)).to(x.device, x.dtype)
        r = k.numel() // 2
        c = x.shape[1]
        xi = F.pad(x[i : i + 1], (r, r, 0, 0), mode="reflect")
        xi = F.conv2d(xi, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        xi = F.pad(xi, (0, 0, r, r), mode="reflect")
        out[i] = F.conv2d(xi, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)[0]
    return out


def blur_t(x: torch.Tensor, ts) -> torch.Tensor:
    return blur_torch(x, [sigma_of(int(t)) for t in ts])


# ---------------------------------------------------------------------------------------------------------------
# Mask degradation (docs/design.md §3), exactly as src/degrade/mask.rs computes it.
#
# depth2(p): squared Euclidean distance from a missing pixel p to the nearest known pixel of the frame (exact
# integers; known pixels have depth 0; pixels outside the frame do not count as known). dmax2 = the largest depth2
# of the mask. At step t (0..T) pixel p is still missing iff
#     depth2(p) * T^2 > dmax2 * (T - t)^2        i.e. depth(p) > dmax * (1 - t / T)
# so at t = T the whole mask is missing, at t = 0 nothing, and between them the hole shrinks from its edge inward in
# equal fractions of its deepest point: S sampler steps fill any hole in S rings, whatever its size. Integer
# arithmetic on both sides, so the Rust and Python masks agree bit for bit. Missing pixels hold the model's fill
# (metadata `fill`) and the restorer sees the still-missing mask as a fourth channel. Three fills exist:
#   "sor":     the push-pull fill with each pyramid level's hole relaxed by successive over-relaxation (red-black
#              harmonic, then five-colour biharmonic sweeps; pyramid_fill(..., relax="sor") below): the same target
#              surface as "smooth", much closer to converged. fill_study.py measured it +0.3 dB
#              (brush) / +1.0 (text) over "smooth" alone (model version 4).
#   "smooth":  the push-pull fill relaxed at every pyramid level by damped Jacobi sweeps (model version 3;
#              pyramid_fill(..., relax="jacobi")). Every fill is float32, each step a fixed formula, so Rust and
#              numpy agree bit for bit. The network learns a correction to a good guess.
#   "pyramid": the push-pull fill alone (model version 2).
#   a number:  that grey level in every channel (the first models: 0.5).
# ---------------------------------------------------------------------------------------------------------------
T_MASK = 20
FILL = "sor"  # the recipe's fill: what train.py uses by default and export.py writes into the metadata
MASK_SCHEDULE = "relative-edt-depth"  # the name the metadata carries (src/model_info.rs)


def depth2(mask: np.ndarray) -> np.ndarray:
    """Squared distance to the nearest known pixel, int64 [H, W]; mask is bool [H, W], True = missing."""
    from scipy.ndimage import distance_transform_edt

    mask = np.asarray(mask, bool)
    if not mask.any():
        return np.zeros(mask.shape, np.int64)
    if mask.all():
        raise ValueError("the mask covers the whole frame")
    d = distance_transform_edt(mask)
    return np.rint(d * d).astype(np.int64)


def depth2_fast(mask: np.ndarray) -> np.ndarray:
    """depth2 through OpenCV's exact Euclidean transform (DIST_MASK_PRECISE), ~5x faster than scipy's on training
    crops; training only. train.py checks at start that it equals depth2 on its own masks."""
    import cv2

    mask = np.asarray(mask, bool)
    if not mask.any():
        return np.zeros(mask.shape, np.int64)
    d = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float64)
    return np.rint(d * d).astype(np.int64)


def missing_at(d2: np.ndarray, t: int, T: int = T_MASK) -> np.ndarray:
    """The still-missing part of the mask at step t, from its depth2 map."""
    dmax2 = int(d2.max())
    return d2 * (T * T) > dmax2 * (T - t) * (T - t)


def mask_degrade(img: np.ndarray, missing: np.ndarray, fill=FILL) -> np.ndarray:
    """D for one image [C, H, W] given the still-missing pixels [H, W]: RGB with the fill in the hole, plus the mask.
    fill: "sor", "smooth", "pyramid" or a grey level (a number or its text)."""
    if fill in RELAX_OF_FILL:
        rgb = pyramid_fill(img[:3], missing, relax=RELAX_OF_FILL[fill])
    else:
        rgb = np.where(missing[None], np.float32(float(fill)), img[:3]).astype(np.float32)
    return np.concatenate([rgb, missing[None].astype(np.float32)], 0)


# The relaxation each pyramid fill applies to a level's empty cells, by the metadata's fill name.
RELAX_OF_FILL = {"pyramid": None, "smooth": "jacobi", "sor": "sor"}

# "smooth" (version 3): Jacobi sweeps. Those of the 13-point biharmonic stencil diverge undamped (the iteration's
# eigenvalues reach 1 - 64/20); damped by 0.5 they lie in [-0.6, 1]. The harmonic sweeps first take the push-pull
# blockiness out cheaply.
HARMONIC_SWEEPS = 2
BIHARMONIC_SWEEPS = 8
BIHARMONIC_DAMPING = np.float32(0.5)

# "sor" (version 4): successive over-relaxation. Updating a cell from neighbours already updated in the same sweep
# (Gauss-Seidel) converges where undamped Jacobi diverges, and over-relaxing it (omega in (1, 2)) cuts the sweeps a
# smooth hole needs from O(n^2) to O(n). The cells are coloured so that no two cells of one colour are neighbours in
# the stencil, then each colour is updated at once: the result does not depend on the order within a colour, which
# is what makes it portable bit for bit. Harmonic (4 neighbours): colour (x + y) mod 2. Biharmonic (12 neighbours,
# up to 2 away): colour (y + 2x) mod 5 (the stencil's offsets are all nonzero mod 5; at the level's edges the
# clamped neighbours stay within the stencil's offsets or fall on the cell itself, read before it is written).
# fill_study.py picked the omegas and sweeps; the finest level, where the detail next to known pixels sits and
# nothing finer corrects it, gets twice the biharmonic sweeps.
SOR_HARMONIC_SWEEPS = 2
SOR_HARMONIC_OMEGA = np.float32(1.5)
SOR_BIHARMONIC_SWEEPS = 16
SOR_BIHARMONIC_SWEEPS_FINEST = 32
SOR_BIHARMONIC_OMEGA = np.float32(1.8)


def pyramid_fill(img: np.ndarray, missing: np.ndarray, relax=None) -> np.ndarray:
    """Push-pull fill of the missing pixels from the known ones (src/degrade/pyramid_fill.rs is the port), relaxed
    towards a smooth surface with relax="jacobi" (the "smooth" fill) or relax="sor" (the "sor" fill).

    Exact definition, float32 throughout (the Rust side performs the same operations in the same order):
      level 0: c = img * k, w = k (k = 1 where known, 0 where missing), per channel;
      push:    pad c and w with zeros to even sizes; each 2x2 cell sums to one value of the next level as
               ((top-left + top-right) + bottom-left) + bottom-right; repeat until the level is 1x1;
      top:     estimate = c / w where w > 0, else 0.5;
      pull:    upsample the coarser estimate 2x bilinearly (_upsample2: rows, then columns), crop to this level's
               size, and take estimate = c / w where w > 0, else the upsampled value;
      relax:   then relax the level's empty cells (w == 0): _relax (jacobi) or _relax_sor (sor; the finest level
               with SOR_BIHARMONIC_SWEEPS_FINEST sweeps);
      result:  img where known, the level-0 estimate where missing (relaxed: clamped to [0, 1], since the
               biharmonic surface may overshoot).
    img [C, H, W] float32, missing bool [H, W] with at least one known pixel."""
    known = (~np.asarray(missing, bool)).astype(np.float32)
    levels = [(img.astype(np.float32) * known[None], known)]
    while max(levels[-1][1].shape) > 1:
        c, w = levels[-1]
        levels.append((_push(c), _push(w)))
    c, w = levels[-1]
    est = np.where(w[None] > 0, c / np.maximum(w, np.float32(1e-30))[None], np.float32(0.5)).astype(np.float32)
    assert relax in (None, "jacobi", "sor"), relax
    for k, (c, w) in enumerate(reversed(levels[:-1])):
        up = _upsample2(est)[:, : w.shape[0], : w.shape[1]]
        est = np.where(w[None] > 0, c / np.maximum(w, np.float32(1e-30))[None], up).astype(np.float32)
        if relax == "jacobi":
            est = _relax(est, w == 0)
        elif relax == "sor":
            finest = k == len(levels) - 2
            est = _relax_sor(est, w == 0, SOR_BIHARMONIC_SWEEPS_FINEST if finest else SOR_BIHARMONIC_SWEEPS)
    if relax is not None:
        est = np.clip(est, np.float32(0), np.float32(1))
    return np.where(missing[None], est, img).astype(np.float32)


def _relax(est: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Jacobi sweeps over the empty cells of one level (every empty cell updated from the previous sweep's values,
    the other cells fixed), neighbours clamped at the level's edges; N/S/W/E are the cells one step away, NW... the
    diagonal ones, NN... two steps away:
      HARMONIC_SWEEPS times:   e = 0.25 * (((N + S) + W) + E)
      BIHARMONIC_SWEEPS times: u = ((8 * ((N + S) + (W + E)) - 2 * ((NW + NE) + (SW + SE))) - ((NN + SS) + (WW + EE))) / 20
                               e = e + BIHARMONIC_DAMPING * (u - e)
    est [C, H, W] float32, empty bool [H, W]."""
    h, w = empty.shape
    if not empty.any():
        return est

    def at(p, dy, dx):
        return p[:, 2 + dy: 2 + dy + h, 2 + dx: 2 + dx + w]

    for _ in range(HARMONIC_SWEEPS):
        p = np.pad(est, ((0, 0), (2, 2), (2, 2)), mode="edge")
        e = np.float32(0.25) * (((at(p, -1, 0) + at(p, 1, 0)) + at(p, 0, -1)) + at(p, 0, 1))
        est = np.where(empty[None], e, est).astype(np.float32)
    for _ in range(BIHARMONIC_SWEEPS):
        p = np.pad(est, ((0, 0), (2, 2), (2, 2)), mode="edge")
        n4 = (at(p, -1, 0) + at(p, 1, 0)) + (at(p, 0, -1) + at(p, 0, 1))
        dg = (at(p, -1, -1) + at(p, -1, 1)) + (at(p, 1, -1) + at(p, 1, 1))
        fr = (at(p, -2, 0) + at(p, 2, 0)) + (at(p, 0, -2) + at(p, 0, 2))
        u = ((np.float32(8) * n4 - np.float32(2) * dg) - fr) / np.float32(20)
        est = np.where(empty[None], est + BIHARMONIC_DAMPING * (u - est), est).astype(np.float32)
    return est


# Neighbour offsets (dy, dx) in the order the sums below read them.
_HARMONIC_OFFSETS = [(-1, 0), (1, 0), (0, -1), (0, 1)]
_BIHARMONIC_OFFSETS = [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1),
                       (-2, 0), (2, 0), (0, -2), (0, 2)]


def _relax_sor(est: np.ndarray, empty: np.ndarray, biharmonic_sweeps: int) -> np.ndarray:
    """Over-relaxation sweeps over the empty cells of one level, colour by colour (see SOR_*), neighbours clamped
    at the level's edges, same neighbour names as _relax; every cell of the colour being updated reads the current
    values (those of earlier colours already updated in this sweep):
      SOR_HARMONIC_SWEEPS times, colours (x + y) % 2 = 0, 1:
          e = e + SOR_HARMONIC_OMEGA * (0.25 * (((N + S) + W) + E) - e)
      biharmonic_sweeps times, colours (y + 2x) % 5 = 0..4:
          u = ((8 * ((N + S) + (W + E)) - 2 * ((NW + NE) + (SW + SE))) - ((NN + SS) + (WW + EE))) / 20
          e = e + SOR_BIHARMONIC_OMEGA * (u - e)
    Only the empty cells are visited (neighbour indices gathered once), so the cost follows the hole's area.
    est [C, H, W] float32, empty bool [H, W]."""
    h, w = empty.shape
    ys, xs = np.nonzero(empty)
    if ys.size == 0:
        return est
    flat = est.reshape(est.shape[0], h * w).copy()

    def colour_sets(colour, colours, offsets):
        sets = []
        for c in range(colours):
            s = colour == c
            if s.any():
                nb = np.stack([np.clip(ys[s] + dy, 0, h - 1) * w + np.clip(xs[s] + dx, 0, w - 1)
                               for dy, dx in offsets])
                sets.append((ys[s] * w + xs[s], nb))
        return sets

    harmonic = colour_sets((xs + ys) % 2, 2, _HARMONIC_OFFSETS)
    biharmonic = colour_sets((ys + 2 * xs) % 5, 5, _BIHARMONIC_OFFSETS)
    for _ in range(SOR_HARMONIC_SWEEPS):
        for idx, nb in harmonic:
            v, e = flat[:, nb], flat[:, idx]
            flat[:, idx] = e + SOR_HARMONIC_OMEGA * (np.float32(0.25) * (((v[:, 0] + v[:, 1]) + v[:, 2]) + v[:, 3]) - e)
    for _ in range(biharmonic_sweeps):
        for idx, nb in biharmonic:
            v, e = flat[:, nb], flat[:, idx]
            n4 = (v[:, 0] + v[:, 1]) + (v[:, 2] + v[:, 3])
            dg = (v[:, 4] + v[:, 5]) + (v[:, 6] + v[:, 7])
            fr = (v[:, 8] + v[:, 9]) + (v[:, 10] + v[:, 11])
            u = ((np.float32(8) * n4 - np.float32(2) * dg) - fr) / np.float32(20)
            flat[:, idx] = e + SOR_BIHARMONIC_OMEGA * (u - e)
    return flat.reshape(est.shape)


def _push(a: np.ndarray) -> np.ndarray:
    """[..., H, W] -> [..., ceil(H/2), ceil(W/2)]: zero-padded 2x2 cell sums in a fixed order."""
    h, w = a.shape[-2:]
    p = np.zeros(a.shape[:-2] + (h + h % 2, w + w % 2), np.float32)
    p[..., :h, :w] = a
    return ((p[..., 0::2, 0::2] + p[..., 0::2, 1::2]) + p[..., 1::2, 0::2]) + p[..., 1::2, 1::2]


def _upsample2(x: np.ndarray) -> np.ndarray:
    """2x bilinear upsampling of [C, H, W] with half-pixel centres and edge clamping: output 2i takes
    0.25 x[i - 1] + 0.75 x[i], output 2i + 1 takes 0.75 x[i] + 0.25 x[i + 1] (indices clamped), rows then columns."""
    def axis(v, ax):
        lo = np.concatenate([np.take(v, [0], ax), np.take(v, np.arange(v.shape[ax] - 1), ax)], ax)
        hi = np.concatenate([np.take(v, np.arange(1, v.shape[ax]), ax), np.take(v, [v.shape[ax] - 1], ax)], ax)
        even = np.float32(0.25) * lo + np.float32(0.75) * v
        odd = np.float32(0.75) * v + np.float32(0.25) * hi
        return np.stack([even, odd], ax + 1).reshape(*v.shape[:ax], 2 * v.shape[ax], *v.shape[ax + 1:])
    return axis(axis(x.astype(np.float32), 1), 2)
