//! Still images in and out: PNG, JPEG and PPM/PGM files, `-` for stdin/stdout, and folders.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader};

use crate::frame::Frame;
use crate::still::{check_still_pixels, Still};

/// Largest side accepted from a still image: bigger claims in a header are refused before decoding allocates.
pub const MAX_SIDE: u32 = 16384;

/// `-` means stdin for an input and stdout for an output.
pub fn is_stdio(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// A frame of a stream, as stored: frames keep one size, so an EXIF orientation is not applied.
pub fn decode(bytes: &[u8], name: &str) -> Result<Frame> {
    let img = decode_image(bytes, name, false, crate::frame::check_pixels)?;
    rgb_frame(&img.image)
}

/// A still image, turned upright by its EXIF orientation (a portrait shot from a camera held on its side), so that
/// it is restored and written as it is meant to be seen; its EXIF block then says it is upright. Kept in its own
/// pixel type, with its colour profile and EXIF, up to `MAX_STILL_PIXELS`.
pub fn decode_still(bytes: &[u8], name: &str) -> Result<Still> {
    decode_image(bytes, name, true, check_still_pixels)
}

fn rgb_frame(img: &DynamicImage) -> Result<Frame> {
    let rgb = img.to_rgb8();
    Frame::from_rgb8(rgb.width() as usize, rgb.height() as usize, rgb.as_raw())
}

/// `check` refuses a size from the header before anything is decoded. `upright` applies the EXIF orientation and
/// keeps the metadata (stills); frames of a stream are taken as stored.
fn decode_image(
    bytes: &[u8],
    name: &str,
    upright: bool,
    check: fn(usize, usize, &str) -> Result<()>,
) -> Result<Still> {
    let format = image::guess_format(bytes).with_context(|| {
        format!("{name}: not a PNG, JPEG, PPM or TIFF image (unrecognised content)")
    })?;
    // The header's size first: a few hundred bytes can claim a frame that would take gigabytes to decode and
    // restore.
    let (w, h) = ImageReader::with_format(std::io::Cursor::new(bytes), format)
        .into_dimensions()
        .with_context(|| format!("{name}: cannot decode {format:?} image"))?;
    check(w as usize, h as usize, name)?;
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let cannot = || format!("{name}: cannot decode {format:?} image");
    let mut decoder = reader.into_decoder().with_context(cannot)?;
    // Unreadable metadata leaves the image as stored, without it, rather than refusing the image.
    let (orientation, icc, mut exif) = if upright {
        (
            decoder.orientation().unwrap_or(Orientation::NoTransforms),
            decoder.icc_profile().ok().flatten(),
            decoder.exif_metadata().ok().flatten(),
        )
    } else {
        (Orientation::NoTransforms, None, None)
    };
    if let Some(exif) = exif.as_mut() {
        // The orientation is applied below: the tag must not turn the output again.
        let _ = Orientation::remove_from_exif_chunk(exif);
    }
    let mut img = DynamicImage::from_decoder(decoder).with_context(cannot)?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        bail!("{name}: image is empty ({}x{})", img.width(), img.height());
    }
    let mut still = Still::new(img);
    still.icc = icc;
    still.exif = exif;
    Ok(still)
}

/// Reads an image from a file, or from stdin for `-`, as an RGB frame (at most 16 MP).
pub fn read_image(path: &Path) -> Result<Frame> {
    let (bytes, name) = read_bytes(path)?;
    let img = decode_image(&bytes, &name, true, crate::frame::check_pixels)?;
    rgb_frame(&img.image)
}

/// Reads a still from a file, or from stdin for `-`, in its own pixel type; the format comes from the content.
pub fn read_still(path: &Path) -> Result<Still> {
    let (bytes, name) = read_bytes(path)?;
    decode_still(&bytes, &name)
}

fn read_bytes(path: &Path) -> Result<(Vec<u8>, String)> {
    Ok(if is_stdio(path) {
        let mut v = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut v)
            .context("reading an image from stdin")?;
        (v, "stdin".to_string())
    } else {
        let v = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        (v, path.display().to_string())
    })
}

/// The output format from the file extension; stdout gets PNG.
pub fn format_for(path: &Path) -> Result<ImageFormat> {
    if is_stdio(path) {
        return Ok(ImageFormat::Png);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => Ok(ImageFormat::Png),
        "jpg" | "jpeg" => Ok(ImageFormat::Jpeg),
        "ppm" | "pnm" | "pgm" => Ok(ImageFormat::Pnm),
        "tif" | "tiff" => Ok(ImageFormat::Tiff),
        _ => bail!(
            "{}: unknown output extension {ext:?} (use .png, .jpg, .ppm or .tif)",
            path.display()
        ),
    }
}

