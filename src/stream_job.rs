//! The `coldframe stream deblur|inpaint` jobs: one restorer per worker, the overlay, and the logs on stderr.

use std::io::{BufRead, Write};

use anyhow::{bail, Result};

use crate::deblur::Deblurrer;
use crate::frame::{FrameReader, FrameWriter, StreamFormat};
use crate::frame_mask::MaskSource;
use crate::inpaint::Inpainter;
use crate::models::resolve;
use crate::overlay::{compose_compare, draw_label, draw_outline, mask_outline};
use crate::planar::Planar;
use crate::restorer::Restorer;
use crate::sampler::Sampler;
use crate::stream::{run_stream, FrameOp, StreamStats};

/// What a stream restores, with the settings only that task has.
pub enum StreamTaskKind {
    Deblur {
        severity: f32,
        sampler: Sampler,
    },
    /// One mask (file and/or rectangles) for every frame of the stream.
    Inpaint {
        masks: MaskSource,
    },
}

pub struct StreamJob {
    pub format: StreamFormat,
    /// None: the input's format.
    pub out_format: Option<StreamFormat>,
    pub size: Option<(usize, usize)>,
    pub stride: Option<usize>,
    pub model: String,
    pub steps: Option<usize>,
    pub task: StreamTaskKind,
    /// None: the number of cores.
    pub workers: Option<usize>,
    pub progress: bool,
    pub overlay: bool,
    pub compare: bool,
}

impl StreamJob {
    pub fn run(
        self,
        input: Box<dyn BufRead + Send>,
        output: Box<dyn Write + Send>,
    ) -> Result<StreamStats> {
        let workers = self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        if !(1..=256).contains(&workers) {
            bail!("--workers {workers} is outside 1..=256");
        }
        let reader = FrameReader::new(self.format, input, self.size, self.stride)?;
        let (w, h) = reader.size();
        let out_format = self.out_format.unwrap_or(self.format);
        // Every worker parses its own copy of the model: plans and scratch memory are not shared.
        let (bytes, name) = resolve(&self.model)?;
        let load = || Restorer::from_bytes(&bytes, &name);
        let mut ops: Vec<FrameOp> = Vec::with_capacity(workers);
        let (what, steps, outline) = match &self.task {
            StreamTaskKind::Deblur { severity, sampler } => {
                let first = Deblurrer::new(load()?)?;
                let plan = first.plan(*severity, self.steps, *sampler)?;
                for mut d in per_worker(first, workers, || Deblurrer::new(load()?))? {
                    ops.push(Box::new(move |f: &Planar| d.restore(f, &plan)));
                }
                let what = format!(
                    "severity {severity} (t*={}), {} steps {:?}",
                    plan.t_star, plan.steps, plan.sampler
                );
                (what, plan.steps, Vec::new())
            }
            StreamTaskKind::Inpaint { masks } => {
                let mask = masks.for_frame(std::path::Path::new("-"), w, h)?;
                if mask.count() == 0 {
                    bail!("the mask is empty: there is nothing to inpaint in this stream");
                }
                let first = Inpainter::new(load()?)?;
                let plan = first.plan(self.steps)?;
                // The mask is the same for every frame: its distance transform is computed once.
                let schedule = first.schedule_for(&mask)?;
                for mut inp in per_worker(first, workers, || Inpainter::new(load()?))? {
                    let (mask, schedule) = (mask.clone(), schedule.clone());
                    ops.push(Box::new(move |f: &Planar| {
                        inp.restore(f, &mask, &schedule, &plan)
                    }));
                }
                let what = format!(
                    "mask of {} pixels ({:.1}%), {} steps",
                    mask.count(),
                    100.0 * mask.count() as f64 / (w * h) as f64,
                    plan.steps
                );
                (what, plan.steps, mask_outline(&mask))
            }
        };
        if self.compare {
            ops = ops.into_iter().map(with_compare).collect();
        }
        let writer = FrameWriter::new(out_format, output, reader.y4m.as_ref(), (w, h));
        eprintln!(
            "coldframe: stream {} -> {out_format} {w}x{h}, model {name}, {what}, {workers} workers",
            self.format
        );
        let mut last = std::time::Instant::now();
        let (show, overlay) = (self.progress, self.overlay);
        let label = format!("{name} S={steps}");
        let hook = move |frame: Option<&mut Planar>, ms: f64, s: &StreamStats| match frame {
            Some(f) if overlay => {
                draw_outline(f, &outline);
                // this frame counts towards the rate it shows
                let fps = (s.frames + 1) as f64 / s.elapsed.as_secs_f64().max(1e-3);
                draw_label(f, &format!("{label} {ms:.0}ms {fps:.1}fps"), 4, 4)
            }
            Some(_) => {}
            None if show && last.elapsed().as_secs_f64() >= 1.0 => {
                last = std::time::Instant::now();
                eprintln!("coldframe: {} frames, {:.2} fps", s.frames, s.fps());
            }
            None => {}
        };
        let stats = run_stream(reader, writer, ops, Box::new(hook))?;
        eprintln!(
            "coldframe: {} frames in {:.1} s, {:.2} fps, per frame mean {:.0} ms, p95 {:.0} ms{}",
            stats.frames,
            stats.elapsed.as_secs_f64(),
            stats.fps(),
            stats.mean_ms(),
            stats.p95_ms(),
            if stats.downstream_closed {
                " (output closed early)"
            } else {
                ""
            }
        );
        Ok(stats)
    }
}

/// `first` and `workers - 1` more made by `make`: one restorer, with its own model instance and plans, per worker.
fn per_worker<T>(first: T, workers: usize, make: impl Fn() -> Result<T>) -> Result<Vec<T>> {
    let mut all = Vec::with_capacity(workers);
    all.push(first);
    for _ in 1..workers {
        all.push(make()?);
    }
    Ok(all)
}

/// `--compare`: the input's left half beside the restored right half.
fn with_compare(mut op: FrameOp) -> FrameOp {
    Box::new(move |f: &Planar| {
        let mut out = op(f)?;
        compose_compare(f, &mut out);
        Ok(out)
    })
}
