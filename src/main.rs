//! Flags only: parse, validate through the library, run, and turn errors into one line on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use argh::FromArgs;

use coldframe::deblur::Deblurrer;
use coldframe::degrade::blur::blur;
use coldframe::image_io::STDIO_ARG;
use coldframe::models::{describe_embedded, resolve, DEFAULT_DEBLUR};
use coldframe::restorer::Restorer;
use coldframe::run_paths::map_paths;
use coldframe::sampler::Sampler;

#[derive(FromArgs)]
/// Restores camera frames with cold-diffusion models, on the CPU.
struct Cli {
    #[argh(subcommand)]
    cmd: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Deblur(DeblurArgs),
    Degrade(DegradeArgs),
    Models(ModelsArgs),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "deblur")]
/// Remove Gaussian-like blur. INPUT/OUTPUT: PNG, JPEG or PPM files, `-` for stdin/stdout, or two folders.
struct DeblurArgs {
    /// total Gaussian sigma of the blur in the input, in pixels (default 2; the model card gives the range)
    #[argh(option, default = "2.0")]
    severity: f32,
    /// sampler steps, 1..=T (default: the model's; 1 = one direct prediction, highest PSNR and fastest)
    #[argh(option)]
    steps: Option<usize>,
    /// improved (the paper's Algorithm 2, default) or naive
    #[argh(option, default = "Sampler::Improved", from_str_fn(parse_sampler))]
    sampler: Sampler,
    /// an embedded model name (see `coldframe models`) or a path to a coldframe ONNX file
    #[argh(option, default = "DEFAULT_DEBLUR.to_string()")]
    model: String,
    /// input image, `-` or folder
    #[argh(positional)]
    input: PathBuf,
    /// output image, `-` or folder
    #[argh(positional)]
    output: PathBuf,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "degrade")]
/// Apply a forward degradation D, the same one the models were trained on.
struct DegradeArgs {
    #[argh(subcommand)]
    kind: DegradeKind,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum DegradeKind {
    Blur(DegradeBlurArgs),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "blur")]
/// Gaussian blur of a total sigma, reflect padding.
struct DegradeBlurArgs {
    /// the Gaussian sigma in pixels, > 0 and at most 64
    #[argh(option)]
    severity: f32,
    /// input image, `-` or folder
    #[argh(positional)]
    input: PathBuf,
    /// output image, `-` or folder
    #[argh(positional)]
    output: PathBuf,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "models")]
/// List the embedded models.
struct ModelsArgs {}

fn parse_sampler(s: &str) -> Result<Sampler, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

fn load(model: &str) -> Result<Restorer> {
    let (bytes, name) = resolve(model)?;
    Restorer::from_bytes(&bytes, &name)
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Command::Deblur(a) => {
            let mut d = Deblurrer::new(load(&a.model)?)?;
            let plan = d.plan(a.severity, a.steps, a.sampler)?;
            map_paths(&a.input, &a.output, |img| d.restore(img, &plan))
        }
        Command::Degrade(DegradeArgs {
            kind: DegradeKind::Blur(a),
        }) => {
            if !(a.severity > 0.0 && a.severity <= 64.0) {
                anyhow::bail!("--severity {} is outside (0, 64] pixels", a.severity);
            }
            map_paths(&a.input, &a.output, |img| Ok(blur(img, a.severity)))
        }
        Command::Models(_) => {
            print!("{}", describe_embedded()?);
            Ok(())
        }
    }
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
        .map(|a| if a == "-" { STDIO_ARG } else { a.as_str() })
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
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coldframe: {e:#}");
            ExitCode::FAILURE
        }
    }
}
