//! The mask degradation the inpainters were trained on (models/recipe/degrade.py, docs/design.md §3).
//!
//! depth2(p) is the squared Euclidean distance from a missing pixel to the nearest known pixel of the frame
//! (known pixels: 0). With dmax2 the largest depth2 of the mask, pixel p is still missing at step t iff
//! `depth2(p) * T^2 > dmax2 * (T - t)^2`, i.e. depth > dmax (1 - t/T): the whole mask at t = T, nothing at 0, and
//! the hole shrinks from its edge inward in equal fractions of its depth, so S sampler steps fill any hole in S
//! rings. Everything is integer arithmetic, so this side and numpy agree bit for bit (shared vectors in
//! tests/data). A missing pixel holds the model's fill (metadata `fill`): the push-pull fill of the pixels known
//! at that step relaxed towards a smooth surface by over-relaxation (`sor`, the embedded models) or by Jacobi
//! sweeps (`smooth`), the push-pull fill alone (`pyramid`; all three
//! src/degrade/pyramid_fill.rs), or a grey level in every colour channel (the first models: 0.5). The
//! still-missing mask is the fourth channel the restorer sees.

use anyhow::{bail, ensure, Context, Result};

use super::pyramid_fill::{pyramid_fill, Relaxation};
use super::Degradation;
use crate::frame::Frame;

/// What the still-missing pixels hold in the degraded frame (docs/design.md §3, the model card).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// This level in every colour channel.
    Grey(f32),
    /// The push-pull fill of the pixels known at that step.
    Pyramid,
    /// The push-pull fill relaxed to a smooth surface over the hole by Jacobi sweeps.
    Smooth,
    /// The push-pull fill relaxed to a smooth surface by successive over-relaxation.
    Sor,
}

impl std::fmt::Display for Fill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fill::Grey(v) => write!(f, "{v}"),
            Fill::Pyramid => f.write_str("pyramid"),
            Fill::Smooth => f.write_str("smooth"),
            Fill::Sor => f.write_str("sor"),
        }
    }
}

impl std::str::FromStr for Fill {
    type Err = anyhow::Error;
    /// The metadata's text: `sor`, `smooth`, `pyramid`, or a grey level in [0, 1].
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sor" => return Ok(Fill::Sor),
            "smooth" => return Ok(Fill::Smooth),
            "pyramid" => return Ok(Fill::Pyramid),
            _ => {}
        }
        let v: f32 = s.parse().with_context(|| {
            format!(
                "fill {s:?} is none of \"sor\", \"smooth\", \"pyramid\" or a number (the fills this binary \
                 computes)"
            )
        })?;
        ensure!((0.0..=1.0).contains(&v), "fill {v} is outside [0, 1]");
        Ok(Fill::Grey(v))
    }
}

const FAR: i64 = i64::MAX / 4;

/// Exact squared distance transform along one line (Felzenszwalb & Huttenlocher's lower envelope of parabolas).
/// `f[i]` is FAR where there is no source. Values stay below 2^53, so the f64 intersections are exact enough
/// that the envelope, and so every output, is the exact integer minimum.
fn edt_line(f: &[i64], out: &mut [i64], v: &mut Vec<usize>, z: &mut Vec<f64>) {
    v.clear();
    z.clear();
    for (q, &fq) in f.iter().enumerate() {
        if fq >= FAR {
            continue;
        }
        let cost = |p: usize| f[p] + (p * p) as i64;
        while let Some(&last) = v.last() {
            let s = (cost(q) - cost(last)) as f64 / (2 * (q - last)) as f64;
            // z holds the left edge of each parabola's interval; drop the last one while it is hidden.
            if v.len() > 1 && s <= z[z.len() - 1] {
                v.pop();
                z.pop();
            } else {
                z.push(s);
                break;
            }
        }
        if v.is_empty() {
            z.push(f64::NEG_INFINITY);
        }
        v.push(q);
    }
    if v.is_empty() {
        out.iter_mut().for_each(|o| *o = FAR);
        return;
    }
    let mut k = 0;
    for (q, o) in out.iter_mut().enumerate() {
        while k + 1 < v.len() && z[k + 1] < q as f64 {
            k += 1;
        }
        let d = q as i64 - v[k] as i64;
        *o = d * d + f[v[k]];
    }
}

