//! The models compiled into the binary, so that one file is the whole deployment, and `--model` resolution.

use std::borrow::Cow;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::model_info::{ModelInfo, Task};

pub struct Embedded {
    pub name: &'static str,
    pub role: Role,
    /// The ONNX file as build.rs compressed it (the binary's size budget): a flag byte (1: the bytes were
    /// 4-byte shuffled before deflating), then the deflate stream.
    compressed: &'static [u8],
}

impl Embedded {
    /// The ONNX file's bytes.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        use std::io::Read;
        let (flag, deflated) = self
            .compressed
            .split_first()
            .with_context(|| format!("embedded model {}: empty", self.name))?;
        let mut out = Vec::with_capacity(deflated.len() * 9 / 8);
        flate2::read::DeflateDecoder::new(deflated)
            .read_to_end(&mut out)
            .with_context(|| format!("embedded model {}: cannot inflate", self.name))?;
        Ok(if *flag == 1 {
            shuffle4_inverse(&out)
        } else {
            out
        })
    }

    /// What a restorer says about itself, and the ONNX file's size.
    pub fn info(&self) -> Result<(ModelInfo, usize)> {
        let bytes = self.bytes()?;
        let info = crate::restorer::Restorer::from_bytes(&bytes, self.name)?.info;
        Ok((info, bytes.len()))
    }
}

/// What an embedded file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A restorer R(x_t, t) (`restorer::Restorer`).
    Restorer,
    /// The network behind `--severity auto` (`restorer::blur_estimator`).
    BlurEstimator,
}

/// Undoes build.rs's `shuffle4`: byte `lane` of word `i` was stored at `lane * words + i`.
fn shuffle4_inverse(shuffled: &[u8]) -> Vec<u8> {
    let words = shuffled.len() / 4;
    let mut out = vec![0u8; shuffled.len()];
    for (lane, plane) in shuffled[..4 * words].chunks_exact(words.max(1)).enumerate() {
        for (i, &b) in plane.iter().enumerate() {
            out[4 * i + lane] = b;
        }
    }
    out[4 * words..].copy_from_slice(&shuffled[4 * words..]);
    out
}

macro_rules! embedded {
    ($name:literal, $role:ident) => {
        Embedded {
            name: $name,
            role: Role::$role,
            compressed: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".onnx.z")),
        }
    };
}

/// What one file holds, within the aarch64 binary's 12 MiB (docs/binary-size.md): the default restorers and the
/// estimator the default deblur needs. The float camera deblurrer and the Gaussian-only pair are files in models/
/// (`resolve` finds a name's file beside the binary).
pub const EMBEDDED: &[Embedded] = &[
    embedded!("camera-int8", Restorer),
    embedded!("blur-estimator-f32", BlurEstimator),
    embedded!("inpaint-f32", Restorer),
    embedded!("inpaint-int8", Restorer),
];

/// The camera deblurrer (models/camera.md), int8 by the rule of models/deblur.md: the int8 model if it is within
/// 0.3 dB of the f32 one and at least as fast in tract.
pub const DEFAULT_DEBLUR: &str = "camera-int8";

/// What `--severity auto` reads the blur with.
pub const DEFAULT_ESTIMATOR: &str = "blur-estimator-f32";

/// The same rule for the inpainters (models/inpaint.md): within 0.15 dB inside the hole, 1.2x as fast.
pub const DEFAULT_INPAINT: &str = "inpaint-int8";

