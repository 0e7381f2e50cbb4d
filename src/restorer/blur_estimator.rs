//! The blur estimator network (models/recipe/estimator.py) through tract: what `--severity auto` knows of a
//! frame's blur. The file computes one answer per 16x16 block it sees (kind logits, t / T, the trail's direction,
//! a score); the frame's answer pools the blocks of a fixed set of crops, weighted by the softmax of their scores
//! (docs/design.md §2b), so the cost is bounded whatever the frame's size and textured regions decide.

use std::collections::HashMap;

use anyhow::{bail, ensure, Context, Result};
use tract_onnx::prelude::*;

use crate::degrade::camera_blur::CameraBlur;
use crate::frame::{Frame, Rect};
use crate::trail::{refined_length, trail_dips, Plane};

/// The side of the crops read, and at most this many per axis.
pub const CROP: usize = 256;
const GRID: usize = 3;
/// Blocks are 16x16 pixels.
const STRIDE: usize = 16;
/// Per block: 4 kind logits, t / T, two direction values, the score.
const OUT: usize = 8;

/// What the estimator can say a frame's blur is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlurKind {
    None,
    Gaussian,
    Defocus,
    /// A line or a curved trail (camera shake is told as its dominant direction).
    Motion,
}

pub const KINDS: [BlurKind; 4] = [
    BlurKind::None,
    BlurKind::Gaussian,
    BlurKind::Defocus,
    BlurKind::Motion,
];

impl BlurKind {
    pub fn name(self) -> &'static str {
        match self {
            BlurKind::None => "none",
            BlurKind::Gaussian => "gaussian",
            BlurKind::Defocus => "defocus",
            BlurKind::Motion => "motion",
        }
    }
}

/// The estimate for one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlurEstimate {
    pub kind: BlurKind,
    /// The extent step, 1..=T (0 for `None`).
    pub t: usize,
    /// The trail's second-moment direction (a cos 2θ, a sin 2θ; image y down), for `Motion`.
    pub direction: [f32; 2],
}

/// How far the binary trusts an estimate (metadata `auto_shrink`, `auto_min_confidence`, `auto_shrink_trail`,
/// `auto_min_confidence_isotropic`, picked on training photos by models/recipe/calibrate_auto.py; a file
/// without them is trusted as it answers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrustRule {
    /// Steps taken off the estimated extent: under-sharpening costs a little gain, over-sharpening makes halos.
    pub shrink: usize,
    /// Steps taken off a trail's extent instead, where given: a trail measured by its dip needs less margin.
    pub shrink_trail: Option<usize>,
    /// A blurred kind named with a softmax probability under this passes the frame through.
    pub min_confidence: f64,
    /// Where given, a disc or a Gaussian passes through only when the two isotropic kinds' probabilities
    /// together are under this: the network often splits a small blur between the two, which is doubt about
    /// its shape, not about there being one.
    pub min_confidence_isotropic: Option<f64>,
    /// A trail's length is taken from its own dip near the network's (`crate::trail`; metadata `auto_trail`).
    pub trail: bool,
}

pub struct BlurEstimator {
    model: InferenceModel,
    pub name: String,
    t_max: usize,
    pub rule: TrustRule,
    plans: HashMap<(usize, usize), Arc<TypedRunnableModel>>,
}

/// Where the crops of a frame lie: up to GRID per axis, CROP pixels each, spread evenly from edge to edge (one,
/// centred, where fewer than two fit); a side shorter than a crop is read whole, cut to a multiple of 16.
pub fn crops(width: usize, height: usize) -> Vec<Rect> {
    let axis = |n: usize| -> (Vec<usize>, usize) {
        if n < CROP {
            return (vec![0], n - n % STRIDE);
        }
        let k = GRID.min(n / CROP);
        if k == 1 {
            return (vec![(n - CROP) / 2], CROP);
        }
        ((0..k).map(|i| (n - CROP) * i / (k - 1)).collect(), CROP)
    };
    let ((ys, h), (xs, w)) = (axis(height), axis(width));
    ys.iter()
        .flat_map(|&y| xs.iter().map(move |&x| Rect { x, y, w, h }))
        .collect()
}

