//! Streams of whole encoded images back to back: MJPEG (concatenated JPEGs, as `rpicam-vid --codec mjpeg` and
//! `ffmpeg -f mjpeg` write them), PPM (P6) and PNG. Each image is cut out by walking its own structure (JPEG
//! segments and entropy data, PPM header, PNG chunks) rather than by searching for an end marker, which an
//! embedded thumbnail would fool.

use std::io::BufRead;

use anyhow::{bail, ensure, Context, Result};

use super::y4m::{MAX_FRAME_BYTES, MAX_SIDE};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Ppm,
    Png,
}

impl ImageKind {
    pub fn image_format(self) -> image::ImageFormat {
        match self {
            ImageKind::Jpeg => image::ImageFormat::Jpeg,
            ImageKind::Ppm => image::ImageFormat::Pnm,
            ImageKind::Png => image::ImageFormat::Png,
        }
    }
}

/// Reads exactly `n` more bytes into `out`; a short read is an error naming what was being read.
fn take(r: &mut dyn BufRead, n: usize, out: &mut Vec<u8>, what: &str) -> Result<()> {
    ensure!(
        out.len() + n <= MAX_FRAME_BYTES,
        "{what} is larger than {MAX_FRAME_BYTES} bytes"
    );
    let start = out.len();
    let got = super::read_up_to(r, n, out).with_context(|| format!("reading {what}"))?;
    ensure!(
        got == n,
        "{what} is truncated: {} bytes read, at least {} expected",
        start + got,
        start + n
    );
    Ok(())
}

fn at_end(r: &mut dyn BufRead) -> Result<bool> {
    Ok(r.fill_buf().context("reading the image stream")?.is_empty())
}

/// The next encoded image's bytes, `None` at a clean end of stream.
pub fn next_image(r: &mut dyn BufRead, kind: ImageKind, index: u64) -> Result<Option<Vec<u8>>> {
    if at_end(r)? {
        return Ok(None);
    }
    let what = format!("{kind:?} image {index}");
    let mut out = Vec::new();
    match kind {
        ImageKind::Jpeg => jpeg(r, &mut out, &what)?,
        ImageKind::Ppm => ppm(r, &mut out, &what)?,
        ImageKind::Png => png(r, &mut out, &what)?,
    }
    Ok(Some(out))
}

fn read_byte(r: &mut dyn BufRead, out_len: usize, what: &str) -> Result<u8> {
    let mut b = [0u8];
    if super::fill(r, &mut b).with_context(|| format!("reading {what}"))? == 0 {
        bail!("{what} is truncated: {out_len} bytes read and no end-of-image marker");
    }
    Ok(b[0])
}

/// A marker code: FF, any number of FF fill bytes, then the code.
fn read_marker(r: &mut dyn BufRead, out_len: usize, what: &str) -> Result<u8> {
    let b = read_byte(r, out_len, what)?;
    ensure!(
        b == 0xFF,
        "{what}: expected a JPEG marker, found byte {b:#04x}"
    );
    loop {
        let c = read_byte(r, out_len, what)?;
        if c != 0xFF {
            return Ok(c);
        }
    }
}

fn jpeg(r: &mut dyn BufRead, out: &mut Vec<u8>, what: &str) -> Result<()> {
    take(r, 2, out, what)?;
    ensure!(
        out[..2] == [0xFF, 0xD8],
        "{what}: not a JPEG (no start-of-image marker)"
    );
    let mut pending = None;
    loop {
        let code = match pending.take() {
            Some(c) => c,
            None => read_marker(r, out.len(), what)?,
        };
        out.extend_from_slice(&[0xFF, code]);
        match code {
            0xD9 => return Ok(()),
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let at = out.len();
                take(r, 2, out, what)?;
                let len = u16::from_be_bytes([out[at], out[at + 1]]) as usize;
                ensure!(len >= 2, "{what}: JPEG segment length {len} is too short");
                take(r, len - 2, out, what)?;
                if code == 0xDA {
                    pending = Some(entropy_data(r, out, what)?);
                }
            }
        }
    }
}

/// Copies entropy-coded data (with its stuffed FF00 and RSTn) and returns the code of the marker that ends it.
fn entropy_data(r: &mut dyn BufRead, out: &mut Vec<u8>, what: &str) -> Result<u8> {
    loop {
        ensure!(
            out.len() + 2 <= MAX_FRAME_BYTES,
            "{what} is larger than {MAX_FRAME_BYTES} bytes"
        );
        let b = read_byte(r, out.len(), what)?;
        if b != 0xFF {
            out.push(b);
            continue;
        }
        let mut c = read_byte(r, out.len(), what)?;
        while c == 0xFF {
            c = read_byte(r, out.len(), what)?;
        }
        if c == 0x00 || (0xD0..=0xD7).contains(&c) {
            out.extend_from_slice(&[0xFF, c]);
        } else {
            return Ok(c);
        }
    }
}

