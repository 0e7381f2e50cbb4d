//! A restoration request checked against its model, and the per-frame restorers that carry it out: one builder
//! for the file, folder and stream modes alike.
//!
//! Adding a task: a `Request` variant with the settings only that task has, a `model_info::Task` variant, its
//! restorer module (as `deblur.rs` and `inpaint.rs`: a plan checked against the model's metadata, owning what
//! every frame shares), and one arm in `Job::new` and in `Job::worker`.

use std::borrow::Cow;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::camera_deblur::{BlurChoice, CameraDeblurrer, CameraPlan, Severity, Told};
use crate::deblur::{DeblurPlan, Deblurrer};
use crate::frame::{Frame, Rect};
use crate::frame_mask::{FrameMask, MaskSource};
use crate::inpaint::{InpaintPlan, Inpainter};
use crate::model_info::{ModelInfo, Task};
use crate::models::resolve;
use crate::restorer::blur_estimator::BlurEstimator;
use crate::restorer::Restorer;
use crate::sampler::Sampler;
use crate::setting::{refuse, Setting};

/// What the user asked for, with the settings only that task has.
pub enum Request {
    Deblur {
        /// Estimated, or given in the blur's own unit (a Gaussian model: its total sigma in pixels); None: the
        /// model's default (a camera deblurrer estimates, a Gaussian model takes sigma 2).
        severity: Option<Severity>,
        /// Which blur (a Gaussian model inverts only the Gaussian).
        blur: BlurChoice,
        sampler: Sampler,
        /// The blur estimator (an embedded name or an ONNX file), for `Severity::Auto`.
        estimator: String,
    },
    /// One mask (file and/or rectangles) for every frame, or a folder of masks named as the inputs.
    Inpaint { masks: MaskSource },
}

/// The Gaussian deblurrer's severity when none is given.
pub const DEFAULT_SIGMA: f32 = 2.0;

/// Restores whole frames with its own model instance and plans: one per worker.
pub trait FrameRestorer: Send {
    /// `input` names where the frame came from (a file, or `-`): a folder of masks is looked up by it.
    fn restore(&mut self, input: &Path, frame: &Frame) -> Result<Frame>;

    /// The blur to undo in the frames (or tiles) that follow, fixed for a whole still or stream
    /// (`Job::blur_of`); restorers of other tasks ignore it.
    fn set_blur(&mut self, _blur: Option<&Told>) {}
}

/// The request checked against its model.
enum Plan {
    Deblur(DeblurPlan),
    Camera {
        plan: CameraPlan,
        /// Loaded for `Severity::Auto`.
        estimator: Option<Box<BlurEstimator>>,
        /// The blur of every frame, once `Job::fix_blur` has fixed it for a stream.
        fixed: Option<Option<Told>>,
    },
    Inpaint {
        steps: usize,
        masks: MaskSource,
        /// The plan of every frame, once `fix_frame_size` has fixed the mask; else each frame's mask is looked up.
        fixed: Option<Box<InpaintPlan>>,
    },
}

pub struct Job {
    model: Cow<'static, [u8]>,
    pub info: ModelInfo,
    plan: Plan,
    /// The model instance loaded to check the request, handed to the first worker.
    loaded: Option<Restorer>,
    /// How the workers' network calls are tiled (`Restorer::tile`).
    pub network_tile: Option<usize>,
    /// How many more model instances help each worker with a tiled call (`Restorer::set_helpers`).
    pub network_helpers: usize,
}

impl Job {
    /// Loads the model (an embedded name or an ONNX file) and checks the request against it, so that a bad
    /// request fails before any frame is read.
    pub fn new(model: &str, steps: Option<usize>, request: Request) -> Result<Job> {
        let (bytes, name) = resolve(model)?;
        let restorer = Restorer::from_bytes(&bytes, &name)?;
        let info = restorer.info.clone();
        let plan = match request {
            Request::Deblur {
                severity,
                blur,
                sampler,
                estimator,
            } => match &info.task {
                Task::CameraDeblur(_) => {
                    let severity = severity.unwrap_or(Severity::Auto);
                    Plan::Camera {
                        plan: CameraPlan::new(&info, blur, severity, steps, sampler)?,
                        estimator: match severity {
                            Severity::Auto => {
                                let (bytes, name) = resolve(&estimator)?;
                                Some(Box::new(BlurEstimator::from_bytes(&bytes, &name)?))
                            }
                            Severity::Given(_) => None,
                        },
                        fixed: None,
                    }
                }
                _ => {
                    let severity = severity.unwrap_or(Severity::Given(DEFAULT_SIGMA));
                    let sigma = match (severity, blur) {
                        (Severity::Given(s), BlurChoice::Auto | BlurChoice::Gaussian) => s,
                        (Severity::Auto, _) => {
                            return Err(refuse(
                                Setting::Severity,
                                "auto",
                                format!(
                                    "needs a camera deblurrer: model {} inverts a Gaussian blur of a given \
                                     sigma and cannot estimate one",
                                    info.name
                                ),
                            ))
                        }
                        (_, other) => {
                            return Err(refuse(
                                Setting::Blur,
                                other.name(),
                                format!(
                                    "needs a camera deblurrer: model {} inverts only a Gaussian blur",
                                    info.name
                                ),
                            ))
                        }
                    };
                    Plan::Deblur(DeblurPlan::new(&info, sigma, steps, sampler)?)
                }
            },
            Request::Inpaint { masks } => Plan::Inpaint {
                steps: InpaintPlan::steps(&info, steps)?,
                masks,
                fixed: None,
            },
        };
        Ok(Job {
            model: bytes,
            info,
            plan,
            loaded: Some(restorer),
            network_tile: None,
            network_helpers: 0,
        })
    }

