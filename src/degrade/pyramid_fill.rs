//! The fills the inpainters' degradation puts in the still-missing pixels (metadata `fill = smooth` or
//! `pyramid`), ported from `pyramid_fill` and `_relax` in models/recipe/degrade.py, whose docstrings are the
//! definition. Every step is the same float32 operation in the same order as numpy's, so both sides agree bit for
//! bit (shared vectors in tests/data/pyramid_vectors.bin and smooth_vectors.bin).
//!
//! A mean pyramid of the known pixels is built by summing 2x2 cells (values and counts) down to 1x1, then read
//! back coarse to fine: each level keeps its own mean where it saw a known pixel and takes the coarser level,
//! upsampled bilinearly, where it saw none. Holes thus get a blend of their surroundings in O(pixels), whatever
//! their size. The smooth fill then relaxes each level's empty cells with a few Jacobi sweeps, harmonic and then
//! biharmonic, so the fill continues the known pixels' gradients instead of pasting blurred blocks: coarse levels
//! settle the large-scale shape cheaply, fine levels the detail next to the known pixels.

/// The smooth fill's sweeps per level (degrade.py's HARMONIC_SWEEPS, BIHARMONIC_SWEEPS, BIHARMONIC_DAMPING).
/// Undamped biharmonic Jacobi sweeps diverge (the iteration's eigenvalues reach 1 - 64/20); at 0.5 they stay
/// in [-0.6, 1].
const HARMONIC_SWEEPS: usize = 2;
const BIHARMONIC_SWEEPS: usize = 8;
const BIHARMONIC_DAMPING: f32 = 0.5;

/// One pyramid level: `channels` planes of value sums, and the count of known pixels under each cell.
struct Level {
    width: usize,
    height: usize,
    sums: Vec<f32>,
    counts: Vec<f32>,
}

/// The next level: zero-padded 2x2 cell sums as ((top-left + top-right) + bottom-left) + bottom-right.
fn push(planes: &[f32], width: usize, height: usize, channels: usize) -> Vec<f32> {
    let (w2, h2) = (width.div_ceil(2), height.div_ceil(2));
    let mut out = Vec::with_capacity(channels * w2 * h2);
    for plane in planes.chunks_exact(width * height).take(channels) {
        let at = |x: usize, y: usize| {
            if x < width && y < height {
                plane[y * width + x]
            } else {
                0.0
            }
        };
        for y in 0..h2 {
            for x in 0..w2 {
                let (x, y) = (2 * x, 2 * y);
                out.push(((at(x, y) + at(x + 1, y)) + at(x, y + 1)) + at(x + 1, y + 1));
            }
        }
    }
    out
}

/// One axis of the 2x bilinear upsampling with half-pixel centres and edge clamping: output 2i is
/// 0.25 v[i - 1] + 0.75 v[i], output 2i + 1 is 0.75 v[i] + 0.25 v[i + 1], indices clamped; `out.len()` outputs
/// (the crop to the finer level's size comes for free).
fn upsample_line(v: &[f32], out: &mut [f32]) {
    let last = v.len() - 1;
    for (j, o) in out.iter_mut().enumerate() {
        let i = j / 2;
        *o = if j.is_multiple_of(2) {
            0.25 * v[i.saturating_sub(1)] + 0.75 * v[i]
        } else {
            0.75 * v[i] + 0.25 * v[(i + 1).min(last)]
        };
    }
}

/// `coarse` (channels x ch x cw) upsampled 2x, rows then columns, cropped to width x height.
fn upsample2(coarse: &[f32], cw: usize, ch: usize, width: usize, height: usize) -> Vec<f32> {
    let channels = coarse.len() / (cw * ch);
    let (mut column, mut rows) = (vec![0.0f32; ch], vec![0.0f32; height]);
    let mut by_rows = vec![0.0f32; channels * height * cw];
    for c in 0..channels {
        let src = &coarse[c * cw * ch..(c + 1) * cw * ch];
        for x in 0..cw {
            for (v, row) in column.iter_mut().zip(src.chunks_exact(cw)) {
                *v = row[x];
            }
            upsample_line(&column, &mut rows);
            for (y, &v) in rows.iter().enumerate() {
                by_rows[(c * height + y) * cw + x] = v;
            }
        }
    }
    let mut out = vec![0.0f32; channels * height * width];
    for (src, dst) in by_rows.chunks_exact(cw).zip(out.chunks_exact_mut(width)) {
        upsample_line(src, dst);
    }
    out
}