fn ppm(r: &mut dyn BufRead, out: &mut Vec<u8>, what: &str) -> Result<()> {
    // P6, then width, height, maxval as whitespace-separated tokens with # comments, then one whitespace byte.
    let mut tokens = Vec::new();
    let mut token = Vec::new();
    let mut in_comment = false;
    while tokens.len() < 4 {
        let mut b = Vec::new();
        take(r, 1, &mut b, what)?;
        out.push(b[0]);
        ensure!(
            out.len() <= 1024,
            "{what}: PPM header is longer than 1024 bytes"
        );
        let c = b[0];
        if in_comment {
            in_comment = c != b'\n';
        } else if c == b'#' {
            in_comment = true;
        } else if c.is_ascii_whitespace() {
            if !token.is_empty() {
                tokens.push(String::from_utf8_lossy(&token).into_owned());
                token.clear();
            }
        } else {
            token.push(c);
        }
    }
    ensure!(
        tokens[0] == "P6",
        "{what}: not a binary PPM (P6), found {:?}",
        tokens[0]
    );
    let num = |s: &str, name: &str, max: usize| -> Result<usize> {
        let n: usize = s
            .parse()
            .with_context(|| format!("{what}: PPM {name} {s:?} is not a number"))?;
        ensure!(
            (1..=max).contains(&n),
            "{what}: PPM {name} {n} is outside 1..={max}"
        );
        Ok(n)
    };
    let (w, h) = (
        num(&tokens[1], "width", MAX_SIDE)?,
        num(&tokens[2], "height", MAX_SIDE)?,
    );
    let maxval = num(&tokens[3], "maxval", 65535)?;
    let bytes = w * h * 3 * if maxval > 255 { 2 } else { 1 };
    take(r, bytes, out, what)
}

fn png(r: &mut dyn BufRead, out: &mut Vec<u8>, what: &str) -> Result<()> {
    take(r, 8, out, what)?;
    ensure!(
        out[..8] == *b"\x89PNG\r\n\x1a\n",
        "{what}: not a PNG (bad signature)"
    );
    loop {
        let at = out.len();
        take(r, 8, out, what)?;
        let len = u32::from_be_bytes([out[at], out[at + 1], out[at + 2], out[at + 3]]) as usize;
        let kind = [out[at + 4], out[at + 5], out[at + 6], out[at + 7]];
        take(r, len + 4, out, what)?;
        if &kind == b"IEND" {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use crate::image_io::encode;
    use image::ImageFormat;

    fn frame(v: f32) -> Frame {
        Frame::new(
            24,
            16,
            3,
            (0..24 * 16 * 3).map(|i| (i % 7) as f32 / 7.0 * v).collect(),
        )
        .unwrap()
    }

    #[test]
    fn concatenated_images_split_exactly_for_every_kind() {
        for (kind, fmt) in [
            (ImageKind::Jpeg, ImageFormat::Jpeg),
            (ImageKind::Ppm, ImageFormat::Pnm),
            (ImageKind::Png, ImageFormat::Png),
        ] {
            let a = encode(&frame(1.0), fmt).unwrap();
            let b = encode(&frame(0.5), fmt).unwrap();
            let stream = [a.clone(), b.clone()].concat();
            let mut r = std::io::BufReader::with_capacity(7, &stream[..]); // tiny buffer: markers straddle reads
            assert_eq!(next_image(&mut r, kind, 0).unwrap().unwrap(), a, "{kind:?}");
            assert_eq!(next_image(&mut r, kind, 1).unwrap().unwrap(), b, "{kind:?}");
            assert!(next_image(&mut r, kind, 2).unwrap().is_none());
            let cut = &stream[..stream.len() - 3];
            let mut r = std::io::BufReader::new(cut);
            next_image(&mut r, kind, 0).unwrap();
            let e = next_image(&mut r, kind, 1).unwrap_err().to_string();
            assert!(
                e.contains("image 1") && e.contains("truncated"),
                "{kind:?}: {e}"
            );
        }
    }

    #[test]
    fn hostile_headers_are_refused() {
        let mut r: &[u8] = b"P6 99999 2 255\n";
        assert!(next_image(&mut r, ImageKind::Ppm, 0)
            .unwrap_err()
            .to_string()
            .contains("99999"));
        let mut r: &[u8] = b"P3 2 2 255\n";
        assert!(next_image(&mut r, ImageKind::Ppm, 0)
            .unwrap_err()
            .to_string()
            .contains("P6"));
        let mut r: &[u8] = b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffIDAT";
        assert!(next_image(&mut r, ImageKind::Png, 0)
            .unwrap_err()
            .to_string()
            .contains("larger"));
        let mut r: &[u8] = b"GIF89a";
        assert!(next_image(&mut r, ImageKind::Jpeg, 0)
            .unwrap_err()
            .to_string()
            .contains("not a JPEG"));
    }
}
