//! End to end through the `coldframe` binary: real files in, real files out, and clear refusals.

mod common;

use std::path::Path;
use std::process::Command;

use coldframe::image_io::read_image;
use common::{coldframe, data, ok, psnr, refused, s, tmp};

#[test]
fn deblurring_beats_the_blurred_input_on_validation_crops() {
    for name in [
        "val_bridge.png",
        "val_ladybird.png",
        "val_picosdeeuropa.png",
    ] {
        let sharp = data(name);
        let blurred = tmp(&format!("blurred-{name}"));
        let restored = tmp(&format!("restored-{name}"));
        ok(&["degrade", "blur", "--severity", "3", s(&sharp), s(&blurred)]);
        ok(&["deblur", "--severity", "3", s(&blurred), s(&restored)]);
        let (x0, xb, xr) = (
            read_image(&sharp).unwrap(),
            read_image(&blurred).unwrap(),
            read_image(&restored).unwrap(),
        );
        assert_eq!(
            (xr.width, xr.height),
            (x0.width, x0.height),
            "{name}: output size"
        );
        let (pb, pr) = (psnr(&xb, &x0), psnr(&xr, &x0));
        eprintln!("{name}: blurred {pb:.2} dB, restored {pr:.2} dB");
        assert!(
            pr > pb + 0.5,
            "{name}: restored {pr:.2} dB does not beat blurred {pb:.2} dB"
        );
    }
}

