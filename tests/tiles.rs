//! Stills restored in tiles equal the whole-frame restoration (bit for bit where the halo covers the dependence),
//! and stills keep their pixel type: 16 bits, grey, alpha.

mod common;

use std::path::Path;

use coldframe::camera_deblur::{BlurChoice, Severity};
use coldframe::degrade::blur::blur;
use coldframe::image_io::read_image;
use coldframe::job::{Job, Request};
use coldframe::sampler::Sampler;
use coldframe::still::Still;
use coldframe::still_job::StillJob;
use common::{coldframe_with_stdin, data, ok, refused, s, tmp};
use image::{DynamicImage, ImageBuffer, Luma, Rgb, Rgba};

/// The sample photo scaled to an odd size and blurred: 301x203, so tiles of 128 end in 45- and 75-pixel cores.
fn blurred_still() -> Still {
    let img = image::open(data("sample.png")).unwrap().resize_exact(
        301,
        203,
        image::imageops::FilterType::Triangle,
    );
    let sharp = Still::new(img);
    sharp
        .map_whole(|f| Ok(blur(f, 2.0)))
        .expect("a small frame")
}

fn restore(still: &Still, model: &str, steps: usize, workers: usize, tile: usize) -> Still {
    let request = Request::Deblur {
        severity: Some(Severity::Given(2.0)),
        blur: BlurChoice::Gaussian,
        sampler: Sampler::Improved,
        estimator: String::new(),
    };
    let job = Job::new(model, Some(steps), request).unwrap();
    StillJob::new(job, Some(workers), Some(tile))
        .unwrap()
        .restore(Path::new("test"), still)
        .unwrap()
}

#[test]
fn one_network_call_in_tiles_is_the_whole_frame_bit_for_bit() {
    let still = blurred_still();
    for model in ["models/deblur-f32.onnx", "models/deblur-int8.onnx"] {
        let whole = restore(&still, model, 1, 1, 0);
        for (workers, tile) in [(1, 128), (3, 64)] {
            let tiled = restore(&still, model, 1, workers, tile);
            assert!(
                tiled == whole,
                "{model}, {workers} workers, tile {tile}: differs from the whole frame"
            );
        }
    }
}

#[test]
fn more_steps_in_tiles_stay_within_one_level_of_the_whole_frame() {
    let still = blurred_still();
    for steps in [2, 4] {
        let whole = restore(&still, "models/deblur-f32.onnx", steps, 1, 0);
        let tiled = restore(&still, "models/deblur-f32.onnx", steps, 2, 64);
        let (a, b) = (whole.image.as_bytes(), tiled.image.as_bytes());
        let off = a.iter().zip(b).filter(|(x, y)| x != y).count();
        let worst = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max();
        assert!(worst <= Some(1), "{steps} steps: off by {worst:?}");
        assert!(
            off * 1000 <= a.len(),
            "{steps} steps: {off} of {} samples differ",
            a.len()
        );
    }
}

fn save(img: DynamicImage, name: &str) -> std::path::PathBuf {
    let p = tmp(name);
    img.save(&p).unwrap();
    p
}

