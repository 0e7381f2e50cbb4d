//! What a coldframe ONNX file says about itself in its `metadata_props` (DESIGN.md §4), checked once at load.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};

use crate::degrade::mask::Fill;

pub const FORMAT_VERSION: &str = "1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Deblur,
    Inpaint,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Deblur => "deblur",
            Task::Inpaint => "inpaint",
        })
    }
}

#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub name: String,
    pub task: Task,
    pub t_max: usize,
    /// sigma(t) for t = 0..=T (deblur; empty for inpaint).
    pub sigmas: Vec<f32>,
    /// What a still-missing pixel holds (inpaint; DESIGN.md §3 and the model card; deblur: unused).
    pub fill: Fill,
    pub stride: usize,
    pub precision: String,
    pub default_steps: usize,
    pub in_channels: usize,
    /// Convolution multiply-adds per frame pixel for one step, as the recipe counted them.
    pub macs_per_pixel: f64,
}

impl ModelInfo {
    pub fn max_t(&self) -> usize {
        self.t_max
    }

    pub fn from_props(props: &HashMap<String, String>, source: &str) -> Result<Self> {
        let get = |k: &str| -> Result<&String> {
            props.get(k).with_context(|| {
                format!("{source}: not a coldframe model (metadata key {k:?} missing; see DESIGN.md §4)")
            })
        };
        let version = get("coldframe.format")?;
        if version != FORMAT_VERSION {
            bail!("{source}: coldframe.format {version:?} is not supported (this binary reads {FORMAT_VERSION:?})");
        }
        let task = match get("task")?.as_str() {
            "deblur" => Task::Deblur,
            "inpaint" => Task::Inpaint,
            other => {
                bail!("{source}: task {other:?} is not one this binary runs (deblur, inpaint)")
            }
        };
        let num = |k: &str| -> Result<usize> {
            let v = get(k)?;
            v.parse()
                .with_context(|| format!("{source}: metadata {k} = {v:?} is not a whole number"))
        };
        let t_max = num("T")?;
        if t_max == 0 || t_max > 1000 {
            bail!("{source}: T = {t_max} is out of range 1..=1000");
        }
        let (sigmas, fill, in_channels) = match task {
            Task::Deblur => (
                sigma_schedule(get("sigma_schedule")?, t_max, source)?,
                Fill::Grey(0.0),
                3,
            ),
            Task::Inpaint => {
                let rule = get("mask_schedule")?;
                if rule != MASK_SCHEDULE {
                    bail!("{source}: mask_schedule {rule:?} is not one this binary computes ({MASK_SCHEDULE:?})");
                }
                let fill: Fill = get("fill")?
                    .parse()
                    .with_context(|| format!("{source}: metadata fill"))?;
                (Vec::new(), fill, 4)
            }
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
            sigmas,
            fill,
            stride,
            precision: get("precision")?.clone(),
            default_steps,
            in_channels,
            macs_per_pixel: get("macs_per_pixel")?
                .parse()
                .with_context(|| format!("{source}: metadata macs_per_pixel is not a number"))?,
        })
    }
}

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
