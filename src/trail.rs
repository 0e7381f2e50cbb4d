//! A motion blur's length from the trail it leaves (docs/design.md §2b): a line of length L smears every edge of
//! the scene into two edges L apart along the line, so the derivative of the blurred image along that direction
//! anticorrelates with itself at lag L (Yitzhaky and Kopeika's motion identification). The estimator network
//! gives the direction well (2-4 degrees) and the length less so (it reads short trails long and long ones
//! short); this finds the dip within a window around the network's length. models/recipe/estimator.py
//! `trail_dips` and `refine_trail` are the same computation.

use crate::frame::Frame;

/// The longest lag searched, in pixels: past the longest trail of the families (25).
pub const MAX_LAG: usize = 32;
/// The lags searched, as fractions of the network's trail length.
const WINDOW: (f64, f64) = (0.6, 1.3);

/// A crop's channel mean, row-major, in f64 (as the recipe's numpy).
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f64>,
}

impl Plane {
    pub fn mean_of(f: &Frame) -> Plane {
        let n = f.width * f.height;
        let mut values = vec![0.0f64; n];
        for c in 0..f.channels {
            for (v, x) in values.iter_mut().zip(f.plane(c)) {
                *v += *x as f64;
            }
        }
        values.iter_mut().for_each(|v| *v /= f.channels as f64);
        Plane {
            width: f.width,
            height: f.height,
            values,
        }
    }

    /// Bilinear sample at (y, x), a pixel inside the plane's edges.
    fn at(&self, y: f64, x: f64) -> f64 {
        let (y0, x0) = (y.floor(), x.floor());
        let (fy, fx) = (y - y0, x - x0);
        let i = y0 as usize * self.width + x0 as usize;
        let g = &self.values;
        (1.0 - fy) * ((1.0 - fx) * g[i] + fx * g[i + 1])
            + fy * ((1.0 - fx) * g[i + self.width] + fx * g[i + self.width + 1])
    }
}

/// For each lag k = 1..=MAX_LAG (index k - 1), the directional derivative's autocorrelation at k (normalised by
/// its value at 0) minus the mean of its values at k - 2 and k + 2, so that the scene's own slow decay cancels;
/// infinite where that is undefined. `angle`: degrees counter-clockwise from x, y down. Only pixels
/// MAX_LAG + 4 in from a plane's edges are read (every sample stays inside); None when no plane is larger than
/// twice that.
pub fn trail_dips(planes: &[Plane], angle: f64) -> Option<Vec<f64>> {
    let a = angle.to_radians();
    let (ux, uy) = (a.cos(), -a.sin());
    let (k_max, m) = (MAX_LAG, MAX_LAG + 4);
    let mut num = vec![0.0f64; k_max];
    let mut den = 0.0f64;
    let mut samples = vec![0.0f64; k_max + 2];
    for p in planes {
        if p.height <= 2 * m || p.width <= 2 * m {
            continue;
        }
        for y in m..p.height - m {
            for x in m..p.width - m {
                for (k, s) in samples.iter_mut().enumerate() {
                    *s = p.at(y as f64 + k as f64 * uy, x as f64 + k as f64 * ux);
                }
                let d = samples[1] - samples[0];
                den += d * d;
                for k in 1..=k_max {
                    num[k - 1] += d * (samples[k + 1] - samples[k]);
                }
            }
        }
    }
    if den <= 0.0 {
        return None;
    }
    let r: Vec<f64> = num.iter().map(|v| v / den).collect();
    let mut dips = vec![f64::INFINITY; k_max];
    for k in 3..k_max - 1 {
        dips[k - 1] = r[k - 1] - 0.5 * (r[k - 3] + r[k + 1]);
    }
    Some(dips)
}

/// The trail's length in pixels: the deepest dip within the window around the network's `length`, the
/// shorter lag on a tie; None when the window holds no defined dip.
pub fn refined_length(dips: &[f64], length: f64) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for (i, &d) in dips.iter().enumerate() {
        let k = i + 1;
        let inside = (k as f64) >= WINDOW.0 * length && (k as f64) <= WINDOW.1 * length;
        if inside && d.is_finite() && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::degrade::camera_blur::CameraBlur;
    use crate::degrade::Degradation;

    /// A scene of scattered edges at no regular spacing: 80 rectangles of random sizes and grey levels (a
    /// fixed linear congruential stream), each drawn over the last.
    fn rectangles(w: usize, h: usize) -> Frame {
        let mut state = 12345u64;
        let mut uniform = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f64 / (1u64 << 24) as f64
        };
        let mut f = Frame::zeros(w, h, 3);
        f.data.iter_mut().for_each(|v| *v = 0.5);
        for _ in 0..80 {
            let (x0, y0) = (
                (uniform() * w as f64) as usize,
                (uniform() * h as f64) as usize,
            );
            let (rw, rh) = (
                5 + (uniform() * 60.0) as usize,
                5 + (uniform() * 60.0) as usize,
            );
            let level = uniform() as f32;
            for c in 0..3 {
                for y in y0..(y0 + rh).min(h) {
                    for x in x0..(x0 + rw).min(w) {
                        f.plane_mut(c)[y * w + x] = level;
                    }
                }
            }
        }
        f
    }

    #[test]
    fn a_line_blur_dips_at_its_length() {
        let sharp = rectangles(256, 256);
        for (angle, t) in [(0.0f32, 8usize), (30.0, 10), (90.0, 12), (135.0, 14)] {
            let blur = CameraBlur::Motion { angle };
            let length = blur.extent(t);
            let blurred = blur.apply(&sharp, t);
            let dips = trail_dips(&[Plane::mean_of(&blurred)], angle as f64).unwrap();
            // told a length 30% off either way, the dip still names the trail's own
            for guess in [length / 1.25, length * 1.25] {
                let got = refined_length(&dips, guess).unwrap() as f64;
                assert!(
                    (got - length).abs() <= 1.0,
                    "{angle} deg, {length} px: {got} from a guess of {guess}"
                );
            }
        }
    }

    #[test]
    fn too_small_a_plane_or_an_empty_window_gives_no_answer() {
        let small = Plane::mean_of(&rectangles(64, 64));
        assert!(trail_dips(&[small], 0.0).is_none());
        let dips = trail_dips(&[Plane::mean_of(&rectangles(128, 128))], 0.0).unwrap();
        // lags 1 and 2 have no dip defined
        assert_eq!(refined_length(&dips, 2.0), None);
    }
}
