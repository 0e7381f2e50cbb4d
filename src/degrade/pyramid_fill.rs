//! The fills the inpainters' degradation puts in the still-missing pixels (metadata `fill = sor`, `smooth` or
//! `pyramid`), ported from `pyramid_fill`, `_relax` and `_relax_sor` in models/recipe/degrade.py, whose docstrings
//! are the definition. Every step is the same float32 operation in the same order as numpy's, so both sides agree
//! bit for bit (shared vectors in tests/data/pyramid_vectors.bin).
//!
//! A mean pyramid of the known pixels is built by summing 2x2 cells (values and counts) down to 1x1, then read
//! back coarse to fine: each level keeps its own mean where it saw a known pixel and takes the coarser level,
//! upsampled bilinearly, where it saw none. Holes thus get a blend of their surroundings in O(pixels), whatever
//! their size. The relaxed fills then move each level's empty cells towards a smooth surface, harmonic and then
//! biharmonic, so the fill continues the known pixels' gradients instead of pasting blurred blocks: coarse levels
//! settle the large-scale shape cheaply, fine levels the detail next to the known pixels. `smooth` relaxes by
//! damped Jacobi sweeps, `sor` by successive over-relaxation, much closer to converged.

/// How each level's empty cells are relaxed after the push-pull: the fill names of the metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relaxation {
    /// Push-pull alone (`pyramid`).
    None,
    /// Damped Jacobi sweeps (`smooth`).
    Jacobi,
    /// Successive over-relaxation by colours (`sor`).
    Sor,
}

/// The smooth fill's sweeps per level (degrade.py's HARMONIC_SWEEPS, BIHARMONIC_SWEEPS, BIHARMONIC_DAMPING).
/// Undamped biharmonic Jacobi sweeps diverge (the iteration's eigenvalues reach 1 - 64/20); at 0.5 they stay
/// in [-0.6, 1].
const HARMONIC_SWEEPS: usize = 2;
const BIHARMONIC_SWEEPS: usize = 8;
const BIHARMONIC_DAMPING: f32 = 0.5;

/// The sor fill's sweeps and over-relaxation factors (degrade.py's SOR_*, which say why): the finest level gets
/// twice the biharmonic sweeps.
const SOR_HARMONIC_SWEEPS: usize = 2;
const SOR_HARMONIC_OMEGA: f32 = 1.5;
const SOR_BIHARMONIC_SWEEPS: usize = 16;
const SOR_BIHARMONIC_SWEEPS_FINEST: usize = 32;
const SOR_BIHARMONIC_OMEGA: f32 = 1.8;

/// One pyramid level: `channels` planes of value sums, and the count of known pixels under each cell.
struct Level {
    width: usize,
    height: usize,
    sums: Vec<f32>,
    counts: Vec<f32>,
}

/// The next level: zero-padded 2x2 cell sums as ((top-left + top-right) + bottom-left) + bottom-right (a cell
/// reaching past the edge adds 0.0 for the missing samples, as numpy's zero padding does).
fn push(planes: &[f32], width: usize, height: usize, channels: usize) -> Vec<f32> {
    let (w2, h2) = (width.div_ceil(2), height.div_ceil(2));
    let mut out = Vec::with_capacity(channels * w2 * h2);
    let zeros = vec![0.0f32; width];
    for plane in planes.chunks_exact(width * height).take(channels) {
        for y in 0..h2 {
            let top = &plane[2 * y * width..(2 * y + 1) * width];
            let bottom = if 2 * y + 1 < height {
                &plane[(2 * y + 1) * width..(2 * y + 2) * width]
            } else {
                &zeros[..]
            };
            let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            out.extend(pairs.map(|(t, b)| ((t[0] + t[1]) + b[0]) + b[1]));
            if width % 2 == 1 {
                out.push(((top[width - 1] + 0.0) + bottom[width - 1]) + 0.0);
            }
        }
    }
    out
}

/// One axis of the 2x bilinear upsampling with half-pixel centres and edge clamping: output 2i is
/// 0.25 v[i - 1] + 0.75 v[i], output 2i + 1 is 0.75 v[i] + 0.25 v[i + 1], indices clamped; `out.len()` outputs
/// (the crop to the finer level's size comes for free).
fn upsample_line(v: &[f32], out: &mut [f32]) {
    let (last, tail) = (v.len() - 1, 2 * (out.len() / 2));
    // Whole output pairs spell out upsample_taps' two cases: asking it per sample costs the pyramid fill 17%
    // (step_latency, 4.0 -> 4.7 ms at 640x480); an odd last output takes it as is.
    let mut pairs = out.chunks_exact_mut(2);
    for (i, pair) in pairs.by_ref().enumerate() {
        pair[0] = 0.25 * v[i.saturating_sub(1)] + 0.75 * v[i];
        pair[1] = 0.75 * v[i] + 0.25 * v[(i + 1).min(last)];
    }
    if let [o] = pairs.into_remainder() {
        let (first, second, w_first, w_second) = upsample_taps(tail, last);
        *o = w_first * v[first] + w_second * v[second];
    }
}