    /// Whether a frame may be restored in tiles: the deblurrer's dependence is local (its network and blurs); the
    /// inpainter's fill and mask schedule reach across the frame.
    pub fn tiles(&self) -> bool {
        matches!(self.plan, Plan::Deblur(_) | Plan::Camera { .. })
    }

    /// The network calls per frame.
    pub fn steps(&self) -> usize {
        match &self.plan {
            Plan::Deblur(p) => p.steps,
            Plan::Camera { plan, .. } => plan.steps,
            Plan::Inpaint { steps, .. } => *steps,
        }
    }

    /// For the camera deblurrer: the blur to undo in a width x height image of which `crop` cuts RGB regions,
    /// given or estimated (the estimator reads a few crops, `blur_estimator::crops`). Outer None: this job's task
    /// takes no blur; inner None: nothing to undo.
    pub fn blur_of(
        &mut self,
        width: usize,
        height: usize,
        crop: &dyn Fn(Rect) -> Frame,
    ) -> Result<Option<Option<Told>>> {
        let Plan::Camera {
            plan, estimator, ..
        } = &mut self.plan
        else {
            return Ok(None);
        };
        let Task::CameraDeblur(schedule) = &self.info.task else {
            bail!("model {} is not a camera deblurrer", self.info.name);
        };
        if let Some(told) = plan.given(schedule) {
            return Ok(Some(Some(told)));
        }
        let estimator = estimator
            .as_mut()
            .context("an estimated severity has its estimator loaded")?;
        let e = estimator.estimate_crops(width, height, crop)?;
        Ok(Some(plan.from_estimate(&e, schedule)))
    }

    /// For a stream: fixes the blur of every frame from the first one (estimated once, so that it cannot flicker
    /// from frame to frame), before the workers are made.
    pub fn fix_blur(&mut self, first: &Frame) -> Result<()> {
        if let Some(blur) = self.blur_of(first.width, first.height, &|r| first.region(r))? {
            if let Plan::Camera { fixed, .. } = &mut self.plan {
                *fixed = Some(blur);
            }
        }
        Ok(())
    }

    /// For a stream, whose frames all have one size and no file name: fixes the mask once for every frame.
    pub fn fix_frame_size(&mut self, width: usize, height: usize) -> Result<()> {
        if let Plan::Inpaint {
            steps,
            masks,
            fixed,
        } = &mut self.plan
        {
            let mask = masks.for_frame(Path::new("-"), width, height)?;
            if mask.count() == 0 {
                bail!("the mask is empty: there is nothing to inpaint in this stream");
            }
            *fixed = Some(Box::new(InpaintPlan::new(&self.info, Some(*steps), mask)?));
        }
        Ok(())
    }

    /// The mask every frame shares, once fixed.
    pub fn fixed_mask(&self) -> Option<&FrameMask> {
        match &self.plan {
            Plan::Inpaint {
                fixed: Some(plan), ..
            } => Some(&plan.mask),
            _ => None,
        }
    }

    /// The blur fixed for every frame by `fix_blur` (None: not a camera deblurrer, or not fixed yet; Some(None):
    /// no blur).
    pub fn fixed_blur(&self) -> Option<Option<Told>> {
        match &self.plan {
            Plan::Camera { fixed, .. } => fixed.clone(),
            _ => None,
        }
    }

    /// Whether the blur is estimated from the frames (a camera deblurrer at `--severity auto`).
    pub fn estimates_blur(&self) -> bool {
        matches!(
            &self.plan,
            Plan::Camera {
                estimator: Some(_),
                ..
            }
        )
    }

