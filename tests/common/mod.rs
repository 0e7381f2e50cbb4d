//! Fixture readers shared by the integration tests. Fixtures are written by models/recipe/export.py.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use coldframe::frame::Frame;
use coldframe::models::resolve;
use coldframe::restorer::Restorer;
use coldframe::sampler::Restore;

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

pub struct Reader {
    bytes: Vec<u8>,
    pos: usize,
}

impl Reader {
    pub fn open(name: &str) -> Reader {
        let p = data(name);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()));
        Reader { bytes, pos: 0 }
    }

    fn take4(&mut self) -> [u8; 4] {
        let b: [u8; 4] = self.bytes[self.pos..self.pos + 4]
            .try_into()
            .expect("4 bytes");
        self.pos += 4;
        b
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take4())
    }

    pub fn f32(&mut self) -> f32 {
        f32::from_le_bytes(self.take4())
    }

    /// `n` float32 values, little-endian.
    pub fn f32s(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }

    /// `n` bytes as flags (nonzero = true).
    pub fn bools(&mut self, n: usize) -> Vec<bool> {
        let flags = self.bytes[self.pos..self.pos + n]
            .iter()
            .map(|&b| b != 0)
            .collect();
        self.pos += n;
        flags
    }

    /// Whether every byte of the fixture has been read.
    pub fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// A float32 tensor: ndim, shape, data. Returned as a frame ([C, H, W] or [1, C, H, W]).
    pub fn frame(&mut self) -> Frame {
        let nd = self.u32() as usize;
        let shape: Vec<usize> = (0..nd).map(|_| self.u32() as usize).collect();
        let n: usize = shape.iter().product();
        let data = self.f32s(n);
        let (c, h, w) = (shape[nd - 3], shape[nd - 2], shape[nd - 1]);
        Frame::new(w, h, c, data).expect("fixture shape")
    }
}

pub fn max_abs_diff(a: &Frame, b: &Frame) -> f32 {
    assert_eq!(
        (a.width, a.height, a.channels),
        (b.width, b.height, b.channels)
    );
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn psnr(a: &Frame, b: &Frame) -> f64 {
    let mse: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        / a.data.len() as f64;
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

/// An embedded model by name, or a model file by path.
pub fn restorer(name: &str) -> Restorer {
    let (bytes, name) = resolve(name).unwrap();
    Restorer::from_bytes(&bytes, &name).unwrap()
}

/// tract on a fixture's input against the onnxruntime output recorded with it (models/recipe/export.py).
pub fn parity(model: &str, fixture: &str, tol: f32) {
    let mut r = Reader::open(fixture);
    let t = r.f32() as usize;
    let x = r.frame();
    let expected = r.frame();
    let got = restorer(model).predict(&x, t).unwrap();
    let d = max_abs_diff(&got, &expected);
    eprintln!("{model}: tract vs onnxruntime max abs diff {d}");
    assert!(
        d <= tol,
        "{model}: tract differs from onnxruntime by {d} (allowed {tol})"
    );
}

pub fn coldframe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coldframe"))
        .args(args)
        .output()
        .expect("run coldframe")
}

/// A run with `input` on stdin, fed from a thread: the child writes while it reads, and may stop reading early.
pub fn coldframe_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coldframe"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coldframe");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&input);
    });
    let o = child.wait_with_output().expect("wait for coldframe");
    feeder.join().expect("the feeder thread");
    o
}

/// A successful run; returns its stderr.
pub fn ok(args: &[&str]) -> String {
    let o = coldframe(args);
    assert!(
        o.status.success(),
        "coldframe {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A refusal: exit 1 (not a panic's 101), one line on stderr that contains every `needles`.
pub fn refused(args: &[&str], needles: &[&str]) {
    let o = coldframe(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "coldframe {args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    for n in needles {
        assert!(
            err.contains(n),
            "coldframe {args:?}: {err:?} does not mention {n:?}"
        );
    }
}

/// A path in this test process's own temporary folder.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coldframe-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A still clip: `image` repeated `frames` times as raw RGB24, with fresh sensor noise in every frame (ffmpeg's
/// temporal noise filter, alls=6: std about 2.7 levels of 255).
pub fn noisy_still_clip(image: &Path, frames: usize) -> Vec<u8> {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "movie={},loop=loop={}:size=1:start=0,noise=alls=6:allf=t",
            s(image),
            frames - 1
        ))
        .args(["-frames:v", &frames.to_string()])
        .args(["-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
        .output()
        .expect("ffmpeg is installed (tests/run.sh installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// Mean absolute change between consecutive frames of `frames` (tightly packed RGB24 of w x h), over the pixels
/// `inside` selects.
pub fn frame_to_frame_change(
    frames: &[u8],
    w: usize,
    h: usize,
    inside: &dyn Fn(usize, usize) -> bool,
) -> f64 {
    let size = w * h * 3;
    let (mut total, mut count) = (0u64, 0u64);
    for (a, b) in frames.chunks(size).zip(frames.chunks(size).skip(1)) {
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            let px = i / 3;
            if inside(px % w, px / w) {
                total += p.abs_diff(*q) as u64;
                count += 1;
            }
        }
    }
    total as f64 / count.max(1) as f64
}