/// A step count from the file's metadata, if there.
fn step_count(props: &HashMap<String, String>, key: &str, source: &str) -> Result<Option<usize>> {
    props
        .get(key)
        .map(|v| {
            v.parse()
                .ok()
                .with_context(|| format!("{source}: metadata {key} {v:?} is not a step count"))
        })
        .transpose()
}

/// A probability from the file's metadata, if there.
fn probability(props: &HashMap<String, String>, key: &str, source: &str) -> Result<Option<f64>> {
    props
        .get(key)
        .map(|v| {
            v.parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .with_context(|| format!("{source}: metadata {key} {v:?} is not in [0, 1]"))
        })
        .transpose()
}

impl BlurEstimator {
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<Self> {
        let (model, props) = super::load_onnx(bytes, source)?;
        let prop = |key: &str| props.get(key).cloned();
        if prop("task").as_deref() != Some("blur-estimate") {
            bail!(
                "{source}: not a blur estimator (metadata task {:?})",
                prop("task")
            );
        }
        let kinds = prop("kinds").unwrap_or_default();
        ensure!(
            kinds == "none,gaussian,defocus,motion",
            "{source}: estimates kinds {kinds:?}, this binary reads none,gaussian,defocus,motion"
        );
        let t_max = prop("T")
            .and_then(|t| t.parse().ok())
            .with_context(|| format!("{source}: metadata T missing or not a number"))?;
        let name = prop("name").unwrap_or_else(|| source.to_string());
        let rule = TrustRule {
            shrink: step_count(&props, "auto_shrink", source)?.unwrap_or(0),
            shrink_trail: step_count(&props, "auto_shrink_trail", source)?,
            min_confidence: probability(&props, "auto_min_confidence", source)?.unwrap_or(0.0),
            min_confidence_isotropic: probability(&props, "auto_min_confidence_isotropic", source)?,
            trail: match prop("auto_trail").as_deref() {
                None | Some("0") => false,
                Some("1") => true,
                Some(v) => bail!("{source}: metadata auto_trail {v:?} is not 0 or 1"),
            },
        };
        Ok(BlurEstimator {
            model,
            name,
            t_max,
            rule,
            plans: HashMap::new(),
        })
    }

