//! The inpainting restorer: checks the mask against the frame, pads both, runs the sampler from t = T over the
//! mask degradation, crops, and copies every known pixel back from the input so that only the hole changes.

use anyhow::{bail, Result};

use crate::degrade::mask::{Fill, MaskSchedule};
use crate::degrade::Degradation;
use crate::frame::Frame;
use crate::frame_mask::FrameMask;
use crate::model_info::{ModelInfo, Task};
use crate::pad::reflect_pad_to_stride;
use crate::restorer::Restorer;
use crate::sampler::{sample, Restore, Sampler};
use crate::setting::{refuse, Setting};

pub struct Inpainter {
    pub restorer: Restorer,
}

/// A request checked against one model: the step count, and the mask with its degradation schedule on the padded
/// frame, which every frame of that size and mask shares.
#[derive(Clone, Debug)]
pub struct InpaintPlan {
    pub steps: usize,
    pub mask: FrameMask,
    schedule: MaskSchedule,
}

/// What a still-missing pixel holds for this model, or why it is not an inpainting model.
fn inpaint_fill(info: &ModelInfo) -> Result<Fill> {
    match info.task {
        Task::Inpaint { fill } => Ok(fill),
        ref other => bail!(
            "model {} is a {other} model, not an inpainting one",
            info.name
        ),
    }
}

impl InpaintPlan {
    /// Steps 1..=T (default: the model's card value), checked before any mask is known.
    pub fn steps(info: &ModelInfo, steps: Option<usize>) -> Result<usize> {
        inpaint_fill(info)?;
        let t_max = info.max_t();
        let steps = steps.unwrap_or(info.default_steps);
        if steps == 0 || steps > t_max {
            return Err(refuse(
                Setting::Steps,
                steps,
                format!("is outside 1..={t_max} (T of model {})", info.name),
            ));
        }
        Ok(steps)
    }

    /// The plan for `mask`: its degradation schedule on the padded frame the model sees.
    pub fn new(info: &ModelInfo, steps: Option<usize>, mask: FrameMask) -> Result<InpaintPlan> {
        let fill = inpaint_fill(info)?;
        let steps = Self::steps(info, steps)?;
        let plane = mask_plane(&mask);
        let padded = reflect_pad_to_stride(&plane, info.stride);
        let missing: Vec<bool> = padded.data.iter().map(|&v| v > 0.5).collect();
        let schedule =
            MaskSchedule::new(&missing, padded.width, padded.height, info.max_t(), fill)?;
        Ok(InpaintPlan {
            steps,
            mask,
            schedule,
        })
    }
}

impl Inpainter {
    pub fn new(restorer: Restorer) -> Result<Self> {
        inpaint_fill(&restorer.info)?;
        Ok(Inpainter { restorer })
    }

    /// `InpaintPlan::new` for this inpainter's model.
    pub fn plan(&self, steps: Option<usize>, mask: FrameMask) -> Result<InpaintPlan> {
        InpaintPlan::new(&self.restorer.info, steps, mask)
    }

    /// Fills the masked pixels of `img`. An empty mask returns the input unchanged.
    pub fn restore(&mut self, img: &Frame, plan: &InpaintPlan) -> Result<Frame> {
        let (mask, schedule) = (&plan.mask, &plan.schedule);
        mask.check_fits(img.width, img.height, "the mask")?;
        if schedule.is_empty() {
            return Ok(img.clone());
        }
        let padded = reflect_pad_to_stride(img, self.restorer.info.stride);
        let t_max = schedule.t_max;
        // What is under the mask never reaches the model: D at t = T replaces all of it by the fill.
        let x = schedule.apply(&padded, t_max);
        // The improved sampler with the full last step: each step settles one ring of the hole and never touches
        // what an earlier step settled. The state carries the mask as a fourth channel; drop it.
        let mut x0 = sample(
            &mut HoleOnly(&mut self.restorer),
            schedule,
            &x,
            t_max,
            plan.steps,
            Sampler::Improved,
        )?;
        x0.truncate_channels(3);
        let mut out = x0.crop(img.width, img.height);
        keep_known(&mut out, img, mask);
        Ok(out)
    }
}

/// The mask degradation of one model at one step, at the frame's own size: what `coldframe degrade mask` writes.
pub struct MaskDegradation {
    t_max: usize,
    step: usize,
    fill: Fill,
}

impl MaskDegradation {
    /// Steps 0..=T of the model.
    pub fn new(info: &ModelInfo, step: usize) -> Result<Self> {
        let fill = inpaint_fill(info)?;
        if step > info.max_t() {
            return Err(refuse(
                Setting::DegradeStep,
                step,
                format!("is outside 0..={} (T of model {})", info.max_t(), info.name),
            ));
        }
        Ok(MaskDegradation {
            t_max: info.max_t(),
            step,
            fill,
        })
    }

    /// D(img, step) for `mask`: RGB, with the still-missing pixels holding the model's fill.
    pub fn apply(&self, img: &Frame, mask: &FrameMask) -> Result<Frame> {
        mask.check_fits(img.width, img.height, "the mask")?;
        let d = MaskSchedule::new(&mask.missing, img.width, img.height, self.t_max, self.fill)?;
        let mut out = d.apply(img, self.step);
        out.truncate_channels(3);
        Ok(out)
    }
}

/// The restorer as the mask sampler sees it: its estimate where the state is still missing, the state itself
/// everywhere else. The model's output is only ever used inside the hole; with this, D(x0, t) of the sampler's
/// update equals the state exactly (the fill reads only pixels known at t), so `x - D(x0, t) + D(x0, t')` is
/// D(x0, t') itself: the newly uncovered ring takes the estimate, and the rest of the hole a fill recomputed from
/// every pixel known at t'.
struct HoleOnly<'a>(&'a mut Restorer);

impl Restore for HoleOnly<'_> {
    fn predict(&mut self, x: &Frame, t: usize) -> Result<Frame> {
        let mut x0 = self.0.predict(x, t)?;
        let still_missing = x.plane(3);
        for c in 0..3 {
            for ((o, &s), &m) in x0
                .plane_mut(c)
                .iter_mut()
                .zip(x.plane(c))
                .zip(still_missing)
            {
                if m == 0.0 {
                    *o = s;
                }
            }
        }
        Ok(x0)
    }

    fn reproduces_its_state(&self) -> bool {
        true
    }
}

/// Copies every pixel outside the mask from `input`: the model's output is used inside the hole only.
pub fn keep_known(out: &mut Frame, input: &Frame, mask: &FrameMask) {
    for c in 0..3 {
        let src = input.plane(c);
        for ((o, &s), &m) in out.plane_mut(c).iter_mut().zip(src).zip(&mask.missing) {
            if !m {
                *o = s;
            }
        }
    }
}

fn mask_plane(mask: &FrameMask) -> Frame {
    Frame {
        width: mask.width,
        height: mask.height,
        channels: 1,
        data: mask
            .missing
            .iter()
            .map(|&m| if m { 1.0 } else { 0.0 })
            .collect(),
    }
}
