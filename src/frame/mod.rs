//! Frame streams on stdin/stdout (docs/design.md §6): formats, their parsers and writers, colour conversion.

pub mod color;
pub mod image_stream;
pub mod raw;
pub mod y4m;

use std::io::{BufRead, Write};

use anyhow::{bail, ensure, Context, Result};

use crate::image_io::{decode, encode};
use crate::planar::Planar;
use color::{Subsampling, YuvLayout};
use image_stream::{next_image, ImageKind};
use y4m::{Chroma, Y4mHeader};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFormat {
    Y4m,
    Rgb24,
    I420,
    Mjpeg,
    Ppm,
    Png,
}

impl StreamFormat {
    fn image_kind(self) -> Option<ImageKind> {
        match self {
            StreamFormat::Mjpeg => Some(ImageKind::Jpeg),
            StreamFormat::Ppm => Some(ImageKind::Ppm),
            StreamFormat::Png => Some(ImageKind::Png),
            _ => None,
        }
    }
}

impl std::str::FromStr for StreamFormat {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "y4m" => Ok(StreamFormat::Y4m),
            "rgb24" => Ok(StreamFormat::Rgb24),
            "i420" | "yuv420p" => Ok(StreamFormat::I420),
            "mjpeg" => Ok(StreamFormat::Mjpeg),
            "ppm" => Ok(StreamFormat::Ppm),
            "png" => Ok(StreamFormat::Png),
            _ => bail!("unknown stream format {s:?}: expected y4m, rgb24, i420, mjpeg, ppm or png"),
        }
    }
}

impl std::fmt::Display for StreamFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StreamFormat::Y4m => "y4m",
            StreamFormat::Rgb24 => "rgb24",
            StreamFormat::I420 => "i420",
            StreamFormat::Mjpeg => "mjpeg",
            StreamFormat::Ppm => "ppm",
            StreamFormat::Png => "png",
        })
    }
}

/// Appends up to `n` bytes of `r` to `buf` and says how many came: short only at the end of input. The buffer
/// grows with the bytes that actually arrive, not with what a header claims: a 60-byte stream whose header
/// promises a 4096x4096 frame (25 MB) costs 60 bytes.
/// A reused buffer keeps its capacity, so a steady stream allocates once.
pub(crate) fn read_up_to<R: std::io::Read + ?Sized>(
    r: &mut R,
    n: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    use std::io::Read;
    let before = buf.len();
    r.take(n as u64).read_to_end(buf)?;
    Ok(buf.len() - before)
}

/// Reads until `buf` is full or the input ends, and says how many bytes came: short only at the end of input.
pub(crate) fn fill<R: std::io::Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// `WxH`, each side 1..=16384.
pub fn parse_size(s: &str) -> Result<(usize, usize)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .with_context(|| format!("--size {s:?} is not WIDTHxHEIGHT"))?;
    let side = |v: &str| -> Result<usize> {
        let n: usize = v
            .parse()
            .with_context(|| format!("--size {s:?}: {v:?} is not a whole number"))?;
        ensure!(
            (1..=y4m::MAX_SIDE).contains(&n),
            "--size {s:?}: sides must be 1..={}",
            y4m::MAX_SIDE
        );
        Ok(n)
    };
    Ok((side(w)?, side(h)?))
}

/// Reads frames of one format from a byte stream, converting them to RGB planes.
pub struct FrameReader {
    format: StreamFormat,
    input: Box<dyn BufRead + Send>,
    pub y4m: Option<Y4mHeader>,
    raw: Option<raw::RawLayout>,
    /// Image streams: the first frame, decoded up front to learn the stream's size.
    first: Option<Planar>,
    buf: Vec<u8>,
    index: u64,
}

impl FrameReader {
    /// For raw formats `size` is required and `stride` (bytes per row, of the luma plane for I420) optional.
    pub fn new(
        format: StreamFormat,
        mut input: Box<dyn BufRead + Send>,
        size: Option<(usize, usize)>,
        stride: Option<usize>,
    ) -> Result<Self> {
        let (mut y4m, mut raw, mut first) = (None, None, None);
        match format {
            StreamFormat::Rgb24 | StreamFormat::I420 => {
                let (w, h) =
                    size.with_context(|| format!("--format {format} needs --size WIDTHxHEIGHT"))?;
                raw = Some(raw::RawLayout::new(format, w, h, stride)?);
            }
            _ => {
                ensure!(
                    size.is_none() && stride.is_none(),
                    "--size and --stride are for raw formats; {format} carries its size"
                );
                if format == StreamFormat::Y4m {
                    y4m = Some(y4m::read_header(&mut input)?);
                }
            }
        }
        let mut reader = FrameReader {
            format,
            input,
            y4m,
            raw,
            first: None,
            buf: Vec::new(),
            index: 0,
        };
        if let Some(kind) = format.image_kind() {
            first = Some(
                reader
                    .next_image(kind)?
                    .with_context(|| format!("empty input: no {format} image"))?,
            );
        }
        reader.first = first;
        Ok(reader)
    }

