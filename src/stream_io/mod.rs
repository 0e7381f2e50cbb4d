//! Frame streams on stdin/stdout (docs/design.md §6): formats, their parsers and writers, colour conversion.

pub mod color;
pub mod image_stream;
pub mod raw;
pub mod y4m;

use std::io::{BufRead, Write};

use anyhow::{ensure, Context, Result};

use crate::frame::Frame;
use crate::image_io::{decode, encode};
use crate::setting::{refuse, Setting};
use color::{Subsampling, YuvLayout};
use image_stream::{next_image, ImageKind};
use raw::{RawLayout, RawPixels};
use y4m::{Chroma, Y4mHeader};

/// A stream format, as `--format` and `--out-format` name it. `FORMATS` describes each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFormat {
    Y4m,
    Rgb24,
    I420,
    Mjpeg,
    Ppm,
    Png,
}

/// How a format's frames are delimited and encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// A header with the size and colour tags, then `FRAME`-marked planar YUV.
    Y4m,
    /// Frames of a size given on the command line, back to back.
    Raw(RawPixels),
    /// Whole encoded images back to back; each carries its own size.
    Image(ImageKind),
}

pub struct FormatSpec {
    pub format: StreamFormat,
    /// The first name is the one printed; the others are accepted too.
    pub names: &'static [&'static str],
    pub container: Container,
    pub help: &'static str,
}

/// Every stream format, in `StreamFormat`'s order: parsing, printing, help and dispatch all read this table.
pub const FORMATS: &[FormatSpec] = &[
    FormatSpec {
        format: StreamFormat::Y4m,
        names: &["y4m"],
        container: Container::Y4m,
        help: "YUV4MPEG2 with size, rate and colour range in its header (ffmpeg -f yuv4mpegpipe)",
    },
    FormatSpec {
        format: StreamFormat::Rgb24,
        names: &["rgb24"],
        container: Container::Raw(RawPixels::Rgb24),
        help: "raw interleaved 8-bit RGB; needs --size",
    },
    FormatSpec {
        format: StreamFormat::I420,
        names: &["i420", "yuv420p"],
        container: Container::Raw(RawPixels::I420),
        help:
            "raw planar YUV 4:2:0, BT.601 limited range (rpicam-vid --codec yuv420); needs --size",
    },
    FormatSpec {
        format: StreamFormat::Mjpeg,
        names: &["mjpeg"],
        container: Container::Image(ImageKind::Jpeg),
        help: "concatenated JPEG images (rpicam-vid --codec mjpeg)",
    },
    FormatSpec {
        format: StreamFormat::Ppm,
        names: &["ppm"],
        container: Container::Image(ImageKind::Ppm),
        help: "concatenated binary PPM (P6) images",
    },
    FormatSpec {
        format: StreamFormat::Png,
        names: &["png"],
        container: Container::Image(ImageKind::Png),
        help: "concatenated PNG images",
    },
];

// `StreamFormat::spec` indexes the table by discriminant.
const _: () = {
    let mut i = 0;
    while i < FORMATS.len() {
        assert!(FORMATS[i].format as usize == i);
        i += 1;
    }
};

impl StreamFormat {
    pub fn spec(self) -> &'static FormatSpec {
        &FORMATS[self as usize]
    }

    pub fn container(self) -> Container {
        self.spec().container
    }

    /// One line per format, name and what it is, for help and error texts.
    pub fn list() -> String {
        FORMATS
            .iter()
            .map(|f| format!("  {:<8} {}\n", f.names.join("|"), f.help))
            .collect()
    }
}

impl std::str::FromStr for StreamFormat {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        FORMATS
            .iter()
            .find(|f| f.names.contains(&s))
            .map(|f| f.format)
            .with_context(|| {
                format!(
                    "unknown stream format {s:?}; the formats are:\n{}",
                    Self::list()
                )
            })
    }
}

impl std::fmt::Display for StreamFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.spec().names[0])
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
    let refused = |problem: String| refuse(Setting::Size, format!("{s:?}"), problem);
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| refused("is not WIDTHxHEIGHT".into()))?;
    let side = |v: &str| -> Result<usize> {
        let n: usize = v
            .parse()
            .map_err(|_| refused(format!("is not WIDTHxHEIGHT: {v:?} is not a whole number")))?;
        if !(1..=y4m::MAX_SIDE).contains(&n) {
            return Err(refused(format!("has a side outside 1..={}", y4m::MAX_SIDE)));
        }
        Ok(n)
    };
    Ok((side(w)?, side(h)?))
}

/// Where a reader is in its format: what it learnt before the first frame.
enum Source {
    Y4m(Y4mHeader),
    Raw(RawLayout),
    /// `first` is the first image, decoded up front to learn the stream's size, until it is handed out.
    Images {
        kind: ImageKind,
        size: (usize, usize),
        first: Option<Frame>,
    },
}

/// Reads frames of one format from a byte stream, converting them to RGB planes.
pub struct FrameReader {
    format: StreamFormat,
    input: Box<dyn BufRead + Send>,
    source: Source,
    buf: Vec<u8>,
    index: u64,
    /// A frame read ahead by `peek`, the next one `next_frame` returns.
    peeked: Option<Frame>,
}