/// Jacobi sweeps over the cells of one level (`channels` planes of width x height) whose count is zero: every
/// such cell is recomputed from the previous sweep's values, the others stay; neighbours are clamped at the
/// level's edges. Harmonic: `0.25 * (((N + S) + W) + E)`; biharmonic: `u = ((8 * ((N + S) + (W + E)) - 2 * ((NW +
/// NE) + (SW + SE))) - ((NN + SS) + (WW + EE))) / 20`, then `e + damping * (u - e)`.
fn relax(estimate: &mut [f32], counts: &[f32], width: usize, height: usize) {
    let empty: Vec<(usize, usize)> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .filter(|&(x, y)| counts[y * width + x] == 0.0)
        .collect();
    if empty.is_empty() {
        return;
    }
    let shift = |v: usize, d: isize, n: usize| v.saturating_add_signed(d).min(n - 1);
    let mut next = vec![0.0f32; empty.len()];
    for plane in estimate.chunks_exact_mut(width * height) {
        for sweep in 0..HARMONIC_SWEEPS + BIHARMONIC_SWEEPS {
            for (out, &(x, y)) in next.iter_mut().zip(&empty) {
                let at = |dy: isize, dx: isize| {
                    plane[shift(y, dy, height) * width + shift(x, dx, width)]
                };
                *out = if sweep < HARMONIC_SWEEPS {
                    0.25 * (((at(-1, 0) + at(1, 0)) + at(0, -1)) + at(0, 1))
                } else {
                    let n4 = (at(-1, 0) + at(1, 0)) + (at(0, -1) + at(0, 1));
                    let dg = (at(-1, -1) + at(-1, 1)) + (at(1, -1) + at(1, 1));
                    let fr = (at(-2, 0) + at(2, 0)) + (at(0, -2) + at(0, 2));
                    let u = ((8.0 * n4 - 2.0 * dg) - fr) / 20.0;
                    let e = plane[y * width + x];
                    e + BIHARMONIC_DAMPING * (u - e)
                };
            }
            for (&v, &(x, y)) in next.iter().zip(&empty) {
                plane[y * width + x] = v;
            }
        }
    }
}

