//! What a coldframe ONNX file says about itself in its `metadata_props` (docs/design.md §4), checked once at load.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};

use crate::degrade::blur::BlurSchedule;
use crate::degrade::camera_blur::T_CAMERA;
use crate::degrade::mask::Fill;

pub const FORMAT_VERSION: &str = "1";

/// What a model restores, with the data of its degradation that only this task has. A new degradation family is
/// a variant here, its module in `degrade/`, its restorer, and an arm in `job::Job::worker`.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// Gaussian blur of total sigma(t) (docs/design.md §2).
    Deblur(BlurSchedule),
    /// The mask degradation (docs/design.md §3); `fill` is what a still-missing pixel holds.
    Inpaint { fill: Fill },
    /// Camera blur of any family (docs/design.md §2b): Gaussian by this schedule, or defocus, motion or shake
    /// (`degrade::camera_blur`); the network is told the blur's descriptor as a third input.
    CameraDeblur(BlurSchedule),
}

impl Task {
    pub fn name(&self) -> &'static str {
        match self {
            Task::Deblur(_) => "deblur",
            Task::Inpaint { .. } => "inpaint",
            Task::CameraDeblur(_) => "camera-deblur",
        }
    }

    /// The image channels the network takes: RGB, and for inpainting the still-missing mask.
    pub fn in_channels(&self) -> usize {
        match self {
            Task::Deblur(_) | Task::CameraDeblur(_) => 3,
            Task::Inpaint { .. } => 4,
        }
    }

    /// The network's inputs: image and t, and for the camera deblurrer the blur descriptor.
    pub fn inputs(&self) -> usize {
        match self {
            Task::CameraDeblur(_) => 3,
            _ => 2,
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub name: String,
    pub task: Task,
    pub t_max: usize,
    pub stride: usize,
    pub precision: String,
    pub default_steps: usize,
    /// Convolution multiply-adds per frame pixel for one step, as the recipe counted them.
    pub macs_per_pixel: f64,
    /// Which trained weights these are (`model_version`; optional for files made elsewhere).
    pub version: Option<String>,
}

impl ModelInfo {
    pub fn max_t(&self) -> usize {
        self.t_max
    }

    pub fn in_channels(&self) -> usize {
        self.task.in_channels()
    }

    pub fn from_props(props: &HashMap<String, String>, source: &str) -> Result<Self> {
        let get = |k: &str| -> Result<&String> {
            props.get(k).with_context(|| {
                format!("{source}: not a coldframe model (metadata key {k:?} missing; see docs/design.md §4)")
            })
        };
        let version = get("coldframe.format")?;
        if version != FORMAT_VERSION {
            bail!("{source}: coldframe.format {version:?} is not supported (this binary reads {FORMAT_VERSION:?})");
        }
        let kind = get("task")?;
        if !["deblur", "inpaint", "camera-deblur"].contains(&kind.as_str()) {
            bail!("{source}: task {kind:?} is not one this binary runs (deblur, inpaint, camera-deblur)");
        }
        let num = |k: &str| -> Result<usize> {
            let v = get(k)?;
            v.parse()
                .with_context(|| format!("{source}: metadata {k} = {v:?} is not a whole number"))
        };
        let t_max = num("T")?;
        if t_max == 0 || t_max > 1000 {
            bail!("{source}: T = {t_max} is out of range 1..=1000");
        }
        let task = if kind == "deblur" {
            Task::Deblur(BlurSchedule {
                sigmas: sigma_schedule(get("sigma_schedule")?, t_max, source)?,
            })
        } else if kind == "camera-deblur" {
            let steps = get("extent_step")?;
            if steps != CAMERA_EXTENT_STEPS {
                bail!(
                    "{source}: extent_step {steps:?} is not the camera blur this binary computes \
                     ({CAMERA_EXTENT_STEPS:?})"
                );
            }
            if t_max != T_CAMERA {
                bail!("{source}: T = {t_max}, the camera blur families have T = {T_CAMERA}");
            }
            Task::CameraDeblur(BlurSchedule {
                sigmas: sigma_schedule(get("sigma_schedule")?, t_max, source)?,
            })
        } else {
            let rule = get("mask_schedule")?;
            if rule != MASK_SCHEDULE {
                bail!("{source}: mask_schedule {rule:?} is not one this binary computes ({MASK_SCHEDULE:?})");
            }
            let fill: Fill = get("fill")?
                .parse()
                .with_context(|| format!("{source}: metadata fill"))?;
            Task::Inpaint { fill }
        };
        let stride = num("stride")?;
        if !(1..=64).contains(&stride) {
            bail!("{source}: stride {stride} is out of range 1..=64");
        }
        let default_steps = num("default_steps")?;
        if default_steps == 0 || default_steps > t_max {
            bail!("{source}: default_steps {default_steps} is outside 1..={t_max}");
        }
        Ok(ModelInfo {
            name: get("name")?.clone(),
            task,
            t_max,
            stride,
            precision: get("precision")?.clone(),
            default_steps,
            macs_per_pixel: get("macs_per_pixel")?
                .parse()
                .with_context(|| format!("{source}: metadata macs_per_pixel is not a number"))?,
            version: props.get("model_version").cloned(),
        })
    }
}

/// The camera blur families' extent per step, as `degrade::camera_blur::CameraBlur::step_px` has them.
pub const CAMERA_EXTENT_STEPS: &str = "defocus:0.4,motion:1.25,shake:1.25";

/// The one mask schedule this binary computes (src/degrade/mask.rs): relative depth of the Euclidean distance
/// transform, `depth2 * T^2 > dmax2 * (T - t)^2`.
pub const MASK_SCHEDULE: &str = "relative-edt-depth";

fn sigma_schedule(text: &str, t_max: usize, source: &str) -> Result<Vec<f32>> {
    let sigmas: Vec<f32> = text
        .split(',')
        .map(|s| s.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!("{source}: sigma_schedule is not a comma-separated list of numbers")
        })?;
    if sigmas.len() != t_max + 1 {
        bail!(
            "{source}: sigma_schedule has {} entries, T = {t_max} needs T + 1",
            sigmas.len()
        );
    }
    if sigmas[0] != 0.0
        || sigmas.windows(2).any(|w| w[1] <= w[0])
        || sigmas.iter().any(|s| !s.is_finite())
    {
        bail!("{source}: sigma_schedule must start at 0 and increase strictly");
    }
    Ok(sigmas)
}
