//! What both convolution ops share about tract-linalg's matrix kernels: which one to ask for, the packed
//! buffer carried from tile to tile, and the tiled product itself.

use std::ops::Range;

use tract_core::internal::*;
use tract_core::tract_linalg::mmm::{
    AsInputValue, EagerPackedInput, FusedSpec, MMMInputFormat, MMMInputValue, MatMatMul,
    PackedExoticFact, Query,
};
use tract_core::tract_linalg::{BinOp, MmmDispatch, WeightType};

/// The `m` to ask tract's kernel picker for. On x86-64 its tier policy takes the ymm 8x8 int8 tile for m = 12 (the
/// 3x3 head) and the AVX2 24x4 f32 tile for m = 24, measured 5x and 1.15x slower here than the zmm 16-row tiles
/// it picks for larger m, idle rows included; asking for m rounded up to 16 gets those. Elsewhere (ARM: not
/// measured on a board) tract's own choice stands.
pub fn kernel_rows(m: usize) -> usize {
    if cfg!(target_arch = "x86_64") {
        m.next_multiple_of(16)
    } else {
        m
    }
}

/// The buffer of the previous tile if nothing else holds it any more and it is large enough, else a new zeroed
/// one (kept in `buffer` for the next tile). Stale bytes past what a tile writes sit in the spare columns of its
/// last panel, whose results the kernel discards, and (f32) are finite values of an earlier tile.
pub fn reuse_or_allocate(buffer: &mut Option<Arc<Blob>>, size: usize, align: usize) -> &mut Blob {
    let reusable = buffer.as_mut().and_then(Arc::get_mut).is_some_and(|b| {
        b.as_bytes().len() >= size && (b.as_bytes().as_ptr() as usize).is_multiple_of(align)
    });
    if !reusable {
        // SAFETY: size and alignment as tract's own packers allocate them; zeroed before any use.
        let mut blob = unsafe { Blob::new_for_size_and_align(size, align) };
        blob.as_bytes_mut().fill(0);
        *buffer = Some(Arc::new(blob));
    }
    Arc::get_mut(buffer.as_mut().expect("just set")).expect("not shared: checked or just made")
}

/// `reuse_or_allocate` for `len` f32s, as a slice: the panels an f32 op writes itself.
pub fn reuse_or_allocate_f32(
    buffer: &mut Option<Arc<Blob>>,
    len: usize,
    align: usize,
) -> &mut [f32] {
    let blob = reuse_or_allocate(buffer, len * 4, align.max(4));
    // SAFETY: the blob holds at least len f32s (just checked or made), aligned to at least 4 bytes.
    unsafe { std::slice::from_raw_parts_mut(blob.as_bytes_mut().as_mut_ptr() as *mut f32, len) }
}

/// The packed operand an op wrote itself into `buffer`: `mn` rows or columns of depth `k` in `format`'s
/// panels of `panel_bytes` each.
pub fn packed_operand(
    format: Box<dyn MMMInputFormat>,
    buffer: &Option<Arc<Blob>>,
    k: usize,
    mn: usize,
    panel_bytes: usize,
) -> EagerPackedInput {
    EagerPackedInput {
        fact: PackedExoticFact {
            format,
            mn: mn.to_dim(),
            k,
        },
        packed: buffer.clone().expect("written by the caller"),
        panel_bytes,
        mn,
    }
}

/// A convolution's weights packed once for the matrix kernel tract-linalg picks, with its bias, and the loop
/// that multiplies them by the im2col of the output columns tile by tile. Both convolution ops run through it;
/// they differ in their element types, how they pack a tile and what they do with its product.
#[derive(Clone)]
pub struct PackedMatmul {
    pub mmm: Box<dyn MatMatMul>,
    packing: usize,
    m: usize,
    weights: Arc<Box<dyn MMMInputValue>>,
    /// [m], in the accumulator's type: added to every column of the product.
    bias: Arc<Tensor>,
}

impl PackedMatmul {
    /// `weights`: [m, k] of the operands' type; `bias`: [m] of the accumulator's; `n`: the output columns.
    pub fn new(weights: &Tensor, bias: Tensor, n: usize) -> TractResult<PackedMatmul> {
        let &[m, k] = weights.shape() else {
            bail!("weights of shape {:?}, expected [m, k]", weights.shape());
        };
        ensure!(
            bias.shape() == [m],
            "bias of shape {:?} for {m} rows",
            bias.shape()
        );
        let dt = weights.datum_type();
        let query = Query {
            weight: WeightType::Plain(dt),
            activation: dt,
            accumulators: tvec!(bias.datum_type()),
            store: None,
            allow_extractor: false,
            m: Some(kernel_rows(m)),
            k: Some(k),
            n: Some(n),
        };
        let (mmm, packing, _) = MmmDispatch::native()
            .pick(&query)
            .with_context(|| format!("no {dt:?} matrix kernel on this machine"))?;
        let packed = mmm.packings()[packing].0.prepare_one(weights, 1, 0)?;
        Ok(PackedMatmul {
            mmm,
            packing,
            m,
            weights: Arc::new(packed),
            bias: Arc::new(bias),
        })
    }

    /// The packing the im2col columns must come in.
    pub fn columns_format(&self) -> &dyn MMMInputFormat {
        &*self.mmm.packings()[self.packing].1
    }

    /// The product with n columns, `tile` at a time: `pack(columns, buffer)` packs the im2col of those columns
    /// (`buffer` carries the packed buffer from tile to tile, see `reuse_or_allocate`), `take(first column,
    /// product)` receives the m x width product, bias added.
    pub fn run_tiles(
        &self,
        n: usize,
        tile: usize,
        mut pack: impl FnMut(
            Range<usize>,
            &mut Option<Arc<Blob>>,
        ) -> TractResult<Box<dyn MMMInputValue>>,
        mut take: impl FnMut(usize, &Tensor) -> TractResult<()>,
    ) -> TractResult<()> {
        let acc_dt = self.bias.datum_type();
        // SAFETY (both uninitialised tensors): the accumulator type is the bias's, f32 or i32, with no invalid bit
        // patterns, and the kernel's Store below writes all m x width of it before `take` reads it.
        let mut acc = unsafe { Tensor::uninitialized_dt(acc_dt, &[self.m, tile])? };
        // SAFETY: scratch space made by this kernel, for this kernel.
        let mut scratch = unsafe { self.mmm.allocate_scratch_space() };
        let mut buffer = None;
        for start in (0..n).step_by(tile) {
            let cols = start..(start + tile).min(n);
            let width = cols.len();
            let packed = pack(cols, &mut buffer)?;
            if width != acc.shape()[1] {
                acc = unsafe { Tensor::uninitialized_dt(acc_dt, &[self.m, width])? };
            }
            // SAFETY: the weights were packed by this kernel's packer for m x k and `pack` packs k x width in
            // `columns_format`; the bias holds m values and the store view covers the whole m x width product.
            unsafe {
                let store = self.mmm.c_view(Some(0), Some(1)).wrap(&acc.view_mut());
                self.mmm.run_with_scratch_space(
                    self.m,
                    width,
                    &mut *scratch,
                    &[
                        FusedSpec::AddMatMul {
                            a: AsInputValue::Borrowed(&**self.weights),
                            b: AsInputValue::Borrowed(&*packed),
                            packing: self.packing,
                        },
                        FusedSpec::BinPerRow(self.bias.view(), BinOp::Add),
                        FusedSpec::Store(store),
                    ],
                )?;
            }
            take(start, &acc)?;
        }
        Ok(())
    }
}