    /// The request as the stream's start line shows it.
    pub fn describe(&self) -> String {
        match &self.plan {
            Plan::Deblur(p) => format!(
                "severity {} (t*={}), {} steps {:?}",
                p.severity, p.t_star, p.steps, p.sampler
            ),
            Plan::Camera { plan, fixed, .. } => {
                let blur = match fixed {
                    Some(Some(told)) => format!("{} (t*={})", told.describe(), told.t),
                    Some(None) => "no blur found: frames pass through".to_string(),
                    None => format!("{:?} blur, severity {:?}", plan.blur, plan.severity),
                };
                format!("{blur}, up to {} steps {:?}", plan.steps, plan.sampler)
            }
            Plan::Inpaint { steps, fixed, .. } => match fixed {
                Some(plan) => {
                    let (n, all) = (plan.mask.count(), plan.mask.width * plan.mask.height);
                    format!(
                        "mask of {n} pixels ({:.1}%), {steps} steps",
                        100.0 * n as f64 / all as f64
                    )
                }
                None => format!("{steps} steps"),
            },
        }
    }

    /// A restorer for one worker: the model instance loaded by `new` for the first, a fresh one for every other
    /// (plans and scratch memory are not shared).
    pub fn worker(&mut self) -> Result<Box<dyn FrameRestorer>> {
        let mut restorer = match self.loaded.take() {
            Some(r) => r,
            None => Restorer::from_bytes(&self.model, &self.info.name)?,
        };
        restorer.tile = self.network_tile;
        if self.network_helpers > 0 {
            restorer.set_helpers(self.network_helpers, std::sync::Arc::from(&*self.model));
        }
        Ok(match &self.plan {
            Plan::Deblur(plan) => Box::new(DeblurWorker {
                deblurrer: Deblurrer::new(restorer)?,
                plan: *plan,
            }),
            Plan::Camera { plan, fixed, .. } => Box::new(CameraWorker {
                deblurrer: CameraDeblurrer::new(restorer)?,
                plan: *plan,
                blur: fixed.clone(),
            }),
            Plan::Inpaint {
                steps,
                masks,
                fixed,
            } => Box::new(InpaintWorker {
                inpainter: Inpainter::new(restorer)?,
                steps: *steps,
                // A fixed plan needs no lookup.
                masks: fixed.is_none().then(|| masks.clone()),
                plan: fixed.as_deref().cloned(),
            }),
        })
    }
}

struct DeblurWorker {
    deblurrer: Deblurrer,
    plan: DeblurPlan,
}

impl FrameRestorer for DeblurWorker {
    fn restore(&mut self, _input: &Path, frame: &Frame) -> Result<Frame> {
        self.deblurrer.restore(frame, &self.plan)
    }
}

struct CameraWorker {
    deblurrer: CameraDeblurrer,
    plan: CameraPlan,
    /// Set for the whole stream or still (`set_blur`) before any frame or tile.
    blur: Option<Option<Told>>,
}

impl FrameRestorer for CameraWorker {
    fn restore(&mut self, input: &Path, frame: &Frame) -> Result<Frame> {
        match &self.blur {
            Some(told) => self.deblurrer.restore(frame, told.as_ref(), &self.plan),
            None => bail!(
                "{}: the blur to undo was not fixed before restoring",
                input.display()
            ),
        }
    }

    fn set_blur(&mut self, blur: Option<&Told>) {
        self.blur = Some(blur.cloned());
    }
}

struct InpaintWorker {
    inpainter: Inpainter,
    steps: usize,
    /// Where each frame's mask is looked up; None when the stream's mask is fixed for every frame.
    masks: Option<MaskSource>,
    /// The last frame's plan, kept while the next frame's mask is the same (one mask for a folder of frames).
    plan: Option<InpaintPlan>,
}

impl FrameRestorer for InpaintWorker {
    fn restore(&mut self, input: &Path, frame: &Frame) -> Result<Frame> {
        if let Some(masks) = &self.masks {
            let mask = masks.for_frame(input, frame.width, frame.height)?;
            if mask.count() == 0 {
                eprintln!(
                    "coldframe: {}: the mask is empty, the image is copied unchanged",
                    input.display()
                );
            }
            if self.plan.as_ref().is_none_or(|p| p.mask != mask) {
                self.plan = Some(self.inpainter.plan(Some(self.steps), mask)?);
            }
        }
        match &self.plan {
            Some(plan) => self.inpainter.restore(frame, plan),
            // Set above, or fixed by `Job::fix_frame_size` before the worker was made.
            None => bail!("no mask for {}", input.display()),
        }
    }
}

/// The workers a run asks for (default: the number of cores), 1..=256.
pub fn worker_count(requested: Option<usize>) -> Result<usize> {
    let n = requested.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if !(1..=256).contains(&n) {
        return Err(refuse(Setting::Workers, n, "is outside 1..=256"));
    }
    Ok(n)
}
