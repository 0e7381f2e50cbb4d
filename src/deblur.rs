//! The deblurring restorer: checks a request against its model (severity to a start step, step count), then pads,
//! samples and crops each frame.

use anyhow::{bail, Result};

use crate::degrade::blur::BlurSchedule;
use crate::frame::Frame;
use crate::model_info::{ModelInfo, Task};
use crate::pad::reflect_pad_to_stride;
use crate::restorer::Restorer;
use crate::sampler::{sample, Sampler};
use crate::setting::{refuse, Setting};

pub struct Deblurrer {
    pub restorer: Restorer,
    pub schedule: BlurSchedule,
}

/// A request checked against one model: the step to start from and the step count to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeblurPlan {
    /// The blur's total Gaussian sigma, as asked.
    pub severity: f32,
    pub t_star: usize,
    pub steps: usize,
    pub sampler: Sampler,
}

/// The model's blur schedule, or why it has none.
fn blur_schedule(info: &ModelInfo) -> Result<&BlurSchedule> {
    match &info.task {
        Task::Deblur(schedule) => Ok(schedule),
        other => bail!(
            "model {} is a {other} model, not a deblurring one",
            info.name
        ),
    }
}

impl DeblurPlan {
    /// Valid severities are (0, sigma(T)]; steps 1..=T (default: the model's card value).
    pub fn new(
        info: &ModelInfo,
        severity: f32,
        steps: Option<usize>,
        sampler: Sampler,
    ) -> Result<DeblurPlan> {
        let schedule = blur_schedule(info)?;
        let max_t = schedule.max_t();
        let max_sigma = schedule.sigmas[max_t];
        if !severity.is_finite() || severity <= 0.0 || severity > max_sigma {
            return Err(refuse(
                Setting::Severity,
                severity,
                format!(
                    "is outside this model's range: a Gaussian sigma in pixels, greater than 0 and at most \
                     {max_sigma} (model {})",
                    info.name
                ),
            ));
        }
        let steps = steps.unwrap_or(info.default_steps);
        if steps == 0 || steps > max_t {
            return Err(refuse(
                Setting::Steps,
                steps,
                format!("is outside 1..={max_t} (T of model {})", info.name),
            ));
        }
        let t_star = schedule.step_for_severity(severity).max(1);
        Ok(DeblurPlan {
            severity,
            t_star,
            steps: steps.min(t_star),
            sampler,
        })
    }
}

impl Deblurrer {
    pub fn new(restorer: Restorer) -> Result<Self> {
        let schedule = blur_schedule(&restorer.info)?.clone();
        Ok(Deblurrer { restorer, schedule })
    }

    /// `DeblurPlan::new` for this deblurrer's model.
    pub fn plan(
        &self,
        severity: f32,
        steps: Option<usize>,
        sampler: Sampler,
    ) -> Result<DeblurPlan> {
        DeblurPlan::new(&self.restorer.info, severity, steps, sampler)
    }

    pub fn restore(&mut self, img: &Frame, plan: &DeblurPlan) -> Result<Frame> {
        let padded = reflect_pad_to_stride(img, self.restorer.info.stride);
        let out = sample(
            &mut self.restorer,
            &self.schedule,
            &padded,
            plan.t_star,
            plan.steps,
            plan.sampler,
        )?;
        Ok(out.crop(img.width, img.height))
    }
}
