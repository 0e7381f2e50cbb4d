//! Raw frames of a size given on the command line: RGB24 (interleaved) and I420 (planar YUV 4:2:0, BT.601
//! limited range, as ffmpeg's yuv420p), each row optionally padded to a stride (`rpicam-vid --codec yuv420` pads
//! 780-pixel rows to 832 bytes; I420 chroma rows then take half the luma stride).

use std::io::Read;

use anyhow::{ensure, Context, Result};

use super::color::{Subsampling, YuvLayout};
use super::y4m::MAX_FRAME_BYTES;
use crate::frame::Frame;
use crate::setting::{refuse, Setting};

/// How a raw frame's pixels are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawPixels {
    Rgb24,
    I420,
}

impl std::fmt::Display for RawPixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RawPixels::Rgb24 => "rgb24",
            RawPixels::I420 => "i420",
        })
    }
}

#[derive(Clone, Debug)]
pub struct RawLayout {
    pub format: RawPixels,
    pub width: usize,
    pub height: usize,
    /// Bytes per row as stored: RGB24 rows, or I420 luma rows (chroma rows are stride / 2).
    pub stride: usize,
}

impl RawLayout {
    pub fn new(
        format: RawPixels,
        width: usize,
        height: usize,
        stride: Option<usize>,
    ) -> Result<Self> {
        crate::frame::check_pixels(width, height, &format!("the {format} frame"))?;
        let tight = match format {
            RawPixels::Rgb24 => 3 * width,
            RawPixels::I420 => width,
        };
        let stride = stride.unwrap_or(tight);
        if stride < tight {
            return Err(refuse(
                Setting::Stride,
                stride,
                format!("is shorter than a {width}-pixel {format} row ({tight} bytes)"),
            ));
        }
        if format == RawPixels::I420 && stride != width && !stride.is_multiple_of(2) {
            return Err(refuse(
                Setting::Stride,
                stride,
                "is odd: an I420 stride must be even (chroma rows take half)",
            ));
        }
        let l = RawLayout {
            format,
            width,
            height,
            stride,
        };
        ensure!(
            l.frame_bytes() <= MAX_FRAME_BYTES,
            "a {width}x{height} {format} frame with stride {stride} needs {} bytes, more than the {MAX_FRAME_BYTES} allowed",
            l.frame_bytes()
        );
        Ok(l)
    }

    fn chroma_stride(&self) -> usize {
        if self.stride == self.width {
            self.width.div_ceil(2)
        } else {
            self.stride / 2
        }
    }

    pub fn frame_bytes(&self) -> usize {
        match self.format {
            RawPixels::Rgb24 => self.stride * self.height,
            RawPixels::I420 => {
                self.stride * self.height + 2 * self.chroma_stride() * self.height.div_ceil(2)
            }
        }
    }

    /// Reads one frame; `Ok(None)` at a clean end of stream, an error naming the bytes for a partial one.
    pub fn read(&self, r: &mut dyn Read, index: u64, buf: &mut Vec<u8>) -> Result<Option<Frame>> {
        let need = self.frame_bytes();
        buf.clear();
        let got = super::read_up_to(r, need, buf)
            .with_context(|| format!("reading {} frame {index}", self.format))?;
        if got == 0 {
            return Ok(None);
        }
        ensure!(
            got == need,
            "{} frame {index} is truncated: {got} of {need} bytes",
            self.format
        );
        Ok(Some(self.unpack(buf)))
    }

    fn unpack(&self, buf: &[u8]) -> Frame {
        let (w, h) = (self.width, self.height);
        match self.format {
            RawPixels::Rgb24 => {
                let mut tight = Vec::with_capacity(3 * w * h);
                for y in 0..h {
                    tight.extend_from_slice(&buf[y * self.stride..y * self.stride + 3 * w]);
                }
                // Sizes agree by construction.
                Frame::from_rgb8(w, h, &tight).expect("tight RGB24 frame")
            }
            RawPixels::I420 => {
                let (cw, ch, cs) = (w.div_ceil(2), h.div_ceil(2), self.chroma_stride());
                let mut tight = Vec::with_capacity(w * h + 2 * cw * ch);
                for y in 0..h {
                    tight.extend_from_slice(&buf[y * self.stride..y * self.stride + w]);
                }
                let chroma = &buf[self.stride * h..];
                for plane in 0..2 {
                    let p = &chroma[plane * cs * ch..];
                    for y in 0..ch {
                        tight.extend_from_slice(&p[y * cs..y * cs + cw]);
                    }
                }
                YuvLayout {
                    width: w,
                    height: h,
                    subsampling: Subsampling::S420,
                    full_range: false,
                }
                .to_rgb(&tight)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_rows_are_unpacked_and_padding_ignored() {
        let l = RawLayout::new(RawPixels::Rgb24, 2, 2, Some(8)).unwrap();
        let bytes = [
            10, 20, 30, 40, 50, 60, 99, 99, 70, 80, 90, 100, 110, 120, 99, 99,
        ];
        let mut buf = Vec::new();
        let f = l.read(&mut &bytes[..], 0, &mut buf).unwrap().unwrap();
        assert_eq!(
            f.to_rgb8(),
            [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]
        );
    }

    #[test]
    fn i420_stride_like_rpicam() {
        let l = RawLayout::new(RawPixels::I420, 780, 4, Some(832)).unwrap();
        assert_eq!(l.frame_bytes(), 832 * 4 + 2 * 416 * 2);
        let mut bytes = vec![235u8; l.frame_bytes()];
        bytes[832 * 4..].fill(128);
        let mut buf = Vec::new();
        let f = l.read(&mut &bytes[..], 0, &mut buf).unwrap().unwrap();
        assert_eq!((f.width, f.height), (780, 4));
        assert!(
            f.data.iter().all(|v| (v - 1.0).abs() < 1e-5),
            "limited-range white is 1.0"
        );
    }

    #[test]
    fn bad_layouts_and_short_frames_are_named() {
        let e = RawLayout::new(RawPixels::Rgb24, 10, 10, Some(20))
            .unwrap_err()
            .to_string();
        assert!(e.contains("stride 20") && e.contains("30 bytes"), "{e}");
        assert!(RawLayout::new(RawPixels::Rgb24, 16384, 16384, None).is_err());
        let l = RawLayout::new(RawPixels::Rgb24, 2, 2, None).unwrap();
        let mut buf = Vec::new();
        // 17 bytes: one whole frame (12) then 5 of the next
        let mut r = &[1u8; 17][..];
        assert!(l.read(&mut r, 0, &mut buf).unwrap().is_some());
        let e = l.read(&mut r, 1, &mut buf).unwrap_err().to_string();
        assert!(e.contains("frame 1") && e.contains("5 of 12"), "{e}");
        assert!(l.read(&mut &[][..], 0, &mut buf).unwrap().is_none());
    }
}
