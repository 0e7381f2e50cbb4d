//! The hostile-input corpus (tests/hostile/, written by make_corpus.py): every case must end in exit 1 with a
//! last stderr line that names the problem, never a panic (101), a hang or a huge allocation, and must not
//! leave an output file behind.

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("hostile")
        .join(name)
}

fn crop() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/val_bridge.png")
        .display()
        .to_string()
}

/// Runs coldframe with `args` (`{}` stands for the corpus file) and the file on stdin when `stdin` is set.
fn check(file: &str, args: &[&str], stdin: bool, needles: &[&str]) {
    let path = corpus(file);
    let out = std::env::temp_dir().join(format!(
        "coldframe-hostile-{}-{file}.png",
        std::process::id()
    ));
    let p = path.display().to_string();
    let o = out.display().to_string();
    let args: Vec<&str> = args
        .iter()
        .map(|a| match *a {
            "{}" => p.as_str(),
            "{out}" => o.as_str(),
            a => a,
        })
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coldframe"));
    cmd.args(&args).stdout(Stdio::null()).stderr(Stdio::piped());
    if stdin {
        cmd.stdin(std::fs::File::open(&path).unwrap());
    } else {
        cmd.stdin(Stdio::null());
    }
    let r = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    let last = err.trim_end().lines().last().unwrap_or("");
    assert_eq!(
        r.status.code(),
        Some(1),
        "{file}: {args:?} gave {:?}: {err}",
        r.status
    );
    assert!(last.starts_with("coldframe: "), "{file}: {err}");
    for n in needles {
        assert!(last.contains(n), "{file}: {last:?} does not mention {n:?}");
    }
    assert!(!out.exists(), "{file}: an output was written");
}

#[test]
fn broken_and_oversized_images_are_refused() {
    let cases: &[(&str, &[&str])] = &[
        ("empty.png", &["empty.png", "not a PNG, JPEG, PPM or TIFF"]),
        ("truncated.png", &["truncated.png", "cannot decode"]),
        ("text.png", &["text.png", "not a PNG, JPEG, PPM or TIFF"]),
        // Refused from the header, with the cap: 100 MP for a still, 16 MP for a mask.
        ("huge.png", &["huge.png", "99999x99999", " MP)"]),
        ("huge.jpg", &["huge.jpg", "cannot decode"]),
        ("truncated.jpg", &["truncated.jpg", "cannot decode"]),
        ("huge.ppm", &["huge.ppm", " MP)"]),
        ("negative.ppm", &["negative.ppm", "cannot decode"]),
        ("short.ppm", &["short.ppm", "cannot decode"]),
        // found by fuzzing: 783 bytes claiming 12552x8200 pixels took 12 GB and minutes
        ("fuzz_huge_claim.jpg", &["12552x8200", " MP)"]),
    ];
    for (file, needles) in cases {
        check(file, &["deblur", "{}", "{out}"], false, needles);
        check(
            file,
            &["inpaint", "--rect", "0,0,2,2", "{}", "{out}"],
            false,
            needles,
        );
        check(
            file,
            &["inpaint", "--mask", "{}", &crop(), "{out}"],
            false,
            needles,
        );
    }
    // the same bytes as a stream of images
    check(
        "fuzz_huge_claim.jpg",
        &["stream", "deblur", "--format", "mjpeg"],
        true,
        &["12552x8200", "16 MP"],
    );
    check(
        "truncated.png",
        &["stream", "deblur", "--format", "png"],
        true,
        &["truncated", "3881 bytes"],
    );
    check(
        "huge.ppm",
        &["stream", "deblur", "--format", "ppm"],
        true,
        &["width 99999999", "outside"],
    );
    check(
        "truncated.jpg",
        &["stream", "deblur", "--format", "mjpeg"],
        true,
        &["truncated", "12 bytes"],
    );
}

