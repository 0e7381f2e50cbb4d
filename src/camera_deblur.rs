//! The camera deblurrer (docs/design.md §2b): a restorer told the blur's kind, extent and direction, and the
//! cold sampler run with D the blur's own family. The blur is given by the user (`--blur`, `--severity`,
//! `--angle`) or estimated from the frame (`--severity auto`, `restorer::blur_estimator`).

use anyhow::{bail, Result};

use crate::degrade::blur::BlurSchedule;
use crate::degrade::camera_blur::{CameraBlur, Psf, T_CAMERA};
use crate::degrade::Degradation;
use crate::frame::Frame;
use crate::model_info::{ModelInfo, Task};
use crate::pad::reflect_pad_to_stride;
use crate::restorer::blur_estimator::{motion_angle, BlurEstimate, BlurKind};
use crate::restorer::{Restorer, DESCRIPTOR_LEN};
use crate::sampler::{sample, Sampler};
use crate::setting::{refuse, Setting};

/// Which blur to invert, as the user names it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BlurChoice {
    /// Whatever the estimator finds.
    Auto,
    Gaussian,
    Defocus,
    /// A straight trail at `angle` degrees counter-clockwise from the x axis (a given severity), or along the
    /// estimated direction (`--severity auto`).
    Motion {
        angle: f32,
    },
}

impl BlurChoice {
    pub fn name(self) -> &'static str {
        match self {
            BlurChoice::Auto => "auto",
            BlurChoice::Gaussian => "gaussian",
            BlurChoice::Defocus => "defocus",
            BlurChoice::Motion { .. } => "motion",
        }
    }

    /// What a given severity counts for this blur.
    pub fn unit(self) -> &'static str {
        match self {
            BlurChoice::Auto | BlurChoice::Gaussian => "a Gaussian sigma in pixels",
            BlurChoice::Defocus => "a defocus disc's radius in pixels",
            BlurChoice::Motion { .. } => "a motion trail's length in pixels",
        }
    }
}

/// How severe the blur is: estimated per stream or still, or given in the blur's own unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Severity {
    Auto,
    Given(f32),
}

/// The blur the sampler inverts in one frame: its family (D), start step and descriptor (the network's third
/// input).
#[derive(Clone, Debug, PartialEq)]
pub struct Told {
    pub family: Family,
    pub t: usize,
    pub descriptor: [f32; DESCRIPTOR_LEN],
}

/// D of a told blur.
#[derive(Clone, Debug, PartialEq)]
pub enum Family {
    Gaussian(BlurSchedule),
    Camera(CameraBlur),
}

impl Degradation for Family {
    fn apply(&self, x: &Frame, t: usize) -> Frame {
        match self {
            Family::Gaussian(s) => s.apply(x, t),
            Family::Camera(c) => c.apply(x, t),
        }
    }
}

impl Told {
    /// A blur or its absence as the overlay and the logs show it.
    pub fn describe_blur(blur: Option<&Told>) -> String {
        blur.map_or_else(|| "no blur".to_string(), Told::describe)
    }

    /// Extent and kind as the overlay and the logs show them.
    pub fn describe(&self) -> String {
        match &self.family {
            Family::Gaussian(s) => format!("gaussian sigma {}", pixels(s.sigmas[self.t] as f64)),
            Family::Camera(c @ CameraBlur::Defocus) => {
                format!("defocus r {}", pixels(c.extent(self.t)))
            }
            Family::Camera(c @ CameraBlur::Motion { angle }) => {
                format!("motion {} px at {angle:.0} deg", pixels(c.extent(self.t)))
            }
            Family::Camera(c @ CameraBlur::Shake { .. }) => {
                format!("shake {} px", pixels(c.extent(self.t)))
            }
        }
    }
}

/// An extent in pixels as people read it: at most two decimals, no trailing zeros (a step of 0.4 px times 17 is
/// 6.800000000000001 in floating point).
fn pixels(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The PSF's second moments as the descriptor's direction: ((mxx - myy) / (mxx + myy), 2 mxy / (mxx + myy)),
/// x right, y down (models/recipe/blur_mix.py `descriptor_of`).
pub fn direction_of(psf: &Psf) -> [f32; 2] {
    let total: f64 = psf.weights.iter().map(|&w| w as f64).sum();
    let (ry, rx) = ((psf.rows / 2) as f64, (psf.cols / 2) as f64);
    let at = |i: usize| ((i % psf.cols) as f64 - rx, (i / psf.cols) as f64 - ry);
    let (mut mx, mut my) = (0.0, 0.0);
    for (i, &w) in psf.weights.iter().enumerate() {
        let (x, y) = at(i);
        mx += w as f64 * x / total;
        my += w as f64 * y / total;
    }
    let (mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0);
    for (i, &w) in psf.weights.iter().enumerate() {
        let (x, y) = at(i);
        let (x, y, w) = (x - mx, y - my, w as f64 / total);
        xx += w * x * x;
        yy += w * y * y;
        xy += w * x * y;
    }
    if xx + yy <= 1e-9 {
        return [0.0; 2];
    }
    [
        ((xx - yy) / (xx + yy)) as f32,
        (2.0 * xy / (xx + yy)) as f32,
    ]
}

fn one_hot(kind: BlurKind) -> [f32; DESCRIPTOR_LEN] {
    let mut d = [0.0; DESCRIPTOR_LEN];
    match kind {
        BlurKind::None => {}
        BlurKind::Gaussian => d[0] = 1.0,
        BlurKind::Defocus => d[1] = 1.0,
        BlurKind::Motion => d[2] = 1.0,
    }
    d
}

/// A request checked against one model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CameraPlan {
    pub blur: BlurChoice,
    pub severity: Severity,
    pub steps: usize,
    pub sampler: Sampler,
}

