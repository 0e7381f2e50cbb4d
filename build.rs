//! Compresses the embedded models (models/*.onnx) into OUT_DIR, inflated once when a model is loaded
//! (src/models.rs). Part of keeping the ARM binary in its size budget.
//!
//! Each file is deflated either as it is or after a 4-byte shuffle (all first bytes of each 4-byte word, then all
//! second bytes, ...: the float weights' sign-and-exponent bytes then sit together and compress; 7% smaller for
//! the f32 models, 4% larger for the int8 ones), whichever is smaller; the first byte says which (0: as is,
//! 1: shuffled).

use std::io::Write;
use std::path::Path;

// As src/models.rs EMBEDDED.
const MODELS: [&str; 4] = [
    "camera-int8",
    "blur-estimator-f32",
    "inpaint-f32",
    "inpaint-int8",
];

fn deflate(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    enc.finish()
}

/// The inverse is `shuffle4_inverse` in src/models.rs.
fn shuffle4(bytes: &[u8]) -> Vec<u8> {
    let words = bytes.len() / 4;
    let mut out: Vec<u8> = (0..4)
        .flat_map(|lane| (0..words).map(move |i| bytes[4 * i + lane]))
        .collect();
    out.extend_from_slice(&bytes[4 * words..]);
    out
}

fn main() {
    // The aarch64 link reads this script (.cargo/config.toml); cargo does not track link arguments' files, so an
    // edit to it would not relink without this.
    println!("cargo:rerun-if-changed=.cargo/no-unwind-tables.ld");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    for name in MODELS {
        let src = format!("models/{name}.onnx");
        println!("cargo:rerun-if-changed={src}");
        let bytes = std::fs::read(&src).unwrap_or_else(|e| panic!("cannot read {src}: {e}"));
        let plain = deflate(&bytes).unwrap_or_else(|e| panic!("cannot deflate {src}: {e}"));
        let shuffled =
            deflate(&shuffle4(&bytes)).unwrap_or_else(|e| panic!("cannot deflate {src}: {e}"));
        let (flag, z) = if shuffled.len() < plain.len() {
            (1u8, shuffled)
        } else {
            (0u8, plain)
        };
        let mut file = vec![flag];
        file.extend_from_slice(&z);
        std::fs::write(Path::new(&out).join(format!("{name}.onnx.z")), file)
            .unwrap_or_else(|e| panic!("cannot write the compressed {src}: {e}"));
    }
}
