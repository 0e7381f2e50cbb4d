//! The inpainting job: check the mask against the frame, pad both, run the sampler from t = T over the mask
//! degradation, crop, and copy every known pixel back from the input so that only the hole changes.

use anyhow::{bail, Result};

use crate::degrade::mask::MaskSchedule;
use crate::degrade::Degradation;
use crate::frame_mask::FrameMask;
use crate::model_info::Task;
use crate::pad::reflect_pad_to_stride;
use crate::planar::Planar;
use crate::restorer::Restorer;
use crate::sampler::{sample, Restore, Sampler};

pub struct Inpainter {
    pub restorer: Restorer,
}

/// A request checked against one model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InpaintPlan {
    pub steps: usize,
}

impl Inpainter {
    pub fn new(restorer: Restorer) -> Result<Self> {
        if restorer.info.task != Task::Inpaint {
            bail!(
                "model {} is a {} model, not an inpainting one",
                restorer.info.name,
                restorer.info.task
            );
        }
        Ok(Inpainter { restorer })
    }

    /// Steps 1..=T (default: the model's card value).
    pub fn plan(&self, steps: Option<usize>) -> Result<InpaintPlan> {
        let t_max = self.restorer.info.max_t();
        let steps = steps.unwrap_or(self.restorer.info.default_steps);
        if steps == 0 || steps > t_max {
            bail!(
                "--steps {steps} is outside 1..={t_max} (T of model {})",
                self.restorer.info.name
            );
        }
        Ok(InpaintPlan { steps })
    }

    /// The mask degradation of `mask` on the padded frame the model sees.
    pub fn schedule_for(&self, mask: &FrameMask) -> Result<MaskSchedule> {
        let plane = mask_plane(mask);
        let padded = reflect_pad_to_stride(&plane, self.restorer.info.stride);
        let missing: Vec<bool> = padded.data.iter().map(|&v| v > 0.5).collect();
        MaskSchedule::new(
            &missing,
            padded.width,
            padded.height,
            self.restorer.info.max_t(),
            self.restorer.info.fill,
        )
    }

    /// Fills the masked pixels of `img`. An empty mask returns the input unchanged. `schedule` is
    /// `schedule_for(mask)`, which a stream computes once for all its frames.
    pub fn restore(
        &mut self,
        img: &Planar,
        mask: &FrameMask,
        schedule: &MaskSchedule,
        plan: &InpaintPlan,
    ) -> Result<Planar> {
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

/// The restorer as the mask sampler sees it: its estimate where the state is still missing, the state itself
/// everywhere else. The model's output is only ever used inside the hole; with this, D(x0, t) of the sampler's
/// update equals the state exactly (the fill reads only pixels known at t), so `x - D(x0, t) + D(x0, t')` is
/// D(x0, t') itself: the newly uncovered ring takes the estimate, and the rest of the hole a fill recomputed from
/// every pixel known at t'.
struct HoleOnly<'a>(&'a mut Restorer);

impl Restore for HoleOnly<'_> {
    fn predict(&mut self, x: &Planar, t: usize) -> Result<Planar> {
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
pub fn keep_known(out: &mut Planar, input: &Planar, mask: &FrameMask) {
    for c in 0..3 {
        let src = input.plane(c);
        for ((o, &s), &m) in out.plane_mut(c).iter_mut().zip(src).zip(&mask.missing) {
            if !m {
                *o = s;
            }
        }
    }
}

fn mask_plane(mask: &FrameMask) -> Planar {
    Planar {
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
