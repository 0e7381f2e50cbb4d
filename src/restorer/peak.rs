//! This machine's practical peak for the share-of-peak figures (benches/peak.rs): tract-linalg's best matrix
//! kernel on operands packed once and small enough to stay in cache, so the kernel alone sets the pace.

use std::time::Instant;

use anyhow::{Context, Result};
use tract_core::internal::*;
use tract_core::tract_linalg::mmm::{AsInputValue, FusedSpec, Query};
use tract_core::tract_linalg::{MmmDispatch, WeightType};

/// Multiply-adds per second of one m x k by k x n product, best of `runs`, on one thread; and the kernel's name.
pub fn matmul_gmacs(
    int8: bool,
    (m, k, n): (usize, usize, usize),
    runs: usize,
) -> Result<(f64, String)> {
    let (dt, acc) = if int8 {
        (i8::datum_type(), i32::datum_type())
    } else {
        (f32::datum_type(), f32::datum_type())
    };
    let query = Query {
        weight: WeightType::Plain(dt),
        activation: dt,
        accumulators: tvec!(acc),
        store: None,
        allow_extractor: false,
        m: Some(m),
        k: Some(k),
        n: Some(n),
    };
    let (mmm, packing, _) = MmmDispatch::native()
        .pick(&query)
        .context("no matrix kernel")?;
    let filled = |rows: usize, cols: usize| -> Result<Tensor> {
        let t = tensor1(
            &(0..rows * cols)
                .map(|i| (i % 7) as f32 - 3.0)
                .collect::<Vec<_>>(),
        );
        let t = t.cast_to_dt(dt)?.into_owned();
        t.into_shape(&[rows, cols])
    };
    let (formats_a, formats_b) = (&mmm.packings()[packing].0, &mmm.packings()[packing].1);
    let a = formats_a.prepare_one(&filled(m, k)?, 1, 0)?;
    let b = formats_b.prepare_one(&filled(k, n)?, 0, 1)?;
    let mut c = Tensor::zero_dt(acc, &[m, n])?;
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t0 = Instant::now();
        // SAFETY: both operands were packed by this kernel's packers for m x k and k x n; the store view covers
        // the m x n output of the kernel's accumulator type.
        unsafe {
            let store = mmm.c_view(Some(0), Some(1)).wrap(&c.view_mut());
            mmm.run(
                m,
                n,
                &[
                    FusedSpec::AddMatMul {
                        a: AsInputValue::Borrowed(&*a),
                        b: AsInputValue::Borrowed(&*b),
                        packing,
                    },
                    FusedSpec::Store(store),
                ],
            )?;
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    Ok(((m * k * n) as f64 / best / 1e9, mmm.name().to_string()))
}
