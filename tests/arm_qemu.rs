//! The static ARM binaries, run under QEMU user mode, against the native binary on the same inputs.
//!
//! Runs when COLDFRAME_ARM_BINS lists `RUNNER=BINARY` pairs separated by `;`, e.g.
//! `qemu-aarch64-static -cpu cortex-a76=target/aarch64-unknown-linux-musl/dist/coldframe` (.ci/run builds the
//! binaries and sets it). Without it these tests say so on stderr and pass: a developer's `cargo test` needs
//! no cross toolchain.
//!
//! Tolerance: tract picks other kernels on ARM (NEON instead of AVX-512 FMA), so float sums round differently in
//! the last bits; after 8-bit rounding a pixel may land one level away, and more steps can carry that a little
//! further. Every sample within 2 levels and 99% of them identical, for every model: the int8 ones run as integer
//! convolutions (src/restorer/), exact on every machine, with float requantization products that an ARM core
//! computes as an x86 one does, and the inpainter's one float layer (its stem) could move an activation across a
//! rounding edge. Measured: aarch64 identical to native for all four models; armv7 within 1 level (99.998%
//! identical) with the f32 models, identical with the int8 ones.

mod common;

use std::path::PathBuf;
use std::process::Command;

use coldframe::image_io::read_image;
use common::data;

fn arm_bins() -> Vec<(Vec<String>, PathBuf)> {
    let Ok(spec) = std::env::var("COLDFRAME_ARM_BINS") else {
        eprintln!("COLDFRAME_ARM_BINS not set: ARM binaries not tested here (.ci/run tests them)");
        return vec![];
    };
    spec.split(';')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            let (runner, bin) = pair.split_once('=').expect("RUNNER=BINARY");
            (
                runner.split_whitespace().map(String::from).collect(),
                PathBuf::from(bin.trim()),
            )
        })
        .collect()
}

/// `bin` run through `runner` (QEMU and its flags), or directly when `runner` is empty.
fn command(runner: &[String], bin: &std::path::Path) -> Command {
    match runner.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

fn run(runner: &[String], bin: &std::path::Path, args: &[&str]) {
    let o = command(runner, bin)
        .args(args)
        .output()
        .expect("start the binary");
    assert!(
        o.status.success(),
        "{runner:?} {} {args:?}: {}",
        bin.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coldframe-arm-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// (most levels apart, least share identical) allowed for a model: see the module comment.
/// (most levels apart, least share of identical samples), for every model: see the module comment.
const TOLERANCE: (i32, f64) = (2, 0.99);

fn compare(
    a: &std::path::Path,
    b: &std::path::Path,
    what: &str,
    (max_levels, min_same): (i32, f64),
) {
    let (x, y) = (
        read_image(a).unwrap().to_rgb8(),
        read_image(b).unwrap().to_rgb8(),
    );
    assert_eq!(x.len(), y.len(), "{what}: sizes differ");
    let worst = x
        .iter()
        .zip(&y)
        .map(|(p, q)| (*p as i32 - *q as i32).abs())
        .max()
        .unwrap_or(0);
    let same = x.iter().zip(&y).filter(|(p, q)| p == q).count() as f64 / x.len() as f64;
    eprintln!(
        "{what}: max diff {worst} levels, {:.3}% identical",
        same * 100.0
    );
    assert!(
        worst <= max_levels && same >= min_same,
        "{what}: max diff {worst} levels, {:.3}% identical",
        same * 100.0
    );
}

#[test]
fn arm_binaries_restore_like_the_native_one() {
    let input = data("sample_blur3.png");
    let native = env!("CARGO_BIN_EXE_coldframe");
    for (runner, bin) in arm_bins() {
        let tag = format!("{} {}", runner.join(" "), bin.display());
        run(&runner, &bin, &["models"]);
        let (blurred, sharp, mask) = (
            input.to_str().unwrap().to_string(),
            data("sample.png").to_str().unwrap().to_string(),
            data("sample_mask.png").to_str().unwrap().to_string(),
        );
        let deblur = |model: &'static str, steps: &'static str| {
            let args = [
                "deblur",
                "--severity",
                "3",
                "--model",
                model,
                "--steps",
                steps,
            ];
            let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            v.push(blurred.clone());
            (model, steps, v)
        };
        let inpaint = |model: &'static str, steps: &'static str| {
            let args = [
                "inpaint", "--mask", &mask, "--model", model, "--steps", steps, &sharp,
            ];
            (
                model,
                steps,
                args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        };
        // the default: the blur estimated (blur-estimator-f32) and inverted by camera-int8
        let blind = (
            "camera-int8 --severity auto",
            "1",
            vec!["deblur".to_string(), blurred.clone()],
        );
        for (model, steps, args) in [
            blind,
            deblur("models/deblur-f32.onnx", "1"),
            deblur("models/deblur-f32.onnx", "4"),
            deblur("models/deblur-int8.onnx", "1"),
            inpaint("inpaint-f32", "4"),
            inpaint("inpaint-int8", "1"),
        ] {
            let (a, b) = (tmp("native.png"), tmp("arm.png"));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(
                &[],
                std::path::Path::new(native),
                &[&args[..], &[a.to_str().unwrap()]].concat(),
            );
            run(&runner, &bin, &[&args[..], &[b.to_str().unwrap()]].concat());
            compare(
                &a,
                &b,
                &format!("{tag} {} {model} S={steps}", args[0]),
                TOLERANCE,
            );
        }
    }
}

#[test]
fn arm_binaries_stream_like_the_native_one() {
    let bins = arm_bins();
    if bins.is_empty() {
        return;
    }
    let clip = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=96x64:rate=25",
            "-frames:v",
            "3",
        ])
        .args(["-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "-"])
        .output()
        .expect("ffmpeg")
        .stdout;
    let stream = |runner: &[String], bin: &std::path::Path| -> Vec<u8> {
        use std::io::Write;
        let mut child = command(runner, bin)
            .args(["stream", "deblur", "--format", "y4m", "--workers", "2"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&clip).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let native = stream(&[], std::path::Path::new(env!("CARGO_BIN_EXE_coldframe")));
    for (runner, bin) in bins {
        let arm = stream(&runner, &bin);
        assert_eq!(arm.len(), native.len(), "{runner:?}: stream length");
        let worst = native
            .iter()
            .zip(&arm)
            .map(|(p, q)| (*p as i32 - *q as i32).abs())
            .max()
            .unwrap_or(0);
        // the stream runs the default model (deblur-int8)
        assert!(
            worst <= TOLERANCE.0,
            "{runner:?} {}: stream differs by {worst} levels",
            bin.display()
        );
    }
}
