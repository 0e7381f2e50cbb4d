//! The blurs real cameras make, as cold-diffusion families D(x, t) of growing extent e(t) = step * t, t = 0..=20,
//! bit-compatible with models/recipe/camera_blur.py (docs/design.md §2; shared vectors in tests/data):
//! - defocus: a disc of radius e(t) pixels (up to 8), its edge antialiased over one pixel;
//! - motion: a straight line of length e(t) pixels (up to 25) at an angle;
//! - shake: a smooth random trajectory of length e(t) pixels (up to 25), the same shape at every t.
//!
//! Each point-spread function (PSF) is computed in f64, normalised with a row-major sum and rounded once to f32.
//! The blur convolves every channel with it, reflect padding (as the Gaussian), taps in row-major order, each
//! product rounded and then added: the same float operations as numpy's, so the same bits.

use super::blur::reflect_index;
use super::Degradation;
use crate::cpu::with_avx512;
use crate::frame::Frame;

/// The largest t of every family.
pub const T_CAMERA: usize = 20;
/// Samples per pixel of length along a line or trajectory.
const SAMPLES_PER_PIXEL: f64 = 4.0;

/// A camera blur family with its shape parameters; t sets the extent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CameraBlur {
    Defocus,
    /// Degrees counter-clockwise from the x axis (image y points down).
    Motion {
        angle: f32,
    },
    /// Which trajectory.
    Shake {
        seed: u32,
    },
}

impl CameraBlur {
    /// Pixels of extent per step: the disc's radius, the line's or trajectory's length.
    pub fn step_px(self) -> f64 {
        match self {
            CameraBlur::Defocus => 0.4,
            CameraBlur::Motion { .. } | CameraBlur::Shake { .. } => 1.25,
        }
    }

    pub fn extent(self, t: usize) -> f64 {
        self.step_px() * t as f64
    }

    /// The step whose extent is closest to `pixels` (ties go to the milder step).
    pub fn step_for_extent(self, pixels: f64) -> usize {
        (0..=T_CAMERA)
            .min_by(|&a, &b| {
                let (da, db) = (
                    (self.extent(a) - pixels).abs(),
                    (self.extent(b) - pixels).abs(),
                );
                da.total_cmp(&db).then(a.cmp(&b))
            })
            .unwrap_or(0)
    }

    /// The PSF at step `t` (beyond T: at T).
    pub fn psf(self, t: usize) -> Psf {
        self.psf_at(self.extent(t.min(T_CAMERA)))
    }

    /// The PSF at any extent in pixels, between or beyond the steps.
    pub fn psf_at(self, e: f64) -> Psf {
        match self {
            CameraBlur::Defocus => Psf::defocus(e),
            CameraBlur::Motion { angle } => Psf::motion(e, angle as f64),
            CameraBlur::Shake { seed } => Psf::shake(e, seed),
        }
    }
}

impl Degradation for CameraBlur {
    fn apply(&self, x: &Frame, t: usize) -> Frame {
        self.psf(t).convolve(x)
    }
}

/// A point-spread function: an odd `rows` x `cols` grid of weights summing to 1, centred on the pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Psf {
    pub rows: usize,
    pub cols: usize,
    pub weights: Vec<f32>,
}

impl Psf {
    fn identity() -> Psf {
        Psf {
            rows: 1,
            cols: 1,
            weights: vec![1.0],
        }
    }

    /// `w / sum(w)`, the sum taken in row-major order, rounded once to f32.
    fn normalised(side: usize, w: &[f64]) -> Psf {
        let total: f64 = w.iter().fold(0.0, |s, v| s + v);
        Psf {
            rows: side,
            cols: side,
            weights: w.iter().map(|v| (v / total) as f32).collect(),
        }
    }

    /// A disc of `radius` pixels: weight clip(radius + 0.5 - distance, 0, 1).
    pub fn defocus(radius: f64) -> Psf {
        let r = radius.ceil() as i64;
        let side = (2 * r + 1) as usize;
        let mut w = Vec::with_capacity(side * side);
        for dy in -r..=r {
            for dx in -r..=r {
                let (x, y) = (dx as f64, dy as f64);
                let dist = (x * x + y * y).sqrt();
                w.push((radius + 0.5 - dist).clamp(0.0, 1.0));
            }
        }
        Psf::normalised(side, &w)
    }

