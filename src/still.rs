//! A still image kept as it was stored: 8 or 16 bits a sample, grey or colour, with or without alpha. The
//! restorers see RGB frames in [0, 1]; a still hands them any region of itself as such a frame, and takes the
//! restored colour back in its own pixel type, leaving alpha as it was. So a 16-bit PNG comes back 16-bit, a
//! grey one grey, and an RGBA one with its alpha byte for byte; a whole 12 MP still is never a float frame.

use anyhow::{ensure, Result};
use image::{ColorType, DynamicImage};

use crate::frame::{to_u8, Frame, Rect};

/// The most pixels a still file may have: restored in tiles, its size costs only its own storage.
pub const MAX_STILL_PIXELS: usize = 100_000_000;

/// Refuses a still over `MAX_STILL_PIXELS`; `what` names it in the message.
pub fn check_still_pixels(width: usize, height: usize, what: &str) -> Result<()> {
    let n = width.saturating_mul(height);
    ensure!(
        n <= MAX_STILL_PIXELS,
        "{what} is {width}x{height} = {n} pixels, more than the {MAX_STILL_PIXELS} (100 MP) a still may have"
    );
    Ok(())
}

/// Samples of a still, interleaved, at one of the two depths the encoders write.
enum Samples<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Still {
    pub image: DynamicImage,
    /// The colour profile the still came with, written back where the output format takes one (PNG, JPEG).
    pub icc: Option<Vec<u8>>,
    /// Its EXIF block (camera, exposure, date, ...), with the orientation tag set to "upright" once the
    /// orientation has been applied; written back to PNG and JPEG.
    pub exif: Option<Vec<u8>>,
}

impl Still {
    /// Float images (from decoders this binary does not enable) are kept as 16-bit ones.
    pub fn new(image: DynamicImage) -> Still {
        let image = match image.color() {
            ColorType::Rgb32F => DynamicImage::ImageRgb16(image.to_rgb16()),
            ColorType::Rgba32F => DynamicImage::ImageRgba16(image.to_rgba16()),
            _ => image,
        };
        Still {
            image,
            icc: None,
            exif: None,
        }
    }

    pub fn width(&self) -> usize {
        self.image.width() as usize
    }

    pub fn height(&self) -> usize {
        self.image.height() as usize
    }

    pub fn whole(&self) -> Rect {
        Rect {
            x: 0,
            y: 0,
            w: self.width(),
            h: self.height(),
        }
    }

    fn samples(&self) -> Samples<'_> {
        match &self.image {
            DynamicImage::ImageLuma16(b) => Samples::U16(b.as_raw()),
            DynamicImage::ImageLumaA16(b) => Samples::U16(b.as_raw()),
            DynamicImage::ImageRgb16(b) => Samples::U16(b.as_raw()),
            DynamicImage::ImageRgba16(b) => Samples::U16(b.as_raw()),
            DynamicImage::ImageLuma8(b) => Samples::U8(b.as_raw()),
            DynamicImage::ImageLumaA8(b) => Samples::U8(b.as_raw()),
            DynamicImage::ImageRgba8(b) => Samples::U8(b.as_raw()),
            // `new` leaves no other layout than RGB8 here.
            other => Samples::U8(other.as_bytes()),
        }
    }

    /// (samples per pixel, whether the colour is grey).
    fn layout(&self) -> (usize, bool) {
        let c = self.image.color();
        (c.channel_count() as usize, !c.has_color())
    }

    /// The region `r` as an RGB frame: grey repeated in the three channels, alpha left out.
    pub fn region(&self, r: Rect) -> Frame {
        let (spp, grey) = self.layout();
        let width = self.width();
        let n = r.w * r.h;
        let mut data = vec![0.0f32; 3 * n];
        let mut fill = |get: &dyn Fn(usize) -> f32| {
            for y in 0..r.h {
                for x in 0..r.w {
                    let at = ((r.y + y) * width + r.x + x) * spp;
                    for c in 0..3 {
                        data[c * n + y * r.w + x] = get(at + if grey { 0 } else { c });
                    }
                }
            }
        };
        // Divided, as `Frame::from_rgb8` does, so an 8-bit RGB still gives the same frame as the stream path.
        match self.samples() {
            Samples::U8(s) => fill(&|i| s[i] as f32 / 255.0),
            Samples::U16(s) => fill(&|i| s[i] as f32 / 65535.0),
        }
        Frame {
            width: r.w,
            height: r.h,
            channels: 3,
            data,
        }
    }

    /// Writes the colour of `frame`'s part `inner` (in the frame's coordinates) at `at` in the still; grey stills
    /// take the BT.601 luma of it. Alpha is not touched.
    pub fn put(&mut self, frame: &Frame, inner: Rect, at: (usize, usize)) {
        let (spp, grey) = self.layout();
        let width = self.width();
        let n = frame.width * frame.height;
        let colour = |y: usize, x: usize, c: usize| {
            frame.data[c * n + (inner.y + y) * frame.width + inner.x + x]
        };
        let value = |y: usize, x: usize, c: usize| {
            if grey {
                0.299 * colour(y, x, 0) + 0.587 * colour(y, x, 1) + 0.114 * colour(y, x, 2)
            } else {
                colour(y, x, c)
            }
        };
        let colours = if grey { 1 } else { 3 };
        let each = |set: &mut dyn FnMut(usize, f32)| {
            for y in 0..inner.h {
                for x in 0..inner.w {
                    let px = ((at.1 + y) * width + at.0 + x) * spp;
                    for c in 0..colours {
                        set(px + c, value(y, x, c));
                    }
                }
            }
        };
        match &mut self.image {
            DynamicImage::ImageLuma16(b) => each(&mut |i, v| b.as_mut()[i] = to_u16(v)),
            DynamicImage::ImageLumaA16(b) => each(&mut |i, v| b.as_mut()[i] = to_u16(v)),
            DynamicImage::ImageRgb16(b) => each(&mut |i, v| b.as_mut()[i] = to_u16(v)),
            DynamicImage::ImageRgba16(b) => each(&mut |i, v| b.as_mut()[i] = to_u16(v)),
            DynamicImage::ImageLuma8(b) => each(&mut |i, v| b.as_mut()[i] = to_u8(v)),
            DynamicImage::ImageLumaA8(b) => each(&mut |i, v| b.as_mut()[i] = to_u8(v)),
            DynamicImage::ImageRgba8(b) => each(&mut |i, v| b.as_mut()[i] = to_u8(v)),
            DynamicImage::ImageRgb8(b) => each(&mut |i, v| b.as_mut()[i] = to_u8(v)),
            // `new` converts every other layout.
            _ => {}
        }
    }

    /// `op` on the whole still as one frame, its result put back in the still's own pixel type.
    pub fn map_whole(&self, op: impl FnOnce(&Frame) -> Result<Frame>) -> Result<Still> {
        let whole = self.whole();
        crate::frame::check_pixels(whole.w, whole.h, "the image")?;
        let out = op(&self.region(whole))?;
        ensure!(
            (out.width, out.height) == (whole.w, whole.h),
            "a {}x{} result for a {}x{} image",
            out.width,
            out.height,
            whole.w,
            whole.h
        );
        let mut still = self.clone();
        still.put(&out, whole, (0, 0));
        Ok(still)
    }
}