#[test]
fn stdin_to_stdout_and_every_file_format() {
    let input = std::fs::read(data("val_bridge.png")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_coldframe"))
        .args(["deblur", "--severity", "1.5", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(&o.stdout[1..4], b"PNG");
    for ext in ["jpg", "ppm", "png"] {
        let out = tmp(&format!("fmt.{ext}"));
        ok(&[
            "deblur",
            "--steps",
            "2",
            s(&data("val_bridge.png")),
            s(&out),
        ]);
        let back = read_image(&out).unwrap();
        assert_eq!((back.width, back.height), (101, 75), "{ext}");
        // and read it back as input (format from content)
        ok(&["deblur", s(&out), s(&tmp(&format!("fmt2.{ext}.png")))]);
    }
}

#[test]
fn folders_restore_every_image_and_report_the_broken_one() {
    let dir = tmp("in");
    std::fs::create_dir_all(&dir).unwrap();
    for n in ["a.png", "b.png"] {
        std::fs::copy(data("val_ladybird.png"), dir.join(n)).unwrap();
    }
    std::fs::write(dir.join("c.png"), b"not a png at all").unwrap();
    let out = tmp("out");
    let o = coldframe(&[
        "deblur",
        "--model",
        "models/deblur-int8.onnx",
        s(&dir),
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("c.png") && err.contains("1 of 3"), "{err}");
    assert!(
        out.join("a.png").exists() && out.join("b.png").exists() && !out.join("c.png").exists()
    );
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn models_lists_every_embedded_model() {
    let o = coldframe(&["models"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for n in [
        "camera-int8",
        "camera-deblur",
        "blur-estimator-f32",
        "blur-estimate",
        "inpaint-f32",
        "inpaint-int8",
        "fill sor",
    ] {
        assert!(out.contains(n), "{out}");
    }
}

#[test]
fn bad_requests_are_refused_with_a_message_naming_the_problem() {
    let img = data("val_bridge.png");
    let out = tmp("never.png");
    let o = s(&out);
    refused(
        &["deblur", "--steps", "21", s(&img), o],
        &["--steps 21", "1..=20"],
    );
    refused(
        &["deblur", "--steps", "0", s(&img), o],
        &["--steps 0", "1..=20"],
    );
    refused(
        &["deblur", "--severity", "0", s(&img), o],
        &["--severity 0", "at most 5"],
    );
    refused(
        &["deblur", "--severity", "-2", s(&img), o],
        &["--severity -2"],
    );
    refused(
        &["deblur", "--severity", "NaN", s(&img), o],
        &["--severity NaN"],
    );
    refused(
        &["deblur", "--severity", "7.5", s(&img), o],
        &["--severity 7.5", "at most 5"],
    );
    refused(
        &["deblur", "--model", "nosuch", s(&img), o],
        &["nosuch", "camera-int8", "beside the binary"],
    );
    refused(
        &["deblur", s(&data("no-such-file.png")), o],
        &["no-such-file.png"],
    );
    refused(&["deblur", s(&img), s(&tmp("x.gif"))], &["x.gif", ".png"]);
    let junk = tmp("junk.png");
    std::fs::write(&junk, b"\x89PNG\r\n\x1a\n truncated").unwrap();
    refused(&["deblur", s(&junk), o], &["junk.png", "decode"]);
    let junk_model = tmp("junk.onnx");
    std::fs::write(&junk_model, b"this is not protobuf").unwrap();
    refused(
        &["deblur", "--model", s(&junk_model), s(&img), o],
        &["junk.onnx", "ONNX"],
    );
    refused(
        &["degrade", "blur", "--severity", "0", s(&img), o],
        &["--severity 0"],
    );
    assert!(!out.exists(), "a refused run wrote its output");
}

#[test]
fn a_model_name_resolves_to_its_file_beside_the_binary() {
    // How a model that is not embedded deploys: camera-f32.onnx next to the binary, named without a path.
    let dir = tmp("beside");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("coldframe");
    std::fs::copy(env!("CARGO_BIN_EXE_coldframe"), &bin).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("models/camera-f32.onnx"),
        dir.join("camera-f32.onnx"),
    )
    .unwrap();
    let (out, by_path) = (tmp("beside.png"), tmp("by_path.png"));
    let img = data("sample_blur3.png");
    let run = |bin: &Path, model: &str, out: &Path| {
        let args = [
            "deblur",
            "--severity",
            "3",
            "--model",
            model,
            s(&img),
            s(out),
        ];
        // A process that another test thread forks while the copy is open for writing holds the file open
        // for a moment after it: running it then fails with ETXTBSY.
        let mut tries = 0;
        let o = loop {
            match Command::new(bin).args(args).output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => break r.unwrap(),
            }
        };
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&bin, "camera-f32", &out);
    run(
        Path::new(env!("CARGO_BIN_EXE_coldframe")),
        s(&root.join("models/camera-f32.onnx")),
        &by_path,
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&by_path).unwrap()
    );
    // not beside this one
    let o = coldframe(&[
        "deblur",
        "--model",
        "camera-f32",
        s(&img),
        s(&tmp("never2.png")),
    ]);
    assert!(!o.status.success());
}

#[test]
fn a_model_without_coldframe_metadata_is_refused() {
    // The shipped model with its metadata stripped: valid ONNX, but not one whose contract we know.
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/deblur-f32.onnx"))
        .unwrap();
    let key = b"coldframe.format";
    let pos = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("metadata key in the model");
    let mut stripped = bytes.clone();
    stripped[pos..pos + key.len()].copy_from_slice(b"coldframe.formax");
    let p = tmp("nometa.onnx");
    std::fs::write(&p, &stripped).unwrap();
    refused(
        &[
            "deblur",
            "--model",
            s(&p),
            s(&data("val_bridge.png")),
            s(&tmp("nm.png")),
        ],
        &["nometa.onnx", "not a coldframe model"],
    );
}

#[test]
fn unknown_flags_and_missing_arguments_are_one_line_refusals() {
    refused(
        &["deblur", "--sevrity", "3", "a.png", "b.png"],
        &["--sevrity"],
    );
    refused(
        &["deblur", "--severity", "abc", "a.png", "b.png"],
        &["--severity", "abc"],
    );
    refused(
        &["deblur", "--sampler", "fancy", "a.png", "b.png"],
        &["fancy", "improved"],
    );
    refused(&["deblur", "a.png"], &["output"]);
    refused(&["frobnicate"], &["frobnicate"]);
    let o = coldframe(&["deblur", "--help"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("--severity"));
    refused(&[], &["no command"]);
}

#[test]
fn version_names_the_binary_and_every_embedded_model_version() {
    let o = coldframe(&["--version"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with(&format!("coldframe {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    // The versions the recipe wrote into the committed models (models/recipe/export.py).
    for line in [
        "camera-int8 model version 1",
        "blur-estimator-f32 model version 3",
        "inpaint-f32 model version 7",
        "inpaint-int8 model version 7",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
}

#[test]
fn ppm_output_is_binary_ppm() {
    let out = tmp("p6.ppm");
    ok(&[
        "degrade",
        "blur",
        "--severity",
        "1",
        s(&data("val_bridge.png")),
        s(&out),
    ]);
    let bytes = std::fs::read(&out).unwrap();
    assert!(
        bytes.starts_with(b"P6\n101 75 255\n") && bytes.len() == 14 + 101 * 75 * 3,
        "{:?}",
        String::from_utf8_lossy(&bytes[..16])
    );
}

/// A JPEG as a camera held on its side writes it: the pixels stored landscape, and EXIF orientation 6 (rotate 90
/// degrees clockwise to view).
fn jpeg_with_orientation_6(width: u32, height: u32) -> Vec<u8> {
    // Left half red, right half blue: after the rotation the top half is red.
    let img = image::RgbImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            image::Rgb([220, 20, 20])
        } else {
            image::Rgb([20, 20, 220])
        }
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode_image(&img)
        .unwrap();
    // APP1: "Exif\0\0", a little-endian TIFF header, one IFD entry: Orientation (0x0112), SHORT, 1 value, 6.
    let mut exif = b"Exif\0\0II\x2a\0\x08\0\0\0\x01\0".to_vec();
    exif.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    let len = (exif.len() + 2) as u16;
    let mut app1 = vec![0xff, 0xe1];
    app1.extend_from_slice(&len.to_be_bytes());
    app1.extend_from_slice(&exif);
    // After the start-of-image marker.
    jpeg.splice(2..2, app1);
    jpeg
}

fn decoder_of(path: &Path) -> Box<dyn image::ImageDecoder> {
    let reader = image::ImageReader::open(path)
        .unwrap()
        .with_guessed_format()
        .unwrap();
    Box::new(reader.into_decoder().unwrap())
}

fn exif_of(path: &Path) -> Option<Vec<u8>> {
    decoder_of(path).exif_metadata().unwrap()
}

#[test]
fn colour_profile_and_exif_are_carried_to_png_and_jpeg() {
    use image::ImageEncoder;
    let rgb = image::open(data("val_bridge.png")).unwrap().to_rgb8();
    // Any bytes do for the test: neither side interprets them.
    let icc = b"coldframe test profile: not a real ICC profile".to_vec();
    let exif = b"II\x2a\0\x08\0\0\0\x01\0\x0f\x01\x02\0\x04\0\0\0Cam\0\0\0\0\0".to_vec();
    let input = tmp("profiled.png");
    let mut enc = image::codecs::png::PngEncoder::new(std::fs::File::create(&input).unwrap());
    enc.set_icc_profile(icc.clone()).unwrap();
    enc.set_exif_metadata(exif.clone()).unwrap();
    enc.write_image(
        rgb.as_raw(),
        rgb.width(),
        rgb.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    for ext in ["png", "jpg"] {
        let out = tmp(&format!("profiled-out.{ext}"));
        ok(&["deblur", s(&input), s(&out)]);
        let mut dec = decoder_of(&out);
        assert_eq!(dec.icc_profile().unwrap(), Some(icc.clone()), "{ext}: ICC");
        assert_eq!(
            dec.exif_metadata().unwrap(),
            Some(exif.clone()),
            "{ext}: EXIF"
        );
    }
}

#[test]
fn a_still_with_exif_orientation_comes_out_upright() {
    let input = tmp("portrait.jpg");
    std::fs::write(&input, jpeg_with_orientation_6(64, 32)).unwrap();
    for (args, out) in [
        (
            vec!["degrade", "blur", "--severity", "0.5"],
            tmp("portrait-blur.png"),
        ),
        (
            vec!["deblur", "--severity", "1"],
            tmp("portrait-deblur.png"),
        ),
    ] {
        let mut all = args.clone();
        all.extend([s(&input), s(&out)]);
        ok(&all);
        // The output keeps the EXIF block, its orientation tag now "upright": read back, it is not turned again.
        assert!(exif_of(&out).is_some(), "{args:?}: EXIF dropped");
        let y = read_image(&out).unwrap();
        assert_eq!(
            (y.width, y.height),
            (32, 64),
            "{args:?}: not turned upright, or turned twice"
        );
        let (top, bottom) = (16 * 32 + 16, 48 * 32 + 16);
        let (red, blue) = (y.plane(0), y.plane(2));
        assert!(
            red[top] > 0.6 && blue[top] < 0.3 && blue[bottom] > 0.6 && red[bottom] < 0.3,
            "{args:?}: the stored left half must be on top"
        );
    }
}

#[test]
fn degrade_writes_each_camera_blur_as_the_library_computes_it() {
    use coldframe::degrade::camera_blur::CameraBlur;
    let img = data("val_bridge.png");
    let input = read_image(&img).unwrap();
    for (args, family, extent) in [
        (vec!["defocus", "--radius", "3.5"], CameraBlur::Defocus, 3.5),
        (
            vec!["motion", "--length", "11", "--angle", "-30"],
            CameraBlur::Motion { angle: -30.0 },
            11.0,
        ),
        (
            vec!["shake", "--length", "17", "--seed", "5"],
            CameraBlur::Shake { seed: 5 },
            17.0,
        ),
    ] {
        let out = tmp(&format!("degrade-{}.png", args[0]));
        let mut cmd = vec!["degrade"];
        cmd.extend(&args);
        cmd.extend([s(&img), s(&out)]);
        ok(&cmd);
        let got = read_image(&out).unwrap();
        let want = family.psf_at(extent).convolve(&input);
        // The PNG holds the blur rounded to 8 bits.
        let worst = got
            .data
            .iter()
            .zip(&want.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 0.5 / 255.0 + 1e-6, "{args:?}: off by {worst}");
        assert!(psnr(&got, &input) < 35.0, "{args:?} barely blurred");
    }
    let never = tmp("never.png");
    let (i, o) = (s(&img), s(&never));
    refused(
        &["degrade", "defocus", "--radius", "9", i, o],
        &["--radius 9", "(0, 8]"],
    );
    refused(
        &["degrade", "motion", "--length", "0", i, o],
        &["--length 0", "(0, 25]"],
    );
    refused(
        &["degrade", "shake", "--length", "NaN", i, o],
        &["--length NaN"],
    );
}
