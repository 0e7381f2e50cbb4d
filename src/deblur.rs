//! The deblurring job: validate the request against the model, map severity to a step, pad, sample, crop.

use anyhow::{bail, Result};

use crate::degrade::blur::BlurSchedule;
use crate::model_info::Task;
use crate::pad::reflect_pad_to_stride;
use crate::planar::Planar;
use crate::restorer::Restorer;
use crate::sampler::{sample, Sampler};

pub struct Deblurrer {
    pub restorer: Restorer,
    pub schedule: BlurSchedule,
}

/// A request checked against one model: the step to start from and the step count to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeblurPlan {
    pub t_star: usize,
    pub steps: usize,
    pub sampler: Sampler,
}

impl Deblurrer {
    pub fn new(restorer: Restorer) -> Result<Self> {
        if restorer.info.task != Task::Deblur {
            bail!(
                "model {} is a {} model, not a deblurring one",
                restorer.info.name,
                restorer.info.task
            );
        }
        let schedule = BlurSchedule {
            sigmas: restorer.info.sigmas.clone(),
        };
        Ok(Deblurrer { restorer, schedule })
    }

    /// Valid severities are (0, sigma(T)]; steps 1..=T (default: the model's card value).
    pub fn plan(
        &self,
        severity: f32,
        steps: Option<usize>,
        sampler: Sampler,
    ) -> Result<DeblurPlan> {
        let max_t = self.schedule.max_t();
        let max_sigma = self.schedule.sigmas[max_t];
        if !severity.is_finite() || severity <= 0.0 || severity > max_sigma {
            bail!(
                "--severity {severity} is outside this model's range: a Gaussian sigma in pixels, greater than 0 \
                 and at most {max_sigma} (model {})",
                self.restorer.info.name
            );
        }
        let steps = steps.unwrap_or(self.restorer.info.default_steps);
        if steps == 0 || steps > max_t {
            bail!(
                "--steps {steps} is outside 1..={max_t} (T of model {})",
                self.restorer.info.name
            );
        }
        let t_star = self.schedule.step_for_severity(severity).max(1);
        Ok(DeblurPlan {
            t_star,
            steps: steps.min(t_star),
            sampler,
        })
    }

    pub fn restore(&mut self, img: &Planar, plan: &DeblurPlan) -> Result<Planar> {
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
