//! A float convolution in cache-sized column tiles on tract-linalg's f32 matrix kernel.
//!
//! tract 0.23.9 lowers a 3x3 convolution either to its direct spatial kernel or to a lazy im2col feeding the
//! matrix kernel (docs/performance.md: both under 20 GMAC/s here on our 24- and 48-channel layers, against 45-65 for
//! the kernel alone). This op builds the im2col of a tile of output columns (at most `tile_bytes` of it, so it
//! stays in the L2 cache), packs it with the kernel's own packer and multiplies, with the bias fused.

use std::fmt;
use std::ops::Range;

use tract_core::internal::*;
use tract_core::tract_linalg::mmm::MMMInputValue;
use tract_core::tract_linalg::pack::PackedFormat;

use super::conv_geometry::{conv_op_plumbing, write_row, ConvGeometry, Segment};
use super::graph::{conv_patch, float_conv_at};
use super::kernel::{packed_operand, reuse_or_allocate_f32, PackedMatmul};
use crate::cpu::with_avx512;

#[derive(Clone)]
pub struct F32Conv {
    geometry: ConvGeometry,
    matmul: PackedMatmul,
    /// Bytes of im2col per tile (tests shrink it to cross tile edges).
    pub tile_bytes: usize,
    /// Write im2col straight into the kernel's panels where the packing allows it (false: tract's packer).
    pub direct_pack: bool,
    /// A ReLU folded in from the graph (done as the product is copied out).
    pub relu: bool,
    /// As given, for comparing two ops (the packed copy is the kernel's business).
    weights: Arc<Vec<f32>>,
    bias: Arc<Vec<f32>>,
}

impl fmt::Debug for F32Conv {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "F32Conv({:?}, {})",
            self.geometry,
            self.matmul.mmm.name()
        )
    }
}

impl PartialEq for F32Conv {
    fn eq(&self, other: &Self) -> bool {
        self.geometry == other.geometry
            && self.bias == other.bias
            && self.weights == other.weights
            && self.matmul.mmm.name() == other.matmul.mmm.name()
            && self.relu == other.relu
    }
}
impl Eq for F32Conv {}

impl F32Conv {
    /// The matrix kernel's name, for the plan's listing.
    fn kernel_name(&self) -> &str {
        self.matmul.mmm.name()
    }

    /// `weights`: [out_channels, in_channels * kh * kw]; `bias`: [out_channels].
    pub fn new(geometry: ConvGeometry, weights: Vec<f32>, bias: Vec<f32>) -> TractResult<F32Conv> {
        let (m, k, n) = (geometry.out_channels, geometry.k(), geometry.n());
        ensure!(
            weights.len() == m * k && bias.len() == m,
            "weights or bias do not fit {m}x{k}"
        );
        let matmul = PackedMatmul::new(&tensor1(&weights).into_shape(&[m, k])?, tensor1(&bias), n)?;
        Ok(F32Conv {
            geometry,
            matmul,
            tile_bytes: 512 << 10,
            direct_pack: true,
            relu: false,
            weights: Arc::new(weights),
            bias: Arc::new(bias),
        })
    }

    /// One row of the im2col matrix over a tile's columns, given its runs; 0 outside the frame.
    fn im2col_row(&self, x: &[f32], runs: impl Iterator<Item = Segment>, row: &mut [f32]) {
        write_row(row, 0.0, runs, |s, dst| {
            if s.step == 1 {
                dst.copy_from_slice(&x[s.src..s.src + s.len]);
            } else if s.step == 2 {
                gather_even(&x[s.src..], dst);
            } else {
                for (d, v) in dst.iter_mut().zip(x[s.src..].iter().step_by(s.step)) {
                    *d = *v;
                }
            }
        });
    }