/// Squared distance from each pixel to the nearest known (`false`) pixel; 0 on known pixels.
/// Errors if no pixel is known (there is nothing to fill from).
pub fn depth2(mask: &[bool], width: usize, height: usize) -> Result<Vec<u64>> {
    ensure!(
        mask.len() == width * height,
        "mask holds {} pixels, a {width}x{height} frame needs {}",
        mask.len(),
        width * height
    );
    if mask.iter().all(|&m| m) {
        bail!("the mask covers the whole {width}x{height} frame: there is nothing to fill it from");
    }
    let (mut v, mut z) = (Vec::new(), Vec::new());
    let mut cols = vec![0i64; width * height];
    let mut f = vec![0i64; height];
    let mut o = vec![0i64; height];
    for x in 0..width {
        for y in 0..height {
            f[y] = if mask[y * width + x] { FAR } else { 0 };
        }
        edt_line(&f, &mut o, &mut v, &mut z);
        for y in 0..height {
            cols[y * width + x] = o[y];
        }
    }
    let mut out = vec![0u64; width * height];
    let mut row = vec![0i64; width];
    for y in 0..height {
        edt_line(&cols[y * width..(y + 1) * width], &mut row, &mut v, &mut z);
        for (dst, &d) in out[y * width..(y + 1) * width].iter_mut().zip(&row) {
            // Some pixel is known, so after both passes every distance is finite.
            *dst = d as u64;
        }
    }
    Ok(out)
}

/// The mask degradation of one frame's mask, for t = 0..=T.
#[derive(Clone, Debug)]
pub struct MaskSchedule {
    pub width: usize,
    pub height: usize,
    pub t_max: usize,
    pub fill: Fill,
    depth2: Vec<u64>,
    dmax2: u64,
}