    pub fn frames_read(&self) -> u64 {
        self.index
    }

    /// The stream's frame size (image streams: the first image's).
    pub fn size(&self) -> (usize, usize) {
        match (&self.y4m, &self.raw, &self.first) {
            (Some(h), _, _) => (h.width, h.height),
            (_, Some(r), _) => (r.width, r.height),
            (_, _, Some(f)) => (f.width, f.height),
            // `new` sets one of the three for every format
            _ => (0, 0),
        }
    }

    fn next_image(&mut self, kind: ImageKind) -> Result<Option<Planar>> {
        let name = format!("{} image {}", self.format, self.index);
        match next_image(&mut self.input, kind, self.index)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(decode(&bytes, &name)?)),
        }
    }

    /// The next frame, `None` at a clean end of stream; a partial frame is an error that names the byte counts.
    pub fn next_frame(&mut self) -> Result<Option<Planar>> {
        let i = self.index;
        let frame = match self.format {
            _ if self.first.is_some() => self.first.take().context("first frame")?,
            StreamFormat::Mjpeg | StreamFormat::Ppm | StreamFormat::Png => {
                // image_kind is Some for exactly these formats
                match self.next_image(self.format.image_kind().context("image format")?)? {
                    None => return Ok(None),
                    Some(f) => f,
                }
            }
            StreamFormat::Y4m => {
                let h = self.y4m.as_ref().context("Y4M reader without a header")?;
                if !y4m::read_frame(&mut self.input, h, i, &mut self.buf)? {
                    return Ok(None);
                }
                yuv_layout(h).to_rgb(&self.buf)
            }
            _ => {
                let r = self.raw.as_ref().context("raw reader without a layout")?;
                match r.read(&mut self.input, i, &mut self.buf)? {
                    None => return Ok(None),
                    Some(f) => f,
                }
            }
        };
        self.index += 1;
        Ok(Some(frame))
    }
}

pub fn yuv_layout(h: &Y4mHeader) -> YuvLayout {
    let subsampling = match h.chroma {
        Chroma::C420 => Subsampling::S420,
        Chroma::C444 => Subsampling::S444,
        Chroma::Mono => Subsampling::Mono,
    };
    YuvLayout {
        width: h.width,
        height: h.height,
        subsampling,
        full_range: h.full_range,
    }
}

/// Writes RGB frames in one format; Y4M output keeps the input header's tags (or describes a raw input).
pub struct FrameWriter {
    format: StreamFormat,
    out: Box<dyn Write + Send>,
    y4m: Option<Y4mHeader>,
    size: (usize, usize),
    header_written: bool,
    buf: Vec<u8>,
}

impl FrameWriter {
    pub fn new(
        format: StreamFormat,
        out: Box<dyn Write + Send>,
        input_header: Option<&Y4mHeader>,
        size: (usize, usize),
    ) -> Self {
        let y4m = (format == StreamFormat::Y4m).then(|| {
            input_header.cloned().unwrap_or(Y4mHeader {
                width: size.0,
                height: size.1,
                colorspace: "420jpeg".into(),
                chroma: Chroma::C420,
                full_range: true,
                other: vec!["XCOLORRANGE=FULL".into()],
            })
        });
        FrameWriter {
            format,
            out,
            y4m,
            size,
            header_written: false,
            buf: Vec::new(),
        }
    }

    pub fn write(&mut self, frame: &Planar) -> std::io::Result<()> {
        if self.format.image_kind().is_none() && (frame.width, frame.height) != self.size {
            return Err(std::io::Error::other(format!(
                "a {}x{} frame in a {}x{} {} stream: raw and Y4M streams cannot change size",
                frame.width, frame.height, self.size.0, self.size.1, self.format
            )));
        }
        match self.format {
            StreamFormat::Y4m => {
                // Built in `new` for this format.
                let h = self.y4m.as_ref().expect("Y4M writer has a header");
                if !self.header_written {
                    h.write(&mut self.out).map_err(std::io::Error::other)?;
                    self.header_written = true;
                }
                yuv_layout(h).from_rgb(frame, &mut self.buf);
                y4m::write_frame(&mut self.out, &self.buf)
            }
            StreamFormat::Rgb24 => self.out.write_all(&frame.to_rgb8()),
            StreamFormat::I420 => {
                let l = YuvLayout {
                    width: frame.width,
                    height: frame.height,
                    subsampling: Subsampling::S420,
                    full_range: false,
                };
                l.from_rgb(frame, &mut self.buf);
                self.out.write_all(&self.buf)
            }
            StreamFormat::Mjpeg | StreamFormat::Ppm | StreamFormat::Png => {
                let fmt = match self.format {
                    StreamFormat::Mjpeg => image::ImageFormat::Jpeg,
                    StreamFormat::Ppm => image::ImageFormat::Pnm,
                    _ => image::ImageFormat::Png,
                };
                let bytes = encode(frame, fmt).map_err(std::io::Error::other)?;
                self.out.write_all(&bytes)
            }
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