/// An embedded name, a path to an ONNX file, or the name of a file `NAME.onnx` beside the binary (how a model
/// that is not embedded, such as camera-f32, deploys). Returns the bytes and the name to show in messages.
pub fn resolve(name_or_path: &str) -> Result<(Cow<'static, [u8]>, String)> {
    if let Some(m) = EMBEDDED.iter().find(|m| m.name == name_or_path) {
        return Ok((Cow::Owned(m.bytes()?), m.name.to_string()));
    }
    let p = Path::new(name_or_path);
    if p.extension().is_some_and(|e| e == "onnx") || p.exists() {
        let bytes =
            std::fs::read(p).with_context(|| format!("cannot read model file {}", p.display()))?;
        return Ok((Cow::Owned(bytes), p.display().to_string()));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(format!("{name_or_path}.onnx"))))
        .filter(|f| !name_or_path.contains(std::path::is_separator) && f.is_file());
    if let Some(f) = beside {
        let bytes =
            std::fs::read(&f).with_context(|| format!("cannot read model file {}", f.display()))?;
        return Ok((Cow::Owned(bytes), name_or_path.to_string()));
    }
    let names: Vec<&str> = EMBEDDED.iter().map(|m| m.name).collect();
    bail!(
        "unknown model {name_or_path:?}: not an embedded model ({}), an existing .onnx file, nor a file \
         {name_or_path}.onnx beside the binary",
        names.join(", ")
    )
}

/// The `coldframe models` table: what each embedded model is, read from its own metadata.
pub fn describe_embedded() -> Result<String> {
    use std::fmt::Write;
    let mut out = format!(
        "{:<18} {:<13} {:>3} {:>9} {:>6} {:>9} {:>13} {:>7} {:>8}\n",
        "name", "task", "T", "schedule", "stride", "precision", "default_steps", "MAC/px", "size"
    );
    for m in EMBEDDED {
        let default = if [DEFAULT_DEBLUR, DEFAULT_INPAINT, DEFAULT_ESTIMATOR].contains(&m.name) {
            " (default)"
        } else {
            ""
        };
        // Writing to a String cannot fail.
        let _ = match m.role {
            Role::Restorer => {
                let (i, size) = m.info()?;
                writeln!(
                    out,
                    "{:<18} {:<13} {:>3} {:>9} {:>6} {:>9} {:>13} {:>7.0} {:>5}KiB{default}",
                    i.name,
                    i.task.name(),
                    i.max_t(),
                    match &i.task {
                        Task::Deblur(schedule) =>
                            format!("{}..{}", schedule.sigmas[1], schedule.sigmas[i.max_t()]),
                        Task::CameraDeblur(_) => "per kind".to_string(),
                        Task::Inpaint { fill } => format!("fill {fill}"),
                    },
                    i.stride,
                    i.precision,
                    i.default_steps,
                    i.macs_per_pixel,
                    size / 1024
                )
            }
            Role::BlurEstimator => {
                let bytes = m.bytes()?;
                let (_, props) = crate::restorer::load_onnx(&bytes, m.name)?;
                let prop = |k: &str| props.get(k).map_or("-", |v| v.as_str());
                writeln!(
                    out,
                    "{:<18} {:<13} {:>3} {:>9} {:>6} {:>9} {:>13} {:>7} {:>5}KiB{default}",
                    prop("name"),
                    prop("task"),
                    prop("T"),
                    "-",
                    prop("stride"),
                    prop("precision"),
                    "-",
                    "-",
                    bytes.len() / 1024
                )
            }
        };
    }
    Ok(out)
}

/// One line per embedded model: its name and the version of its trained weights, from its own metadata.
pub fn embedded_versions() -> Result<String> {
    let mut out = String::new();
    for m in EMBEDDED {
        let bytes = m.bytes()?;
        let (_, props) = crate::restorer::load_onnx(&bytes, m.name)?;
        out.push_str(&format!(
            "{} model version {}\n",
            props.get("name").map_or(m.name, |n| n.as_str()),
            props.get("model_version").map_or("unknown", |v| v.as_str())
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_models_inflate_to_the_committed_files() {
        assert_eq!(EMBEDDED.len(), 4);
        for m in EMBEDDED {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("models")
                .join(format!("{}.onnx", m.name));
            let file = std::fs::read(&path).unwrap();
            assert!(
                m.compressed.len() < file.len(),
                "{} is not smaller compressed",
                m.name
            );
            // The float files are the ones the shuffle shrinks (their lengths are not multiples of 4: the tail
            // is covered).
            assert_eq!(m.compressed[0] == 1, m.name.ends_with("-f32"), "{}", m.name);
            assert!(
                m.bytes().unwrap() == file,
                "{} does not inflate to {}",
                m.name,
                path.display()
            );
        }
    }
}