/// Output j's two source indices and weights in a 2x bilinear upsampling of samples 0..=last (upsample_line's
/// rule; upsample2's vertical pass takes the same taps for whole rows, so both give the same bits).
fn upsample_taps(j: usize, last: usize) -> (usize, usize, f32, f32) {
    let i = j / 2;
    if j.is_multiple_of(2) {
        (i.saturating_sub(1), i, 0.25, 0.75)
    } else {
        (i, (i + 1).min(last), 0.75, 0.25)
    }
}

/// `coarse` (channels x ch x cw) upsampled 2x, rows then columns, cropped to width x height. The vertical pass
/// blends two whole source rows (`upsample_taps`, the same two products and sum per sample as `upsample_line`),
/// which reads memory in order where a column-by-column pass would stride across it.
fn upsample2(coarse: &[f32], cw: usize, ch: usize, width: usize, height: usize) -> Vec<f32> {
    let channels = coarse.len() / (cw * ch);
    let mut out = vec![0.0f32; channels * height * width];
    let mut blended = vec![0.0f32; cw];
    for (src, dst) in coarse
        .chunks_exact(cw * ch)
        .zip(out.chunks_exact_mut(width * height))
        .take(channels)
    {
        for (y, dst_row) in dst.chunks_exact_mut(width).enumerate() {
            let (first, second, w_first, w_second) = upsample_taps(y, ch - 1);
            let (a, b) = (
                &src[first * cw..(first + 1) * cw],
                &src[second * cw..(second + 1) * cw],
            );
            for ((o, &p), &q) in blended.iter_mut().zip(a).zip(b) {
                *o = w_first * p + w_second * q;
            }
            upsample_line(&blended, dst_row);
        }
    }
    out
}

/// Neighbour offsets (dy, dx) in the order the stencils sum them (degrade.py's _HARMONIC_OFFSETS and
/// _BIHARMONIC_OFFSETS): N, S, W, E, then NW, NE, SW, SE, then NN, SS, WW, EE.
const HARMONIC_OFFSETS: [(isize, isize); 4] = [(-1, 0), (1, 0), (0, -1), (0, 1)];
const BIHARMONIC_OFFSETS: [(isize, isize); 12] = [
    (-1, 0),
    (1, 0),
    (0, -1),
    (0, 1),
    (-1, -1),
    (-1, 1),
    (1, -1),
    (1, 1),
    (-2, 0),
    (2, 0),
    (0, -2),
    (0, 2),
];

/// The harmonic target of a cell from its 4 neighbours: `0.25 * (((N + S) + W) + E)`.
fn harmonic_target(n: [f32; 4]) -> f32 {
    0.25 * (((n[0] + n[1]) + n[2]) + n[3])
}

/// The biharmonic target of a cell from its 12 neighbours (BIHARMONIC_OFFSETS order):
/// `((8 * ((N + S) + (W + E)) - 2 * ((NW + NE) + (SW + SE))) - ((NN + SS) + (WW + EE))) / 20`.
fn biharmonic_target(n: [f32; 12]) -> f32 {
    let n4 = (n[0] + n[1]) + (n[2] + n[3]);
    let dg = (n[4] + n[5]) + (n[6] + n[7]);
    let fr = (n[8] + n[9]) + (n[10] + n[11]);
    ((8.0 * n4 - 2.0 * dg) - fr) / 20.0
}

/// The values at `offsets` (each within 2 of the cell) around (x, y) of a width x height plane, coordinates
/// clamped to its edges.
fn clamped<const K: usize>(
    plane: &[f32],
    width: usize,
    height: usize,
    x: usize,
    y: usize,
    offsets: &[(isize, isize); K],
) -> [f32; K] {
    // Clamped rows and columns -2..=2 around the cell, worked out once for all its neighbours.
    let rows = [-2, -1, 0, 1, 2].map(|d| y.saturating_add_signed(d).min(height - 1) * width);
    let cols = [-2, -1, 0, 1, 2].map(|d| x.saturating_add_signed(d).min(width - 1));
    let mut out = [0.0f32; K];
    for (o, &(dy, dx)) in out.iter_mut().zip(offsets) {
        *o = plane[rows[(dy + 2) as usize] + cols[(dx + 2) as usize]];
    }
    out
}

