//! The frame type every stage works on: float32 planes in [0, 1], channel-major (the models' NCHW layout
//! with N = 1), so a frame goes into tract without a reshuffle.

use std::str::FromStr;

use anyhow::{bail, ensure, Context, Result};

/// The most pixels a frame may have, from any source (files, masks, streams): 16 MP, a 4096x4096 frame, above
/// every Raspberry Pi camera's full resolution (12.3 MP). The restorers need ~120 bytes of activations per pixel,
/// so this caps a frame at ~2 GB of working memory, whatever a few hundred bytes of header claim.
pub const MAX_PIXELS: usize = 1 << 24;

/// Refuses a frame size over `MAX_PIXELS`; `what` names the frame in the message.
pub fn check_pixels(width: usize, height: usize, what: &str) -> Result<()> {
    ensure!(
        width.saturating_mul(height) <= MAX_PIXELS,
        "{what} is {width}x{height} = {} pixels, more than the {MAX_PIXELS} (16 MP) this binary restores",
        width.saturating_mul(height)
    );
    Ok(())
}

/// A rectangle X,Y,W,H in pixels, top-left origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl FromStr for Rect {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let v: Vec<usize> = s
            .split(',')
            .map(|p| p.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|v: &Vec<usize>| v.len() == 4)
            .with_context(|| {
                format!("{s:?} is not X,Y,W,H: four whole numbers, e.g. 10,20,64,32")
            })?;
        if v[2] == 0 || v[3] == 0 {
            bail!("{s:?}: a rectangle's width and height must be at least 1");
        }
        Ok(Rect {
            x: v[0],
            y: v[1],
            w: v[2],
            h: v[3],
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    /// `channels` planes of `height` rows of `width` samples.
    pub data: Vec<f32>,
}

impl Frame {
    pub fn new(width: usize, height: usize, channels: usize, data: Vec<f32>) -> Result<Self> {
        ensure!(
            data.len() == width * height * channels,
            "frame buffer holds {} samples, a {width}x{height}x{channels} frame needs {}",
            data.len(),
            width * height * channels
        );
        Ok(Frame {
            width,
            height,
            channels,
            data,
        })
    }

    pub fn zeros(width: usize, height: usize, channels: usize) -> Self {
        Frame {
            width,
            height,
            channels,
            data: vec![0.0; width * height * channels],
        }
    }

    pub fn plane(&self, c: usize) -> &[f32] {
        let n = self.width * self.height;
        &self.data[c * n..(c + 1) * n]
    }

    pub fn plane_mut(&mut self, c: usize) -> &mut [f32] {
        let n = self.width * self.height;
        &mut self.data[c * n..(c + 1) * n]
    }

    /// Interleaved 8-bit RGB (`channels` = 3) to planes.
    pub fn from_rgb8(width: usize, height: usize, rgb: &[u8]) -> Result<Self> {
        let n = width * height;
        ensure!(
            rgb.len() == n * 3,
            "RGB buffer holds {} bytes, {width}x{height} needs {}",
            rgb.len(),
            n * 3
        );
        let mut data = vec![0.0f32; n * 3];
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                data[c * n + i] = px[c] as f32 / 255.0;
            }
        }
        Ok(Frame {
            width,
            height,
            channels: 3,
            data,
        })
    }

    /// Planes to interleaved 8-bit RGB, rounding to nearest and clamping (NaN becomes 0).
    pub fn to_rgb8(&self) -> Vec<u8> {
        let n = self.width * self.height;
        let mut out = vec![0u8; n * 3];
        for i in 0..n {
            for c in 0..3 {
                out[i * 3 + c] = to_u8(self.data[c * n + i]);
            }
        }
        out
    }

    /// Keeps the first `channels` planes (the colour of a state that also carries a mask plane).
    pub fn truncate_channels(&mut self, channels: usize) {
        if channels < self.channels {
            self.channels = channels;
            self.data.truncate(channels * self.width * self.height);
        }
    }

    /// The region `r` as a frame of its own.
    pub fn region(&self, r: Rect) -> Frame {
        let mut data = Vec::with_capacity(r.w * r.h * self.channels);
        for c in 0..self.channels {
            let p = self.plane(c);
            for y in r.y..r.y + r.h {
                data.extend_from_slice(&p[y * self.width + r.x..][..r.w]);
            }
        }
        Frame {
            width: r.w,
            height: r.h,
            channels: self.channels,
            data,
        }
    }

    /// Copies `src`'s part `inner` (in `src`'s coordinates) to `at` in this frame, for every channel they share.
    pub fn put(&mut self, src: &Frame, inner: Rect, at: (usize, usize)) {
        for c in 0..self.channels.min(src.channels) {
            let (from, width) = (src.plane(c), self.width);
            let to = self.plane_mut(c);
            for y in 0..inner.h {
                let s = &from[(inner.y + y) * src.width + inner.x..][..inner.w];
                to[(at.1 + y) * width + at.0..][..inner.w].copy_from_slice(s);
            }
        }
    }

    /// The top-left width x height part; the frame itself, uncopied, when that is all of it.
    pub fn crop(self, width: usize, height: usize) -> Frame {
        debug_assert!(width <= self.width && height <= self.height);
        if (width, height) == (self.width, self.height) {
            return self;
        }
        self.region(Rect {
            x: 0,
            y: 0,
            w: width,
            h: height,
        })
    }
}

/// `round(v * 255)` (halves away from zero) clamped to 0..=255, NaN to 0: every output sample goes through here.
/// `f32::round` is a libm call on x86-64's baseline (no SSE4.1 `roundss`), one per sample; on the clamped value
/// the integer part is an exact truncating conversion and the fraction an exact subtraction, so this is the same
/// function without the call (`tests::to_u8_is_round_then_clamp` checks it on every f32 in [-1, 2]).
pub fn to_u8(v: f32) -> u8 {
    // clamp keeps NaN, and `as` maps NaN to 0, which is what a frame writer wants.
    let c = (v * 255.0).clamp(0.0, 255.0);
    let whole = c as u8;
    whole + u8::from(c - whole as f32 >= 0.5)
}

#[cfg(test)]
mod tests {
    use super::to_u8;

    fn reference(v: f32) -> u8 {
        (v * 255.0).round().clamp(0.0, 255.0) as u8
    }

    #[test]
    fn to_u8_is_round_then_clamp() {
        // Every 256th f32 in [-1, 2] (bit patterns are ordered by value within a sign), and every f32 within 64
        // steps of each rounding edge k + 0.5, where a truncation-based rounding would go wrong first.
        let check = |v: f32| assert_eq!(to_u8(v), reference(v), "{v:e} ({:#x})", v.to_bits());
        for bits in (0..=2.0f32.to_bits()).step_by(256) {
            check(f32::from_bits(bits));
            check(-f32::from_bits(bits) / 2.0);
        }
        for k in -2..=257 {
            let edge = (k as f32 + 0.5) / 255.0;
            for d in -64i32..=64 {
                check(f32::from_bits(edge.to_bits().wrapping_add_signed(d)));
            }
        }
        for v in [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            1.0,
            0.0,
            f32::MAX,
            f32::MIN,
        ] {
            check(v);
        }
    }
}
