//! The `coldframe stream deblur` job: one deblurrer per worker, the overlay, and the logs on stderr.

use std::io::{BufRead, Write};

use anyhow::{bail, Result};

use crate::deblur::Deblurrer;
use crate::frame::{FrameReader, FrameWriter, StreamFormat};
use crate::models::resolve;
use crate::overlay::{compose_compare, draw_label};
use crate::planar::Planar;
use crate::restorer::Restorer;
use crate::sampler::Sampler;
use crate::stream::{run_stream, FrameOp, StreamStats};

pub struct StreamJob {
    pub format: StreamFormat,
    /// None: the input's format.
    pub out_format: Option<StreamFormat>,
    pub size: Option<(usize, usize)>,
    pub stride: Option<usize>,
    pub model: String,
    pub severity: f32,
    pub steps: Option<usize>,
    pub sampler: Sampler,
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
        // Every worker parses its own copy of the model: plans and scratch memory are not shared.
        let (bytes, name) = resolve(&self.model)?;
        let first = Deblurrer::new(Restorer::from_bytes(&bytes, &name)?)?;
        let plan = first.plan(self.severity, self.steps, self.sampler)?;
        let mut ops: Vec<FrameOp> = Vec::with_capacity(workers);
        let mut next = Some(first);
        for _ in 0..workers {
            let mut d = match next.take() {
                Some(d) => d,
                None => Deblurrer::new(Restorer::from_bytes(&bytes, &name)?)?,
            };
            let compare = self.compare;
            ops.push(Box::new(move |f: &Planar| {
                let mut out = d.restore(f, &plan)?;
                if compare {
                    compose_compare(f, &mut out);
                }
                Ok(out)
            }));
        }
        let reader = FrameReader::new(self.format, input, self.size, self.stride)?;
        let (w, h) = reader.size();
        let out_format = self.out_format.unwrap_or(self.format);
        let writer = FrameWriter::new(out_format, output, reader.y4m.as_ref(), (w, h));
        eprintln!(
            "coldframe: stream {} -> {out_format} {w}x{h}, model {name}, severity {} (t*={}), {} steps {:?}, {workers} workers",
            self.format, self.severity, plan.t_star, plan.steps, plan.sampler
        );
        let mut last = std::time::Instant::now();
        let (show, overlay) = (self.progress, self.overlay);
        let label = format!("{name} S={}", plan.steps);
        let hook = move |frame: Option<&mut Planar>, ms: f64, s: &StreamStats| match frame {
            // this frame counts towards the rate it shows
            Some(f) if overlay => {
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
