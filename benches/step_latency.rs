//! Per-step latency of the embedded restorers and the model files beside them (FILES) through tract, one thread, at 256x256 and 640x480.
//!
//!     cargo bench --bench step_latency            # table on stdout
//!     python3 benches/compare_ort.py              # the same, side by side with onnxruntime, and ratios
//!
//! One step = one network call on a frame of that size (what each sampler step costs; the blur of the improved
//! sampler and the inpainters' fills are timed separately). The plan is built and run once before timing. Reports the median and the best
//! of COLDFRAME_BENCH_ITERS runs (default 15), and the multiply-adds per second the best implies (on a shared
//! machine interference only ever slows a run, so the best is the steadier figure to compare engines by).

use std::time::Instant;

use coldframe::degrade::blur::blur;
use coldframe::degrade::pyramid_fill::{pyramid_fill, Relaxation};
use coldframe::models::{resolve, Role, DEFAULT_ESTIMATOR, EMBEDDED};
use coldframe::restorer::blur_estimator::{crops, BlurEstimator};
use coldframe::restorer::Restorer;
use coldframe::sampler::Restore;
use coldframe::temporal::TemporalFilter;
use coldframe::trail::{trail_dips, Plane};

mod frames;
use frames::frame;

/// The restorers that ship as files rather than embedded (models/), timed beside the embedded ones.
const FILES: [&str; 3] = [
    "models/camera-f32.onnx",
    "models/deblur-f32.onnx",
    "models/deblur-int8.onnx",
];

/// (median, best) of `iters` timings of `f` in milliseconds; `f` gets the run's index.
fn timed<R>(iters: usize, mut f: impl FnMut(usize) -> R) -> (f64, f64) {
    median_best(
        (0..iters)
            .map(|i| {
                let t0 = Instant::now();
                std::hint::black_box(f(i));
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

/// (median, best)
fn median_best(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0])
}

fn main() -> anyhow::Result<()> {
    let iters: usize = std::env::var("COLDFRAME_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    println!("engine\tmodel\tsize\tmedian_ms\tbest_ms\tgmac_per_s");
    let embedded = EMBEDDED.iter().filter(|m| m.role == Role::Restorer);
    for model in embedded.map(|m| m.name).chain(FILES) {
        let (bytes, name) = resolve(model)?;
        let mut r = Restorer::from_bytes(&bytes, &name)?;
        for (w, h) in [(256, 256), (640, 480)] {
            let x = frame(w, h, r.info.in_channels());
            r.predict(&x, 12)?;
            let (median, best) = timed(iters, |_| r.predict(&x, 12).expect("bench frame runs"));
            let gmacs = r.info.macs_per_pixel * (w * h) as f64 / (best * 1e-3) / 1e9;
            println!(
                "tract\t{}\t{w}x{h}\t{median:.2}\t{best:.2}\t{gmacs:.2}",
                r.info.name
            );
        }
    }
    let x = frame(640, 480, 3);
    let (median, best) = timed(iters, |_| blur(&x, 3.0));
    println!("rust\tblur-sigma3\t640x480\t{median:.2}\t{best:.2}\t-");
    // The blur estimate behind --severity auto, once per still or stream (two 256-pixel crops of this frame).
    let (bytes, name) = resolve(DEFAULT_ESTIMATOR)?;
    let mut estimator = BlurEstimator::from_bytes(&bytes, &name)?;
    estimator.estimate(&x)?;
    let (median, best) = timed(iters, |_| {
        estimator.estimate(&x).expect("bench frame estimates")
    });
    println!("tract-estimator\t{name}\t640x480\t{median:.2}\t{best:.2}\t-");
    // A motion estimate's length from its trail's dip (auto_trail): the same two crops' channel means, every
    // lag along 30 degrees.
    let planes: Vec<Plane> = crops(640, 480)
        .into_iter()
        .map(|r| Plane::mean_of(&x.region(r)))
        .collect();
    let (median, best) = timed(iters, |_| trail_dips(&planes, 30.0));
    println!("rust\ttrail-dips\t640x480\t{median:.2}\t{best:.2}\t-");
    // stream deblur's temporal noise filter, once per frame, in the reader's thread (in order, before a worker
    // takes the frame): at 640x480 and 1280x720, on frames that differ (the bench frame and a shifted copy)
    for (w, h) in [(640, 480), (1280, 720)] {
        let a = frame(w, h, 3);
        // the scene moved by a pixel
        let mut b = a.clone();
        b.data.rotate_left(1);
        let mut filter = TemporalFilter::new(0.5)?;
        filter.apply(a.clone());
        let times: Vec<f64> = (0..iters)
            .map(|i| {
                let f = if i % 2 == 0 { b.clone() } else { a.clone() };
                let t0 = Instant::now();
                std::hint::black_box(filter.apply(f));
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let (median, best) = median_best(times);
        println!("rust\ttemporal-filter\t{w}x{h}\t{median:.2}\t{best:.2}\t-");
    }
    // The inpainters' fill, once per sampler step, on the inpainting bench frame's hole (a centred box of a
    // quarter of each side, 6% of the frame) at t = T, where all of it is missing.
    let x = frame(640, 480, 4);
    let n = 640 * 480;
    let missing: Vec<bool> = x.plane(3).iter().map(|&m| m > 0.5).collect();
    for (relax, name) in [
        (Relaxation::None, "pyramid"),
        (Relaxation::Jacobi, "smooth"),
        (Relaxation::Sor, "sor"),
    ] {
        let times: Vec<f64> = (0..iters)
            .map(|_| {
                let mut rgb = x.data[..3 * n].to_vec();
                let t0 = Instant::now();
                pyramid_fill(&mut rgb, &missing, 640, 480, relax);
                std::hint::black_box(&rgb);
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let (median, best) = median_best(times);
        println!("rust\tfill-{name}\t640x480\t{median:.2}\t{best:.2}\t-");
    }
    Ok(())
}