    /// A line of `length` pixels through the centre at `angle` degrees.
    pub fn motion(length: f64, angle: f64) -> Psf {
        if length <= 0.0 {
            return Psf::identity();
        }
        let n = samples(length);
        let th = angle.to_radians();
        let (dx, dy) = (th.cos(), -th.sin());
        let points: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let s = (i as f64 / (n - 1) as f64 - 0.5) * length;
                (s * dx, s * dy)
            })
            .collect();
        Psf::path(&points)
    }

    /// Trajectory `seed` scaled to `length` pixels of arc, centred on its mean point.
    pub fn shake(length: f64, seed: u32) -> Psf {
        if length <= 0.0 {
            return Psf::identity();
        }
        let n = samples(length);
        let shape = shake_shape(seed, n);
        let arc = shape
            .windows(2)
            .fold(0.0, |s, p| s + (p[1].0 - p[0].0).hypot(p[1].1 - p[0].1));
        let mx = shape.iter().fold(0.0, |s, p| s + p.0) / n as f64;
        let my = shape.iter().fold(0.0, |s, p| s + p.1) / n as f64;
        let k = length / arc;
        let points: Vec<(f64, f64)> = shape
            .iter()
            .map(|&(x, y)| ((x - mx) * k, (y - my) * k))
            .collect();
        Psf::path(&points)
    }

    /// Points (pixel offsets) splatted bilinearly on the smallest odd square grid that holds them.
    fn path(points: &[(f64, f64)]) -> Psf {
        let reach = points
            .iter()
            .fold(0.0f64, |m, &(x, y)| m.max(x.abs().max(y.abs())));
        let r = reach.floor() as usize + 1;
        let side = 2 * r + 1;
        let mut w = vec![0.0f64; side * side];
        for &(x, y) in points {
            let (fx, fy) = (x.floor(), y.floor());
            let (ax, ay) = (x - fx, y - fy);
            // |x|, |y| <= reach < r, so the four cells lie inside the grid.
            let cx = (fx as i64 + r as i64) as usize;
            let cy = (fy as i64 + r as i64) as usize;
            w[cy * side + cx] += (1.0 - ax) * (1.0 - ay);
            w[cy * side + cx + 1] += ax * (1.0 - ay);
            w[(cy + 1) * side + cx] += (1.0 - ax) * ay;
            w[(cy + 1) * side + cx + 1] += ax * ay;
        }
        Psf::normalised(side, &w)
    }

    /// Every channel of `x` convolved with the PSF, reflect padding; see the module doc for the order of sums.
    /// The loops vectorise; on x86-64 they are compiled a second time for AVX-512, with the same float
    /// operations in the same order (no fused multiply-adds), so the same bits.
    pub fn convolve(&self, x: &Frame) -> Frame {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(psf: &Psf, x: &Frame) -> Frame {
            psf.convolve_inlined(x)
        }
        with_avx512!(avx512(self, x), self.convolve_inlined(x))
    }

    #[inline(always)]
    fn convolve_inlined(&self, x: &Frame) -> Frame {
        let (ry, rx) = (self.rows / 2, self.cols / 2);
        let (w, h) = (x.width, x.height);
        let (pw, ph) = (w + 2 * rx, h + 2 * ry);
        let xi: Vec<usize> = (0..pw)
            .map(|i| reflect_index(i as i64 - rx as i64, w))
            .collect();
        let taps: Vec<(usize, usize, f32)> = (0..self.rows)
            .flat_map(|j| (0..self.cols).map(move |i| (j, i)))
            .map(|(j, i)| (j, i, self.weights[j * self.cols + i]))
            .filter(|&(_, _, k)| k != 0.0)
            .collect();
        let mut out = Frame::zeros(w, h, x.channels);
        let mut padded = vec![0.0f32; pw * ph];
        for c in 0..x.channels {
            let src = x.plane(c);
            for (py, row) in padded.chunks_exact_mut(pw).enumerate() {
                let sy = reflect_index(py as i64 - ry as i64, h);
                let line = &src[sy * w..(sy + 1) * w];
                for (d, &s) in row.iter_mut().zip(&xi) {
                    *d = line[s];
                }
            }
            let dst = out.plane_mut(c);
            for &(j, i, k) in &taps {
                for y in 0..h {
                    let s = &padded[(y + j) * pw + i..][..w];
                    for (o, v) in dst[y * w..(y + 1) * w].iter_mut().zip(s) {
                        *o += k * v;
                    }
                }
            }
        }
        out
    }
}

fn samples(length: f64) -> usize {
    ((length * SAMPLES_PER_PIXEL).ceil() as usize + 1).max(2)
}

/// The 64-bit linear congruential generator of the recipe (Knuth's MMIX constants).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    /// In [0, 1), from 24 bits: exact in f32 and f64 alike.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u32() >> 8) as f64 / (1u32 << 24) as f64
    }
}

/// `n` points of trajectory `seed`: two ellipse arcs of random radii, phases and turns, added.
fn shake_shape(seed: u32, n: usize) -> Vec<(f64, f64)> {
    use std::f64::consts::PI;
    let mut rng = Lcg(seed as u64);
    let terms: Vec<[f64; 4]> = (0..2)
        .map(|_| {
            let a = 0.5 + rng.uniform();
            let b = 0.5 + rng.uniform();
            let phase = 2.0 * PI * rng.uniform();
            let turns = 0.15 + 0.35 * rng.uniform();
            [a, b, phase, turns]
        })
        .collect();
    (0..n)
        .map(|i| {
            let s = i as f64 / (n - 1) as f64;
            let (mut x, mut y) = (0.0, 0.0);
            for &[a, b, phase, turns] in &terms {
                let ang = phase + 2.0 * PI * turns * s;
                x += a * ang.cos();
                y += b * ang.sin();
            }
            (x, y)
        })
        .collect()
}
