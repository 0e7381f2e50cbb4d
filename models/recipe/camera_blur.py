"""The blurs real cameras make, as cold-diffusion families D(x, t) of growing extent, exactly as the Rust binary
computes them (src/degrade/camera_blur.rs; docs/design.md §2 has the contract).

Each family is a point-spread function (PSF) of extent e(t) = STEP[family] * t, t = 0..T_CAMERA:
- defocus: a disc of radius e(t) pixels, its edge antialiased over one pixel: w = clip(e + 0.5 - |d|, 0, 1);
- motion: a straight line of length e(t) pixels at `angle` degrees (counter-clockwise from the x axis, image y
  pointing down), centred on the pixel;
- shake: a smooth trajectory of length e(t) pixels, the same shape at every t (a sum of two random ellipse arcs
  from `seed`), centred on its mean point.
Lines and trajectories are drawn as 4 samples per pixel of length, each splatted bilinearly. Every PSF is
computed in float64, normalised to sum 1 and rounded once to float32; taps of weight 0 are dropped.

The blur is one 2-D convolution with reflect padding (mirror without repeating the edge pixel, as the Gaussian
one), in float32, summing the taps in row-major order, each product rounded then added: numpy here and the Rust
loops perform the same float operations in the same order, so they give the same bits.

Run as a script to write the shared test vectors: python models/recipe/camera_blur.py
"""
import math
import os
import struct

import numpy as np

from padding import reflect_index

T_CAMERA = 20
STEP = {"defocus": 0.4, "motion": 1.25, "shake": 1.25}  # extents up to 8 px radius, 25 px long
SAMPLES_PER_PIXEL = 4


def extent(family: str, t: int) -> float:
    return STEP[family] * t


def normalise(w: np.ndarray) -> np.ndarray:
    """w / sum(w) rounded to float32, the sum taken in row-major order (numpy's own sum is pairwise)."""
    total = 0.0
    for v in w.flat:
        total += float(v)
    return (w / total).astype(np.float32)


def defocus_psf(radius: float) -> np.ndarray:
    """[2R+1, 2R+1] with R = ceil(radius); a single 1 for radius 0."""
    r = int(math.ceil(radius))
    d = np.arange(-r, r + 1, dtype=np.float64)
    dist = np.sqrt(d[None, :] ** 2 + d[:, None] ** 2)
    return normalise(np.clip(radius + 0.5 - dist, 0.0, 1.0))


class Lcg:
    """The 64-bit linear congruential generator the Rust side uses (Knuth's MMIX constants)."""

    def __init__(self, seed: int):
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def next_u32(self) -> int:
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        return self.state >> 33

    def uniform(self) -> float:
        """In [0, 1), from 24 bits: exact in float32 and float64 alike."""
        return (self.next_u32() >> 8) / float(1 << 24)


def shake_shape(seed: int, n: int):
    """n points of the unit-free trajectory for `seed`: two ellipse arcs of random radii, phases and turns added."""
    rng = Lcg(seed)
    terms = []
    for _ in range(2):
        a, b = 0.5 + rng.uniform(), 0.5 + rng.uniform()
        phase, turns = 2.0 * math.pi * rng.uniform(), 0.15 + 0.35 * rng.uniform()
        terms.append((a, b, phase, turns))
    pts = []
    for i in range(n):
        s = i / (n - 1)
        x = y = 0.0
        for a, b, phase, turns in terms:
            ang = phase + 2.0 * math.pi * turns * s
            x += a * math.cos(ang)
            y += b * math.sin(ang)
        pts.append((x, y))
    return pts


def path_psf(points) -> np.ndarray:
    """Splats points (pixel offsets from the centre) bilinearly onto the smallest odd square grid holding them."""
    reach = max(max(abs(x), abs(y)) for x, y in points)
    r = int(math.floor(reach)) + 1
    w = np.zeros((2 * r + 1, 2 * r + 1), dtype=np.float64)
    for x, y in points:
        fx, fy = math.floor(x), math.floor(y)
        ax, ay = x - fx, y - fy
        cx, cy = int(fx) + r, int(fy) + r
        w[cy, cx] += (1.0 - ax) * (1.0 - ay)
        w[cy, cx + 1] += ax * (1.0 - ay)
        w[cy + 1, cx] += (1.0 - ax) * ay
        w[cy + 1, cx + 1] += ax * ay
    return normalise(w)


def samples(length: float) -> int:
    return max(2, int(math.ceil(length * SAMPLES_PER_PIXEL)) + 1)


