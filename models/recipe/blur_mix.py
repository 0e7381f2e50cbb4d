"""The camera-blur mix the camera deblurrer is trained and measured on, and the blur descriptor it is told.

A blur case is (family, t, angle, seed): family one of gaussian (degrade.py's sigma 0.25 t), defocus, motion, shake
(camera_blur.py), t = 1..T_CAMERA its extent step. The restorer is not given the PSF but a descriptor of it, five
numbers that an estimator can deliver from a frame (docs/design.md §2a), entered as constant channels beside t/T
(as SRMD conditions a super-resolver on its kernel):
  gaussian, defocus, motion: one-hot kind (shake is "motion": its trail is a line that bends);
  (mxx - myy) / (mxx + myy), 2 mxy / (mxx + myy): the PSF's second moments, i.e. a cos 2θ and a sin 2θ for a
  trail of direction θ (x right, y down) and anisotropy a (1 for a thin line, 0 for a disc), so a curved shake
  is told its dominant direction and how line-like it is.
"""
import math
import random
from dataclasses import dataclass

import numpy as np

import camera_blur
import degrade

T = camera_blur.T_CAMERA
FAMILIES = ("gaussian", "defocus", "motion", "shake")
DESCRIPTOR = 5
assert degrade.T_BLUR == T


@dataclass(frozen=True)
class BlurCase:
    family: str
    t: int
    angle: float = 0.0
    seed: int = 0

    def psf(self) -> np.ndarray:
        if self.t == 0:
            return np.ones((1, 1), np.float32)
        if self.family == "gaussian":
            k = degrade.gaussian_kernel(degrade.sigma_of(self.t)).astype(np.float64)
            return np.outer(k, k).astype(np.float32)
        return camera_blur.psf(self.family, self.t, self.angle, self.seed)

    def descriptor(self) -> np.ndarray:
        return descriptor_of(self.family, self.psf())


def moments(k: np.ndarray):
    """Second central moments (mxx, myy, mxy) of a PSF, x right, y down, in pixels^2."""
    k = k.astype(np.float64) / k.sum()
    ry, rx = k.shape[0] // 2, k.shape[1] // 2
    y, x = np.mgrid[-ry : ry + 1, -rx : rx + 1].astype(np.float64)
    mx, my = (k * x).sum(), (k * y).sum()
    x, y = x - mx, y - my
    return (k * x * x).sum(), (k * y * y).sum(), (k * x * y).sum()


def descriptor_of(family: str, k: np.ndarray) -> np.ndarray:
    kind = {"gaussian": 0, "defocus": 1, "motion": 2, "shake": 2}[family]
    d = np.zeros(DESCRIPTOR, np.float32)
    d[kind] = 1.0
    mxx, myy, mxy = moments(k)
    if mxx + myy > 1e-9:
        d[3] = (mxx - myy) / (mxx + myy)
        d[4] = 2.0 * mxy / (mxx + myy)
    return d


def random_case(rng: random.Random, t=None) -> BlurCase:
    family = rng.choice(FAMILIES)
    t = rng.randint(1, T) if t is None else t
    return BlurCase(family, t, angle=rng.uniform(0.0, 180.0), seed=rng.randrange(1 << 31))


# The cases of issue #23's evaluation: each kind at three extents (Gaussian two), given as t of this schedule.
EVAL_CASES = {
    "defocus": [("r2", 5), ("r4", 10), ("r6", 15)],        # radius 0.4 t
    "gaussian": [("s1.5", 6), ("s3", 12)],                 # sigma 0.25 t
    "motion": [("L7", 6), ("L13", 10), ("L19", 15)],       # length 1.25 t: 7.5, 12.5, 18.75
    "shake": [("L7", 6), ("L13", 10), ("L19", 15)],
}


def eval_case(family: str, t: int, index: int) -> BlurCase:
    """The case of the index-th validation photo: angles and shake shapes vary with the photo, fixed by the index."""
    rng = random.Random(1000 * index + t + 17 * FAMILIES.index(family))
    return BlurCase(family, t, angle=rng.uniform(0.0, 180.0), seed=rng.randrange(1 << 31))


def case_extent(case: BlurCase) -> float:
    """The extent in the family's own unit: sigma, radius or trail length in pixels."""
    if case.family == "gaussian":
        return degrade.sigma_of(case.t)
    return camera_blur.extent(case.family, case.t)


def angle_error(a: float, b: float) -> float:
    """Difference of two line directions in degrees, modulo 180."""
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def motion_angle(d: np.ndarray) -> float:
    """A descriptor's dominant direction in degrees, 0..180, counter-clockwise from x with y down (the angle
    convention of camera_blur.motion_psf)."""
    return (-0.5 * math.degrees(math.atan2(d[4], d[3]))) % 180.0
