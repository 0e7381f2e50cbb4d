//! The models compiled into the binary, so that one file is the whole deployment, and `--model` resolution.

use std::borrow::Cow;
use std::path::Path;

use anyhow::{bail, Context, Result};

pub struct Embedded {
    pub name: &'static str,
    pub bytes: &'static [u8],
}

pub const EMBEDDED: &[Embedded] = &[
    Embedded {
        name: "deblur-f32",
        bytes: include_bytes!("../models/deblur-f32.onnx"),
    },
    Embedded {
        name: "deblur-int8",
        bytes: include_bytes!("../models/deblur-int8.onnx"),
    },
    Embedded {
        name: "inpaint-f32",
        bytes: include_bytes!("../models/inpaint-f32.onnx"),
    },
    Embedded {
        name: "inpaint-int8",
        bytes: include_bytes!("../models/inpaint-int8.onnx"),
    },
];

/// Chosen by the rule of models/deblur.md: the int8 model only if it is within 0.3 dB of the f32 one and at
/// least as fast in tract. Today it is not as fast (DESIGN.md §7), so the f32 model is the default.
pub const DEFAULT_DEBLUR: &str = "deblur-f32";

/// The same rule for the inpainters (models/inpaint.md).
pub const DEFAULT_INPAINT: &str = "inpaint-f32";

/// An embedded name, or a path to an ONNX file. Returns the bytes and the name to show in messages.
pub fn resolve(name_or_path: &str) -> Result<(Cow<'static, [u8]>, String)> {
    if let Some(m) = EMBEDDED.iter().find(|m| m.name == name_or_path) {
        return Ok((Cow::Borrowed(m.bytes), m.name.to_string()));
    }
    let p = Path::new(name_or_path);
    if p.extension().is_some_and(|e| e == "onnx") || p.exists() {
        let bytes =
            std::fs::read(p).with_context(|| format!("cannot read model file {}", p.display()))?;
        return Ok((Cow::Owned(bytes), p.display().to_string()));
    }
    let names: Vec<&str> = EMBEDDED.iter().map(|m| m.name).collect();
    bail!(
        "unknown model {name_or_path:?}: not an embedded model ({}) nor an existing .onnx file",
        names.join(", ")
    )
}

/// The `coldframe models` table: what each embedded model is, read from its own metadata.
pub fn describe_embedded() -> Result<String> {
    use std::fmt::Write;
    let mut out = format!(
        "{:<12} {:<7} {:>3} {:>9} {:>6} {:>9} {:>13} {:>7} {:>8}\n",
        "name", "task", "T", "schedule", "stride", "precision", "default_steps", "MAC/px", "size"
    );
    for m in EMBEDDED {
        let i = crate::restorer::Restorer::from_bytes(m.bytes, m.name)?.info;
        let default = if m.name == DEFAULT_DEBLUR || m.name == DEFAULT_INPAINT {
            " (default)"
        } else {
            ""
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{:<12} {:<7} {:>3} {:>9} {:>6} {:>9} {:>13} {:>7.0} {:>5}KiB{default}",
            i.name,
            i.task.to_string(),
            i.max_t(),
            match i.task {
                crate::model_info::Task::Deblur =>
                    format!("{}..{}", i.sigmas[1], i.sigmas[i.max_t()]),
                crate::model_info::Task::Inpaint => format!("fill {}", i.fill),
            },
            i.stride,
            i.precision,
            i.default_steps,
            i.macs_per_pixel,
            m.bytes.len() / 1024
        );
    }
    Ok(out)
}