/// `round(v * 65535)` clamped to 0..=65535, NaN to 0.
pub fn to_u16(v: f32) -> u16 {
    let c = (v * 65535.0).clamp(0.0, 65535.0);
    c.round() as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayAlphaImage, ImageBuffer, Luma, LumaA, Rgb, Rgba};

    fn rect(x: usize, y: usize, w: usize, h: usize) -> Rect {
        Rect { x, y, w, h }
    }

    #[test]
    fn every_layout_round_trips_through_a_frame() {
        let rgb16 =
            ImageBuffer::from_fn(5, 4, |x, y| Rgb([x as u16 * 9000, y as u16 * 13001, 65535]));
        let grey8 = ImageBuffer::from_fn(5, 4, |x, y| Luma([(x * 50 + y) as u8]));
        let greya: GrayAlphaImage =
            ImageBuffer::from_fn(5, 4, |x, y| LumaA([(x * 40) as u8, (y * 60) as u8]));
        let rgba8 = ImageBuffer::from_fn(5, 4, |x, y| Rgba([x as u8, y as u8, 200, (x * y) as u8]));
        for image in [
            DynamicImage::ImageRgb16(rgb16),
            DynamicImage::ImageLuma8(grey8),
            DynamicImage::ImageLumaA8(greya),
            DynamicImage::ImageRgba8(rgba8),
            DynamicImage::ImageLuma16(ImageBuffer::from_fn(5, 4, |x, _| Luma([x as u16 * 16383]))),
        ] {
            let still = Still::new(image.clone());
            let frame = still.region(still.whole());
            let mut back = Still::new(image.clone());
            // Another still's colour first, so that `put` must write every sample back.
            back.put(&Frame::zeros(5, 4, 3), still.whole(), (0, 0));
            back.put(&frame, still.whole(), (0, 0));
            assert_eq!(back.image, image, "{:?}", image.color());
        }
    }

    #[test]
    fn a_region_reads_and_puts_where_it_says() {
        let img = ImageBuffer::from_fn(6, 5, |x, y| Rgb([(10 * x + y) as u8, 0, 0]));
        let still = Still::new(DynamicImage::ImageRgb8(img));
        let f = still.region(rect(2, 1, 3, 2));
        assert_eq!((f.width, f.height), (3, 2));
        assert_eq!(f.data[0], 21.0 / 255.0);
        assert_eq!(f.data[5], 42.0 / 255.0);
        let mut out = Still::new(DynamicImage::new_rgb8(6, 5));
        // The frame's bottom-right 2x1 part to (4, 4).
        out.put(&f, rect(1, 1, 2, 1), (4, 4));
        let raw = out.image.as_bytes();
        assert_eq!(raw[(4 * 6 + 4) * 3], 32);
        assert_eq!(raw[(4 * 6 + 5) * 3], 42);
        assert_eq!(raw.iter().filter(|&&v| v != 0).count(), 2);
    }
}