    /// Columns `cols` of the im2col matrix, packed for the kernel: for tract's plain panels, rows go straight
    /// into the panels (panel p, row kk: the r floats at kk * r); any other packing gets the plain matrix
    /// (`matrix`, k x cols) and tract's own packer.
    fn packed_columns(
        &self,
        x: &[f32],
        cols: Range<usize>,
        matrix: &mut [f32],
        buffer: &mut Option<Arc<Blob>>,
    ) -> TractResult<Box<dyn MMMInputValue>> {
        let (k, width) = (self.geometry.k(), cols.len());
        let format = self.matmul.columns_format();
        if let Some(f) = format
            .downcast_ref::<PackedFormat>()
            .filter(|_| self.direct_pack)
        {
            let r = f.r;
            let panel_len = f.single_panel_len(k);
            let panels = width.div_ceil(r);
            // Zeroed when first allocated: the end-padding rows are never written; the last panel's spare
            // columns hold zeros or finite values of an earlier tile (never denormals from garbage).
            let packed = reuse_or_allocate_f32(buffer, panels * panel_len, f.alignment_bytes);
            let row = &mut matrix[..width];
            let runs = self.geometry.tile_segments(cols);
            for kk in 0..k {
                self.im2col_row(x, runs.row(kk), row);
                match r {
                    4 => scatter_row::<4>(row, packed, panel_len, kk),
                    8 => scatter_row::<8>(row, packed, panel_len, kk),
                    12 => scatter_row::<12>(row, packed, panel_len, kk),
                    16 => scatter_row::<16>(row, packed, panel_len, kk),
                    _ => {
                        for (panel, c) in packed.chunks_exact_mut(panel_len).zip(row.chunks(r)) {
                            panel[kk * r..][..c.len()].copy_from_slice(c);
                        }
                    }
                }
            }
            return Ok(Box::new(packed_operand(
                Box::new(f.clone()),
                buffer,
                k,
                width,
                panel_len * 4,
            )));
        }
        let matrix = &mut matrix[..k * width];
        let runs = self.geometry.tile_segments(cols);
        for (kk, row) in matrix.chunks_exact_mut(width).enumerate() {
            self.im2col_row(x, runs.row(kk), row);
        }
        format.prepare_one(&tensor1(matrix).into_shape(&[k, width])?, 0, 1)
    }

    /// Output columns per tile: a whole number of the kernel's column panels (so that only the last tile has a
    /// partial one), about `tile_bytes` of im2col.
    fn tile_columns(&self) -> usize {
        let r = self.matmul.columns_format().r();
        (self.tile_bytes / (4 * self.geometry.k())).max(4 * r) / r * r
    }

    fn run(&self, x: &[f32]) -> TractResult<Tensor> {
        let g = &self.geometry;
        let (k, n) = (g.k(), g.n());
        let tile = self.tile_columns().min(n);
        // The output tensor is written in place (a Vec turned into a tensor is copied once more).
        // SAFETY: f32 has no invalid bit patterns, and the tiles cover columns 0..n of every output channel, each
        // written once below before the tensor is returned.
        let mut output = unsafe { Tensor::uninitialized::<f32>(&g.output_shape())? };
        let mut plain = output.try_as_plain_ram_mut()?;
        let y = plain.as_slice_mut::<f32>()?;
        let mut matrix = vec![0f32; k * tile];
        self.matmul.run_tiles(
            n,
            tile,
            |cols, buffer| self.packed_columns(x, cols, &mut matrix, buffer),
            |start, acc| {
                let acc = acc.try_as_plain_ram()?;
                let acc = acc.as_slice::<f32>()?;
                let width = acc.len() / g.out_channels;
                for (c, accs) in acc.chunks_exact(width).enumerate() {
                    let out = &mut y[c * n + start..][..width];
                    if self.relu {
                        for (o, a) in out.iter_mut().zip(accs) {
                            *o = a.max(0.0);
                        }
                    } else {
                        out.copy_from_slice(accs);
                    }
                }
                Ok(())
            },
        )?;
        Ok(output)
    }
}

/// `dst[i] = src[2 i]`: a stride-2 convolution's taps along a row. Element by element this gather was most of the
/// stride-2 layers' im2col time; on x86-64 with AVX-512 it takes 16 at a time with one two-source permute.
fn gather_even(src: &[f32], dst: &mut [f32]) {
    let done = with_avx512!(gather_even_avx512(src, dst), 0);
    for (d, v) in dst[done..]
        .iter_mut()
        .zip(src[2 * done..].iter().step_by(2))
    {
        *d = *v;
    }
}

/// `gather_even` for the whole 16-output chunks whose 32 source values lie inside `src`; returns how many outputs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn gather_even_avx512(src: &[f32], dst: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    const EVEN: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
    let chunks = dst.len().min(src.len() / 2) / 16;
    // SAFETY: chunk c reads src[32 c .. 32 c + 32] and writes dst[16 c .. 16 c + 16], inside both by `chunks`.
    unsafe {
        let even = _mm512_loadu_si512(EVEN.as_ptr().cast());
        for c in 0..chunks {
            let lo = _mm512_loadu_ps(src.as_ptr().add(32 * c));
            let hi = _mm512_loadu_ps(src.as_ptr().add(32 * c + 16));
            _mm512_storeu_ps(
                dst.as_mut_ptr().add(16 * c),
                _mm512_permutex2var_ps(lo, even, hi),
            );
        }
    }
    16 * chunks
}