#[test]
fn sixteen_bit_grey_and_alpha_stills_keep_their_pixel_type() {
    let rgb = image::open(data("sample_blur3.png")).unwrap().to_rgb8();
    let (w, h) = rgb.dimensions();
    // The 8-bit photo widened to 16 bits: the same frame, so the two paths must agree.
    let wide = ImageBuffer::from_fn(w, h, |x, y| {
        Rgb(rgb.get_pixel(x, y).0.map(|v| v as u16 * 257))
    });
    let input = save(DynamicImage::ImageRgb16(wide.clone()), "wide.png");
    let out = tmp("wide-out.png");
    // The float model: the int8 one's output is itself quantized to 8 bits.
    ok(&[
        "deblur",
        "--model",
        "models/deblur-f32.onnx",
        s(&input),
        s(&out),
    ]);
    let back = image::open(&out).unwrap();
    assert_eq!(back.color(), image::ColorType::Rgb16);
    // The same frame through the 8-bit path, within one 8-bit level.
    let narrow = save(
        DynamicImage::ImageRgb16(wide).to_rgb8().into(),
        "narrow.png",
    );
    let narrow_out = tmp("narrow-out.png");
    ok(&[
        "deblur",
        "--model",
        "models/deblur-f32.onnx",
        s(&narrow),
        s(&narrow_out),
    ]);
    let eight = image::open(&narrow_out).unwrap().to_rgb8();
    let sixteen = back.to_rgb16();
    let worst = sixteen
        .as_raw()
        .iter()
        .zip(eight.as_raw())
        .map(|(&a, &b)| (a as f32 / 257.0 - b as f32).abs())
        .fold(0.0, f32::max);
    assert!(
        worst <= 1.0,
        "16-bit output / 257 is {worst} levels from the 8-bit one"
    );
    // And it keeps what 8 bits cannot hold.
    let fine = sixteen.as_raw().iter().filter(|&&v| v % 257 != 0).count();
    assert!(
        fine * 2 > sixteen.as_raw().len(),
        "only {fine} samples use the 16 bits"
    );

    // Grey stays grey.
    let grey = save(
        DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| {
            Luma([rgb.get_pixel(x, y).0[1]])
        })),
        "grey.png",
    );
    let grey_out = tmp("grey-out.png");
    ok(&["deblur", s(&grey), s(&grey_out)]);
    assert_eq!(
        image::open(&grey_out).unwrap().color(),
        image::ColorType::L8
    );

    // Alpha comes back byte for byte, for deblurring and inpainting.
    let alpha = |x: u32, y: u32| ((x * 7 + y * 3) % 256) as u8;
    let rgba = save(
        DynamicImage::ImageRgba8(ImageBuffer::from_fn(w, h, |x, y| {
            let [r, g, b] = rgb.get_pixel(x, y).0;
            Rgba([r, g, b, alpha(x, y)])
        })),
        "alpha.png",
    );
    for (task, extra) in [
        ("deblur", vec![]),
        ("inpaint", vec!["--rect", "10,10,40,30"]),
    ] {
        let out = tmp(&format!("alpha-{task}.png"));
        let mut args = vec![task];
        args.extend(extra);
        args.extend([s(&rgba), s(&out)]);
        ok(&args);
        let back = image::open(&out).unwrap().to_rgba8();
        assert!(
            back.enumerate_pixels()
                .all(|(x, y, p)| p.0[3] == alpha(x, y)),
            "{task}: alpha changed"
        );
        let colour_changed = back
            .pixels()
            .zip(image::open(&rgba).unwrap().to_rgba8().pixels())
            .any(|(a, b)| a.0[..3] != b.0[..3]);
        assert!(colour_changed, "{task}: nothing was restored");
    }
}

#[test]
fn a_still_over_the_stream_cap_restores_in_tiles() {
    // 40 MP, over the 16 MP a stream frame or a whole-frame restoration may have: a flat grey field with a
    // blurred bar, cheap to encode.
    let (w, h) = (7300u32, 5480u32);
    let img = ImageBuffer::from_fn(w, h, |x, _| {
        Luma([if (3000..3100).contains(&x) { 40u8 } else { 200 }])
    });
    let input = save(DynamicImage::ImageLuma8(img), "forty-mp.png");
    let out = tmp("forty-mp-out.png");
    ok(&[
        "deblur",
        "--model",
        "models/deblur-f32.onnx",
        "--steps",
        "1",
        s(&input),
        s(&out),
    ]);
    let back = image::open(&out).unwrap();
    assert_eq!((back.width(), back.height()), (w, h));
    refused(
        &["deblur", "--tile", "0", s(&input), s(&out)],
        &["40004000 pixels", "16 MP"],
    );
    refused(
        &["deblur", "--tile", "100", s(&input), s(&out)],
        &["--tile 100", "multiple of 32"],
    );
}

#[test]
fn a_tiled_file_restore_equals_the_library_on_the_whole_frame() {
    // Through the binary, tiled, against the library's whole-frame restoration of the same file.
    let still = blurred_still();
    let input = tmp("tiled-in.png");
    still.image.save(&input).unwrap();
    let out = tmp("tiled-out.png");
    ok(&[
        "deblur",
        "--model",
        "models/deblur-int8.onnx",
        "--steps",
        "1",
        "--severity",
        "2",
        "--tile",
        "64",
        "--workers",
        "2",
        s(&input),
        s(&out),
    ]);
    let whole = restore(&still, "models/deblur-int8.onnx", 1, 1, 0);
    let got = read_image(&out).unwrap();
    let want = whole.region(whole.whole());
    assert_eq!(got, want);
}