def motion_psf(length: float, angle: float) -> np.ndarray:
    if length <= 0.0:
        return np.ones((1, 1), np.float32)
    n = samples(length)
    th = math.radians(angle)
    dx, dy = math.cos(th), -math.sin(th)
    pts = []
    for i in range(n):
        s = (i / (n - 1) - 0.5) * length
        pts.append((s * dx, s * dy))
    return path_psf(pts)


def shake_psf(length: float, seed: int) -> np.ndarray:
    if length <= 0.0:
        return np.ones((1, 1), np.float32)
    n = samples(length)
    shape = shake_shape(seed, n)
    # Plain running sums, as the Rust side (Python's sum() of floats is compensated since 3.12).
    arc = mx = my = 0.0
    for (x0, y0), (x1, y1) in zip(shape, shape[1:]):
        arc += math.hypot(x1 - x0, y1 - y0)
    for x, y in shape:
        mx += x
        my += y
    mx, my = mx / n, my / n
    k = length / arc
    return path_psf([((x - mx) * k, (y - my) * k) for x, y in shape])


def psf(family: str, t: int, angle: float = 0.0, seed: int = 0) -> np.ndarray:
    e = extent(family, t)
    if family == "defocus":
        return defocus_psf(e)
    if family == "motion":
        return motion_psf(e, angle)
    return shake_psf(e, seed)


def convolve(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    """A [C, H, W] float32 image convolved with PSF k, reflect padding, taps summed in row-major order."""
    c, h, w = img.shape
    ry, rx = k.shape[0] // 2, k.shape[1] // 2
    yi = np.array([reflect_index(y, h) for y in range(-ry, h + ry)])
    xi = np.array([reflect_index(x, w) for x in range(-rx, w + rx)])
    padded = img.astype(np.float32)[:, yi][:, :, xi]
    out = np.zeros((c, h, w), np.float32)
    for j in range(k.shape[0]):
        for i in range(k.shape[1]):
            if k[j, i] != 0.0:
                out += k[j, i] * padded[:, j : j + h, i : i + w]
    return out


def blur_torch(x, kernels):
    """Training: a batch [N, C, H, W] with one PSF per sample (numpy float32), reflect padding (H, W > radius)."""
    import torch
    import torch.nn.functional as F

    out = torch.empty_like(x)
    c = x.shape[1]
    for n, k in enumerate(kernels):
        kt = torch.from_numpy(k).to(x.device, x.dtype)
        ry, rx = k.shape[0] // 2, k.shape[1] // 2
        xp = F.pad(x[n : n + 1], (rx, rx, ry, ry), mode="reflect")
        # conv2d is a correlation: flip the PSF so that it convolves, as `convolve` does.
        out[n] = F.conv2d(xp, kt.flip(0, 1).view(1, 1, *k.shape).expand(c, 1, *k.shape), groups=c)[0]
    return out


def write_tensor(f, a):
    a = np.ascontiguousarray(a, dtype=np.float32)
    f.write(struct.pack("<I", a.ndim))
    f.write(struct.pack(f"<{a.ndim}I", *a.shape))
    f.write(a.tobytes())


FAMILY_CODE = {"defocus": 0, "motion": 1, "shake": 2}


def vectors(path):
    """Each case: family, t, angle, seed, the PSF, an input and its blur; one input smaller than the PSF."""
    rng = np.random.default_rng(23)
    cases = [
        ("defocus", 1, 0.0, 0), ("defocus", 5, 0.0, 0), ("defocus", 12, 0.0, 0), ("defocus", 20, 0.0, 0),
        ("motion", 3, 0.0, 0), ("motion", 8, 37.0, 0), ("motion", 13, 90.0, 0), ("motion", 20, 160.0, 0),
        ("shake", 4, 0.0, 1), ("shake", 11, 0.0, 7), ("shake", 20, 0.0, 12345),
    ]
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(cases) + 1))
        for n, (family, t, angle, seed) in enumerate(cases + [("defocus", 20, 0.0, 0)]):
            shape = (3, 6, 5) if n == len(cases) else (3, 23, 31)
            img = rng.random(shape, dtype=np.float32)
            k = psf(family, t, angle, seed)
            f.write(struct.pack("<IIfI", FAMILY_CODE[family], t, angle, seed))
            write_tensor(f, k)
            write_tensor(f, img)
            write_tensor(f, convolve(img, k))


if __name__ == "__main__":
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    vectors(os.path.join(root, "tests", "data", "camera_blur_vectors.bin"))
