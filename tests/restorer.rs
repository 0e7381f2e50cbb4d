//! The tract restorer against onnxruntime, and the sampler's contract, on the shipped model files.

mod common;

use coldframe::deblur::Deblurrer;
use coldframe::degrade::blur::BlurSchedule;
use coldframe::model_info::Task;
use coldframe::restorer::Restorer;
use coldframe::sampler::{sample, Restore, Sampler};
use common::{max_abs_diff, parity, restorer, Reader};

#[test]
fn f32_model_matches_onnxruntime() {
    // Same float graph, other summation order: well under 1/10 of an 8-bit level.
    parity("models/deblur-f32.onnx", "parity_f32.bin", 1e-4);
}

#[test]
fn int8_model_matches_onnxruntime() {
    // tract runs the QDQ graph through our integer convolutions and sums (src/restorer/int8_*.rs), the same
    // integer arithmetic as onnxruntime's QLinearConv; the requantizing products are floats on both sides, so a
    // value on a rounding edge may land one 8-bit level away. Measured: identical on this fixture.
    parity("models/deblur-int8.onnx", "parity_int8.bin", 1.0 / 255.0);
}

#[test]
fn every_quantized_convolution_and_sum_runs_in_integers() {
    // If an export change broke the QDQ pattern the rewrite looks for, tract would silently fall back to float
    // convolutions between quantize/dequantize passes, 2-3x slower (docs/performance.md): catch it here.
    // (model, integer convolutions, integer sums, Winograd float convolutions, tiled float convolutions, ReLUs
    // and residual sums folded into float convolutions). Of the
    // float models' ten 3x3 convolutions the eight at stride 1 run by Winograd and the two stride-2 ones tiled
    // (their two 1x1 ones stay with tract's matrix product); the inpainter's int8 file keeps its stem
    // convolution in float (models/inpaint.md): it runs as the one Winograd float convolution.
    let expected = [
        ("models/deblur-int8.onnx", 12, 9, 0, 0, 0, 0),
        ("inpaint-int8", 11, 9, 1, 0, 1, 0),
        ("models/deblur-f32.onnx", 0, 0, 8, 2, 9, 6),
        ("inpaint-f32", 0, 0, 8, 2, 9, 6),
    ];
    for (model, convs, adds, winograd_convs, float_convs, relus, residuals) in expected {
        let mut r = restorer(model);
        let c = r.info.in_channels();
        let x = coldframe::frame::Frame::new(64, 48, c, vec![0.5; 64 * 48 * c]).unwrap();
        r.predict(&x, 5).unwrap();
        let done = r.rewritten;
        assert_eq!(
            (
                done.int8_convs,
                done.int8_adds,
                done.winograd_convs,
                done.f32_convs
            ),
            (convs, adds, winograd_convs, float_convs),
            "{model}: {done:?}"
        );
        // The decoder's three pixel shuffles, each one pass instead of tract's two transposes.
        assert_eq!(done.pixel_shuffles, 3, "{model}: {done:?}");
        // Every float 3x3 convolution's ReLU, and the six residual sums after the stride-1 ones, folded in.
        assert_eq!(
            (done.fused_relus, done.fused_residuals),
            (relus, residuals),
            "{model}: {done:?}"
        );
    }
}

fn fixture_input() -> (coldframe::frame::Frame, usize) {
    let mut r = Reader::open("parity_f32.bin");
    let t = r.f32() as usize;
    (r.frame(), t)
}

/// The deblurring model's own blur schedule.
fn blur_schedule(r: &Restorer) -> BlurSchedule {
    match &r.info.task {
        Task::Deblur(schedule) => schedule.clone(),
        other => panic!("{} is a {other} model", r.info.name),
    }
}

#[test]
fn one_step_equals_one_direct_prediction_for_both_samplers() {
    let (x, t) = fixture_input();
    let mut r = restorer("models/deblur-f32.onnx");
    let schedule = blur_schedule(&r);
    let direct = r.predict(&x, t).unwrap();
    for s in [Sampler::Improved, Sampler::Naive] {
        let y = sample(&mut r, &schedule, &x, t, 1, s).unwrap();
        assert_eq!(y, direct, "{s:?}");
    }
}

#[test]
fn sampling_from_step_zero_returns_the_input() {
    let (x, _) = fixture_input();
    let mut r = restorer("models/deblur-f32.onnx");
    let schedule = blur_schedule(&r);
    assert_eq!(
        sample(&mut r, &schedule, &x, 0, 4, Sampler::Improved).unwrap(),
        x
    );
}