/// The values at `offsets` around flat index i of a plane `width` wide, for a cell whose stencil lies inside it.
fn inside<const K: usize>(
    plane: &[f32],
    width: usize,
    i: usize,
    offsets: &[(isize, isize); K],
) -> [f32; K] {
    let mut out = [0.0f32; K];
    for (o, &(dy, dx)) in out.iter_mut().zip(offsets) {
        *o = plane[i.wrapping_add_signed(dy * width as isize + dx)];
    }
    out
}

/// Jacobi sweeps over the cells of one level (`channels` planes of width x height) whose count is zero: every
/// such cell is recomputed from the previous sweep's values, the others stay; neighbours are clamped at the
/// level's edges. Harmonic sweeps take `harmonic_target`; biharmonic ones `e + damping * (u - e)` with u the
/// `biharmonic_target`.
fn relax_jacobi(estimate: &mut [f32], counts: &[f32], width: usize, height: usize) {
    let empty: Vec<(usize, usize)> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .filter(|&(x, y)| counts[y * width + x] == 0.0)
        .collect();
    let mut next = vec![0.0f32; empty.len()];
    for plane in estimate.chunks_exact_mut(width * height) {
        for sweep in 0..HARMONIC_SWEEPS + BIHARMONIC_SWEEPS {
            for (out, &(x, y)) in next.iter_mut().zip(&empty) {
                *out = if sweep < HARMONIC_SWEEPS {
                    harmonic_target(clamped(plane, width, height, x, y, &HARMONIC_OFFSETS))
                } else {
                    let u =
                        biharmonic_target(clamped(plane, width, height, x, y, &BIHARMONIC_OFFSETS));
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

/// The empty cells of one colour of the over-relaxation: those whose stencil lies inside the level (read by
/// fixed offsets) and those near an edge (neighbours clamped). Within a colour the order never matters: no cell
/// reads another of its colour.
#[derive(Default)]
struct ColourCells {
    interior: Vec<usize>,
    border: Vec<(usize, usize)>,
}

/// The empty cells (count zero) of a width x height level split into `colours` colours by `colour(x, y)`, with
/// `reach` the stencil's radius.
fn colour_cells(
    counts: &[f32],
    width: usize,
    height: usize,
    colours: usize,
    reach: usize,
    colour: impl Fn(usize, usize) -> usize,
) -> Vec<ColourCells> {
    let mut sets: Vec<ColourCells> = (0..colours).map(|_| ColourCells::default()).collect();
    for y in 0..height {
        for x in 0..width {
            if counts[y * width + x] != 0.0 {
                continue;
            }
            let set = &mut sets[colour(x, y)];
            if x >= reach && y >= reach && x + reach < width && y + reach < height {
                set.interior.push(y * width + x);
            } else {
                set.border.push((x, y));
            }
        }
    }
    sets
}

/// Over-relaxation sweeps over the cells of one level whose count is zero, colour by colour (degrade.py's
/// `_relax_sor`): harmonic with colours (x + y) mod 2, then `biharmonic_sweeps` biharmonic with colours
/// (y + 2x) mod 5; every cell reads the current values, neighbours clamped at the level's edges, and moves to
/// `e + omega * (target - e)`. Updating in place is the vectorised update of numpy because no cell of a colour
/// is in the stencil of another of that colour (at the edges a clamped neighbour may be the cell itself, read
/// before it is written).
fn relax_sor(
    estimate: &mut [f32],
    counts: &[f32],
    width: usize,
    height: usize,
    biharmonic_sweeps: usize,
) {
    let harmonic = colour_cells(counts, width, height, 2, 1, |x, y| (x + y) % 2);
    let biharmonic = colour_cells(counts, width, height, 5, 2, |x, y| (y + 2 * x) % 5);
    let toward = |e: f32, omega: f32, target: f32| e + omega * (target - e);
    for plane in estimate.chunks_exact_mut(width * height) {
        for _ in 0..SOR_HARMONIC_SWEEPS {
            for set in &harmonic {
                for &i in &set.interior {
                    let u = harmonic_target(inside(plane, width, i, &HARMONIC_OFFSETS));
                    plane[i] = toward(plane[i], SOR_HARMONIC_OMEGA, u);
                }
                for &(x, y) in &set.border {
                    let u = harmonic_target(clamped(plane, width, height, x, y, &HARMONIC_OFFSETS));
                    let i = y * width + x;
                    plane[i] = toward(plane[i], SOR_HARMONIC_OMEGA, u);
                }
            }
        }
        for _ in 0..biharmonic_sweeps {
            for set in &biharmonic {
                for &i in &set.interior {
                    let u = biharmonic_target(inside(plane, width, i, &BIHARMONIC_OFFSETS));
                    plane[i] = toward(plane[i], SOR_BIHARMONIC_OMEGA, u);
                }
                for &(x, y) in &set.border {
                    let u =
                        biharmonic_target(clamped(plane, width, height, x, y, &BIHARMONIC_OFFSETS));
                    let i = y * width + x;
                    plane[i] = toward(plane[i], SOR_BIHARMONIC_OMEGA, u);
                }
            }
        }
    }
}

/// Overwrites the missing pixels of `planes` (`channels` planes of width x height) with the push-pull fill of
/// the known ones, relaxed to a smooth surface and clamped to [0, 1] unless `relax` is `Relaxation::None`. The caller guarantees some
/// pixel is known when any is missing (the mask schedule refuses a mask over the whole frame); with none missing
/// the planes are left as they are.
pub fn pyramid_fill(
    planes: &mut [f32],
    missing: &[bool],
    width: usize,
    height: usize,
    relax: Relaxation,
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
        match relax {
            Relaxation::None => {}
            Relaxation::Jacobi => relax_jacobi(&mut up, &level.counts, level.width, level.height),
            Relaxation::Sor => {
                // levels[0] is the frame itself.
                let sweeps = if level.width == width && level.height == height {
                    SOR_BIHARMONIC_SWEEPS_FINEST
                } else {
                    SOR_BIHARMONIC_SWEEPS
                };
                relax_sor(&mut up, &level.counts, level.width, level.height, sweeps);
            }
        }
        estimate = up;
        (ew, eh) = (level.width, level.height);
    }
    for (plane, est) in planes.chunks_exact_mut(n).zip(estimate.chunks_exact(n)) {
        for ((p, &e), &m) in plane.iter_mut().zip(est).zip(missing) {
            if m {
                *p = if relax == Relaxation::None {
                    e
                } else {
                    e.clamp(0.0, 1.0)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Relaxation; 3] = [Relaxation::None, Relaxation::Jacobi, Relaxation::Sor];

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
        for relax in ALL {
            let mut filled = planes.clone();
            pyramid_fill(&mut filled, &missing, w, h, relax);
            assert!(filled[..w * h].iter().all(|&v| v == 0.25), "{relax:?}");
            assert!(filled[w * h..].iter().all(|&v| v == 0.75), "{relax:?}");
        }
    }

    #[test]
    fn fill_of_a_ramp_rises_across_the_hole_within_the_known_range() {
        // A horizontal ramp with a band of columns missing: the fill is a blend of both sides, rising with x.
        let (w, h) = (32, 8);
        let missing: Vec<bool> = (0..w * h).map(|i| (12..20).contains(&(i % w))).collect();
        let ramp: Vec<f32> = (0..w * h).map(|i| (i % w) as f32 / 31.0).collect();
        for relax in ALL {
            let mut plane = ramp.clone();
            pyramid_fill(&mut plane, &missing, w, h, relax);
            for y in 0..h {
                let band = &plane[y * w + 12..y * w + 20];
                assert!(
                    band.iter().all(|v| (0.0..=1.0).contains(v)),
                    "{relax:?}, row {y}: {band:?}"
                );
                assert!(band.windows(2).all(|p| p[0] <= p[1]), "row {y}: {band:?}");
                assert!(band[0] < band[7], "row {y}: {band:?}");
            }
        }
    }

    #[test]
    fn nothing_missing_is_the_identity() {
        for relax in ALL {
            let mut plane = vec![0.1f32, 0.2, 0.3];
            pyramid_fill(&mut plane, &[false; 3], 3, 1, relax);
            assert_eq!(plane, vec![0.1, 0.2, 0.3]);
        }
    }

    #[test]
    fn the_relaxed_fills_follow_a_ramp_closer_than_push_pull_and_sor_closest() {
        // Harmonic and biharmonic surfaces through a linear ramp are that ramp: the relaxation must move the
        // push-pull blend towards it (a sign error or a wrong neighbour in the stencil would not), and the
        // over-relaxation, closer to converged, nearer than the Jacobi sweeps.
        let (w, h) = (40, 40);
        let missing: Vec<bool> = (0..w * h)
            .map(|i| (10..30).contains(&(i % w)) && (10..30).contains(&(i / w)))
            .collect();
        let ramp: Vec<f32> = (0..w * h)
            .map(|i| 0.1 + 0.8 * ((i % w) + (i / w)) as f32 / 78.0)
            .collect();
        let error = |relax| {
            let mut plane = ramp.clone();
            pyramid_fill(&mut plane, &missing, w, h, relax);
            plane
                .iter()
                .zip(&ramp)
                .map(|(a, b)| (a - b).abs())
                .sum::<f32>()
        };
        let (push_pull, jacobi, sor) = (
            error(Relaxation::None),
            error(Relaxation::Jacobi),
            error(Relaxation::Sor),
        );
        assert!(
            jacobi < 0.5 * push_pull,
            "jacobi {jacobi}, push-pull {push_pull}"
        );
        assert!(sor < 0.5 * jacobi, "sor {sor}, jacobi {jacobi}");
    }
}
