//! The `coldframe stream deblur|inpaint` jobs: frames in, one restorer per worker, the overlay, frames out, and
//! the logs on stderr.

use std::io::{BufRead, Write};

use anyhow::Result;

use crate::blur_tracker::{BlurTracker, BlurVersions};
use crate::camera_deblur::Told;
use crate::frame::Frame;
use crate::job::{worker_count, Job, Request};
use crate::overlay::{compose_compare, draw_label, draw_outline, mask_outline};
use crate::setting::{refuse, Setting};
use crate::stream::{run_stream, FrameOp, StreamStats};
use crate::stream_io::{FrameReader, FrameWriter, StreamFormat};
use crate::temporal::TemporalFilter;
use crate::tile::{tile_side, Tiled};

pub struct StreamJob {
    pub format: StreamFormat,
    /// None: the input's format.
    pub out_format: Option<StreamFormat>,
    pub size: Option<(usize, usize)>,
    pub stride: Option<usize>,
    /// An embedded model's name or an ONNX file's path.
    pub model: String,
    pub steps: Option<usize>,
    /// What to restore; an inpainting stream takes one mask for every frame.
    pub request: Request,
    /// None: the number of cores.
    pub workers: Option<usize>,
    /// Tile core side for the network calls on each frame (0: whole; None: by the frame's size,
    /// `tile::tile_side`).
    pub tile: Option<usize>,
    pub progress: bool,
    pub overlay: bool,
    pub compare: bool,
    /// The temporal noise filter's strength in front of the restorer (0: off; `temporal::TemporalFilter`).
    pub temporal: f32,
    /// Estimate the blur again every this many frames (0: once, from the first frame; `BlurTracker`).
    pub estimate_every: usize,
}

impl StreamJob {
    pub fn run(
        self,
        input: Box<dyn BufRead + Send>,
        output: Box<dyn Write + Send>,
    ) -> Result<StreamStats> {
        let workers = worker_count(self.workers)?;
        let mut filter = TemporalFilter::new(self.temporal)?;
        let mut reader = FrameReader::new(self.format, input, self.size, self.stride)?;
        let (w, h) = reader.size();
        let out_format = self.out_format.unwrap_or(self.format);
        let mut job = Job::new(&self.model, self.steps, self.request)?;
        if self.estimate_every > 0 && !job.estimates_blur() {
            return Err(refuse(
                Setting::EstimateEvery,
                self.estimate_every,
                "needs a blur to estimate: a camera deblurrer at --severity auto",
            ));
        }
        job.fix_frame_size(w, h)?;
        // the camera deblurrer's blur, estimated from the first frame, for the whole stream or until re-estimates
        // change it
        if let Some(first) = reader.peek()? {
            job.fix_blur(first)?;
        }
        let fixed = job.fixed_blur();
        // every blur the stream has had, by version: a frame's tag is the version it is restored with
        let blurs = BlurVersions::new(fixed.clone().flatten());
        // Each worker takes whole frames; a large frame's network calls are made in tiles, each exactly the
        // whole frame's.
        let side = tile_side(self.tile, w, h, Tiled::Calls)?;
        job.network_tile = Some(side);
        let mut ops: Vec<FrameOp> = Vec::with_capacity(workers);
        for _ in 0..workers {
            let mut worker = job.worker()?;
            let (blurs, mut version) = (blurs.clone(), 0);
            ops.push(Box::new(move |f: &Frame, tag: usize| {
                if tag != version {
                    let blur = blurs.get(tag)?;
                    worker.set_blur(blur.as_ref());
                    version = tag;
                }
                worker.restore(std::path::Path::new("-"), f)
            }));
        }
        let (name, steps) = (job.info.name.clone(), job.steps());
        let mut what = job.describe();
        if side > 0 {
            what.push_str(&format!(", tiles of {side}"));
        }
        if self.temporal > 0.0 {
            what.push_str(&format!(", temporal filter {}", self.temporal));
        }
        let outline = job.fixed_mask().map(mask_outline).unwrap_or_default();
        if self.compare {
            ops = ops.into_iter().map(with_compare).collect();
        }
        let writer = FrameWriter::new(out_format, output, reader.y4m_header(), (w, h));
        eprintln!(
            "coldframe: stream {} -> {out_format} {w}x{h}, model {name}, {what}, {workers} workers",
            self.format
        );
        let mut last = std::time::Instant::now();
        let (show, overlay) = (self.progress, self.overlay);
        let label = format!("{name} S={steps}");
        let camera = fixed.is_some();
        let hook_blurs = blurs.clone();
        let hook =
            move |frame: Option<&mut Frame>, ms: f64, tag: usize, s: &StreamStats| match frame {
                Some(f) if overlay => {
                    draw_outline(f, &outline);
                    // this frame counts towards the rate it shows
                    let fps = (s.frames + 1) as f64 / s.elapsed.as_secs_f64().max(1e-3);
                    let blur = match hook_blurs.get(tag) {
                        Ok(b) if camera => format!(" {}", Told::describe_blur(b.as_ref())),
                        _ => String::new(),
                    };
                    draw_label(f, &format!("{label}{blur} {ms:.0}ms {fps:.1}fps"), 4, 4)
                }
                Some(_) => {}
                None if show && last.elapsed().as_secs_f64() >= 1.0 => {
                    last = std::time::Instant::now();
                    eprintln!("coldframe: {} frames, {:.2} fps", s.frames, s.fps());
                }
                None => {}
            };
        let (every, mut tracker) = (self.estimate_every, fixed.map(BlurTracker::new));
        let mut frame_no = 0usize;
        let mut prepare = |f: Frame| -> Result<(Frame, usize)> {
            if every > 0 && frame_no > 0 && frame_no.is_multiple_of(every) {
                if let (Some(tracker), Some(estimate)) = (
                    tracker.as_mut(),
                    job.blur_of(f.width, f.height, &|r| f.region(r))?,
                ) {
                    if tracker.observe(estimate) {
                        let now = tracker.current().cloned();
                        eprintln!(
                            "coldframe: frame {frame_no}: the blur is now {}",
                            Told::describe_blur(now.as_ref())
                        );
                        blurs.push(now)?;
                    }
                }
            }
            frame_no += 1;
            Ok((filter.apply(f), blurs.latest()?))
        };
        let stats = run_stream(reader, writer, ops, &mut prepare, Box::new(hook))?;
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

/// `--compare`: the input's left half beside the restored right half.
fn with_compare(mut op: FrameOp) -> FrameOp {
    Box::new(move |f: &Frame, tag: usize| {
        let mut out = op(f, tag)?;
        compose_compare(f, &mut out);
        Ok(out)
    })
}
