//! Textbook definitions the ops are tested against, and what their tests share: every tap of a convolution
//! visited in the plainest order, sums in f64 (float) or i32 (int8).

use tract_core::internal::*;

use super::conv_geometry::ConvGeometry;
use super::int8_conv::QuantizedConv;

pub use crate::degrade::camera_blur::Lcg;

/// A symmetric int8 weight, as the quantizer writes them: -127..=127.
pub fn weight(rng: &mut Lcg) -> i8 {
    ((rng.next_u32() % 255) as i32 - 127) as i8
}

/// Calls `tap(weight index, input index or None where the tap falls in the padding)` for every tap of output
/// (co, oy, ox).
fn for_each_tap(
    g: &ConvGeometry,
    (co, oy, ox): (usize, usize, usize),
    mut tap: impl FnMut(usize, Option<usize>),
) {
    let (h, w) = g.input;
    let (kh, kw) = g.kernel;
    for ci in 0..g.in_channels {
        for ky in 0..kh {
            for kx in 0..kw {
                let iy = (oy * g.stride.0 + ky) as isize - g.pad.0 as isize;
                let ix = (ox * g.stride.1 + kx) as isize - g.pad.1 as isize;
                let inside = iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize;
                let x = inside.then(|| (ci * h + iy as usize) * w + ix as usize);
                tap(((co * g.in_channels + ci) * kh + ky) * kw + kx, x);
            }
        }
    }
}

/// Calls `out(output index, (co, oy, ox))` for every output of the convolution.
fn for_each_output(g: &ConvGeometry, mut out: impl FnMut(usize, (usize, usize, usize))) {
    let (oh, ow) = g.output;
    for co in 0..g.out_channels {
        for oy in 0..oh {
            for ox in 0..ow {
                out((co * oh + oy) * ow + ox, (co, oy, ox));
            }
        }
    }
}

/// A float convolution with zero padding, summed in f64.
pub fn conv_f32(g: &ConvGeometry, w: &[f32], b: &[f32], x: &[f32]) -> Vec<f32> {
    let mut y = vec![0f32; g.out_channels * g.output.0 * g.output.1];
    for_each_output(g, |i, at| {
        let mut acc = b[at.0] as f64;
        for_each_tap(g, at, |wi, xi| {
            if let Some(xi) = xi {
                acc += w[wi] as f64 * x[xi] as f64;
            }
        });
        y[i] = acc as f32;
    });
    y
}

/// An integer convolution as onnxruntime's QLinearConv defines it: the zero point as padding, i32 sums,
/// requantized with round half to even and saturated.
pub fn conv_u8(q: &QuantizedConv, x: &[u8]) -> Vec<u8> {
    let g = &q.geometry;
    let mut y = vec![0u8; g.out_channels * g.output.0 * g.output.1];
    for_each_output(g, |i, at| {
        let mut acc = q.bias[at.0];
        for_each_tap(g, at, |wi, xi| {
            let xv = xi.map_or(q.x_zero, |xi| x[xi]);
            acc += q.weights[wi] as i32 * (xv as i32 - q.x_zero as i32);
        });
        let v = (acc as f32 * q.multiplier[at.0]).round_ties_even() + q.y_zero as f32;
        y[i] = v.clamp(0.0, 255.0) as u8;
    });
    y
}

/// Deterministic weights, biases and an input in [0, 1) for a float convolution test.
pub fn f32_case(g: &ConvGeometry) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let k = g.in_channels * g.kernel.0 * g.kernel.1;
    let w = (0..g.out_channels * k)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 400.0)
        .collect();
    let b = (0..g.out_channels).map(|c| c as f32 * 0.01 - 0.1).collect();
    let x = (0..g.in_channels * g.input.0 * g.input.1)
        .map(|i| (i * 53 % 97) as f32 / 97.0)
        .collect();
    (w, b, x)
}

/// The largest |got - expected| of an op's output against the reference (same length asserted).
pub fn worst_difference(got: &Tensor, expected: &[f32]) -> f32 {
    let got = got.try_as_plain_ram().unwrap();
    let got = got.as_slice::<f32>().unwrap();
    assert_eq!(got.len(), expected.len());
    got.iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max)
}
