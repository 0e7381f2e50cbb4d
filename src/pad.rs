//! Frames of any size through models that need sides divisible by their stride: reflect-pad the bottom and right
//! edges up to the next multiple, restore, crop back. Reflection (not zeros) keeps the border statistics the
//! model saw in training, so the rows next to the pad are not darkened.

use std::borrow::Cow;

use crate::degrade::blur::reflect_index;
use crate::frame::Frame;

pub fn padded_len(n: usize, stride: usize) -> usize {
    n.div_ceil(stride) * stride
}

/// The frame itself when its sides already divide (no copy: a 640x480 frame at stride 8).
pub fn reflect_pad_to_stride(x: &Frame, stride: usize) -> Cow<'_, Frame> {
    let (w, h) = (padded_len(x.width, stride), padded_len(x.height, stride));
    if (w, h) == (x.width, x.height) {
        return Cow::Borrowed(x);
    }
    let mut out = Frame::zeros(w, h, x.channels);
    for c in 0..x.channels {
        let src = x.plane(c);
        let dst = out.plane_mut(c);
        for y in 0..h {
            let sy = reflect_index(y as i64, x.height);
            for xo in 0..w {
                dst[y * w + xo] = src[sy * x.width + reflect_index(xo as i64, x.width)];
            }
        }
    }
    Cow::Owned(out)
}