/// Overwrites the missing pixels of `planes` (`channels` planes of width x height) with the push-pull fill of
/// the known ones, relaxed to a smooth surface and clamped to [0, 1] when `smooth`. The caller guarantees some
/// pixel is known when any is missing (the mask schedule refuses a mask over the whole frame); with none missing
/// the planes are left as they are.
pub fn pyramid_fill(
    planes: &mut [f32],
    missing: &[bool],
    width: usize,
    height: usize,
    smooth: bool,
) {
    let n = width * height;
    debug_assert!(n > 0 && missing.len() == n && planes.len().is_multiple_of(n));
    if !missing.iter().any(|&m| m) {
        return;
    }
    let channels = planes.len() / n;
    let known: Vec<f32> = missing.iter().map(|&m| if m { 0.0 } else { 1.0 }).collect();
    let mut sums = planes.to_vec();
    for plane in sums.chunks_exact_mut(n) {
        for (s, &k) in plane.iter_mut().zip(&known) {
            *s *= k;
        }
    }
    let mut levels = vec![Level {
        width,
        height,
        sums,
        counts: known,
    }];
    loop {
        let last = &levels[levels.len() - 1];
        if last.width.max(last.height) <= 1 {
            break;
        }
        let (w, h) = (last.width, last.height);
        let next = Level {
            width: w.div_ceil(2),
            height: h.div_ceil(2),
            sums: push(&last.sums, w, h, channels),
            counts: push(&last.counts, w, h, 1),
        };
        levels.push(next);
    }
    // The top: 1x1, and it saw every known pixel, so its count is positive.
    let top = &levels[levels.len() - 1];
    let mut estimate: Vec<f32> = top
        .sums
        .iter()
        .map(|&s| {
            if top.counts[0] > 0.0 {
                s / top.counts[0]
            } else {
                0.5
            }
        })
        .collect();
    let (mut ew, mut eh) = (top.width, top.height);
    for level in levels.iter().rev().skip(1) {
        let mut up = upsample2(&estimate, ew, eh, level.width, level.height);
        let m = level.width * level.height;
        for (c, plane) in up.chunks_exact_mut(m).enumerate() {
            let sums = &level.sums[c * m..(c + 1) * m];
            for ((e, &s), &k) in plane.iter_mut().zip(sums).zip(&level.counts) {
                if k > 0.0 {
                    *e = s / k;
                }
            }
        }
        if smooth {
            relax(&mut up, &level.counts, level.width, level.height);
        }
        estimate = up;
        (ew, eh) = (level.width, level.height);
    }
    for (plane, est) in planes.chunks_exact_mut(n).zip(estimate.chunks_exact(n)) {
        for ((p, &e), &m) in plane.iter_mut().zip(est).zip(missing) {
            if m {
                *p = if smooth { e.clamp(0.0, 1.0) } else { e };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_frame_is_filled_with_that_constant_and_known_pixels_stay() {
        let (w, h) = (13, 9);
        let missing: Vec<bool> = (0..w * h).map(|i| (i * 7) % 5 != 0).collect();
        let planes: Vec<f32> = (0..2 * w * h)
            .map(|i| {
                if missing[i % (w * h)] {
                    9.0 // what is under the hole must not leak out
                } else if i < w * h {
                    0.25
                } else {
                    0.75
                }
            })
            .collect();
        for smooth in [false, true] {
            let mut filled = planes.clone();
            pyramid_fill(&mut filled, &missing, w, h, smooth);
            assert!(
                filled[..w * h].iter().all(|&v| v == 0.25),
                "smooth {smooth}"
            );
            assert!(
                filled[w * h..].iter().all(|&v| v == 0.75),
                "smooth {smooth}"
            );
        }
    }

    #[test]
    fn fill_of_a_ramp_rises_across_the_hole_within_the_known_range() {
        // A horizontal ramp with a band of columns missing: the fill is a blend of both sides, rising with x.
        let (w, h) = (32, 8);
        let missing: Vec<bool> = (0..w * h).map(|i| (12..20).contains(&(i % w))).collect();
        let ramp: Vec<f32> = (0..w * h).map(|i| (i % w) as f32 / 31.0).collect();
        for smooth in [false, true] {
            let mut plane = ramp.clone();
            pyramid_fill(&mut plane, &missing, w, h, smooth);
            for y in 0..h {
                let band = &plane[y * w + 12..y * w + 20];
                assert!(
                    band.iter().all(|v| (0.0..=1.0).contains(v)),
                    "smooth {smooth}, row {y}: {band:?}"
                );
                assert!(band.windows(2).all(|p| p[0] <= p[1]), "row {y}: {band:?}");
                assert!(band[0] < band[7], "row {y}: {band:?}");
            }
        }
    }

    #[test]
    fn nothing_missing_is_the_identity() {
        for smooth in [false, true] {
            let mut plane = vec![0.1f32, 0.2, 0.3];
            pyramid_fill(&mut plane, &[false; 3], 3, 1, smooth);
            assert_eq!(plane, vec![0.1, 0.2, 0.3]);
        }
    }

    #[test]
    fn the_smooth_fill_follows_a_ramp_closer_than_push_pull() {
        // Harmonic and biharmonic surfaces through a linear ramp are that ramp: the relaxation must move the
        // push-pull blend towards it (a sign error or a wrong neighbour in the stencil would not).
        let (w, h) = (40, 40);
        let missing: Vec<bool> = (0..w * h)
            .map(|i| (10..30).contains(&(i % w)) && (10..30).contains(&(i / w)))
            .collect();
        let ramp: Vec<f32> = (0..w * h)
            .map(|i| 0.1 + 0.8 * ((i % w) + (i / w)) as f32 / 78.0)
            .collect();
        let error = |smooth| {
            let mut plane = ramp.clone();
            pyramid_fill(&mut plane, &missing, w, h, smooth);
            plane
                .iter()
                .zip(&ramp)
                .map(|(a, b)| (a - b).abs())
                .sum::<f32>()
        };
        let (push_pull, smooth) = (error(false), error(true));
        assert!(
            smooth < 0.5 * push_pull,
            "smooth {smooth}, push-pull {push_pull}"
        );
    }
}
