//! Runs a per-image operation over what the user named: one file, `-` (stdin/stdout), or a folder into a folder.

use std::path::Path;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::image_io::{format_for, images_in, is_stdio, read_still, write_still};
use crate::still::Still;

/// An error and its causes on one line, whatever a decoder's message holds, so logs and scripts see one line
/// per failure.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `op` gets the input's path (masks are picked by it) and its image, in the image's own pixel type.
/// A folder run restores every image it can, reports each failure on stderr, and fails at the end if any did.
pub fn map_paths(
    input: &Path,
    output: &Path,
    mut op: impl FnMut(&Path, &Still) -> Result<Still>,
) -> Result<()> {
    if !is_stdio(input) && input.is_dir() {
        return map_folder(input, output, op);
    }
    if !is_stdio(output) && output.is_dir() {
        bail!(
            "{} is a folder: give an output file, or a folder as input",
            output.display()
        );
    }
    // a bad output name is refused before the work, not after it
    format_for(output)?;
    let img = read_still(input)?;
    let out = op(input, &img).with_context(|| format!("restoring {}", input.display()))?;
    write_still(&out, output)
}

fn map_folder(
    input: &Path,
    output: &Path,
    mut op: impl FnMut(&Path, &Still) -> Result<Still>,
) -> Result<()> {
    if is_stdio(output) || output.is_file() {
        bail!(
            "input {} is a folder, so the output must be a folder too",
            input.display()
        );
    }
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let files = images_in(input)?;
    if files.is_empty() {
        bail!(
            "{} holds no .png, .jpg, .ppm or .tif images",
            input.display()
        );
    }
    let bar = ProgressBar::new(files.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} eta {eta} {msg}")
            // The template is a literal checked by the folder test; a typo would show there.
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut failed = Vec::new();
    for f in &files {
        // `images_in` only returns entries with a file name.
        let name = f.file_name().unwrap_or_default();
        bar.set_message(name.to_string_lossy().into_owned());
        let res = read_still(f)
            .and_then(|img| op(f, &img))
            .and_then(|out| write_still(&out, &output.join(name)));
        if let Err(e) = res {
            let msg = one_line(&e);
            bar.suspend(|| eprintln!("coldframe: {}: {msg}", f.display()));
            failed.push(f.display().to_string());
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !failed.is_empty() {
        bail!(
            "{} of {} images failed: {}",
            failed.len(),
            files.len(),
            failed.join(", ")
        );
    }
    Ok(())
}