#[test]
fn broken_y4m_and_raw_streams_are_refused() {
    let cases: &[(&str, &[&str])] = &[
        ("garbage.y4m", &["not a Y4M stream"]),
        ("w0.y4m", &["W0", "outside"]),
        ("wneg.y4m", &["W-5", "outside"]),
        ("whuge.y4m", &["W99999999", "outside"]),
        ("nolf.y4m", &["header", "4096"]),
        ("noframe.y4m", &["FRAME marker", "FRAMX"]),
        ("shortplane.y4m", &["frame 1 is truncated", "5 of 12 bytes"]),
        ("badchroma.y4m", &["C411", "not supported"]),
        ("pixels.y4m", &["8192x4096", "16 MP"]),
        // found by fuzzing (fuzz/README.md): a tag starting with a multi-byte character used to panic
        ("fuzz_y4m_nonascii_tag.y4m", &["unknown tag"]),
    ];
    for (file, needles) in cases {
        check(
            file,
            &["stream", "deblur", "--format", "y4m"],
            true,
            needles,
        );
        check(
            file,
            &["stream", "inpaint", "--format", "y4m", "--rect", "0,0,2,1"],
            true,
            needles,
        );
    }
    check(
        "rgb24_short.raw",
        &["stream", "deblur", "--format", "rgb24", "--size", "16x8"],
        true,
        &["frame 1 is truncated", "7 of 384 bytes"],
    );
    check(
        "rgb24_short.raw",
        &[
            "stream", "deblur", "--format", "rgb24", "--size", "16x8", "--stride", "40",
        ],
        true,
        &["--stride 40"],
    );
    check(
        "rgb24_short.raw",
        &["stream", "deblur", "--format", "rgb24", "--size", "99999x8"],
        true,
        &["99999"],
    );
    check(
        "rgb24_short.raw",
        &[
            "stream",
            "deblur",
            "--format",
            "rgb24",
            "--size",
            "8192x4096",
        ],
        true,
        &["8192x4096", "16 MP"],
    );
}

#[test]
fn models_that_are_not_coldframe_models_are_refused() {
    let cases: &[(&str, &[&str])] = &[
        (
            "no_metadata.onnx",
            &["not a coldframe model", "coldframe.format"],
        ),
        ("one_input.onnx", &["takes 2 inputs (image, t)", "has 1"]),
        ("wrong_task.onnx", &["task \"denoise\""]),
        ("bad_schedule.onnx", &["sigma_schedule"]),
        ("future_format.onnx", &["coldframe.format \"9\""]),
        ("external_data.onnx", &["external data"]),
        ("junk.onnx", &["not a loadable ONNX model"]),
        ("empty.onnx", &["not a loadable ONNX model"]),
    ];
    let c = crop();
    for (file, needles) in cases {
        let mut n = needles.to_vec();
        n.push(file);
        check(file, &["deblur", "--model", "{}", &c, "{out}"], false, &n);
        check(
            file,
            &["inpaint", "--model", "{}", "--rect", "0,0,4,4", &c, "{out}"],
            false,
            &n,
        );
    }
}

#[test]
fn frames_that_push_the_models_to_extremes_come_out_finite_and_in_range() {
    // all black, all white, a hard checkerboard: the restorers must not produce NaN or wrap around
    use coldframe::deblur::Deblurrer;
    use coldframe::frame::Frame;
    use coldframe::frame_mask::FrameMask;
    use coldframe::inpaint::Inpainter;
    use coldframe::models::resolve;
    use coldframe::restorer::Restorer;
    use coldframe::sampler::Sampler;
    let (w, h) = (40, 24);
    let frames = [
        Frame::zeros(w, h, 3),
        Frame::new(w, h, 3, vec![1.0; 3 * w * h]).unwrap(),
        Frame::new(
            w,
            h,
            3,
            (0..3 * w * h).map(|i| ((i + i / w) % 2) as f32).collect(),
        )
        .unwrap(),
    ];
    let load = |n: &str| {
        let (b, name) = resolve(n).unwrap();
        Restorer::from_bytes(&b, &name).unwrap()
    };
    let mut mask = FrameMask::empty(w, h);
    mask.add_rects(&["5,5,20,10".parse().unwrap()]).unwrap();
    for model in ["models/deblur-f32.onnx", "models/deblur-int8.onnx"] {
        let mut d = Deblurrer::new(load(model)).unwrap();
        for sev in [0.25, 5.0] {
            let plan = d.plan(sev, Some(4), Sampler::Improved).unwrap();
            for f in &frames {
                let y = d.restore(f, &plan).unwrap();
                assert!(
                    y.data
                        .iter()
                        .all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
                    "{model} {sev}"
                );
            }
        }
    }
    for model in ["inpaint-f32", "inpaint-int8"] {
        let mut inp = Inpainter::new(load(model)).unwrap();
        let plan = inp.plan(Some(4), mask.clone()).unwrap();
        for f in &frames {
            let y = inp.restore(f, &plan).unwrap();
            assert!(
                y.data
                    .iter()
                    .all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
                "{model}"
            );
        }
    }
}