    fn plan(&mut self, w: usize, h: usize) -> Result<Arc<TypedRunnableModel>> {
        if let Some(p) = self.plans.get(&(w, h)) {
            return Ok(p.clone());
        }
        let plan = self
            .model
            .clone()
            .with_input_fact(0, f32::fact([1, 3, h, w]).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .with_context(|| format!("{}: cannot build a plan for {w}x{h}", self.name))?;
        self.plans.insert((w, h), plan.clone());
        Ok(plan)
    }

    /// The frame's estimate (RGB in [0, 1]); deterministic, a function of the frame alone. Frames under 16
    /// pixels on a side are too small to tell and come back `None`.
    pub fn estimate(&mut self, frame: &Frame) -> Result<BlurEstimate> {
        ensure!(frame.channels == 3, "the blur estimator reads RGB frames");
        self.estimate_crops(frame.width, frame.height, &|r| frame.region(r))
    }

    /// `estimate` of a width x height image of which `crop` cuts RGB regions: a large still is never converted
    /// whole.
    pub fn estimate_crops(
        &mut self,
        width: usize,
        height: usize,
        crop: &dyn Fn(Rect) -> Frame,
    ) -> Result<BlurEstimate> {
        let rects = crops(width, height);
        if rects[0].w == 0 || rects[0].h == 0 {
            return Ok(BlurEstimate {
                kind: BlurKind::None,
                t: 0,
                direction: [0.0; 2],
            });
        }
        // every block's outputs, of every crop: [OUT][blocks]
        let mut blocks: Vec<Vec<f32>> = vec![Vec::new(); OUT];
        let mut planes = Vec::new();
        for r in rects {
            let region = crop(r);
            let flat = self.blocks(&region)?;
            let n = flat.len() / OUT;
            for (c, dst) in blocks.iter_mut().enumerate() {
                dst.extend_from_slice(&flat[c * n..(c + 1) * n]);
            }
            if self.rule.trail {
                planes.push(Plane::mean_of(&region));
            }
        }
        let mut pooled = pool(&blocks);
        if self.rule.trail {
            refine_trail(&mut pooled, &planes, self.t_max);
        }
        Ok(decode(&pooled, self.t_max, self.rule))
    }
}

impl BlurEstimator {
    /// The network's answer for every 16x16 block of `crop` (RGB, sides multiples of 16): [OUT][h/16][w/16].
    pub fn blocks(&mut self, crop: &Frame) -> Result<Vec<f32>> {
        ensure!(crop.channels == 3, "the blur estimator reads RGB frames");
        let (w, h) = (crop.width, crop.height);
        ensure!(
            w % STRIDE == 0 && h % STRIDE == 0 && w > 0 && h > 0,
            "the blur estimator reads crops of multiples of {STRIDE} pixels, not {w}x{h}"
        );
        let plan = self.plan(w, h)?;
        let x = Tensor::from_shape(&[1, 3, h, w], &crop.data)?;
        let out = plan
            .run(tvec!(x.into()))
            .with_context(|| format!("{} failed on a {w}x{h} crop", self.name))?;
        let y = out[0].to_plain_array_view::<f32>()?;
        ensure!(
            y.shape() == [1, OUT, h / STRIDE, w / STRIDE],
            "{} returned shape {:?} for a {w}x{h} crop",
            self.name,
            y.shape()
        );
        Ok(y.iter().copied().collect())
    }
}

/// A motion answer's extent from its trail's dip (`crate::trail`) near the network's length, in the crops'
/// channel means (models/recipe/estimator.py `refine_trail`); other kinds, and no dip, keep the network's.
fn refine_trail(pooled: &mut [f64; OUT - 1], planes: &[Plane], t_max: usize) {
    let logits = &pooled[..KINDS.len()];
    if KINDS[most_likely(logits, 0)] != BlurKind::Motion {
        return;
    }
    let step = CameraBlur::Motion { angle: 0.0 }.step_px();
    let length = pooled[KINDS.len()] * t_max as f64 * step;
    let direction = [
        pooled[KINDS.len() + 1] as f32,
        pooled[KINDS.len() + 2] as f32,
    ];
    let Some(dips) = trail_dips(planes, motion_angle(direction) as f64) else {
        return;
    };
    if let Some(k) = refined_length(&dips, length) {
        pooled[KINDS.len()] = k as f64 / step / t_max as f64;
    }
}

/// The index of the largest of `logits[from..]` (the first of equal ones, as numpy's argmax).
fn most_likely(logits: &[f64], from: usize) -> usize {
    (from + 1..logits.len()).fold(from, |b, k| if logits[k] > logits[b] { k } else { b })
}

/// The line direction a descriptor's (a cos 2θ, a sin 2θ) names, in the motion blur's convention: degrees
/// counter-clockwise from the x axis with y up, 0..180 (blur_mix.py `motion_angle`).
pub fn motion_angle(direction: [f32; 2]) -> f32 {
    let a = -0.5
        * (direction[1] as f64)
            .atan2(direction[0] as f64)
            .to_degrees();
    a.rem_euclid(180.0) as f32
}

/// The softmax-of-scores weighted mean of every block's answer (f64, as the recipe's numpy).
fn pool(blocks: &[Vec<f32>]) -> [f64; OUT - 1] {
    let score = &blocks[OUT - 1];
    let top = score.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let w: Vec<f64> = score.iter().map(|&s| (s as f64 - top).exp()).collect();
    let total: f64 = w.iter().sum();
    let mut out = [0.0; OUT - 1];
    for (o, vals) in out.iter_mut().zip(blocks) {
        *o = vals
            .iter()
            .zip(&w)
            .map(|(&v, &wi)| v as f64 * wi)
            .sum::<f64>()
            / total;
    }
    out
}

/// The pooled answer as an estimate, under the trust rule (models/recipe/estimator.py `decode_rule`): the most
/// probable blurred kind, unless its evidence (its probability; a disc's or a Gaussian's, under
/// `min_confidence_isotropic`, the two isotropic kinds' together) does not outweigh "none" or falls short of the
/// rule's confidence.
fn decode(pooled: &[f64; OUT - 1], t_max: usize, rule: TrustRule) -> BlurEstimate {
    let none = BlurEstimate {
        kind: BlurKind::None,
        t: 0,
        direction: [0.0; 2],
    };
    let logits = &pooled[..KINDS.len()];
    let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let p: Vec<f64> = logits.iter().map(|&l| (l - top).exp()).collect();
    let total: f64 = p.iter().sum();
    let p: Vec<f64> = p.iter().map(|v| v / total).collect();
    let best = most_likely(logits, 1);
    let kind = KINDS[best];
    let trail = kind == BlurKind::Motion;
    let (evidence, needed) = match rule.min_confidence_isotropic {
        Some(needed) if !trail => (p[1] + p[2], needed),
        _ => (p[best], rule.min_confidence),
    };
    if p[0] >= evidence || evidence < needed {
        return none;
    }
    let shrink = match rule.shrink_trail {
        Some(s) if trail => s,
        _ => rule.shrink,
    };
    let t = (pooled[KINDS.len()] * t_max as f64)
        .round()
        .clamp(1.0, t_max as f64) as usize;
    let Some(t) = t.checked_sub(shrink).filter(|&t| t >= 1) else {
        return none;
    };
    let direction = if trail {
        [
            pooled[KINDS.len() + 1] as f32,
            pooled[KINDS.len() + 2] as f32,
        ]
    } else {
        [0.0; 2]
    };
    BlurEstimate { kind, t, direction }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_spread_over_the_frame_as_the_recipe_places_them() {
        // the recipe's estimator.crop_origins, for the same sizes
        let origins = |w, h| -> Vec<(usize, usize, usize, usize)> {
            crops(w, h).iter().map(|r| (r.x, r.y, r.w, r.h)).collect()
        };
        assert_eq!(
            origins(720, 480),
            vec![(0, 112, 256, 256), (464, 112, 256, 256)]
        );
        assert_eq!(origins(320, 240), vec![(32, 0, 256, 240)]);
        assert_eq!(origins(101, 75), vec![(0, 0, 96, 64)]);
        let big = origins(3840, 2160);
        assert_eq!(big.len(), 9);
        assert_eq!((big[8].0, big[8].1), (3584, 1904));
        assert_eq!(origins(10, 10), vec![(0, 0, 0, 0)]);
    }

    #[test]
    fn decoding_picks_the_largest_logit_and_rounds_the_step() {
        let mut p = [0.0; OUT - 1];
        p[3] = 2.0; // motion
        p[4] = 0.52; // t / T: 10.4 -> 10
        p[5] = 0.5;
        p[6] = -0.5;
        let e = decode(&p, 20, TrustRule::default());
        assert_eq!(
            (e.kind, e.t, e.direction),
            (BlurKind::Motion, 10, [0.5, -0.5])
        );
        p[0] = 3.0;
        assert_eq!(decode(&p, 20, TrustRule::default()).kind, BlurKind::None);
        assert_eq!(decode(&p, 20, TrustRule::default()).t, 0);
        // a tiny extent still names a blur of one step
        let mut g = [0.0; OUT - 1];
        g[1] = 1.0;
        g[4] = 0.001;
        assert_eq!(
            (
                decode(&g, 20, TrustRule::default()).kind,
                decode(&g, 20, TrustRule::default()).t
            ),
            (BlurKind::Gaussian, 1)
        );
    }

    #[test]
    fn the_trust_rule_shrinks_the_extent_and_passes_unsure_frames_through() {
        // motion with logits (0, 0, 0, ln 3): softmax probability 3 / 6 = 0.5; t / T 0.3 -> 6
        let mut p = [0.0; OUT - 1];
        p[3] = 3f64.ln();
        p[4] = 0.3;
        let rule = |shrink, min_confidence| TrustRule {
            shrink,
            min_confidence,
            ..TrustRule::default()
        };
        assert_eq!(decode(&p, 20, rule(2, 0.0)).t, 4);
        assert_eq!(decode(&p, 20, rule(2, 0.49)).kind, BlurKind::Motion);
        assert_eq!(decode(&p, 20, rule(2, 0.51)).kind, BlurKind::None);
        // shrinking a 6-step estimate by 6 leaves no blur to invert
        assert_eq!(decode(&p, 20, rule(5, 0.0)).t, 1);
        let gone = decode(&p, 20, rule(6, 0.0));
        assert_eq!((gone.kind, gone.t), (BlurKind::None, 0));
    }

    #[test]
    fn an_isotropic_blur_split_between_disc_and_gaussian_is_still_a_blur() {
        // logits (ln 2, ln 1.5, ln 1.5, 0): none 2/6, Gaussian and defocus 1.5/6 each, motion 1/6
        let mut p = [0.0; OUT - 1];
        p[0] = 2f64.ln();
        p[1] = 1.5f64.ln();
        p[2] = 1.5f64.ln();
        p[4] = 0.3;
        let own = TrustRule {
            shrink: 1,
            min_confidence: 0.4,
            ..TrustRule::default()
        };
        // on its own probability the Gaussian (first of the equal two) loses to "none"
        assert_eq!(decode(&p, 20, own).kind, BlurKind::None);
        let together = |needed| TrustRule {
            min_confidence_isotropic: Some(needed),
            ..own
        };
        let e = decode(&p, 20, together(0.5));
        assert_eq!((e.kind, e.t), (BlurKind::Gaussian, 5));
        assert_eq!(decode(&p, 20, together(0.51)).kind, BlurKind::None);
        // a trail is still gated on its own probability, and shrunk by its own count
        let mut m = [0.0; OUT - 1];
        m[3] = 3f64.ln();
        m[4] = 0.3;
        let trail = TrustRule {
            shrink_trail: Some(0),
            ..together(0.0)
        };
        assert_eq!(decode(&m, 20, trail).t, 6);
        assert_eq!(
            decode(
                &m,
                20,
                TrustRule {
                    min_confidence: 0.51,
                    ..trail
                }
            )
            .kind,
            BlurKind::None
        );
        assert_eq!(decode(&p, 20, trail).t, 5);
    }

    #[test]
    fn decoding_matches_the_recipe_on_its_shared_vectors() {
        // models/recipe/estimator.py decode_vectors: pooled answers near the rule's edges, and decode_rule's
        // verdict on each
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/estimate_decode_vectors.txt"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let mut cases = 0;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (given, want) = line.split_once(" -> ").unwrap();
            // "-": not given
            let given: Vec<Option<f64>> = given.split(' ').map(|v| v.parse().ok()).collect();
            let want: Vec<&str> = want.split(' ').collect();
            let mut pooled = [0.0; OUT - 1];
            for (dst, v) in pooled.iter_mut().zip(&given) {
                *dst = v.unwrap();
            }
            let rule = TrustRule {
                shrink: given[OUT - 1].unwrap() as usize,
                shrink_trail: given[OUT].map(|s| s as usize),
                min_confidence: given[OUT + 1].unwrap(),
                min_confidence_isotropic: given[OUT + 2],
                trail: false,
            };
            let e = decode(&pooled, 20, rule);
            let direction: Vec<f32> = want[2..].iter().map(|v| v.parse().unwrap()).collect();
            assert_eq!(
                (e.kind.name(), e.t, e.direction.to_vec()),
                (want[0], want[1].parse().unwrap(), direction),
                "{line}"
            );
            cases += 1;
        }
        assert_eq!(cases, 400);
    }

    #[test]
    fn pooling_weighs_blocks_by_the_softmax_of_their_scores() {
        // two blocks; the second's score is ln 3 higher, so it weighs 3/4
        let mut blocks = vec![vec![0.0f32, 0.0]; OUT];
        blocks[4] = vec![0.2, 0.6];
        blocks[OUT - 1] = vec![0.0, 3f32.ln()];
        let p = pool(&blocks);
        assert!((p[4] - 0.5).abs() < 1e-6, "{}", p[4]);
    }
}