pub fn encode(img: &Frame, format: ImageFormat) -> Result<Vec<u8>> {
    let buf = image::RgbImage::from_raw(img.width as u32, img.height as u32, img.to_rgb8())
        .context("frame size does not match its buffer")?;
    let mut out = std::io::Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95).encode_image(&buf)?
        }
        // image's default PNM encoding is PAM (P7), which few tools read: write binary PPM (P6).
        ImageFormat::Pnm => {
            use image::codecs::pnm::{PnmEncoder, PnmSubtype, SampleEncoding};
            buf.write_with_encoder(
                PnmEncoder::new(&mut out).with_subtype(PnmSubtype::Pixmap(SampleEncoding::Binary)),
            )?
        }
        _ => buf.write_to(&mut out, format)?,
    }
    Ok(out.into_inner())
}

/// A still in `format`, in its own pixel type where the format has it: PNG and TIFF keep 16 bits, grey and alpha;
/// JPEG is 8-bit grey or RGB; PPM/PGM keep 16 bits and grey. What a format cannot hold (alpha in JPEG and PPM,
/// 16 bits in JPEG) is dropped.
pub fn encode_still(still: &Still, format: ImageFormat) -> Result<Vec<u8>> {
    let img = &still.image;
    let grey = !img.color().has_color();
    let wide = img.color().bytes_per_pixel() / img.color().channel_count() > 1;
    let mut out = std::io::Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            let enc = with_metadata(
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95),
                still,
            );
            if grey {
                img.to_luma8().write_with_encoder(enc)?
            } else {
                img.to_rgb8().write_with_encoder(enc)?
            }
        }
        // image's default PNM encoding is PAM (P7), which few tools read: write binary PGM (P5) or PPM (P6).
        ImageFormat::Pnm => {
            use image::codecs::pnm::{PnmEncoder, PnmSubtype, SampleEncoding};
            let subtype = if grey {
                PnmSubtype::Graymap(SampleEncoding::Binary)
            } else {
                PnmSubtype::Pixmap(SampleEncoding::Binary)
            };
            let enc = PnmEncoder::new(&mut out).with_subtype(subtype);
            match (grey, wide) {
                (true, false) => img.to_luma8().write_with_encoder(enc)?,
                (true, true) => img.to_luma16().write_with_encoder(enc)?,
                (false, false) => img.to_rgb8().write_with_encoder(enc)?,
                (false, true) => img.to_rgb16().write_with_encoder(enc)?,
            }
        }
        // TIFF has no grey-with-alpha layout in the encoder: such a still is written as RGBA.
        ImageFormat::Tiff => {
            let enc = with_metadata(image::codecs::tiff::TiffEncoder::new(&mut out), still);
            match img {
                DynamicImage::ImageLumaA8(_) => img.to_rgba8().write_with_encoder(enc)?,
                DynamicImage::ImageLumaA16(_) => img.to_rgba16().write_with_encoder(enc)?,
                _ => img.write_with_encoder(enc)?,
            }
        }
        _ => img.write_with_encoder(with_metadata(
            image::codecs::png::PngEncoder::new(&mut out),
            still,
        ))?,
    }
    Ok(out.into_inner())
}

/// `enc` given the still's colour profile and EXIF; what an encoder refuses is left out.
fn with_metadata<E: ImageEncoder>(mut enc: E, still: &Still) -> E {
    if let Some(icc) = &still.icc {
        let _ = enc.set_icc_profile(icc.clone());
    }
    if let Some(exif) = &still.exif {
        let _ = enc.set_exif_metadata(exif.clone());
    }
    enc
}

/// Writes a still atomically (temporary file, then rename): a failed run never leaves a half-written output.
pub fn write_still(still: &Still, path: &Path) -> Result<()> {
    write_bytes(&encode_still(still, format_for(path)?)?, path)
}

/// Writes a frame as an 8-bit RGB image, atomically.
pub fn write_image(img: &Frame, path: &Path) -> Result<()> {
    write_bytes(&encode(img, format_for(path)?)?, path)
}

fn write_bytes(bytes: &[u8], path: &Path) -> Result<()> {
    if is_stdio(path) {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)
            .and_then(|_| out.flush())
            .context("writing the image to stdout")?;
        return Ok(());
    }
    let tmp = path.with_extension(format!(
        "{}.part",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// Image files in a folder (by extension), sorted by name so runs are reproducible.
pub fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let p = e
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if p.is_file()
            && matches!(
                ext.as_str(),
                "png" | "jpg" | "jpeg" | "ppm" | "pnm" | "pgm" | "tif" | "tiff"
            )
        {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}
