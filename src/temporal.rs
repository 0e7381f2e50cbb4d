//! The temporal noise filter in front of `stream deblur`: a motion-adaptive recursive average, as a camera ISP's
//! temporal noise reduction does it. Deblurring sharpens sensor noise with the scene, so on a static scene the
//! restored frames shimmer more than the input; averaging each pixel with its own past, only where it has not
//! changed by more than the noise explains, gives the restorer a steadier input and leaves anything that moves
//! as it came (docs/design.md §2c).

use anyhow::Result;

use crate::frame::Frame;
use crate::setting::{refuse, Setting};

/// The largest weight of the past: at 0.9 a static pixel's noise falls to a fifth of its std and a change takes
/// ten frames to show through where it is too small to count as motion.
pub const MAX_STRENGTH: f32 = 0.9;
/// Below this many noise stds of (box-averaged) difference a pixel is static and takes the full weight of its
/// past; above `MOVING` it is moving and takes none; linear between.
const STATIC: f32 = 2.0;
const MOVING: f32 = 4.0;
/// The noise std is never taken under half an 8-bit level (a clean or flat frame is still quantized) nor over
/// 8 levels (a textured frame's Laplacian reads as noise: trust it no further than heavy sensor noise).
const SIGMA_MIN: f32 = 0.5 / 255.0;
const SIGMA_MAX: f32 = 8.0 / 255.0;

pub struct TemporalFilter {
    strength: f32,
    /// The noise std of the channel mean, estimated once from the first frame.
    sigma: f32,
    past: Option<Frame>,
}

impl TemporalFilter {
    /// `strength` in 0..=MAX_STRENGTH is the weight of a static pixel's past (0 passes every frame through).
    pub fn new(strength: f32) -> Result<TemporalFilter> {
        if !(0.0..=MAX_STRENGTH).contains(&strength) {
            return Err(refuse(
                Setting::Temporal,
                strength,
                format!("is outside 0..={MAX_STRENGTH} (0: off)"),
            ));
        }
        Ok(TemporalFilter {
            strength,
            sigma: 0.0,
            past: None,
        })
    }

    /// The frame to restore in place of `frame`. The first frame, a frame of another size, and every frame at
    /// strength 0 pass through unchanged; identical frames in a row stay identical.
    pub fn apply(&mut self, frame: Frame) -> Frame {
        if self.strength == 0.0 {
            return frame;
        }
        let past = match self.past.take() {
            Some(p)
                if p.width == frame.width
                    && p.height == frame.height
                    && p.channels == frame.channels =>
            {
                p
            }
            _ => {
                self.sigma = noise_sigma(&frame);
                self.past = Some(frame.clone());
                return frame;
            }
        };
        let (w, h) = (frame.width, frame.height);
        let diff = box3(&channel_mean_diff(&frame, &past), w, h);
        // The std of `diff` on a static pixel: the new frame's noise and the past's (at most as large), the
        // channel mean's as estimated, averaged over 3x3 pixels taken as independent (correlated noise reads as
        // motion: less filtering, never a ghost).
        let unit = self.sigma * std::f32::consts::SQRT_2 / 3.0;
        let weights: Vec<f32> = diff
            .iter()
            .map(|d| {
                let m = d.abs() / unit;
                self.strength * ((MOVING - m) / (MOVING - STATIC)).clamp(0.0, 1.0)
            })
            .collect();
        let mut out = frame;
        for c in 0..out.channels {
            let old = past.plane(c);
            for ((v, o), wt) in out.plane_mut(c).iter_mut().zip(old).zip(&weights) {
                *v += wt * (o - *v);
            }
        }
        self.past = Some(out.clone());
        out
    }
}

/// Per pixel, the mean over channels of `a - b`.
fn channel_mean_diff(a: &Frame, b: &Frame) -> Vec<f32> {
    let n = a.width * a.height;
    let mut d = vec![0.0f32; n];
    for c in 0..a.channels {
        for ((v, x), y) in d.iter_mut().zip(a.plane(c)).zip(b.plane(c)) {
            *v += x - y;
        }
    }
    let k = 1.0 / a.channels as f32;
    d.iter_mut().for_each(|v| *v *= k);
    d
}

/// 3x3 box mean with the edge rows and columns repeated.
fn box3(v: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut rows = vec![0.0f32; v.len()];
    for y in 0..h {
        let r = &v[y * w..(y + 1) * w];
        for x in 0..w {
            rows[y * w + x] = r[x.saturating_sub(1)] + r[x] + r[(x + 1).min(w - 1)];
        }
    }
    let mut out = vec![0.0f32; v.len()];
    for y in 0..h {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            out[y * w + x] = (rows[up * w + x] + rows[y * w + x] + rows[down * w + x]) / 9.0;
        }
    }
    out
}