impl MaskSchedule {
    pub fn new(
        mask: &[bool],
        width: usize,
        height: usize,
        t_max: usize,
        fill: Fill,
    ) -> Result<Self> {
        ensure!(t_max > 0, "mask schedule needs T > 0");
        let depth2 = depth2(mask, width, height)?;
        let dmax2 = depth2.iter().copied().max().unwrap_or(0);
        Ok(MaskSchedule {
            width,
            height,
            t_max,
            fill,
            depth2,
            dmax2,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.dmax2 == 0
    }

    /// The pixels still missing at step t (t is clamped to T).
    pub fn missing_at(&self, t: usize) -> Vec<bool> {
        let (tt, t) = (self.t_max as u128, t.min(self.t_max) as u128);
        let limit = self.dmax2 as u128 * (tt - t) * (tt - t);
        self.depth2
            .iter()
            .map(|&d| d as u128 * tt * tt > limit)
            .collect()
    }
}

impl Degradation for MaskSchedule {
    /// RGB of `x` (3 or 4 channels) with the fill where the mask is still missing at t, plus that mask. The
    /// pyramid fill reads only the pixels known at t, so what `x` holds in the hole never matters.
    fn apply(&self, x: &Frame, t: usize) -> Frame {
        debug_assert!(x.width == self.width && x.height == self.height && x.channels >= 3);
        let missing = self.missing_at(t);
        let (w, h) = (self.width, self.height);
        let n = w * h;
        let mut data = Vec::with_capacity(4 * n);
        data.extend_from_slice(&x.data[..3 * n]);
        match self.fill {
            Fill::Grey(level) => {
                for plane in data.chunks_exact_mut(n) {
                    for (v, &m) in plane.iter_mut().zip(&missing) {
                        if m {
                            *v = level;
                        }
                    }
                }
            }
            Fill::Pyramid => pyramid_fill(&mut data, &missing, w, h, Relaxation::None),
            Fill::Smooth => pyramid_fill(&mut data, &missing, w, h, Relaxation::Jacobi),
            Fill::Sor => pyramid_fill(&mut data, &missing, w, h, Relaxation::Sor),
        }
        data.extend(missing.iter().map(|&m| if m { 1.0f32 } else { 0.0 }));
        Frame {
            width: self.width,
            height: self.height,
            channels: 4,
            data,
        }
    }

    fn full_last_step(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, by brute force over every known pixel.
    fn brute(mask: &[bool], w: usize, h: usize) -> Vec<u64> {
        (0..w * h)
            .map(|i| {
                if !mask[i] {
                    return 0;
                }
                let (x, y) = ((i % w) as i64, (i / w) as i64);
                (0..w * h)
                    .filter(|&j| !mask[j])
                    .map(|j| {
                        let (a, b) = ((j % w) as i64 - x, (j / w) as i64 - y);
                        (a * a + b * b) as u64
                    })
                    .min()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn depth_matches_brute_force_on_random_masks() {
        let mut s = 12345u64;
        for case in 0..60 {
            let (w, h) = (1 + case % 13, 1 + (case * 7) % 11);
            let density = [0.2, 0.6, 0.95][case % 3];
            let mask: Vec<bool> = (0..w * h)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((s >> 33) as f64 / (1u64 << 31) as f64) < density
                })
                .collect();
            if mask.iter().all(|&m| m) {
                assert!(depth2(&mask, w, h).is_err());
                continue;
            }
            assert_eq!(depth2(&mask, w, h).unwrap(), brute(&mask, w, h), "{w}x{h}");
        }
    }

    #[test]
    fn hole_shrinks_from_the_edge_inward_and_is_whole_at_t_max() {
        let (w, h) = (21, 15);
        let mask: Vec<bool> = (0..w * h)
            .map(|i| (3..18).contains(&(i % w)) && (2..13).contains(&(i / w)))
            .collect();
        let m = MaskSchedule::new(&mask, w, h, 20, Fill::Grey(0.5)).unwrap();
        assert_eq!(m.missing_at(20), mask);
        assert!(m.missing_at(0).iter().all(|&x| !x));
        let mut prev = m.missing_at(20);
        for t in (0..20).rev() {
            let cur = m.missing_at(t);
            // monotone: what is missing at t was missing at t + 1
            assert!(cur.iter().zip(&prev).all(|(&c, &p)| !c || p));
            prev = cur;
        }
        // the centre (depth 6) goes last, an edge pixel of the hole (depth 1) early: it is known once
        // 1 <= 6 (1 - t/20), i.e. from t = 16 down
        let centre = 7 * w + 10;
        let edge = 2 * w + 10;
        assert!(m.missing_at(1)[centre]);
        assert!(m.missing_at(17)[edge] && !m.missing_at(16)[edge]);
    }

    #[test]
    fn pyramid_fill_degradations_ignore_what_is_still_missing_and_keep_the_rest() {
        let (w, h) = (19, 14);
        let mask: Vec<bool> = (0..w * h)
            .map(|i| (5..13).contains(&(i % w)) && (4..11).contains(&(i / w)))
            .collect();
        for (fill, t) in [Fill::Pyramid, Fill::Smooth, Fill::Sor]
            .into_iter()
            .flat_map(|f| [20, 13, 5].map(|t| (f, t)))
        {
            let d = MaskSchedule::new(&mask, w, h, 20, fill).unwrap();
            let missing = d.missing_at(t);
            let frame = |under: f32| {
                let data = (0..3 * w * h)
                    .map(|i| {
                        if missing[i % (w * h)] {
                            under
                        } else {
                            ((i * 29) % 97) as f32 / 96.0
                        }
                    })
                    .collect();
                Frame::new(w, h, 3, data).unwrap()
            };
            let (x, a, b) = (frame(0.0), d.apply(&frame(0.0), t), d.apply(&frame(7.0), t));
            assert_eq!(
                &a.data[..3 * w * h],
                &b.data[..3 * w * h],
                "{fill} t={t}: the fill reads the hole"
            );
            for c in 0..3 {
                for (i, (&v, &m)) in a.plane(c).iter().zip(&missing).enumerate() {
                    if m {
                        assert!((0.0..=1.0).contains(&v), "{fill} t={t}: fill {v}");
                    } else {
                        assert_eq!(v, x.plane(c)[i], "{fill} t={t}: a known pixel changed");
                    }
                }
            }
            assert_eq!(a.plane(3), b.plane(3));
        }
    }

    #[test]
    fn fill_text_is_sor_smooth_pyramid_or_a_grey_level() {
        assert_eq!("sor".parse::<Fill>().unwrap(), Fill::Sor);
        assert_eq!("smooth".parse::<Fill>().unwrap(), Fill::Smooth);
        assert_eq!("pyramid".parse::<Fill>().unwrap(), Fill::Pyramid);
        assert_eq!("0.5".parse::<Fill>().unwrap(), Fill::Grey(0.5));
        assert!("1.5".parse::<Fill>().is_err());
        let e = "telea".parse::<Fill>().unwrap_err().to_string();
        assert!(e.contains("telea") && e.contains("smooth"), "{e}");
    }

    #[test]
    fn whole_frame_mask_is_refused_and_empty_mask_is_empty() {
        assert!(depth2(&[true; 12], 4, 3).is_err());
        let m = MaskSchedule::new(&[false; 12], 4, 3, 20, Fill::Grey(0.5)).unwrap();
        assert!(m.is_empty());
    }
}

#[cfg(test)]
mod sampler_tests {
    use super::*;
    use crate::sampler::{sample, Restore, Sampler};

    /// A w x h RGB frame of values ((i * step) % modulus) / (modulus - 1) in [0, 1], varied enough that a fill or
    /// a sampler mixing up pixels shows.
    fn pattern(w: usize, h: usize, step: usize, modulus: usize) -> Frame {
        let data = (0..3 * w * h)
            .map(|i| ((i * step) % modulus) as f32 / (modulus - 1) as f32)
            .collect();
        Frame::new(w, h, 3, data).expect("3 planes of w x h")
    }

    /// Knows the answer; records the mask channel of every state it is shown.
    struct Oracle {
        x0: Frame,
        masks: Vec<(usize, Vec<bool>)>,
    }

    impl Restore for Oracle {
        fn predict(&mut self, x: &Frame, t: usize) -> anyhow::Result<Frame> {
            self.masks
                .push((t, x.plane(3).iter().map(|&v| v > 0.5).collect()));
            Ok(self.x0.clone())
        }
    }

    /// An imperfect restorer used as `HoleOnly` uses the network: a made-up estimate where the state is still
    /// missing, the state itself elsewhere. `shortcut` says whether it lets the sampler skip D(x0, t).
    struct HoleGuess {
        shortcut: bool,
    }

    impl Restore for HoleGuess {
        fn predict(&mut self, x: &Frame, t: usize) -> anyhow::Result<Frame> {
            let mut x0 = x.clone();
            x0.truncate_channels(3);
            let n = x.width * x.height;
            for (i, v) in x0.data.iter_mut().enumerate() {
                if x.plane(3)[i % n] > 0.5 {
                    *v = (((i * 31 + t * 17) % 89) as f32 / 88.0 + *v) * 0.5;
                }
            }
            Ok(x0)
        }

        fn reproduces_its_state(&self) -> bool {
            self.shortcut
        }
    }

    #[test]
    fn skipping_d_at_t_for_a_hole_only_restorer_is_the_full_update_bit_for_bit() {
        let (w, h) = (37, 23);
        let x = pattern(w, h, 53, 97);
        let mask: Vec<bool> = (0..w * h)
            .map(|i| (6..29).contains(&(i % w)) && (4..19).contains(&(i / w)) || (i / w) == 20)
            .collect();
        for (fill, steps) in [Fill::Grey(0.5), Fill::Pyramid, Fill::Smooth, Fill::Sor]
            .into_iter()
            .flat_map(|f| [1, 3, 8].map(|s| (f, s)))
        {
            let d = MaskSchedule::new(&mask, w, h, 20, fill).unwrap();
            let start = d.apply(&x, 20);
            let run = |shortcut| {
                sample(
                    &mut HoleGuess { shortcut },
                    &d,
                    &start,
                    20,
                    steps,
                    Sampler::Improved,
                )
                .unwrap()
            };
            let (full, short) = (run(false), run(true));
            let same = full
                .data
                .iter()
                .zip(&short.data)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{fill} S={steps}");
        }
    }

    #[test]
    fn with_a_perfect_restorer_every_step_count_fills_the_hole_exactly() {
        let (w, h) = (24, 16);
        let x0 = pattern(w, h, 37, 101);
        let mask: Vec<bool> = (0..w * h)
            .map(|i| (4..20).contains(&(i % w)) && (3..13).contains(&(i / w)) || i % w == 1)
            .collect();
        for (fill, steps) in [Fill::Grey(0.5), Fill::Pyramid, Fill::Smooth, Fill::Sor]
            .into_iter()
            .flat_map(|f| [1, 2, 3, 7, 20].map(|s| (f, s)))
        {
            let d = MaskSchedule::new(&mask, w, h, 20, fill).unwrap();
            let mut r = Oracle {
                x0: x0.clone(),
                masks: vec![],
            };
            let out = sample(&mut r, &d, &d.apply(&x0, 20), 20, steps, Sampler::Improved).unwrap();
            assert_eq!(
                out.plane(3),
                vec![0.0; w * h].as_slice(),
                "{fill} S={steps}: hole left"
            );
            assert_eq!(&out.data[..3 * w * h], &x0.data[..], "{fill} S={steps}");
            assert_eq!(r.masks.len(), steps);
            for (t, m) in &r.masks {
                assert_eq!(m, &d.missing_at(*t), "{fill} S={steps}: state at t={t}");
            }
        }
    }
}
