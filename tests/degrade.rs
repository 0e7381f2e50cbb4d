//! The blur operator D: equal to the Python D the models were trained with, and physically sane.

mod common;

use coldframe::degrade::blur::{blur, gaussian_kernel, BlurSchedule};
use coldframe::degrade::Degradation;
use coldframe::frame::Frame;
use common::{max_abs_diff, Reader};

#[test]
fn rust_blur_equals_python_blur_on_shared_vectors() {
    let mut r = Reader::open("blur_vectors.bin");
    let n = r.u32();
    assert!(n >= 5, "fixture holds {n} cases");
    for _ in 0..n {
        let sigma = r.f32();
        let input = r.frame();
        let expected = r.frame();
        let got = blur(&input, sigma);
        let d = max_abs_diff(&got, &expected);
        // f32 sums in another order than numpy's einsum: a few ulps of values in [0, 1].
        assert!(
            d < 2e-6,
            "sigma {sigma} on {}x{}: max diff {d}",
            input.width,
            input.height
        );
    }
}

fn ramp(w: usize, h: usize) -> Frame {
    let data = (0..3 * w * h)
        .map(|i| ((i * 7919) % 251) as f32 / 250.0)
        .collect();
    Frame::new(w, h, 3, data).unwrap()
}

#[test]
fn step_zero_is_the_identity() {
    let x = ramp(17, 9);
    let s = BlurSchedule {
        sigmas: vec![0.0, 0.5, 1.0],
    };
    assert_eq!(s.apply(&x, 0), x);
}

#[test]
fn blur_never_brightens_nor_darkens_beyond_the_input_range() {
    let x = ramp(40, 31);
    let (lo, hi) = x
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    for sigma in [0.3, 1.0, 2.5, 5.0, 12.0] {
        let y = blur(&x, sigma);
        for v in &y.data {
            assert!(
                *v <= hi + 1e-6 && *v >= lo - 1e-6,
                "sigma {sigma}: {v} outside [{lo}, {hi}]"
            );
        }
    }
}

#[test]
fn kernel_is_normalised_and_symmetric() {
    for sigma in [0.25f32, 1.0, 3.3, 5.0] {
        let k = gaussian_kernel(sigma);
        let sum: f32 = k.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
        assert!(k.iter().zip(k.iter().rev()).all(|(a, b)| a == b));
        assert_eq!(k.len(), 2 * (3.0 * sigma).ceil() as usize + 1);
    }
}

#[test]
fn constant_frame_stays_constant_at_every_border() {
    let x = Frame::new(5, 4, 3, vec![0.625; 60]).unwrap();
    let y = blur(&x, 4.0);
    assert!(y.data.iter().all(|v| (v - 0.625).abs() < 1e-6));
}

#[test]
fn blur_grows_with_the_step() {
    // Total variation must fall as sigma(t) rises: the schedule really degrades more at later steps.
    let x = ramp(48, 32);
    let s = BlurSchedule {
        sigmas: (0..=8).map(|t| t as f32 * 0.5).collect(),
    };
    let tv = |p: &Frame| p.data.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f32>();
    let tvs: Vec<f32> = (0..=8).map(|t| tv(&s.apply(&x, t))).collect();
    assert!(tvs.windows(2).all(|w| w[1] < w[0]), "{tvs:?}");
}
