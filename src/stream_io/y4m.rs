//! YUV4MPEG2 (Y4M) streams: the header (W H F I A C X), `FRAME` markers, planar 8-bit YUV 4:2:0 / 4:4:4 / mono.
//!
//! Every number in a header is checked before any buffer is sized by it (hostile or broken streams must fail
//! with a message, not an allocation).

use std::io::{BufRead, Write};

use anyhow::{bail, ensure, Context, Result};

/// Largest side accepted in a stream header.
pub const MAX_SIDE: usize = 16384;
/// Largest frame accepted, in bytes (a 16384x16384 4:4:4 frame would be 768 MiB: too much for the devices).
pub const MAX_FRAME_BYTES: usize = 256 << 20;
const MAX_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chroma {
    /// 4:2:0 with any siting (420jpeg, 420mpeg2, 420paldv, 420): siting only moves chroma by half a pixel and is
    /// carried through unchanged.
    C420,
    C444,
    Mono,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Y4mHeader {
    pub width: usize,
    pub height: usize,
    /// The C tag as given (`420jpeg`, `444`, `mono`, ...); absent means 420jpeg.
    pub colorspace: String,
    pub chroma: Chroma,
    /// `XCOLORRANGE=FULL` (ffmpeg's tag); Y4M's default is limited (16-235) range.
    pub full_range: bool,
    /// Every other tag (F, I, A, X...) verbatim, in order, to be written back unchanged.
    pub other: Vec<String>,
}

impl Y4mHeader {
    pub fn frame_bytes(&self) -> usize {
        let luma = self.width * self.height;
        let cw = self.width.div_ceil(2);
        let ch = self.height.div_ceil(2);
        match self.chroma {
            Chroma::C420 => luma + 2 * cw * ch,
            Chroma::C444 => 3 * luma,
            Chroma::Mono => luma,
        }
    }

    pub fn write(&self, out: &mut dyn Write) -> Result<()> {
        let mut line = format!("YUV4MPEG2 W{} H{}", self.width, self.height);
        for t in &self.other {
            line.push(' ');
            line.push_str(t);
        }
        line.push_str(&format!(" C{}\n", self.colorspace));
        out.write_all(line.as_bytes())
            .context("writing the Y4M header")
    }
}

fn read_line(r: &mut dyn BufRead, what: &str) -> Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let n = std::io::Read::take(&mut *r, MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .with_context(|| format!("reading {what}"))?;
    if n == 0 {
        return Ok(None);
    }
    ensure!(
        buf.last() == Some(&b'\n'),
        "{what} is longer than {MAX_LINE} bytes or cut short"
    );
    buf.pop();
    Ok(Some(buf))
}

fn parse_side(tag: &str, v: &str) -> Result<usize> {
    let n: i64 = v
        .parse()
        .with_context(|| format!("Y4M header: {tag}{v} is not a number"))?;
    ensure!(
        n > 0 && n as usize <= MAX_SIDE,
        "Y4M header: {tag}{v} is outside 1..={MAX_SIDE}"
    );
    Ok(n as usize)
}

pub fn parse_header(line: &[u8]) -> Result<Y4mHeader> {
    let text = std::str::from_utf8(line).context("Y4M header is not text")?;
    let mut parts = text.split(' ').filter(|p| !p.is_empty());
    ensure!(
        parts.next() == Some("YUV4MPEG2"),
        "not a Y4M stream: it does not start with YUV4MPEG2"
    );
    let (mut w, mut h, mut cs, mut full, mut other) = (None, None, None, false, Vec::new());
    for p in parts {
        // The tag is the first character, which need not be ASCII in a hostile header (a byte split would panic
        // inside a multi-byte character).
        let tag_len = p.chars().next().map_or(0, char::len_utf8);
        let (tag, v) = p.split_at(tag_len);
        match tag {
            "W" => w = Some(parse_side("W", v)?),
            "H" => h = Some(parse_side("H", v)?),
            "C" => cs = Some(v.to_string()),
            "X" if v.eq_ignore_ascii_case("COLORRANGE=FULL") => {
                full = true;
                other.push(p.to_string());
            }
            "F" | "I" | "A" | "X" => other.push(p.to_string()),
            _ => bail!("Y4M header: unknown tag {p:?}"),
        }
    }
    let width = w.context("Y4M header has no width (W)")?;
    let height = h.context("Y4M header has no height (H)")?;
    let colorspace = cs.unwrap_or_else(|| "420jpeg".to_string());
    let chroma = match colorspace.as_str() {
        "420jpeg" | "420mpeg2" | "420paldv" | "420" => Chroma::C420,
        "444" => Chroma::C444,
        "mono" => Chroma::Mono,
        other => bail!("Y4M colour space C{other} is not supported (420jpeg, 420mpeg2, 420paldv, 420, 444, mono)"),
    };
    crate::frame::check_pixels(width, height, "the Y4M frame")?;
    let hdr = Y4mHeader {
        width,
        height,
        colorspace,
        chroma,
        full_range: full,
        other,
    };
    ensure!(
        hdr.frame_bytes() <= MAX_FRAME_BYTES,
        "Y4M frame of {width}x{height} would need {} bytes, more than the {MAX_FRAME_BYTES} allowed",
        hdr.frame_bytes()
    );
    Ok(hdr)
}

pub fn read_header(r: &mut dyn BufRead) -> Result<Y4mHeader> {
    let line = read_line(r, "the Y4M header")?.context("empty input: no Y4M header")?;
    parse_header(&line)
}

/// Reads the next frame's planes into `buf` (resized to the frame size). `Ok(false)` at a clean end of stream.
pub fn read_frame(
    r: &mut dyn BufRead,
    hdr: &Y4mHeader,
    index: u64,
    buf: &mut Vec<u8>,
) -> Result<bool> {
    let Some(line) = read_line(r, "a Y4M FRAME marker")? else {
        return Ok(false);
    };
    ensure!(
        line.starts_with(b"FRAME") && (line.len() == 5 || line[5] == b' '),
        "Y4M frame {index}: expected a FRAME marker, found {:?}",
        String::from_utf8_lossy(&line[..line.len().min(16)])
    );
    let need = hdr.frame_bytes();
    buf.clear();
    let got =
        super::read_up_to(r, need, buf).with_context(|| format!("reading Y4M frame {index}"))?;
    ensure!(
        got == need,
        "Y4M frame {index} is truncated: {got} of {need} bytes"
    );
    Ok(true)
}

pub fn write_frame(out: &mut dyn Write, planes: &[u8]) -> std::io::Result<()> {
    out.write_all(b"FRAME\n")?;
    out.write_all(planes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_ascii_tag_is_an_error_not_a_panic() {
        // the fuzzer's find, shortened: a tag that starts with a two-byte character
        let e = parse_header("YUV4MPEG2 W4 H2 \u{92}x C420".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("unknown tag"), "{e}");
        let e = parse_header("YUV4MPEG2 W4 H2 é".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("unknown tag"), "{e}");
    }

    #[test]
    fn parses_a_full_header_and_writes_it_back() {
        let h = parse_header(b"YUV4MPEG2 W640 H480 F30000:1001 Ip A1:1 C420mpeg2 XYSCSS=420MPEG2")
            .unwrap();
        assert_eq!((h.width, h.height, h.chroma), (640, 480, Chroma::C420));
        assert_eq!(h.frame_bytes(), 640 * 480 * 3 / 2);
        let mut out = Vec::new();
        h.write(&mut out).unwrap();
        assert_eq!(
            out,
            b"YUV4MPEG2 W640 H480 F30000:1001 Ip A1:1 XYSCSS=420MPEG2 C420mpeg2\n"
        );
        assert_eq!(parse_header(&out[..out.len() - 1]).unwrap(), h);
    }

    #[test]
    fn every_colour_space_has_its_plane_size() {
        for (c, bytes) in [
            ("420jpeg", 6 + 2 * 2),
            ("420paldv", 10),
            ("420", 10),
            ("444", 18),
            ("mono", 6),
        ] {
            let h = parse_header(format!("YUV4MPEG2 W3 H2 C{c}").as_bytes()).unwrap();
            assert_eq!(h.frame_bytes(), bytes, "{c}");
        }
        assert!(!parse_header(b"YUV4MPEG2 W2 H2").unwrap().full_range);
        assert!(
            parse_header(b"YUV4MPEG2 W2 H2 XCOLORRANGE=FULL")
                .unwrap()
                .full_range
        );
    }

    #[test]
    fn hostile_headers_are_refused_before_any_allocation() {
        for (h, needle) in [
            (&b"YUV4MPEG2 W99999999 H480"[..], "W99999999"),
            (b"YUV4MPEG2 W-640 H480", "W-640"),
            (b"YUV4MPEG2 W0 H480", "W0"),
            (b"YUV4MPEG2 W640", "height"),
            (b"YUV4MPEG2 Wabc H2", "Wabc"),
            (b"YUV4MPEG2 W16384 H16384 C444", "16 MP"),
            (b"YUV4MPEG2 W64 H64 C422", "C422"),
            (b"YUV4MPEG2 W64 H64 Q1", "Q1"),
            (b"GIF89a", "YUV4MPEG2"),
            (b"\xff\xfe", "text"),
        ] {
            let e = parse_header(h).unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} lacks {needle:?}");
        }
    }

    #[test]
    fn frames_are_read_whole_or_reported_short() {
        let hdr = parse_header(b"YUV4MPEG2 W2 H2 Cmono").unwrap();
        let mut buf = Vec::new();
        let mut r: &[u8] = b"FRAME\n\x01\x02\x03\x04FRAME Ixyz\n\x05\x06\x07\x08";
        assert!(read_frame(&mut r, &hdr, 0, &mut buf).unwrap());
        assert_eq!(buf, [1, 2, 3, 4]);
        assert!(read_frame(&mut r, &hdr, 1, &mut buf).unwrap());
        assert!(!read_frame(&mut r, &hdr, 2, &mut buf).unwrap());
        let mut r: &[u8] = b"FRAME\n\x01\x02";
        let e = read_frame(&mut r, &hdr, 7, &mut buf)
            .unwrap_err()
            .to_string();
        assert!(e.contains("frame 7") && e.contains("2 of 4"), "{e}");
        let mut r: &[u8] = b"FRAMX\n\x01\x02\x03\x04";
        assert!(read_frame(&mut r, &hdr, 0, &mut buf)
            .unwrap_err()
            .to_string()
            .contains("FRAME marker"));
    }
}