#[test]
fn a_stream_over_one_megapixel_has_its_network_calls_tiled_and_equals_whole_frames() {
    // Two raw RGB24 frames of 1152x960 (1.1 MP: tiled by default), the sample photo scaled up.
    let img = image::open(data("sample.png"))
        .unwrap()
        .resize_exact(1152, 960, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let mut input = img.as_raw().clone();
    input.extend(img.as_raw().iter().map(|v| 255 - v));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "stream", "deblur", "--format", "rgb24", "--size", "1152x960",
        ];
        args.extend([
            "--model",
            "models/deblur-f32.onnx",
            "--steps",
            "3",
            "--workers",
            "2",
        ]);
        args.extend(extra);
        let out = coldframe_with_stdin(&args, &input);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (tiled, log) = run(&[]);
    assert!(log.contains("tiles of 1024"), "{log}");
    let (whole, log) = run(&["--tile", "0"]);
    assert!(!log.contains("tiles of"), "{log}");
    assert_eq!(tiled.len(), input.len());
    assert!(tiled == whole, "tiled stream frames differ from whole ones");
}

#[test]
fn tiff_in_and_out_keeps_sixteen_bits_and_alpha() {
    let rgb = image::open(data("val_ladybird.png")).unwrap().to_rgb8();
    let (w, h) = rgb.dimensions();
    let img = ImageBuffer::from_fn(w, h, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0.map(|v| v as u16 * 257);
        Rgba([r, g, b, (x * 600 + y) as u16])
    });
    let input = save(DynamicImage::ImageRgba16(img.clone()), "wide-alpha.tif");
    for ext in ["tif", "png"] {
        let out = tmp(&format!("wide-alpha-out.{ext}"));
        ok(&[
            "deblur",
            "--model",
            "models/deblur-f32.onnx",
            s(&input),
            s(&out),
        ]);
        let back = image::open(&out).unwrap();
        assert_eq!(back.color(), image::ColorType::Rgba16, "{ext}");
        let back = back.to_rgba16();
        assert!(
            back.pixels()
                .zip(img.pixels())
                .all(|(a, b)| a.0[3] == b.0[3]),
            "{ext}: alpha changed"
        );
        assert!(
            back.pixels()
                .zip(img.pixels())
                .any(|(a, b)| a.0[..3] != b.0[..3]),
            "{ext}: nothing was restored"
        );
    }
}

#[test]
fn inpainting_with_tiled_network_calls_is_the_whole_frame_bit_for_bit() {
    // The sampler, its fill and its mask schedule run on the whole frame; only the network calls are tiled, and
    // each is exactly the whole frame's. 301x203 in tiles of 64: odd sizes, cores of 45 and 11 pixels.
    let input = tmp("inpaint-tiles-in.png");
    blurred_still().image.save(&input).unwrap();
    // int8 runs on larger tiles: on a CPU without VNNI tract's int8 kernel is slow, and the halos multiply it.
    // One worker and 1 or 2 helpers with each call: the tiles run on several threads.
    for (model, tiled, workers) in [("inpaint-f32", "64", "3"), ("inpaint-int8", "128", "2")] {
        let outs: Vec<Vec<u8>> = [("0", "1"), (tiled, workers)]
            .iter()
            .map(|&(tile, workers)| {
                let out = tmp(&format!("inpaint-tiles-{model}-{tile}.png"));
                ok(&[
                    "inpaint",
                    "--model",
                    model,
                    "--steps",
                    "4",
                    "--rect",
                    "40,30,90,60",
                    "--rect",
                    "200,150,60,40",
                    "--tile",
                    tile,
                    "--workers",
                    workers,
                    s(&input),
                    s(&out),
                ]);
                std::fs::read(&out).unwrap()
            })
            .collect();
        assert!(
            outs[0] == outs[1],
            "{model}: tiled network calls changed the output"
        );
    }
}
