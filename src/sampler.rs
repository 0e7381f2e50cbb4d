//! The cold-diffusion sampling loops (docs/design.md §1) over a strided schedule of S steps from t* to 0.
//!
//! Between consecutive steps t_k > t_{k+1} > 0 the improved sampler (the paper's Algorithm 2) moves
//! `x <- x - D(x0, t_k) + D(x0, t_{k+1})` and the naive one (Algorithm 1) sets `x <- D(x0, t_{k+1})`, with
//! `x0 = R(x, t_k)`. For the blur the last step returns the restorer's estimate x0 itself: Algorithm 2's last
//! update would add back `x - D(x0, t_1)`, the part of the input the model explained away (sensor noise, JPEG
//! blocks), and the whole point is not to. So S = 1 is exactly one direct prediction, whatever the sampler. For
//! the mask that residual is the known and already-filled pixels, so the last step is the full update
//! (`Degradation::full_last_step`): S = 1 is the direct prediction inside the hole, the input outside it.

use anyhow::Result;

use crate::degrade::Degradation;
use crate::frame::Frame;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampler {
    Improved,
    Naive,
}

impl std::str::FromStr for Sampler {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "improved" => Ok(Sampler::Improved),
            "naive" => Ok(Sampler::Naive),
            _ => anyhow::bail!("unknown sampler {s:?}: expected improved or naive"),
        }
    }
}

/// Anything that predicts x0 from (x_t, t): the tract restorer, or a stand-in in tests.
pub trait Restore {
    fn predict(&mut self, x: &Frame, t: usize) -> Result<Frame>;

    /// Whether D(predict(x, t), t) equals x exactly for every state x the sampler shows it at step t. Then the
    /// improved update `x - D(x0, t) + D(x0, t')` is D(x0, t') itself (x - x is exactly 0), and the sampler
    /// skips computing D(x0, t): one degradation per step instead of two. The inpainters' `HoleOnly` is such a
    /// restorer (its estimate is used only where x is still missing, and the fill there reads only the pixels
    /// known at t); a test checks the shortcut against the full update.
    fn reproduces_its_state(&self) -> bool {
        false
    }
}

/// `t_star = t_0 > t_1 > ... > t_S = 0`, evenly strided and rounded; S is capped at t* (one unit per step).
pub fn schedule(t_star: usize, steps: usize) -> Vec<usize> {
    let s = steps.clamp(1, t_star.max(1));
    let mut ts: Vec<usize> = (0..=s)
        .map(|k| ((t_star * (s - k)) as f64 / s as f64).round() as usize)
        .collect();
    ts.dedup();
    ts
}

/// Runs the sampler from `x` (degraded at step `t_star`) to an x0 estimate. t* = 0 returns the input.
pub fn sample(
    restorer: &mut dyn Restore,
    degradation: &dyn Degradation,
    x: &Frame,
    t_star: usize,
    steps: usize,
    sampler: Sampler,
) -> Result<Frame> {
    if t_star == 0 {
        return Ok(x.clone());
    }
    let ts = schedule(t_star, steps);
    // The state after the first step; the input is only copied when a step updates it.
    let mut state: Option<Frame> = None;
    for pair in ts.windows(2) {
        let (t, next) = (pair[0], pair[1]);
        let x0 = restorer.predict(state.as_ref().unwrap_or(x), t)?;
        if next == 0 && !degradation.full_last_step() {
            return Ok(x0);
        }
        state = Some(match sampler {
            Sampler::Naive => degradation.apply(&x0, next),
            Sampler::Improved if restorer.reproduces_its_state() => degradation.apply(&x0, next),
            Sampler::Improved => {
                let here = degradation.apply(&x0, t);
                let there = degradation.apply(&x0, next);
                let mut out = state.take().unwrap_or_else(|| x.clone());
                for ((o, a), b) in out.data.iter_mut().zip(&here.data).zip(&there.data) {
                    *o = *o - a + b;
                }
                out
            }
        });
    }
    Ok(state.unwrap_or_else(|| x.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::degrade::blur::BlurSchedule;

    #[test]
    fn schedule_is_strided_strictly_decreasing_and_ends_at_zero() {
        assert_eq!(schedule(12, 1), vec![12, 0]);
        assert_eq!(schedule(12, 4), vec![12, 9, 6, 3, 0]);
        assert_eq!(schedule(5, 2), vec![5, 3, 0]); // 2.5 rounds half away from zero
        assert_eq!(schedule(3, 10), vec![3, 2, 1, 0]); // capped at one unit per step
        for t in 1..=20 {
            for s in 1..=20 {
                let ts = schedule(t, s);
                assert_eq!((ts[0], *ts.last().unwrap()), (t, 0));
                assert!(ts.windows(2).all(|w| w[0] > w[1]));
                assert_eq!(ts.len() - 1, s.min(t));
            }
        }
    }

    /// A restorer that knows the answer, and records the states the sampler shows it.
    struct Oracle {
        x0: Frame,
        seen: Vec<(usize, Frame)>,
    }

    impl Restore for Oracle {
        fn predict(&mut self, x: &Frame, t: usize) -> Result<Frame> {
            self.seen.push((t, x.clone()));
            Ok(self.x0.clone())
        }
    }

    fn frame() -> Frame {
        let data = (0..3 * 24 * 16)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        Frame::new(24, 16, 3, data).unwrap()
    }

    #[test]
    fn with_a_perfect_restorer_the_improved_sampler_walks_down_the_degradation() {
        let x0 = frame();
        let d = BlurSchedule {
            sigmas: (0..=10).map(|t| t as f32 * 0.4).collect(),
        };
        let mut r = Oracle {
            x0: x0.clone(),
            seen: vec![],
        };
        let out = sample(&mut r, &d, &d.apply(&x0, 10), 10, 5, Sampler::Improved).unwrap();
        assert_eq!(out, x0);
        let ts: Vec<usize> = r.seen.iter().map(|(t, _)| *t).collect();
        assert_eq!(ts, vec![10, 8, 6, 4, 2]);
        for (t, x) in &r.seen {
            let want = d.apply(&x0, *t);
            let diff = x
                .data
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(diff < 1e-5, "state at t={t} is {diff} away from D(x0, t)");
        }
    }

    #[test]
    fn improved_sampler_keeps_what_the_model_cannot_explain_naive_drops_it() {
        // The input carries an offset that D(x0, t) does not: Algorithm 2 carries it along to the last model
        // call, Algorithm 1 replaces the state by D(x0, t) at once.
        let x0 = frame();
        let d = BlurSchedule {
            sigmas: (0..=4).map(|t| t as f32).collect(),
        };
        let mut xin = d.apply(&x0, 4);
        xin.data.iter_mut().for_each(|v| *v += 0.1);
        for (s, offset) in [(Sampler::Improved, 0.1f32), (Sampler::Naive, 0.0)] {
            let mut r = Oracle {
                x0: x0.clone(),
                seen: vec![],
            };
            sample(&mut r, &d, &xin, 4, 4, s).unwrap();
            let (t, last) = r.seen.last().unwrap();
            let want = d.apply(&x0, *t);
            let mean: f32 = last
                .data
                .iter()
                .zip(&want.data)
                .map(|(a, b)| a - b)
                .sum::<f32>()
                / want.data.len() as f32;
            assert!((mean - offset).abs() < 1e-4, "{s:?}: offset {mean}");
        }
    }
}
