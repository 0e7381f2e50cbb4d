//! Gaussian blur as the models were trained on it (models/recipe/degrade.py, docs/design.md §2): ONE separable
//! Gaussian of total sigma(t), radius ceil(3 sigma), weights normalised to sum 1, reflect padding (the edge pixel
//! is not repeated), horizontal pass then vertical. Shared vectors in tests/data prove the two sides agree.

use super::Degradation;
use crate::cpu::with_avx512;
use crate::frame::Frame;

pub fn kernel_radius(sigma: f32) -> usize {
    if sigma > 0.0 {
        (3.0 * sigma as f64).ceil() as usize
    } else {
        0
    }
}

/// Computed in f64 and rounded once, as numpy does on the Python side.
pub fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let r = kernel_radius(sigma) as i64;
    let s = sigma as f64;
    let w: Vec<f64> = (-r..=r)
        .map(|k| (-((k * k) as f64) / (2.0 * s * s)).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|v| (v / sum) as f32).collect()
}

/// Mirror index without repeating the edge, folded as often as needed so that any radius works on any size.
pub fn reflect_index(i: i64, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as i64 - 1);
    let i = i.rem_euclid(period);
    (if i < n as i64 { i } else { period - i }) as usize
}

/// Blurs every channel of `x` with a Gaussian of `sigma` pixels; sigma <= 0 returns a copy.
///
/// The loops are plain ones the compiler vectorises; on x86-64 they are compiled a second time for AVX-512 (the
/// portable build targets SSE2) and that copy runs where the CPU has it. Both do the same float operations in
/// the same order on each pixel (no fused multiply-adds: Rust does not contract), so they give the same bits.
pub fn blur(x: &Frame, sigma: f32) -> Frame {
    if sigma <= 0.0 || !sigma.is_finite() {
        return x.clone();
    }
    with_avx512!(blur_avx512(x, sigma), blur_inlined(x, sigma))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn blur_avx512(x: &Frame, sigma: f32) -> Frame {
    blur_inlined(x, sigma)
}

#[inline(always)]
fn blur_inlined(x: &Frame, sigma: f32) -> Frame {
    let k = gaussian_kernel(sigma);
    let r = k.len() / 2;
    let (w, h) = (x.width, x.height);
    // Index tables once per call: the inner loops then read straight from them.
    let xi: Vec<usize> = (0..w + 2 * r)
        .map(|i| reflect_index(i as i64 - r as i64, w))
        .collect();
    let yi: Vec<usize> = (0..h + 2 * r)
        .map(|i| reflect_index(i as i64 - r as i64, h))
        .collect();
    let mut out = Frame::zeros(w, h, x.channels);
    let mut tmp = vec![0.0f32; w * h];
    let mut row = vec![0.0f32; w + 2 * r];
    for c in 0..x.channels {
        let src = x.plane(c);
        for y in 0..h {
            let line = &src[y * w..(y + 1) * w];
            for (dst, &s) in row.iter_mut().zip(&xi) {
                *dst = line[s];
            }
            // Tap by tap over the whole row: each output still sums its taps in kernel order from 0.0 (the same
            // float operations as a dot product per pixel), but the loop runs across pixels, in vectors.
            let out_row = &mut tmp[y * w..(y + 1) * w];
            out_row.fill(0.0);
            for (j, kv) in k.iter().enumerate() {
                for (o, v) in out_row.iter_mut().zip(&row[j..j + w]) {
                    *o += kv * v;
                }
            }
        }
        let dst = out.plane_mut(c);
        for y in 0..h {
            let o = &mut dst[y * w..(y + 1) * w];
            for (j, kv) in k.iter().enumerate() {
                let s = &tmp[yi[y + j] * w..yi[y + j] * w + w];
                for (ov, sv) in o.iter_mut().zip(s) {
                    *ov += kv * sv;
                }
            }
        }
    }
    out
}

/// The blur degradation of one model: sigma(t) for t = 0..=T, read from the model's metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct BlurSchedule {
    pub sigmas: Vec<f32>,
}

impl BlurSchedule {
    pub fn max_t(&self) -> usize {
        self.sigmas.len() - 1
    }

    /// The step whose sigma is closest to `severity` (ties go to the milder step).
    pub fn step_for_severity(&self, severity: f32) -> usize {
        let mut best = 0;
        for (t, s) in self.sigmas.iter().enumerate() {
            if (s - severity).abs() < (self.sigmas[best] - severity).abs() {
                best = t;
            }
        }
        best
    }
}

impl Degradation for BlurSchedule {
    fn apply(&self, x: &Frame, t: usize) -> Frame {
        blur(x, self.sigmas[t.min(self.max_t())])
    }
}