impl FrameReader {
    /// For raw formats `size` is required and `stride` (bytes per row, of the luma plane for I420) optional.
    pub fn new(
        format: StreamFormat,
        mut input: Box<dyn BufRead + Send>,
        size: Option<(usize, usize)>,
        stride: Option<usize>,
    ) -> Result<Self> {
        if let Container::Raw(pixels) = format.container() {
            let (w, h) = size.with_context(|| format!("{format} input needs a frame size"))?;
            let source = Source::Raw(RawLayout::new(pixels, w, h, stride)?);
            return Ok(FrameReader::with_source(format, input, source));
        }
        ensure!(
            size.is_none() && stride.is_none(),
            "a size and a stride are for raw formats; {format} carries its size"
        );
        let source = match format.container() {
            Container::Image(kind) => {
                let first = next_decoded(&mut input, format, kind, 0)?
                    .with_context(|| format!("empty input: no {format} image"))?;
                Source::Images {
                    kind,
                    size: (first.width, first.height),
                    first: Some(first),
                }
            }
            _ => Source::Y4m(y4m::read_header(&mut input)?),
        };
        Ok(FrameReader::with_source(format, input, source))
    }

    fn with_source(format: StreamFormat, input: Box<dyn BufRead + Send>, source: Source) -> Self {
        FrameReader {
            format,
            input,
            source,
            buf: Vec::new(),
            index: 0,
            peeked: None,
        }
    }

    pub fn frames_read(&self) -> u64 {
        self.index
    }

    /// The stream's frame size (image streams: the first image's).
    pub fn size(&self) -> (usize, usize) {
        match &self.source {
            Source::Y4m(h) => (h.width, h.height),
            Source::Raw(r) => (r.width, r.height),
            Source::Images { size, .. } => *size,
        }
    }

    /// The Y4M input's header, which a Y4M output copies.
    pub fn y4m_header(&self) -> Option<&Y4mHeader> {
        match &self.source {
            Source::Y4m(h) => Some(h),
            _ => None,
        }
    }

    /// The next frame without taking it (`next_frame` returns it next): what a stream-wide setting is fixed from.
    pub fn peek(&mut self) -> Result<Option<&Frame>> {
        if self.peeked.is_none() {
            self.peeked = self.read_frame()?;
        }
        Ok(self.peeked.as_ref())
    }

    /// The next frame, `None` at a clean end of stream; a partial frame is an error that names the byte counts.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        match self.peeked.take() {
            Some(f) => Ok(Some(f)),
            None => self.read_frame(),
        }
    }

    fn read_frame(&mut self) -> Result<Option<Frame>> {
        let i = self.index;
        let frame = match &mut self.source {
            Source::Images { first, kind, .. } => match first.take() {
                Some(f) => Some(f),
                None => next_decoded(&mut self.input, self.format, *kind, i)?,
            },
            Source::Y4m(h) => y4m::read_frame(&mut self.input, h, i, &mut self.buf)?
                .then(|| yuv_layout(h).to_rgb(&self.buf)),
            Source::Raw(r) => r.read(&mut self.input, i, &mut self.buf)?,
        };
        if frame.is_some() {
            self.index += 1;
        }
        Ok(frame)
    }
}

/// The next image of an image stream, decoded; `None` at a clean end of stream.
fn next_decoded(
    input: &mut Box<dyn BufRead + Send>,
    format: StreamFormat,
    kind: ImageKind,
    index: u64,
) -> Result<Option<Frame>> {
    match next_image(input, kind, index)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(decode(&bytes, &format!("{format} image {index}"))?)),
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
        let y4m = (format.container() == Container::Y4m).then(|| {
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

    pub fn write(&mut self, frame: &Frame) -> std::io::Result<()> {
        let container = self.format.container();
        if !matches!(container, Container::Image(_)) && (frame.width, frame.height) != self.size {
            return Err(std::io::Error::other(format!(
                "a {}x{} frame in a {}x{} {} stream: raw and Y4M streams cannot change size",
                frame.width, frame.height, self.size.0, self.size.1, self.format
            )));
        }
        match container {
            Container::Y4m => {
                // Built in `new` for this format.
                let h = self.y4m.as_ref().expect("Y4M writer has a header");
                if !self.header_written {
                    h.write(&mut self.out).map_err(std::io::Error::other)?;
                    self.header_written = true;
                }
                yuv_layout(h).from_rgb(frame, &mut self.buf);
                y4m::write_frame(&mut self.out, &self.buf)
            }
            Container::Raw(RawPixels::Rgb24) => self.out.write_all(&frame.to_rgb8()),
            Container::Raw(RawPixels::I420) => {
                let l = YuvLayout {
                    width: frame.width,
                    height: frame.height,
                    subsampling: Subsampling::S420,
                    full_range: false,
                };
                l.from_rgb(frame, &mut self.buf);
                self.out.write_all(&self.buf)
            }
            Container::Image(kind) => {
                let bytes = encode(frame, kind.image_format()).map_err(std::io::Error::other)?;
                self.out.write_all(&bytes)
            }
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