fn camera_schedule(info: &ModelInfo) -> Result<&BlurSchedule> {
    match &info.task {
        Task::CameraDeblur(s) => Ok(s),
        other => bail!(
            "model {} is a {other} model, not a camera deblurrer",
            info.name
        ),
    }
}

impl CameraPlan {
    pub fn new(
        info: &ModelInfo,
        blur: BlurChoice,
        severity: Severity,
        steps: Option<usize>,
        sampler: Sampler,
    ) -> Result<CameraPlan> {
        let schedule = camera_schedule(info)?;
        if let Severity::Given(v) = severity {
            // the largest extent of the blur's family, in its own unit
            let max = match blur {
                BlurChoice::Auto | BlurChoice::Gaussian => schedule.sigmas[T_CAMERA],
                BlurChoice::Defocus => CameraBlur::Defocus.extent(T_CAMERA) as f32,
                BlurChoice::Motion { angle } => {
                    CameraBlur::Motion { angle }.extent(T_CAMERA) as f32
                }
            };
            if !v.is_finite() || v <= 0.0 || v > max {
                return Err(refuse(
                    Setting::Severity,
                    v,
                    format!(
                        "is outside this model's range: {}, greater than 0 and at most {max} (model {}); or auto",
                        blur.unit(),
                        info.name
                    ),
                ));
            }
        }
        let steps = steps.unwrap_or(info.default_steps);
        if steps == 0 || steps > info.max_t() {
            return Err(refuse(
                Setting::Steps,
                steps,
                format!("is outside 1..={} (T of model {})", info.max_t(), info.name),
            ));
        }
        Ok(CameraPlan {
            blur,
            severity,
            steps,
            sampler,
        })
    }

    /// The blur a given severity names (None for `Severity::Auto`).
    pub fn given(&self, schedule: &BlurSchedule) -> Option<Told> {
        let Severity::Given(v) = self.severity else {
            return None;
        };
        Some(match self.blur {
            BlurChoice::Auto | BlurChoice::Gaussian => Told {
                family: Family::Gaussian(schedule.clone()),
                t: schedule.step_for_severity(v).max(1),
                descriptor: one_hot(BlurKind::Gaussian),
            },
            BlurChoice::Defocus => camera_told(CameraBlur::Defocus, v as f64, BlurKind::Defocus),
            BlurChoice::Motion { angle } => {
                camera_told(CameraBlur::Motion { angle }, v as f64, BlurKind::Motion)
            }
        })
    }

    /// The blur an estimate names, the user's `--blur` kind (if any) taking precedence over the estimated kind.
    /// None: nothing to undo (the estimate found no blur).
    pub fn from_estimate(&self, e: &BlurEstimate, schedule: &BlurSchedule) -> Option<Told> {
        if e.kind == BlurKind::None {
            return None;
        }
        let kind = match self.blur {
            BlurChoice::Auto => e.kind,
            BlurChoice::Gaussian => BlurKind::Gaussian,
            BlurChoice::Defocus => BlurKind::Defocus,
            BlurChoice::Motion { .. } => BlurKind::Motion,
        };
        let mut descriptor = one_hot(kind);
        let family = match kind {
            BlurKind::Gaussian | BlurKind::None => Family::Gaussian(schedule.clone()),
            BlurKind::Defocus => Family::Camera(CameraBlur::Defocus),
            BlurKind::Motion => {
                // an estimated Gaussian or disc has no direction: a line along x then
                descriptor[3..].copy_from_slice(&e.direction);
                Family::Camera(CameraBlur::Motion {
                    angle: motion_angle(e.direction),
                })
            }
        };
        Some(Told {
            family,
            t: e.t.max(1),
            descriptor,
        })
    }
}

fn camera_told(blur: CameraBlur, extent: f64, kind: BlurKind) -> Told {
    let t = blur.step_for_extent(extent).max(1);
    let mut descriptor = one_hot(kind);
    descriptor[3..].copy_from_slice(&direction_of(&blur.psf(t)));
    Told {
        family: Family::Camera(blur),
        t,
        descriptor,
    }
}