#[test]
fn same_input_same_output_bit_for_bit() {
    let (x, t) = fixture_input();
    let run = |model: &str| {
        let mut d = Deblurrer::new(restorer(model)).unwrap();
        let plan = d
            .plan(d.schedule.sigmas[t], Some(4), Sampler::Improved)
            .unwrap();
        let a = d.restore(&x, &plan).unwrap();
        // again on the same instance (cached plan) and on a fresh one
        let b = d.restore(&x, &plan).unwrap();
        (a, b)
    };
    for model in ["models/deblur-f32.onnx", "models/deblur-int8.onnx"] {
        let (a1, b1) = run(model);
        let (a2, _) = run(model);
        assert!(
            a1.data
                .iter()
                .zip(&b1.data)
                .all(|(p, q)| p.to_bits() == q.to_bits()),
            "{model}"
        );
        assert!(
            a1.data
                .iter()
                .zip(&a2.data)
                .all(|(p, q)| p.to_bits() == q.to_bits()),
            "{model}"
        );
    }
}

#[test]
fn improved_and_naive_samplers_differ_after_several_steps() {
    // Guards against a sampler flag that is parsed but ignored.
    let (x, t) = fixture_input();
    let mut r = restorer("models/deblur-f32.onnx");
    let schedule = blur_schedule(&r);
    let a = sample(&mut r, &schedule, &x, t, 4, Sampler::Improved).unwrap();
    let b = sample(&mut r, &schedule, &x, t, 4, Sampler::Naive).unwrap();
    assert!(max_abs_diff(&a, &b) > 1e-4);
}

#[test]
fn any_frame_size_comes_back_at_its_own_size() {
    let mut d = Deblurrer::new(restorer("models/deblur-f32.onnx")).unwrap();
    let plan = d.plan(2.0, Some(2), Sampler::Improved).unwrap();
    for (w, h) in [(1, 1), (7, 3), (33, 17), (64, 48)] {
        let x = coldframe::frame::Frame::new(w, h, 3, vec![0.5; w * h * 3]).unwrap();
        let y = d.restore(&x, &plan).unwrap();
        assert_eq!((y.width, y.height, y.channels), (w, h, 3));
        assert!(y
            .data
            .iter()
            .all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
    }
}

#[test]
fn requests_outside_the_model_are_refused_with_the_valid_range() {
    let d = Deblurrer::new(restorer("models/deblur-f32.onnx")).unwrap();
    let max_sigma = *d.schedule.sigmas.last().unwrap();
    for sev in [0.0, -1.0, f32::NAN, max_sigma + 0.01, f32::INFINITY] {
        let e = d
            .plan(sev, None, Sampler::Improved)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("severity {sev} is outside"))
                && e.contains(&max_sigma.to_string()),
            "{e}"
        );
    }
    let t = d.schedule.sigmas.len() - 1;
    for steps in [0, t + 1] {
        let e = d
            .plan(2.0, Some(steps), Sampler::Improved)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("steps {steps} is outside 1..={t}")),
            "{e}"
        );
    }
}

#[test]
fn steps_are_capped_at_the_start_step() {
    let d = Deblurrer::new(restorer("models/deblur-f32.onnx")).unwrap();
    let p = d
        .plan(d.schedule.sigmas[2], Some(10), Sampler::Improved)
        .unwrap();
    assert_eq!((p.t_star, p.steps), (2, 2));
}

#[test]
fn rust_sampler_reproduces_the_python_sampler_of_the_evaluation() {
    // Both samplers, S = 4 from t* = 12 on one crop: the card's numbers are what the binary does.
    let mut f = Reader::open("sampler_f32.bin");
    let (t_star, steps, n) = (f.u32() as usize, f.u32() as usize, f.u32());
    assert_eq!(n, 2);
    let x = f.frame();
    let mut r = restorer("models/deblur-f32.onnx");
    let schedule = blur_schedule(&r);
    for s in [Sampler::Improved, Sampler::Naive] {
        let expected = f.frame();
        let got = sample(&mut r, &schedule, &x, t_star, steps, s).unwrap();
        let d = max_abs_diff(&got, &expected);
        // tract vs onnxruntime (1e-4 a call) compounded over 4 calls and 6 blurs.
        assert!(
            d < 1e-3,
            "{s:?}: Rust sampler differs from the Python one by {d}"
        );
    }
}