/// The noise std of a frame's channel mean, from the median absolute response of Immerkær's Laplacian
/// difference (1 -2 1 / -2 4 -2 / 1 -2 1, whose response to white noise of std s has std 6 s): a scene's
/// edges are few beside its flat pixels, so the median reads the noise and not the scene.
pub fn noise_sigma(frame: &Frame) -> f32 {
    let (w, h) = (frame.width, frame.height);
    if w < 3 || h < 3 {
        return SIGMA_MIN;
    }
    let mut mean = vec![0.0f32; w * h];
    for c in 0..frame.channels {
        for (m, v) in mean.iter_mut().zip(frame.plane(c)) {
            *m += v / frame.channels as f32;
        }
    }
    let at = |x: usize, y: usize| mean[y * w + x];
    let mut r = Vec::with_capacity((w - 2) * (h - 2));
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let v = at(x - 1, y - 1) + at(x + 1, y - 1) + at(x - 1, y + 1) + at(x + 1, y + 1)
                - 2.0 * (at(x, y - 1) + at(x - 1, y) + at(x + 1, y) + at(x, y + 1))
                + 4.0 * at(x, y);
            r.push(v.abs());
        }
    }
    let mid = r.len() / 2;
    let (_, median, _) = r.select_nth_unstable_by(mid, f32::total_cmp);
    // the median of |N(0, 1)| is 0.6745
    (*median / (6.0 * 0.6745)).clamp(SIGMA_MIN, SIGMA_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic scene: smooth gradients and a few edges, values in 0.2..0.8.
    fn scene(w: usize, h: usize, shift: usize) -> Frame {
        let mut f = Frame::zeros(w, h, 3);
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let xs = x + shift;
                    let edge = if (xs / 16 + y / 16).is_multiple_of(2) {
                        0.2
                    } else {
                        0.0
                    };
                    f.plane_mut(c)[y * w + x] =
                        0.3 + 0.2 * (xs as f32 / w as f32) + edge + 0.05 * c as f32;
                }
            }
        }
        f
    }

    /// Adds Gaussian-like noise of std `s` (a sum of 12 uniforms, from a fixed linear congruential stream).
    fn noisy(mut f: Frame, s: f32, seed: u64) -> Frame {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut uniform = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        for c in 0..f.channels {
            for v in f.plane_mut(c) {
                let g: f32 = (0..12).map(|_| uniform()).sum::<f32>() - 6.0;
                *v += s * g;
            }
        }
        f
    }

    fn mean_abs_change(a: &Frame, b: &Frame) -> f64 {
        let n = (a.width * a.height * a.channels) as f64;
        (0..a.channels)
            .flat_map(|c| a.plane(c).iter().zip(b.plane(c)))
            .map(|(x, y)| (x - y).abs() as f64)
            .sum::<f64>()
            / n
    }

    #[test]
    fn the_noise_estimate_reads_the_noise_not_the_scene() {
        let clean = scene(160, 120, 0);
        assert!(noise_sigma(&clean) <= SIGMA_MIN * 1.01);
        let s = 3.0 / 255.0;
        let est = noise_sigma(&noisy(clean, s, 1));
        // the channel mean of three independent noises has std s / sqrt(3)
        let want = s / 3f32.sqrt();
        assert!((est / want - 1.0).abs() < 0.15, "{est} against {want}");
    }

    #[test]
    fn a_static_noisy_scene_changes_less_from_frame_to_frame() {
        let clean = scene(160, 120, 0);
        let mut filter = TemporalFilter::new(0.5).unwrap();
        let (mut din, mut dout) = (0.0, 0.0);
        let (mut prev_in, mut prev_out): (Option<Frame>, Option<Frame>) = (None, None);
        for i in 0..8 {
            let f = noisy(clean.clone(), 3.0 / 255.0, i);
            let out = filter.apply(f.clone());
            if let (Some(pi), Some(po)) = (&prev_in, &prev_out) {
                if i >= 3 {
                    din += mean_abs_change(&f, pi);
                    dout += mean_abs_change(&out, po);
                }
            }
            prev_in = Some(f);
            prev_out = Some(out);
        }
        // the steady state of weight 0.5 on a static pixel: the change's std falls to sqrt(1/3) of the input's
        assert!(dout < 0.7 * din, "output change {dout} against input {din}");
    }

    #[test]
    fn what_moves_passes_through_and_repeats_stay_repeats() {
        let mut filter = TemporalFilter::new(0.9).unwrap();
        let a = noisy(scene(160, 120, 0), 2.0 / 255.0, 3);
        assert_eq!(filter.apply(a.clone()), a, "the first frame passes through");
        assert_eq!(filter.apply(a.clone()), a, "a repeated frame stays itself");
        // the scene moves by 8 pixels: every pixel at a moved edge (0.2 of contrast) is the new frame's
        let b = noisy(scene(160, 120, 8), 2.0 / 255.0, 4);
        let out = filter.apply(b.clone());
        let w = 160;
        for y in 0..120 {
            for x in 0..w {
                let moved =
                    (0..3).any(|c| (a.plane(c)[y * w + x] - b.plane(c)[y * w + x]).abs() > 0.1);
                if moved {
                    for c in 0..3 {
                        let (o, n) = (out.plane(c)[y * w + x], b.plane(c)[y * w + x]);
                        assert!((o - n).abs() < 0.02, "({x},{y}) ghosted: {o} for {n}");
                    }
                }
            }
        }
        // a frame of another size starts over
        let small = scene(80, 60, 0);
        assert_eq!(filter.apply(small.clone()), small);
    }

    #[test]
    fn strength_zero_is_off_and_out_of_range_is_refused() {
        let mut filter = TemporalFilter::new(0.0).unwrap();
        for i in 0..3 {
            let f = noisy(scene(64, 48, 0), 3.0 / 255.0, i);
            assert_eq!(filter.apply(f.clone()), f);
        }
        for bad in [-0.1f32, 0.95, f32::NAN] {
            let e = TemporalFilter::new(bad).err().expect("refused").to_string();
            assert!(e.contains("outside 0..=0.9"), "{e}");
        }
    }
}