pub struct CameraDeblurrer {
    pub restorer: Restorer,
}

impl CameraDeblurrer {
    /// Refuses a model that is not a camera deblurrer.
    pub fn new(restorer: Restorer) -> Result<Self> {
        camera_schedule(&restorer.info)?;
        Ok(CameraDeblurrer { restorer })
    }

    /// Restores `img` from the blur `told` names; None passes it through unchanged.
    pub fn restore(
        &mut self,
        img: &Frame,
        told: Option<&Told>,
        plan: &CameraPlan,
    ) -> Result<Frame> {
        let Some(told) = told else {
            return Ok(img.clone());
        };
        self.restorer.blur = told.descriptor;
        let padded = reflect_pad_to_stride(img, self.restorer.info.stride);
        let out = sample(
            &mut self.restorer,
            &told.family,
            &padded,
            told.t,
            plan.steps.min(told.t),
            plan.sampler,
        )?;
        Ok(out.crop(img.width, img.height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_print_as_people_read_them() {
        assert_eq!(pixels(0.4 * 17.0), "6.8");
        assert_eq!(pixels(1.25 * 7.0), "8.75");
        assert_eq!(pixels(1.25 * 4.0), "5");
        assert_eq!(pixels(0.25), "0.25");
    }

    #[test]
    fn a_motion_psf_tells_its_own_direction_back() {
        for angle in [0.0f32, 30.0, 45.0, 90.0, 135.0, 170.0] {
            let psf = CameraBlur::Motion { angle }.psf(10);
            let d = direction_of(&psf);
            // a 12.5-pixel line is nearly one-dimensional
            assert!(d[0].hypot(d[1]) > 0.95, "{angle}: {d:?}");
            let back = motion_angle(d);
            let err = (back - angle)
                .rem_euclid(180.0)
                .min((angle - back).rem_euclid(180.0));
            assert!(err < 1.5, "{angle} came back as {back}");
        }
        // the recipe's descriptor_of for motion t=10 at 45 degrees: (0, -0.976)
        let d = direction_of(&CameraBlur::Motion { angle: 45.0 }.psf(10));
        assert!(d[0].abs() < 1e-3 && (d[1] + 0.976).abs() < 2e-3, "{d:?}");
        // a disc has none
        let d = direction_of(&CameraBlur::Defocus.psf(10));
        assert!(d[0].abs() < 1e-6 && d[1].abs() < 1e-6, "{d:?}");
    }

    #[test]
    fn an_estimate_of_no_blur_passes_the_frame_through_and_a_kind_given_wins() {
        let schedule = BlurSchedule {
            sigmas: (0..=20).map(|t| 0.25 * t as f32).collect(),
        };
        let plan = CameraPlan {
            blur: BlurChoice::Auto,
            severity: Severity::Auto,
            steps: 2,
            sampler: Sampler::Improved,
        };
        let none = BlurEstimate {
            kind: BlurKind::None,
            t: 0,
            direction: [0.0; 2],
        };
        assert_eq!(plan.from_estimate(&none, &schedule), None);
        let motion = BlurEstimate {
            kind: BlurKind::Motion,
            t: 8,
            direction: [0.0, -0.9],
        };
        let told = plan.from_estimate(&motion, &schedule).unwrap();
        assert_eq!(told.t, 8);
        assert_eq!(told.descriptor, [0.0, 0.0, 1.0, 0.0, -0.9]);
        assert!(
            matches!(told.family, Family::Camera(CameraBlur::Motion { angle }) if (angle - 45.0).abs() < 1e-3)
        );
        let defocus = CameraPlan {
            blur: BlurChoice::Defocus,
            ..plan
        };
        let told = defocus.from_estimate(&motion, &schedule).unwrap();
        assert_eq!(told.family, Family::Camera(CameraBlur::Defocus));
        assert_eq!(told.descriptor, [0.0, 1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn a_given_severity_is_the_nearest_step_of_its_family() {
        let schedule = BlurSchedule {
            sigmas: (0..=20).map(|t| 0.25 * t as f32).collect(),
        };
        let plan = |blur, v| CameraPlan {
            blur,
            severity: Severity::Given(v),
            steps: 2,
            sampler: Sampler::Improved,
        };
        assert_eq!(
            plan(BlurChoice::Gaussian, 3.0).given(&schedule).unwrap().t,
            12
        );
        assert_eq!(
            plan(BlurChoice::Defocus, 4.0).given(&schedule).unwrap().t,
            10
        );
        let m = plan(BlurChoice::Motion { angle: 90.0 }, 13.0)
            .given(&schedule)
            .unwrap();
        assert_eq!(m.t, 10);
        assert!(
            m.descriptor[3] < -0.95,
            "a vertical line: {:?}",
            m.descriptor
        );
        assert_eq!(
            plan(BlurChoice::Auto, 3.0)
                .given(&schedule)
                .unwrap()
                .descriptor[0],
            1.0
        );
    }
}