/// Row `kk` of an im2col tile into R-wide panels: panel p gets columns p*R..p*R+R at kk * R. A constant R
/// turns the many small copies into plain vector moves instead of memcpy calls.
#[inline(always)]
fn scatter_row<const R: usize>(row: &[f32], packed: &mut [f32], panel_len: usize, kk: usize) {
    let mut panels = packed.chunks_exact_mut(panel_len);
    let mut chunks = row.chunks_exact(R);
    // Chunks first: zip stops on the first None, so the panel for the remainder is not consumed.
    for (c, panel) in (&mut chunks).zip(&mut panels) {
        let dst: &mut [f32; R] = (&mut panel[kk * R..kk * R + R]).try_into().expect("R wide");
        *dst = c.try_into().expect("R wide");
    }
    let rest = chunks.remainder();
    if let Some(panel) = panels.next().filter(|_| !rest.is_empty()) {
        panel[kk * R..][..rest.len()].copy_from_slice(rest);
    }
}

conv_op_plumbing!(F32Conv, f32);

/// Any other float convolution with a kernel (not 1x1) becomes `F32Conv`.
pub(super) fn f32_conv_patch(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<TypedModelPatch>> {
    let Some((conv, geometry, weights)) = float_conv_at(model, id)? else {
        return Ok(None);
    };
    conv_patch(
        model,
        id,
        conv.x,
        F32Conv::new(geometry, weights, conv.bias)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restorer::reference::{conv_f32, f32_case, worst_difference};

    #[test]
    fn even_gather_takes_every_other_value_for_any_length() {
        let src: Vec<f32> = (0..101).map(|i| i as f32).collect();
        for n in 0..51 {
            for extra in [0usize, 1] {
                let src = &src[..(2 * n + extra).saturating_sub(1).min(src.len())];
                let want: Vec<f32> = src.iter().step_by(2).copied().collect();
                let mut dst = vec![-1.0; want.len()];
                gather_even(src, &mut dst);
                assert_eq!(dst, want, "{} values", src.len());
            }
        }
    }

    #[test]
    fn tiled_convolution_matches_the_definition() {
        let cases = [
            (13, 24, (3, 3), (1, 1), (1, 1), (17, 23)),
            (5, 48, (3, 3), (2, 2), (1, 1), (15, 21)),
            (24, 12, (3, 3), (1, 1), (1, 1), (16, 16)),
            (3, 5, (3, 3), (2, 2), (0, 0), (9, 9)),
            // rows of 37 and 38 stride-2 outputs: whole 16-wide gathers and their remainders
            (4, 12, (3, 3), (2, 2), (1, 1), (7, 75)),
            (4, 12, (3, 3), (2, 2), (0, 0), (7, 77)),
        ];
        for (cin, cout, kernel, stride, pad, input) in cases {
            let output = (
                (input.0 + 2 * pad.0 - kernel.0) / stride.0 + 1,
                (input.1 + 2 * pad.1 - kernel.1) / stride.1 + 1,
            );
            let g = ConvGeometry {
                in_channels: cin,
                out_channels: cout,
                kernel,
                stride,
                pad,
                input,
                output,
            };
            let (w, b, x) = f32_case(&g);
            let expected = conv_f32(&g, &w, &b, &x);
            for (direct_pack, tile_bytes, relu) in [
                (true, 1 << 30, false),
                (false, 1 << 30, false),
                (true, 1, false),
                (false, 1, true),
            ] {
                let mut op = F32Conv::new(g.clone(), w.clone(), b.clone()).unwrap();
                op.tile_bytes = tile_bytes;
                op.direct_pack = direct_pack;
                op.relu = relu;
                let expected: Vec<f32> = if relu {
                    expected.iter().map(|v| v.max(0.0)).collect()
                } else {
                    expected.clone()
                };
                let worst = worst_difference(&op.run(&x).unwrap(), &expected);
                assert!(worst < 1e-5, "cin {cin} cout {cout} stride {stride:?} pack {direct_pack} tile {tile_bytes}: off by {worst}");
            }
        }
    }
}
