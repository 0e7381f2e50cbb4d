//! This machine's practical peak, for the README's share-of-peak column: tract-linalg's own best kernel on a
//! cache-resident matrix product (operands packed once; one thread), f32 and int8.
//!
//!     cargo bench --bench peak

use coldframe::restorer::peak::matmul_gmacs;

fn main() -> anyhow::Result<()> {
    println!("kind\tm x k x n\tkernel\tgmac_per_s");
    for int8 in [false, true] {
        for shape in [(96, 256, 1024), (256, 512, 512)] {
            let (gmacs, kernel) = matmul_gmacs(int8, shape, 200)?;
            let kind = if int8 { "int8" } else { "f32" };
            println!(
                "{kind}\t{}x{}x{}\t{kernel}\t{gmacs:.1}",
                shape.0, shape.1, shape.2
            );
        }
    }
    Ok(())
}
