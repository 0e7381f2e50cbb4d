//! Flags only: parse, validate through the library, run, and turn errors into one line on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use argh::FromArgs;

use coldframe::camera_deblur::{BlurChoice, Severity};
use coldframe::degrade::blur::blur;
use coldframe::degrade::camera_blur::{CameraBlur, T_CAMERA};
use coldframe::frame::Rect;
use coldframe::frame_mask::{MaskImages, MaskSource};
use coldframe::inpaint::MaskDegradation;
use coldframe::job::{Job, Request};
use coldframe::models::{
    describe_embedded, embedded_versions, resolve, DEFAULT_DEBLUR, DEFAULT_ESTIMATOR,
    DEFAULT_INPAINT,
};
use coldframe::restorer::Restorer;
use coldframe::run_paths::{map_paths, one_line};
use coldframe::sampler::Sampler;
use coldframe::setting::{rename, Setting};
use coldframe::still_job::StillJob;
use coldframe::stream_io::{parse_size, Container, StreamFormat};
use coldframe::stream_job::StreamJob;

/// Declares an argh argument struct from named groups of flags, so that every command taking a group shares its
/// declarations and help texts: `flags! { /// what it does ... struct Name [group, group] { its own flags } }`;
/// its own flags come first, the groups' after them in the order named.
macro_rules! flags {
    ($(#[$meta:meta])* struct $name:ident [$($group:ident),*] $({ $($own:tt)* })?) => {
        flags!(@group [$(#[$meta])*] $name [$($($own)*)?] [$($group),*]);
    };
    (@group [$(#[$meta:meta])*] $name:ident [$($fields:tt)*] []) => {
        #[derive(FromArgs)]
        $(#[$meta])*
        struct $name {
            $($fields)*
        }
    };
    (@group $meta:tt $name:ident [$($fields:tt)*] [deblur $(, $rest:ident)*]) => {
        flags!(@group $meta $name [$($fields)*
            /// how blurred the input is: auto (estimated; a camera deblurrer's default), or the blur's extent in
            /// pixels: a Gaussian's sigma (a Gaussian model's default: 2), a defocus disc's radius, a motion
            /// trail's length (see --blur; the model card gives the ranges)
            #[argh(option, from_str_fn(parse_severity))]
            severity: Option<Severity>,
            /// which blur, for a camera deblurrer: auto (default: as estimated; with a given --severity, a
            /// Gaussian), gaussian, defocus or motion
            #[argh(option, default = "BlurName::Auto", from_str_fn(parse_blur))]
            blur: BlurName,
            /// the direction of a given --blur motion, in degrees counter-clockwise from the x axis (default 0)
            #[argh(option, default = "0.0")]
            angle: f32,
            /// the blur estimator for --severity auto: embedded blur-estimator-f32 (default) or an ONNX file
            #[argh(option, default = "DEFAULT_ESTIMATOR.to_string()")]
            estimator: String,
            /// sampler steps, 1..=T (default: the model's, 1 for camera-int8, a direct prediction, the fastest;
            /// 2 for the Gaussian-only deblur-f32/-int8 files)
            #[argh(option)]
            steps: Option<usize>,
            /// improved (the paper's Algorithm 2, default) or naive
            #[argh(option, default = "Sampler::Improved", from_str_fn(parse_sampler))]
            sampler: Sampler,
            /// an embedded model name (see `coldframe models`) or a path to a coldframe ONNX file
            #[argh(option, default = "DEFAULT_DEBLUR.to_string()")]
            model: String,
        ] [$($rest),*]);
    };
    (@group $meta:tt $name:ident [$($fields:tt)*] [inpaint $(, $rest:ident)*]) => {
        flags!(@group $meta $name [$($fields)*
            /// sampler steps, 1..=T (default: the model's, 1 for the embedded ones; each step fills one ring of
            /// the hole: large boxes gain a little from more, thin masks lose)
            #[argh(option)]
            steps: Option<usize>,
            /// an embedded model name (see `coldframe models`) or a path to a coldframe ONNX file
            #[argh(option, default = "DEFAULT_INPAINT.to_string()")]
            model: String,
        ] [$($rest),*]);
    };
    (@group $meta:tt $name:ident [$($fields:tt)*] [mask $(, $rest:ident)*]) => {
        flags!(@group $meta $name [$($fields)*
            /// mask image of the frame's size: nonzero pixels are filled
            #[argh(option)]
            mask: Option<PathBuf>,
            /// a box to fill, X,Y,W,H in pixels (repeatable; adds to --mask)
            #[argh(option, from_str_fn(parse_rect))]
            rect: Vec<Rect>,
        ] [$($rest),*]);
    };
    (@group $meta:tt $name:ident [$($fields:tt)*] [mask_dir $(, $rest:ident)*]) => {
        flags!(@group $meta $name [$($fields)*
            /// folder of masks named as the input files (for a folder of inputs)
            #[argh(option)]
            mask_dir: Option<PathBuf>,
        ] [$($rest),*]);
    };
    (@group $meta:tt $name:ident [$($fields:tt)*] [stream_io $(, $rest:ident)*]) => {
        flags!(@group $meta $name [$($fields)*
            /// input format: y4m, rgb24, i420 (or yuv420p), mjpeg, ppm or png (an unknown name lists what each is)
            #[argh(option)]
            format: String,
            /// output format (default: the input's)
            #[argh(option)]
            out_format: Option<String>,
            /// frame size WIDTHxHEIGHT, for raw formats
            #[argh(option)]
            size: Option<String>,
            /// bytes per input row (I420: of the luma plane) when rows are padded, for raw formats
            #[argh(option)]
            stride: Option<usize>,
        ] [$($rest),*]);
    };
    (@group $meta:tt $name:ident [$($fields:tt)*] [stream_run $(, $rest:ident)*]) => {
        flags!(@group $meta $name [$($fields)*
            /// frames restored at once, each on its own thread and model instance (default: the number of cores)
            #[argh(option)]
            workers: Option<usize>,
            /// print a progress line on stderr every second
            #[argh(switch)]
            progress: bool,
            /// draw model, steps, per-frame milliseconds and fps on each output frame, and the mask's outline if
            /// there is one
            #[argh(switch)]
            overlay: bool,
            /// show the input's left half beside the output's right half
            #[argh(switch)]
            compare: bool,
        ] [$($rest),*]);
    };
    (@group $meta:tt $name:ident [$($fields:tt)*] [still_run $(, $rest:ident)*]) => {
        flags!(@group $meta $name [$($fields)*
            /// tiles of one image restored at once, each on its own thread and model instance (default: the number
            /// of cores)
            #[argh(option)]
            workers: Option<usize>,
        ] [$($rest),*]);
    };
    (@group $meta:tt $name:ident [$($fields:tt)*] [tile $(, $rest:ident)*]) => {
        flags!(@group $meta $name [$($fields)*
            /// tile side in pixels, a multiple of 32 from 64 to 4096, or 0 for the whole frame (default: whole up
            /// to 1 MP, else 512 for a deblurred still and 1024 for the network calls of a stream or of
            /// inpainting); tiles overlap by 64 pixels, so memory follows the tile, not the frame
            #[argh(option)]
            tile: Option<usize>,
        ] [$($rest),*]);
    };
    (@group $meta:tt $name:ident [$($fields:tt)*] [files $(, $rest:ident)*]) => {
        flags!(@group $meta $name [$($fields)*
            /// input image, `-` or folder
            #[argh(positional)]
            input: PathBuf,
            /// output image, `-` or folder
            #[argh(positional)]
            output: PathBuf,
        ] [$($rest),*]);
    };
}

#[derive(FromArgs)]
/// Restores camera frames with cold-diffusion models, on the CPU.
struct Cli {
    /// print the version of coldframe and of its embedded models
    #[argh(switch)]
    version: bool,
    #[argh(subcommand)]
    cmd: Option<Command>,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Deblur(DeblurArgs),
    Inpaint(InpaintArgs),
    Stream(StreamArgs),
    Degrade(DegradeArgs),
    Models(ModelsArgs),
}

flags! {
    #[argh(subcommand, name = "deblur")]
    /// Remove camera blur (defocus, motion and shake, Gaussian softness): by default estimated from each image
    /// (--severity auto; the estimate is printed on stderr, and a sharp image passes through), or named by --blur
    /// and --severity. INPUT/OUTPUT: PNG, JPEG, PPM or TIFF files, `-` for stdin/stdout, or two folders.
    struct DeblurArgs [deblur, still_run, tile, files]
}

flags! {
    #[argh(subcommand, name = "inpaint")]
    /// Fill masked pixels (a mask PNG of the input's size, nonzero = missing, and/or --rect boxes); every other
    /// pixel is copied unchanged. INPUT/OUTPUT: PNG, JPEG, PPM or TIFF files, `-` for stdin/stdout, or two folders.
    struct InpaintArgs [mask, mask_dir, inpaint, still_run, tile, files]
}

#[derive(FromArgs)]
#[argh(subcommand, name = "stream")]
/// Restore camera frames from stdin to stdout, several frames at once, in input order; frames up to 16 MP.
struct StreamArgs {
    #[argh(subcommand)]
    task: StreamTask,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum StreamTask {
    Deblur(StreamDeblurArgs),
    Inpaint(StreamInpaintArgs),
}

flags! {
    #[argh(subcommand, name = "deblur")]
    /// Deblur a stream: `rpicam-vid ... -o - | coldframe stream deblur --format i420 --size 640x480 | ffmpeg ...`.
    /// With --severity auto (the default) the blur is estimated from the first frame and kept for the whole
    /// stream (the start line shows it), or until --estimate-every's re-estimates agree on another one, so the
    /// output cannot flicker between estimates.
    struct StreamDeblurArgs [stream_io, deblur, stream_run, tile] {
        /// temporal noise filter in front of the restorer, 0 (off) to 0.9 (default 0.5): the weight of a pixel's
        /// past where it changed by less than the noise explains (moving pixels pass as they are), so that a
        /// static scene's sharpened noise does not shimmer; the blur is estimated from the frames as read
        #[argh(option, default = "0.5")]
        temporal: f32,
        /// estimate the blur again every N frames (default 0: once, from the first frame, for the whole
        /// stream); a new blur is taken only when two re-estimates in a row agree on it, so one odd frame never
        /// switches it and the output cannot flicker between two answers; the stderr log says when it switches
        #[argh(option, default = "0")]
        estimate_every: usize,
    }
}

flags! {
    #[argh(subcommand, name = "inpaint")]
    /// Inpaint a stream with one mask for every frame (a camera's OSD, a dead column, a dirty spot on the lens).
    struct StreamInpaintArgs [stream_io, mask, inpaint, stream_run, tile]
}

#[derive(FromArgs)]
#[argh(subcommand, name = "degrade")]
/// Apply a forward degradation D: the Gaussian blur and the mask the embedded models invert, or a camera blur.
struct DegradeArgs {
    #[argh(subcommand)]
    kind: DegradeKind,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum DegradeKind {
    Blur(DegradeBlurArgs),
    Defocus(DegradeDefocusArgs),
    Motion(DegradeMotionArgs),
    Shake(DegradeShakeArgs),
    Mask(DegradeMaskArgs),
}

flags! {
    #[argh(subcommand, name = "mask")]
    /// The inpainting degradation at step T: the part of the mask deeper than (1 - T/T_max) of its deepest point
    /// is set to the model's fill (the whole mask at T_max, nothing at 0): for the embedded models a smooth blend
    /// of the pixels known at that step.
    struct DegradeMaskArgs [mask, files] {
        /// the step, 0..=T of the model (T = 20 for the embedded ones)
        #[argh(option)]
        step: usize,
        /// the inpainting model whose schedule and fill to use (default: the embedded one)
        #[argh(option, default = "DEFAULT_INPAINT.to_string()")]
        model: String,
    }
}

flags! {
    #[argh(subcommand, name = "blur")]
    /// Gaussian blur of a total sigma, reflect padding.
    struct DegradeBlurArgs [files] {
        /// the Gaussian sigma in pixels, > 0 and at most 64
        #[argh(option)]
        severity: f32,
    }
}

flags! {
    #[argh(subcommand, name = "defocus")]
    /// Defocus blur: a disc whose edge is antialiased over one pixel, reflect padding (docs/design.md §2a).
    struct DegradeDefocusArgs [files] {
        /// the disc's radius in pixels, > 0 and at most 8
        #[argh(option)]
        radius: f64,
    }
}

flags! {
    #[argh(subcommand, name = "motion")]
    /// Linear motion blur: a straight line through each pixel, reflect padding (docs/design.md §2a).
    struct DegradeMotionArgs [files] {
        /// the line's length in pixels, > 0 and at most 25
        #[argh(option)]
        length: f64,
        /// its direction in degrees, counter-clockwise from the x axis (default 0: horizontal)
        #[argh(option, default = "0.0")]
        angle: f32,
    }
}

flags! {
    #[argh(subcommand, name = "shake")]
    /// Camera shake: a smooth random trajectory, the same shape for a seed at every length (docs/design.md §2a).
    struct DegradeShakeArgs [files] {
        /// the trajectory's length in pixels, > 0 and at most 25
        #[argh(option)]
        length: f64,
        /// which trajectory (default 1)
        #[argh(option, default = "1")]
        seed: u32,
    }
}

#[derive(FromArgs)]
#[argh(subcommand, name = "models")]
/// List the embedded models.
struct ModelsArgs {}

fn parse_severity(s: &str) -> Result<Severity, String> {
    if s == "auto" {
        return Ok(Severity::Auto);
    }
    s.parse::<f32>()
        .map(Severity::Given)
        .map_err(|_| format!("{s:?} is not a number of pixels nor auto"))
}

/// `--blur` as named; `--angle` completes a motion.
#[derive(Clone, Copy)]
enum BlurName {
    Auto,
    Gaussian,
    Defocus,
    Motion,
}

fn parse_blur(s: &str) -> Result<BlurName, String> {
    match s {
        "auto" => Ok(BlurName::Auto),
        "gaussian" => Ok(BlurName::Gaussian),
        "defocus" => Ok(BlurName::Defocus),
        "motion" => Ok(BlurName::Motion),
        _ => Err(format!(
            "unknown blur {s:?}: expected auto, gaussian, defocus or motion"
        )),
    }
}

fn blur_choice(name: BlurName, angle: f32) -> Result<BlurChoice> {
    if !angle.is_finite() {
        bail!("--angle {angle} is not a number of degrees");
    }
    Ok(match name {
        BlurName::Auto => BlurChoice::Auto,
        BlurName::Gaussian => BlurChoice::Gaussian,
        BlurName::Defocus => BlurChoice::Defocus,
        BlurName::Motion => BlurChoice::Motion { angle },
    })
}

fn parse_sampler(s: &str) -> Result<Sampler, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

fn parse_rect(s: &str) -> Result<Rect, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

fn load(model: &str) -> Result<Restorer> {
    let (bytes, name) = resolve(model)?;
    Restorer::from_bytes(&bytes, &name)
}

/// argh takes `-` for a flag, so `main` hands it a stand-in for the positional `-` (stdin or stdout), and this
/// turns it back.
const STDIO_STAND_IN: &str = "<stdio>";

fn io_path(p: PathBuf) -> PathBuf {
    if p.as_os_str() == STDIO_STAND_IN {
        PathBuf::from("-")
    } else {
        p
    }
}

/// Restores `input` into `output` (files, folders or `-`) with one worker of `job`.
fn restore_paths(mut job: StillJob, input: PathBuf, output: PathBuf) -> Result<()> {
    map_paths(&io_path(input), &io_path(output), |path, still| {
        job.restore(path, still)
    })
}

fn run(cli: Cli) -> Result<()> {
    if cli.version {
        println!("coldframe {}", env!("CARGO_PKG_VERSION"));
        print!("{}", embedded_versions()?);
        return Ok(());
    }
    let Some(cmd) = cli.cmd else {
        bail!("no command given (see coldframe --help)");
    };
    match cmd {
        Command::Deblur(a) => {
            let request = Request::Deblur {
                severity: a.severity,
                blur: blur_choice(a.blur, a.angle)?,
                sampler: a.sampler,
                estimator: a.estimator,
            };
            let job = StillJob::new(Job::new(&a.model, a.steps, request)?, a.workers, a.tile)?;
            restore_paths(job, a.input, a.output)
        }
        Command::Inpaint(a) => {
            let masks = mask_source(a.mask.as_deref(), a.mask_dir.as_deref(), a.rect)?;
            let job = Job::new(&a.model, a.steps, Request::Inpaint { masks })?;
            restore_paths(StillJob::new(job, a.workers, a.tile)?, a.input, a.output)
        }
        Command::Stream(StreamArgs { task }) => stream(task),
        Command::Degrade(DegradeArgs {
            kind: DegradeKind::Blur(a),
        }) => {
            if !(a.severity > 0.0 && a.severity <= 64.0) {
                bail!("--severity {} is outside (0, 64] pixels", a.severity);
            }
            map_paths(&io_path(a.input), &io_path(a.output), |_, still| {
                still.map_whole(|img| Ok(blur(img, a.severity)))
            })
        }
        Command::Degrade(DegradeArgs {
            kind: DegradeKind::Defocus(a),
        }) => degrade_camera(CameraBlur::Defocus, "--radius", a.radius, a.input, a.output),
        Command::Degrade(DegradeArgs {
            kind: DegradeKind::Motion(a),
        }) => {
            if !a.angle.is_finite() {
                bail!("--angle {} is not a number of degrees", a.angle);
            }
            let family = CameraBlur::Motion { angle: a.angle };
            degrade_camera(family, "--length", a.length, a.input, a.output)
        }
        Command::Degrade(DegradeArgs {
            kind: DegradeKind::Shake(a),
        }) => {
            let family = CameraBlur::Shake { seed: a.seed };
            degrade_camera(family, "--length", a.length, a.input, a.output)
        }
        Command::Degrade(DegradeArgs {
            kind: DegradeKind::Mask(a),
        }) => {
            let degrade = MaskDegradation::new(&load(&a.model)?.info, a.step)?;
            let masks = mask_source(a.mask.as_deref(), None, a.rect)?;
            map_paths(&io_path(a.input), &io_path(a.output), |path, still| {
                still.map_whole(|img| {
                    degrade.apply(img, &masks.for_frame(path, img.width, img.height)?)
                })
            })
        }
        Command::Models(_) => {
            print!("{}", describe_embedded()?);
            Ok(())
        }
    }
}

/// `coldframe degrade` for a camera blur: `family` at `extent` pixels (its `flag`), which must lie in
/// (0, the family's extent at T].
fn degrade_camera(
    family: CameraBlur,
    flag: &str,
    extent: f64,
    input: PathBuf,
    output: PathBuf,
) -> Result<()> {
    let max = family.extent(T_CAMERA);
    if !(extent > 0.0 && extent <= max) {
        bail!("{flag} {extent} is outside (0, {max}] pixels");
    }
    let psf = family.psf_at(extent);
    map_paths(&io_path(input), &io_path(output), |_, still| {
        still.map_whole(|img| Ok(psf.convolve(img)))
    })
}

fn mask_source(
    mask: Option<&Path>,
    mask_dir: Option<&Path>,
    rects: Vec<Rect>,
) -> Result<MaskSource> {
    let images = match (mask, mask_dir) {
        (Some(_), Some(_)) => bail!("--mask and --mask-dir exclude each other"),
        (Some(file), None) => MaskImages::file(file).context("--mask")?,
        (None, Some(dir)) => MaskImages::folder(dir).context("--mask-dir")?,
        (None, None) if rects.is_empty() => {
            bail!("no mask given: use --mask FILE, --mask-dir FOLDER or --rect X,Y,W,H")
        }
        (None, None) => MaskImages::None,
    };
    MaskSource::new(images, rects)
}

/// The flag that sets each setting the library may refuse.
fn flag_of(setting: Setting) -> &'static str {
    match setting {
        Setting::Steps => "--steps",
        Setting::Severity => "--severity",
        Setting::DegradeStep => "--step",
        Setting::Rect => "--rect",
        Setting::Size => "--size",
        Setting::Stride => "--stride",
        Setting::Workers => "--workers",
        Setting::Tile => "--tile",
        Setting::Blur => "--blur",
        Setting::Temporal => "--temporal",
        Setting::EstimateEvery => "--estimate-every",
    }
}

/// `--format`, which says whether `--size` and `--stride` may or must be given.
fn input_format(name: &str, size: bool, stride: bool) -> Result<StreamFormat> {
    let format = parse_format(name, "--format")?;
    if matches!(format.container(), Container::Raw(_)) {
        if !size {
            bail!("--format {format} needs --size WIDTHxHEIGHT");
        }
    } else if size || stride {
        bail!("--size and --stride are for raw formats; {format} carries its size");
    }
    Ok(format)
}

fn parse_format(f: &str, flag: &str) -> Result<StreamFormat> {
    f.parse()
        .map_err(|e: anyhow::Error| e.context(flag.to_string()))
}

/// The stream options that every stream task shares, as `StreamJob` takes them.
macro_rules! stream_job {
    ($a:ident, $request:expr, $tile:expr, $temporal:expr, $estimate_every:expr) => {
        StreamJob {
            format: input_format(&$a.format, $a.size.is_some(), $a.stride.is_some())?,
            out_format: $a
                .out_format
                .as_deref()
                .map(|f| parse_format(f, "--out-format"))
                .transpose()?,
            size: $a.size.as_deref().map(parse_size).transpose()?,
            stride: $a.stride,
            request: $request,
            model: $a.model,
            steps: $a.steps,
            workers: $a.workers,
            tile: $tile,
            progress: $a.progress,
            overlay: $a.overlay,
            compare: $a.compare,
            temporal: $temporal,
            estimate_every: $estimate_every,
        }
    };
}

fn stream(task: StreamTask) -> Result<()> {
    let job = match task {
        StreamTask::Deblur(a) => stream_job!(
            a,
            Request::Deblur {
                severity: a.severity,
                blur: blur_choice(a.blur, a.angle)?,
                sampler: a.sampler,
                estimator: a.estimator,
            },
            a.tile,
            a.temporal,
            a.estimate_every
        ),
        StreamTask::Inpaint(a) => stream_job!(
            a,
            Request::Inpaint {
                masks: mask_source(a.mask.as_deref(), None, a.rect)?,
            },
            a.tile,
            // the known pixels of an inpainted frame come back exact: nothing in front of the inpainter
            0.0,
            0
        ),
    };
    let stdin = Box::new(std::io::BufReader::with_capacity(1 << 20, std::io::stdin()));
    let stdout = Box::new(std::io::BufWriter::with_capacity(
        1 << 20,
        std::io::stdout(),
    ));
    job.run(stdin, stdout).map(|_| ())
}

fn main() -> ExitCode {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect()
    {
        Ok(args) => args,
        Err(bad) => {
            eprintln!("coldframe: argument {bad:?} is not valid UTF-8");
            return ExitCode::FAILURE;
        }
    };
    let rest: Vec<&str> = args
        .iter()
        .map(|a| if a == "-" { STDIO_STAND_IN } else { a.as_str() })
        .collect();
    let cli = match Cli::from_args(&["coldframe"], &rest) {
        Ok(cli) => cli,
        Err(early) => {
            // --help goes to stdout with success; a bad flag is one line on stderr and a failure.
            return if early.status.is_ok() {
                println!("{}", early.output);
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "coldframe: {} (see coldframe --help)",
                    early.output.trim_end().replace('\n', " ")
                );
                ExitCode::FAILURE
            };
        }
    };
    match run(cli).map_err(|e| rename(e, flag_of)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coldframe: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}
