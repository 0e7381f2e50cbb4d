//! The camera blur families (defocus, motion, shake): equal to the recipe's Python D bit for bit, and physically
//! sane.

mod common;

use coldframe::degrade::camera_blur::{CameraBlur, Psf, T_CAMERA};
use coldframe::degrade::Degradation;
use coldframe::frame::Frame;
use common::Reader;

fn family(code: u32, angle: f32, seed: u32) -> CameraBlur {
    match code {
        0 => CameraBlur::Defocus,
        1 => CameraBlur::Motion { angle },
        2 => CameraBlur::Shake { seed },
        _ => panic!("family code {code}"),
    }
}

#[test]
fn rust_camera_blurs_equal_python_bit_for_bit_on_shared_vectors() {
    let mut r = Reader::open("camera_blur_vectors.bin");
    let n = r.u32();
    assert!(n >= 12, "fixture holds {n} cases");
    for _ in 0..n {
        let (code, t, angle, seed) = (r.u32(), r.u32() as usize, r.f32(), r.u32());
        let blur = family(code, angle, seed);
        // The PSF is stored as a 2-D tensor: ndim, rows, cols, weights.
        assert_eq!(r.u32(), 2);
        let (rows, cols) = (r.u32() as usize, r.u32() as usize);
        let weights = r.f32s(rows * cols);
        let input = r.frame();
        let expected = r.frame();
        let psf = blur.psf(t);
        assert_eq!(
            psf,
            Psf {
                rows,
                cols,
                weights
            },
            "{blur:?} at t {t}: PSF"
        );
        let got = blur.apply(&input, t);
        assert!(
            got.data
                .iter()
                .zip(&expected.data)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{blur:?} at t {t} on {}x{}: output differs",
            input.width,
            input.height
        );
    }
    assert!(r.at_end());
}

fn ramp(w: usize, h: usize) -> Frame {
    let data = (0..3 * w * h)
        .map(|i| ((i * 7919) % 251) as f32 / 250.0)
        .collect();
    Frame::new(w, h, 3, data).unwrap()
}

const FAMILIES: [CameraBlur; 4] = [
    CameraBlur::Defocus,
    CameraBlur::Motion { angle: 0.0 },
    CameraBlur::Motion { angle: 123.0 },
    CameraBlur::Shake { seed: 99 },
];

#[test]
fn step_zero_is_the_identity_and_psfs_sum_to_one() {
    let x = ramp(17, 9);
    for f in FAMILIES {
        assert_eq!(f.apply(&x, 0), x, "{f:?}");
        for t in 0..=T_CAMERA {
            let p = f.psf(t);
            let sum: f32 = p.weights.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{f:?} t {t}: sums to {sum}");
            assert!(p.weights.iter().all(|&w| w >= 0.0));
            assert!(p.rows % 2 == 1 && p.cols % 2 == 1);
        }
    }
}

/// The PSF's spread: the root mean square distance of its weight from the centre, in pixels.
fn spread(p: &Psf) -> f64 {
    let (cy, cx) = ((p.rows / 2) as f64, (p.cols / 2) as f64);
    let mut m = 0.0;
    for y in 0..p.rows {
        for x in 0..p.cols {
            let d2 = (y as f64 - cy).powi(2) + (x as f64 - cx).powi(2);
            m += p.weights[y * p.cols + x] as f64 * d2;
        }
    }
    m.sqrt()
}

#[test]
fn every_family_spreads_further_at_every_step_and_as_far_as_its_extent_says() {
    for f in FAMILIES {
        let spreads: Vec<f64> = (0..=T_CAMERA).map(|t| spread(&f.psf(t))).collect();
        for t in 2..=T_CAMERA {
            assert!(
                spreads[t] > spreads[t - 1],
                "{f:?}: spread {} at t {t}, {} before",
                spreads[t],
                spreads[t - 1]
            );
        }
        // A disc of radius r spreads r / sqrt(2); a line of length L, L / sqrt(12); a trajectory of length L,
        // at most L / 2 (and more than a line's, being no straighter).
        let e = f.extent(T_CAMERA);
        let s = spreads[T_CAMERA];
        let (lo, hi) = match f {
            CameraBlur::Defocus => (0.95 * e / 2f64.sqrt(), 1.05 * e / 2f64.sqrt()),
            CameraBlur::Motion { .. } => (0.95 * e / 12f64.sqrt(), 1.05 * e / 12f64.sqrt()),
            CameraBlur::Shake { .. } => (0.1 * e, 0.5 * e),
        };
        assert!(s > lo && s < hi, "{f:?}: spread {s} for extent {e}");
    }
}

#[test]
fn motion_lies_along_its_angle() {
    let row = CameraBlur::Motion { angle: 0.0 }.psf(12);
    let mid = row.rows / 2;
    for y in 0..row.rows {
        let mass: f32 = row.weights[y * row.cols..(y + 1) * row.cols].iter().sum();
        assert_eq!(mass > 0.0, y == mid, "angle 0: row {y} holds {mass}");
    }
    let col = CameraBlur::Motion { angle: 90.0 }.psf(12);
    for x in 0..col.cols {
        let mass: f32 = (0..col.rows).map(|y| col.weights[y * col.cols + x]).sum();
        // cos(90 degrees) is 6e-17, not 0: the neighbouring column gets nothing measurable.
        assert_eq!(
            mass > 1e-6,
            x == col.cols / 2,
            "angle 90: column {x} holds {mass}"
        );
    }
}

#[test]
fn blurs_stay_in_the_input_range_and_keep_a_flat_frame_flat() {
    let x = ramp(40, 31);
    let flat = Frame::new(7, 5, 3, vec![0.375; 105]).unwrap();
    for f in FAMILIES {
        for t in [1, 7, T_CAMERA] {
            let y = f.apply(&x, t);
            assert!(
                y.data.iter().all(|v| (-1e-6..=1.0 + 1e-6).contains(v)),
                "{f:?} t {t}"
            );
            // The PSF is far larger than the 7x5 frame: reflection folds several times.
            let y = f.apply(&flat, t);
            assert!(
                y.data.iter().all(|v| (v - 0.375).abs() < 1e-5),
                "{f:?} t {t}"
            );
        }
    }
}

#[test]
fn the_step_for_an_extent_is_the_nearest() {
    let d = CameraBlur::Defocus;
    assert_eq!(d.step_for_extent(0.0), 0);
    assert_eq!(d.step_for_extent(4.0), 10);
    assert_eq!(d.step_for_extent(4.1), 10);
    assert_eq!(d.step_for_extent(100.0), T_CAMERA);
    let m = CameraBlur::Motion { angle: 0.0 };
    assert_eq!(m.step_for_extent(13.0), 10);
}
