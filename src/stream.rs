//! Frame-parallel restoration of a stream: one reader, K workers (each with its own model instance and plans),
//! one writer that puts frames back in input order.
//!
//! Memory is bounded: the reader takes one of K tokens before it reads a frame and the writer gives it back once
//! that frame is written, so at most K frames are ever between being read and being written, however unevenly
//! the workers finish. A closed downstream pipe stops everything and is a clean end; any other error stops the
//! stream and is returned.

use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::frame::Frame;
use crate::stream_io::{FrameReader, FrameWriter};

/// Restores one frame, given the tag `prepare` gave it; each worker owns one.
pub type FrameOp = Box<dyn FnMut(&Frame, usize) -> Result<Frame> + Send>;

#[derive(Debug, Default, Clone)]
pub struct StreamStats {
    pub frames: u64,
    pub elapsed: Duration,
    /// Per-frame restoration time, in input order.
    pub latencies_ms: Vec<f64>,
    /// True when the consumer closed its end before the input ended.
    pub downstream_closed: bool,
}

impl StreamStats {
    pub fn fps(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn mean_ms(&self) -> f64 {
        self.latencies_ms.iter().sum::<f64>() / self.latencies_ms.len().max(1) as f64
    }

    pub fn p95_ms(&self) -> f64 {
        let mut v = self.latencies_ms.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(((v.len() as f64 * 0.95).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    }
}

fn is_broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// Called in output order just before a frame is written: with the frame, its restoration time in ms and the
/// statistics so far (the overlay draws here); then once more after it is written, with `None`.
pub type FrameHook<'a> = Box<dyn FnMut(Option<&mut Frame>, f64, usize, &StreamStats) + Send + 'a>;

/// Runs the stream to its end. `ops` has one restorer per worker; `prepare` sees every frame in order as it is
/// read, before a worker takes it (the temporal filter and the blur's re-estimates, which need the frames in
/// order), and tags it: the worker and the hook get the frame's tag, whichever worker takes it when.
pub fn run_stream(
    mut reader: FrameReader,
    mut writer: FrameWriter,
    ops: Vec<FrameOp>,
    prepare: &mut dyn FnMut(Frame) -> Result<(Frame, usize)>,
    mut hook: FrameHook<'_>,
) -> Result<StreamStats> {
    let k = ops.len().max(1);
    let start = Instant::now();
    let (job_tx, job_rx) = sync_channel::<(u64, Frame, usize)>(k);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = sync_channel::<(u64, Result<Frame>, f64, usize)>(k);
    let (token_tx, token_rx) = sync_channel::<()>(k);
    for _ in 0..k {
        // The channel has room for exactly k tokens and its receiver is alive here.
        token_tx.send(()).expect("token channel has room");
    }
    std::thread::scope(|s| -> Result<StreamStats> {
        for mut op in ops {
            let rx = Arc::clone(&job_rx);
            let tx = done_tx.clone();
            s.spawn(move || loop {
                // The lock is held only to take one job; a poisoned lock means another worker panicked: stop.
                let job = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok((i, frame, tag)) = job else { return };
                let t0 = Instant::now();
                let out = op(&frame, tag);
                if tx
                    .send((i, out, t0.elapsed().as_secs_f64() * 1e3, tag))
                    .is_err()
                {
                    return;
                }
            });
        }
        // Only workers hold the job queue's receiving end now: if they all stop, the reader's send fails.
        drop(job_rx);
        drop(done_tx);
        let writer_thread =
            s.spawn(move || write_in_order(&mut writer, done_rx, token_tx, start, &mut hook));
        let mut read_error = None;
        // No token: the writer has stopped (closed pipe or error) and reports why.
        while token_rx.recv().is_ok() {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let i = reader_index(&reader);
                    let (frame, tag) = match prepare(frame) {
                        Ok(prepared) => prepared,
                        Err(e) => {
                            read_error = Some(e.context(format!("preparing frame {i}")));
                            break;
                        }
                    };
                    if job_tx.send((i, frame, tag)).is_err() {
                        break; // the writer stopped (closed pipe or error): it reports why
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        drop(job_tx);
        let stats = writer_thread
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
        if let Some(e) = read_error {
            if !stats.downstream_closed {
                return Err(e.context(format!("after {} frames written", stats.frames)));
            }
        }
        Ok(stats)
    })
}

/// Index of the frame just read (the reader counts them).
fn reader_index(r: &FrameReader) -> u64 {
    r.frames_read() - 1
}

fn write_in_order(
    writer: &mut FrameWriter,
    done: Receiver<(u64, Result<Frame>, f64, usize)>,
    tokens: SyncSender<()>,
    start: Instant,
    hook: &mut FrameHook<'_>,
) -> Result<StreamStats> {
    let mut stats = StreamStats::default();
    let mut pending: BTreeMap<u64, (Frame, f64, usize)> = BTreeMap::new();
    let mut next = 0u64;
    for (i, res, ms, tag) in done.iter() {
        let frame = res.with_context(|| format!("restoring frame {i}"))?;
        pending.insert(i, (frame, ms, tag));
        while let Some((mut frame, ms, tag)) = pending.remove(&next) {
            stats.elapsed = start.elapsed();
            hook(Some(&mut frame), ms, tag, &stats);
            if let Err(e) = writer.write(&frame) {
                if is_broken_pipe(&e) {
                    stats.downstream_closed = true;
                    stats.elapsed = start.elapsed();
                    return Ok(stats);
                }
                return Err(e).with_context(|| format!("writing frame {next}"));
            }
            stats.frames += 1;
            stats.latencies_ms.push(ms);
            // The reader may be gone (end of input): then nobody needs the token.
            let _ = tokens.send(());
            next += 1;
            stats.elapsed = start.elapsed();
            hook(None, ms, tag, &stats);
        }
    }
    match writer.flush() {
        Err(e) if is_broken_pipe(&e) => stats.downstream_closed = true,
        r => r.context("flushing the output")?,
    }
    // Every index below the reader's count arrives exactly once; anything left here would be a lost frame.
    anyhow::ensure!(
        pending.is_empty(),
        "frames {:?} were restored but never written",
        pending.keys().collect::<Vec<_>>()
    );
    stats.elapsed = start.elapsed();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream_io::StreamFormat;
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// 2x1 RGB24 frames whose first byte is the frame number.
    fn input(n: u8) -> Vec<u8> {
        (0..n).flat_map(|i| [i, 0, 0, 0, 0, 0]).collect()
    }

    #[test]
    fn uneven_workers_still_write_in_order_with_at_most_k_frames_in_flight() {
        let k = 3;
        let started = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(AtomicUsize::new(0));
        let worst = Arc::new(AtomicUsize::new(0));
        let ops: Vec<FrameOp> = (0..k)
            .map(|_| {
                let (started, written, worst) = (started.clone(), written.clone(), worst.clone());
                Box::new(move |f: &Frame, tag: usize| {
                    let s = started.fetch_add(1, Ordering::SeqCst) + 1;
                    worst.fetch_max(s - written.load(Ordering::SeqCst), Ordering::SeqCst);
                    // frame numbers 0, 3, 6... are slow: later frames overtake them
                    let id = (f.data[0] * 255.0).round() as u64;
                    anyhow::ensure!(tag == 7 * id as usize, "frame {id} came with tag {tag}");
                    std::thread::sleep(Duration::from_millis(if id.is_multiple_of(3) {
                        30
                    } else {
                        1
                    }));
                    Ok(f.clone())
                }) as FrameOp
            })
            .collect();
        let reader = FrameReader::new(
            StreamFormat::Rgb24,
            Box::new(std::io::Cursor::new(input(20))),
            Some((2, 1)),
            None,
        )
        .unwrap();
        let sink = Sink::default();
        let writer = FrameWriter::new(StreamFormat::Rgb24, Box::new(sink.clone()), None, (2, 1));
        let w2 = written.clone();
        // Counted when the writer takes the frame, before its token goes back to the reader: counting after the
        // write would race with the next read and overstate what is in flight.
        let hook: FrameHook = Box::new(move |f, _, tag, _| {
            if f.is_some() {
                let n = w2.fetch_add(1, Ordering::SeqCst);
                assert_eq!(tag, 7 * n, "the hook got frame {n}'s tag wrong");
            }
        });
        // each frame is tagged in reading order, and its tag reaches its worker and the hook with it
        let mut tag_of = |f: Frame| {
            let tag = 7 * (f.data[0] * 255.0).round() as usize;
            Ok((f, tag))
        };
        let stats = run_stream(reader, writer, ops, &mut tag_of, hook).unwrap();
        assert_eq!(stats.frames, 20);
        assert_eq!(*sink.0.lock().unwrap(), input(20));
        assert!(
            worst.load(Ordering::SeqCst) <= k,
            "{} frames in flight",
            worst.load(Ordering::SeqCst)
        );
    }

    #[test]
    fn a_failing_frame_stops_the_stream_with_its_number() {
        let ops: Vec<FrameOp> = (0..2)
            .map(|_| {
                Box::new(|f: &Frame, _| {
                    if (f.data[0] * 255.0).round() as u8 == 4 {
                        anyhow::bail!("boom")
                    }
                    Ok(f.clone())
                }) as FrameOp
            })
            .collect();
        let reader = FrameReader::new(
            StreamFormat::Rgb24,
            Box::new(std::io::Cursor::new(input(50))),
            Some((2, 1)),
            None,
        )
        .unwrap();
        let writer = FrameWriter::new(StreamFormat::Rgb24, Box::new(Sink::default()), None, (2, 1));
        let e = run_stream(
            reader,
            writer,
            ops,
            &mut |f| Ok((f, 0)),
            Box::new(|_, _, _, _| {}),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("frame 4: boom"), "{e:#}");
    }
}
