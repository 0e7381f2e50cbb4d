//! A float 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, 2016, "Fast
//! Algorithms for Convolutional Neural Networks"), on tract-linalg's f32 matrix kernel.
//!
//! Every 4x4 block of outputs is `A^T [U ⊙ V] A`, with `U = G g G^T` the 6x6 transform of a 3x3 filter and
//! `V = B^T d B` that of the block's 6x6 input patch. Summed over input channels, the 36 element-wise products of
//! all blocks are 36 matrix products `V_ξ [blocks x in] x U_ξ [in x out]`: 2.25 multiply-adds per output and
//! channel pair where im2col needs 9, 4x fewer, and 2.25 transformed values per output and channel to write where
//! im2col writes 9. Those products have only `in` (17-96) as their depth, where tract-linalg's kernel runs at a
//! third to a half of its peak (per-tile overhead); F(2x2, 3x3), with 2.25x fewer multiply-adds, was measured no
//! faster than im2col for that reason (docs/performance.md).
//!
//! The frame is the kernel's row side and the weights its column side: the product then comes out with the
//! blocks of one output channel contiguous (what the output transform reads), and the kernel's column tile (12 on
//! AVX-512) divides our channel counts (12, 24, 48, 96). Blocks go through in groups of about `tile_bytes` of
//! transformed input, which stay in the cache between the transform and the products.
//!
//! The bias rides on the product for ξ = (1, 1): every row of `A^T` holds a 1 in column 1, so a constant added
//! there reaches each of the 16 outputs once. F(4x4, 3x3) rounds differently from the direct sum: up to 2e-6 of
//! the activations' scale here (the tests bound it against the definition, and the models against onnxruntime).

use std::fmt;

use tract_core::internal::*;
use tract_core::tract_linalg::mmm::{
    AsInputValue, FusedSpec, MMMInputValue, MatMatMul, Query, ScratchSpace,
};
use tract_core::tract_linalg::pack::PackedFormat;
use tract_core::tract_linalg::{BinOp, MmmDispatch, WeightType};

mod lanes;

use crate::cpu::with_avx512;
use crate::restorer::conv_geometry::{conv_op_plumbing, ConvGeometry};
use crate::restorer::graph::{conv_patch, float_conv_at};
use crate::restorer::kernel::{packed_operand, reuse_or_allocate_f32};
use lanes::{a_transpose, b_transpose_slices, deinterleave, interleave, load, LANES};

/// Outputs per block side, input patch side, transform positions.
const OUT: usize = 4;
const PATCH: usize = 6;
const POSITIONS: usize = PATCH * PATCH;

/// The filter transform (6x3) of F(4x4, 3x3), in f64 for the one-time weight transform.
const G: [[f64; 3]; PATCH] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// The transform position whose product carries the bias (see the module comment).
const BIAS_POSITION: usize = PATCH + 1;

/// The f32 kernel asked for on x86-64, where tract's picker answers these shapes erratically (48x4, 80x2, 40x2
/// or 16x12 by channel count; docs/performance.md). Elsewhere tract's own pick stands (ARM: not measured on a board).
const X86_KERNEL: &str = "avx512_mmm_f32_16x12";

#[derive(Clone)]
pub struct WinogradConv {
    geometry: ConvGeometry,
    mmm: Box<dyn MatMatMul>,
    packing: usize,
    /// `U_ξ` [in, out] for the 36 positions ξ = 6 i + j of the transformed tile, packed as the kernel's columns.
    filters: Arc<Vec<Box<dyn MMMInputValue>>>,
    bias: Arc<Tensor>,
    /// Transformed-input bytes per group of blocks (tests shrink it to cross group edges).
    pub tile_bytes: usize,
    /// What follows the convolution in the graph, done as each output row is written.
    pub epilogue: Epilogue,
    /// As given, for comparing two ops.
    weights: Arc<Vec<f32>>,
}

/// The element-wise ops after a convolution that the rewrite folds into it: the network's `relu(conv(x))` and
/// its residual blocks' `relu(conv(x)) + x` (tract would make a pass over the output for each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Epilogue {
    #[default]
    None,
    Relu,
    /// ReLU, then the convolution's own input added (same shape in and out).
    ReluPlusInput,
}

impl fmt::Debug for WinogradConv {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WinogradConv({:?}, {})", self.geometry, self.mmm.name())
    }
}

impl PartialEq for WinogradConv {
    fn eq(&self, other: &Self) -> bool {
        self.geometry == other.geometry
            && self.bias == other.bias
            && self.weights == other.weights
            && self.mmm.name() == other.mmm.name()
            && self.epilogue == other.epilogue
    }
}
impl Eq for WinogradConv {}

/// Where `transform_input` writes: the 36 positions' row panels of a group (r blocks per panel, `panel_len`
/// floats each), from the group's block `column` on.
struct PanelsAt<'a> {
    panels: Vec<&'a mut [f32]>,
    r: usize,
    panel_len: usize,
    column: usize,
}

/// Per-call buffers of the transforms, reused across block rows.
#[derive(Default)]
struct Scratch {
    /// The 6 patch rows of a block row, by column phase (column mod 4).
    phases: [[Vec<f32>; PATCH]; OUT],
    /// `B^T d` along the rows, for each column phase.
    t: [[Vec<f32>; PATCH]; OUT],
}

impl WinogradConv {
    /// The matrix kernel's name, for the plan's listing.
    fn kernel_name(&self) -> &str {
        self.mmm.name()
    }

    /// Whether this op computes `geometry`: 3x3 kernels at stride 1 (any zero padding).
    pub fn fits(geometry: &ConvGeometry) -> bool {
        geometry.kernel == (3, 3) && geometry.stride == (1, 1)
    }

    /// `weights`: [out_channels, in_channels * 9]; `bias`: [out_channels]. Fails (and the caller keeps another
    /// op) where the geometry does not fit or the kernel does not take plain row panels.
    pub fn new(
        geometry: ConvGeometry,
        weights: Vec<f32>,
        bias: Vec<f32>,
    ) -> TractResult<WinogradConv> {
        ensure!(Self::fits(&geometry), "not a 3x3 stride-1 convolution");
        let (cin, cout) = (geometry.in_channels, geometry.out_channels);
        ensure!(
            weights.len() == cout * cin * 9 && bias.len() == cout,
            "weights or bias do not fit {cout}x{cin}x3x3"
        );
        // U_ξ as [in, out] matrices.
        let mut u = vec![vec![0f32; cin * cout]; POSITIONS];
        for (pair, g) in weights.chunks_exact(9).enumerate() {
            let (co, ci) = (pair / cin, pair % cin);
            // G g: 6x3, then (G g) G^T: 6x6.
            let mut gg = [[0f64; 3]; PATCH];
            for (i, row) in gg.iter_mut().enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = (0..3).map(|k| G[i][k] * g[k * 3 + c] as f64).sum();
                }
            }
            for i in 0..PATCH {
                for j in 0..PATCH {
                    u[i * PATCH + j][ci * cout + co] =
                        (0..3).map(|c| gg[i][c] * G[j][c]).sum::<f64>() as f32;
                }
            }
        }
        let (bh, bw) = blocks(&geometry);
        let query = Query {
            weight: WeightType::Plain(f32::datum_type()),
            activation: f32::datum_type(),
            accumulators: tvec!(f32::datum_type()),
            store: None,
            allow_extractor: false,
            m: Some(bh * bw),
            k: Some(cin),
            n: Some(cout),
        };
        let dispatch = MmmDispatch::native();
        let suitable = dispatch.suitable(&query);
        let (mmm, packing, _) = suitable
            .iter()
            .find(|(mmm, _, pe)| {
                cfg!(target_arch = "x86_64") && mmm.name() == X86_KERNEL && pe.is_none()
            })
            .cloned()
            .or_else(|| dispatch.pick(&query))
            .context("no f32 matrix kernel on this machine")?;
        let (rows, columns) = &mmm.packings()[packing];
        ensure!(
            rows.downcast_ref::<PackedFormat>().is_some(),
            "kernel {} does not take plain row panels",
            mmm.name()
        );
        let filters = u
            .iter()
            .map(|u| columns.prepare_one(&tensor1(u).into_shape(&[cin, cout])?, 0, 1))
            .collect::<TractResult<Vec<_>>>()?;
        Ok(WinogradConv {
            geometry,
            mmm,
            packing,
            filters: Arc::new(filters),
            bias: Arc::new(tensor1(&bias)),
            tile_bytes: 512 << 10,
            epilogue: Epilogue::None,
            weights: Arc::new(weights),
        })
    }

    /// This convolution followed by `epilogue`, if it can do that: a ReLU after none, the residual sum after
    /// the ReLU where the output has the input's shape.
    pub fn with_epilogue(&self, epilogue: Epilogue) -> Option<WinogradConv> {
        let g = &self.geometry;
        let fits = match (self.epilogue, epilogue) {
            (Epilogue::None, Epilogue::Relu) => true,
            (Epilogue::Relu, Epilogue::ReluPlusInput) => {
                g.in_channels == g.out_channels && g.input == g.output
            }
            _ => false,
        };
        fits.then(|| WinogradConv {
            epilogue,
            ..self.clone()
        })
    }

    fn rows_format(&self) -> &PackedFormat {
        self.mmm.packings()[self.packing]
            .0
            .downcast_ref::<PackedFormat>()
            .expect("checked in new")
    }

    /// Blocks per group: a whole number of the kernel's row panels, about `tile_bytes` of transformed input.
    fn group_blocks(&self) -> usize {
        let r = self.rows_format().r;
        (self.tile_bytes / (POSITIONS * 4 * self.geometry.in_channels)).max(4 * r) / r * r
    }

    /// `V` of channel `ci` for blocks `lo..hi` of block row `by`, written into the row panels `out` (the group's
    /// block `out.column` is block `lo` here). Every loop runs over whole equal-length slices, so that it compiles
    /// to vector code.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn transform_input<const AVX512: bool>(
        &self,
        x: &[f32],
        ci: usize,
        by: usize,
        lo: usize,
        hi: usize,
        s: &mut Scratch,
        out: &mut PanelsAt,
    ) {
        let (h, w) = self.geometry.input;
        let (py, px) = self.geometry.pad;
        let n = hi - lo;
        // The patch rows 4 by .. 4 by + 6 (padded coordinates: input row and column minus the padding; zero
        // outside the frame) over columns 4 lo .. 4 hi + 4, split by column phase (column mod 4): block k reads
        // phases 0-3 at k and phases 0-1 at k + 1.
        // Patch position q (0 .. 4 (n + 1)) is input column 4 lo + q - px: inside the frame for first <= q < last.
        let span = OUT * (n + 1);
        let first = px.saturating_sub(OUT * lo).min(span);
        let last = (w + px).saturating_sub(OUT * lo).clamp(first, span);
        // Blocks whose four columns are all inside the frame are read straight from the input row; the few at
        // the edges column by column (a copy of each row into a zero-padded line first was 5% of an f32 step).
        let (inner_lo, inner_hi) = (first.div_ceil(OUT), (last / OUT).max(first.div_ceil(OUT)));
        // The phase rows' length, n + 1 rounded up to whole LANES chunks: a partial chunk's copies were memcpy calls
        // (5% of an f32 step).
        let whole = (n + 1).next_multiple_of(LANES);
        for r in 0..PATCH {
            let [p0, p1, p2, p3] = &mut s.phases;
            let rows = [&mut p0[r], &mut p1[r], &mut p2[r], &mut p3[r]];
            for row in rows {
                row.resize(whole, 0.0);
            }
            let (a, b) = (&mut p0[r][..n + 1], &mut p1[r][..n + 1]);
            let (c, d) = (&mut p2[r][..n + 1], &mut p3[r][..n + 1]);
            let Some(iy) = (OUT * by + r).checked_sub(py).filter(|&iy| iy < h) else {
                for phase in [a, b, c, d] {
                    phase.fill(0.0);
                }
                continue;
            };
            let row = &x[(ci * h + iy) * w..][..w];
            // (Loops, not a closure: a closure here stayed a call in the AVX-512 copy.)
            for k in (0..inner_lo).chain(inner_hi..n + 1) {
                let mut quad = [0f32; OUT];
                for (p, v) in quad.iter_mut().enumerate() {
                    let q = OUT * k + p;
                    if (first..last).contains(&q) {
                        *v = row[OUT * lo + q - px];
                    }
                }
                (a[k], b[k], c[k], d[k]) = (quad[0], quad[1], quad[2], quad[3]);
            }
            if inner_lo < inner_hi {
                let inner = &row[OUT * (lo + inner_lo) - px..OUT * (lo + inner_hi) - px];
                let (a, b) = (&mut a[inner_lo..inner_hi], &mut b[inner_lo..inner_hi]);
                let (c, d) = (&mut c[inner_lo..inner_hi], &mut d[inner_lo..inner_hi]);
                deinterleave::<AVX512>(inner, [a, b, c, d]);
            }
        }
        // B^T d along the rows, for each column phase, over whole chunks (the lanes past n + 1 are never read).
        for (phase, t) in s.t.iter_mut().enumerate() {
            let rows = &s.phases[phase];
            let d: [&[f32]; PATCH] = [
                &rows[0][..whole],
                &rows[1][..whole],
                &rows[2][..whole],
                &rows[3][..whole],
                &rows[4][..whole],
                &rows[5][..whole],
            ];
            for row in t.iter_mut() {
                row.resize(whole, 0.0);
            }
            let [t0, t1, t2, t3, t4, t5] = t;
            let t = [
                &mut t0[..],
                &mut t1[..],
                &mut t2[..],
                &mut t3[..],
                &mut t4[..],
                &mut t5[..],
            ];
            b_transpose_slices(d, t, whole);
        }
        // ... then B along the columns: block k's columns are phases 0-3 at k, then phases 0-1 at k + 1. Each run
        // of blocks inside one row panel goes straight to its place there: block c of the group at panel c / r,
        // row ci, lane c % r.
        let mut k0 = 0;
        while k0 < n {
            let c = out.column + k0;
            let (panel, lane) = (c / out.r, c % out.r);
            let len = (out.r - lane).min(n - k0);
            let at = panel * out.panel_len + ci * out.r + lane;
            for i in 0..PATCH {
                // (Indexing, not a closure: closures stay calls in the AVX-512 copy.)
                let span = k0..k0 + len + 1;
                let (q0, q1) = (&s.t[0][i][span.clone()], &s.t[1][i][span.clone()]);
                let (q2, q3) = (&s.t[2][i][span.clone()], &s.t[3][i][span]);
                let columns = [q0, q1, q2, q3, &q0[1..], &q1[1..]];
                let [v0, v1, v2, v3, v4, v5] = &mut out.panels[PATCH * i..PATCH * (i + 1)] else {
                    unreachable!("six positions")
                };
                let v = [
                    &mut v0[at..at + len],
                    &mut v1[at..at + len],
                    &mut v2[at..at + len],
                    &mut v3[at..at + len],
                    &mut v4[at..at + len],
                    &mut v5[at..at + len],
                ];
                b_transpose_slices(columns, v, len);
            }
            k0 += len;
        }
    }

    /// `A^T M A` of the products `m` (36 x [out_channels, group], block b at column b - first) for blocks
    /// `first..first + width`, into the output.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn transform_output<const AVX512: bool>(
        &self,
        m: &[f32],
        group: usize,
        first: usize,
        width: usize,
        x: &[f32],
        y: &mut [f32],
    ) {
        let (oh, ow) = self.geometry.output;
        let bw = blocks(&self.geometry).1;
        let cout = self.geometry.out_channels;
        let plane = cout * group;
        // Where the rows of the last block row past the frame go.
        let mut spare = vec![0f32; OUT * ow];
        for (by, lo, hi) in block_rows(first..first + width, bw) {
            let n = hi - lo;
            for co in 0..cout {
                let at = co * group + by * bw + lo - first;
                // Output rows 4 by .. 4 by + 4 (those past the frame into `spare`), from column 4 lo on.
                let plane_out = &mut y[co * oh * ow..][..oh * ow];
                let live = (oh - OUT * by).min(OUT);
                let (_, below) = plane_out.split_at_mut(OUT * by * ow);
                let mut rows: Vec<&mut [f32]> = below[..live * ow]
                    .chunks_exact_mut(ow)
                    .map(|r| &mut r[OUT * lo..])
                    .collect();
                rows.extend(
                    spare
                        .chunks_exact_mut(ow)
                        .take(OUT - live)
                        .map(|r| &mut r[OUT * lo..]),
                );
                // Each column j of the blocks' 6x6 products, then each row a of that: A^T M A, LANES blocks at a
                // time; row a of each block goes to output row 4 by + a, its 4 columns side by side.
                let mut column = [[0f32; LANES]; PATCH];
                let mut y = [[0f32; LANES]; OUT];
                // c[a][j]: row a of A^T applied to column j of the blocks' products.
                let mut c = [[[0f32; LANES]; PATCH]; OUT];
                for k in (0..n).step_by(LANES) {
                    let w = (n - k).min(LANES);
                    for j in 0..PATCH {
                        for (i, lanes) in column.iter_mut().enumerate() {
                            load(lanes, &m[(PATCH * i + j) * plane + at + k..][..w]);
                        }
                        a_transpose(&column, &mut y);
                        for (c, y) in c.iter_mut().zip(&y) {
                            c[j] = *y;
                        }
                    }
                    for (a, row) in rows.iter_mut().enumerate() {
                        let oy = OUT * by + a;
                        a_transpose(&c[a], &mut y);
                        if self.epilogue != Epilogue::None {
                            for lanes in &mut y {
                                for v in lanes {
                                    *v = v.max(0.0);
                                }
                            }
                        }
                        let cols = (ow - OUT * (lo + k)).min(OUT * w);
                        let dst = &mut row[OUT * k..OUT * k + cols];
                        match <&mut [f32; OUT * LANES]>::try_from(&mut *dst) {
                            Ok(whole) => interleave::<AVX512>(&y, whole),
                            Err(_) => {
                                for (col, v) in dst.iter_mut().enumerate() {
                                    *v = y[col % OUT][col / OUT];
                                }
                            }
                        }
                        // Rows past the frame are discarded: no input there to add.
                        if self.epilogue == Epilogue::ReluPlusInput && oy < oh {
                            let skip = &x[(co * oh + oy) * ow + OUT * (lo + k)..][..cols];
                            for (v, s) in dst.iter_mut().zip(skip) {
                                *v += s;
                            }
                        }
                    }
                }
            }
        }
    }

    /// `V_ξ x U_ξ` (+ the bias on `BIAS_POSITION`) for the `width` blocks packed in `rows`, into `out`
    /// ([out_channels, at least width]: blocks contiguous).
    fn multiply(
        &self,
        scratch: &mut dyn ScratchSpace,
        xi: usize,
        rows: &dyn MMMInputValue,
        out: &TensorView,
    ) -> TractResult<()> {
        let (width, cout) = (rows.mn(), self.geometry.out_channels);
        ensure!(
            rows.k() == self.geometry.in_channels
                && out.shape()[0] == cout
                && out.shape()[1] >= width,
            "Winograd product of {width}x{} into {:?}",
            rows.k(),
            out.shape()
        );
        let matmul = FusedSpec::AddMatMul {
            a: AsInputValue::Borrowed(rows),
            b: AsInputValue::Borrowed(&*self.filters[xi]),
            packing: self.packing,
        };
        // SAFETY: checked above: `out` covers the width x cout product (blocks along its axis 1, channels along
        // axis 0); the filters were packed by this kernel's column packer for in x out; `rows` by its row format
        // (`run`); the scratch space is this kernel's, which the kernel checks too.
        unsafe {
            ensure!(
                self.mmm.can_use_scratch_space(scratch),
                "scratch space of another kernel"
            );
            let store = FusedSpec::Store(self.mmm.c_view(Some(1), Some(0)).wrap(out));
            if xi == BIAS_POSITION {
                let bias = FusedSpec::BinPerCol(self.bias.view(), BinOp::Add);
                self.mmm
                    .run_with_scratch_space(width, cout, scratch, &[matmul, bias, store])
            } else {
                self.mmm
                    .run_with_scratch_space(width, cout, scratch, &[matmul, store])
            }
        }
    }

    /// The transforms are plain loops the compiler vectorises: on x86-64 they are compiled a second time for
    /// AVX-512 (the portable build targets SSE2) and that copy runs where the CPU has it. Both copies do the same
    /// float operations in the same order on each element, so they give the same bits.
    fn run(&self, x: &[f32]) -> TractResult<Tensor> {
        with_avx512!(self.run_avx512(x), self.run_inlined::<false>(x))
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn run_avx512(&self, x: &[f32]) -> TractResult<Tensor> {
        self.run_inlined::<true>(x)
    }

    /// `AVX512`: this copy runs with AVX-512F enabled (x86-64 only), and may use its shuffles.
    #[inline(always)]
    fn run_inlined<const AVX512: bool>(&self, x: &[f32]) -> TractResult<Tensor> {
        let g = &self.geometry;
        let (cin, cout) = (g.in_channels, g.out_channels);
        let (bh, bw) = blocks(g);
        let total = bh * bw;
        let format = self.rows_format().clone();
        let (r, panel_len) = (format.r, format.single_panel_len(cin));
        let group = self.group_blocks().min(total);
        // SAFETY: f32 has no invalid bit patterns, and the output transform writes every output element (every
        // block row, every block, its columns inside the frame) before the tensor is returned.
        let mut output = unsafe { Tensor::uninitialized::<f32>(&g.output_shape())? };
        let mut plain = output.try_as_plain_ram_mut()?;
        let y = plain.as_slice_mut::<f32>()?;
        // SAFETY: f32 has no invalid bit patterns; each group's products are stored for its `width` blocks
        // before the output transform reads those, and the columns past `width` are never read.
        let mut products = unsafe { Tensor::uninitialized::<f32>(&[POSITIONS, cout, group])? };
        // SAFETY: scratch space made by this kernel, used only by `multiply` on this kernel.
        let mut scratch = unsafe { self.mmm.allocate_scratch_space() };
        let mut buffers: Vec<Option<Arc<Blob>>> = vec![None; POSITIONS];
        let mut s = Scratch::default();
        for first in (0..total).step_by(group) {
            let width = group.min(total - first);
            let panels = width.div_ceil(r);
            let panels: Vec<&mut [f32]> = buffers
                .iter_mut()
                .map(|b| reuse_or_allocate_f32(b, panels * panel_len, format.alignment_bytes))
                .collect();
            let mut out = PanelsAt {
                panels,
                r,
                panel_len,
                column: 0,
            };
            for ci in 0..cin {
                for (by, lo, hi) in block_rows(first..first + width, bw) {
                    out.column = by * bw + lo - first;
                    self.transform_input::<AVX512>(x, ci, by, lo, hi, &mut s, &mut out);
                }
            }
            drop(out);
            for (xi, buffer) in buffers.iter().enumerate() {
                let rows =
                    packed_operand(Box::new(format.clone()), buffer, cin, width, panel_len * 4);
                self.multiply(
                    &mut *scratch,
                    xi,
                    &rows,
                    &products.view_at_prefix_mut(&[xi])?,
                )?;
            }
            let m = products.try_as_plain_ram()?;
            self.transform_output::<AVX512>(m.as_slice::<f32>()?, group, first, width, x, y);
        }
        Ok(output)
    }
}

/// The block rows that blocks `range` (numbered row by row, `bw` a row) touch: (block row, first and end block
/// column of the range in it).
fn block_rows(
    range: std::ops::Range<usize>,
    bw: usize,
) -> impl Iterator<Item = (usize, usize, usize)> {
    (range.start / bw..range.end.div_ceil(bw)).map(move |by| {
        let lo = (by * bw).max(range.start) - by * bw;
        let hi = ((by + 1) * bw).min(range.end) - by * bw;
        (by, lo, hi)
    })
}

/// Block rows and columns: 4x4 output blocks, the last ones partly outside the output.
fn blocks(g: &ConvGeometry) -> (usize, usize) {
    (g.output.0.div_ceil(OUT), g.output.1.div_ceil(OUT))
}

conv_op_plumbing!(WinogradConv, f32);

/// A float 3x3 stride-1 convolution becomes `WinogradConv` (where the kernel takes it; else `f32_conv_patch`).
pub(super) fn winograd_conv_patch(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<TypedModelPatch>> {
    let Some((conv, geometry, weights)) = float_conv_at(model, id)? else {
        return Ok(None);
    };
    if !WinogradConv::fits(&geometry) {
        return Ok(None);
    }
    let Ok(op) = WinogradConv::new(geometry, weights, conv.bias) else {
        return Ok(None);
    };
    conv_patch(model, id, conv.x, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restorer::reference::{conv_f32, f32_case, worst_difference};

    #[test]
    fn winograd_convolution_matches_the_definition() {
        // Sizes of every remainder mod 4 (partial blocks), paddings 0-2, channel counts around the kernel's panel
        // widths, and enough blocks to make several groups when `tile_bytes` is 1.
        let cases = [
            (24, 24, (1, 1), (34, 37)),
            (7, 12, (1, 1), (66, 70)),
            (13, 24, (1, 1), (17, 23)),
            (24, 12, (1, 1), (16, 16)),
            (5, 48, (0, 0), (9, 12)),
            (3, 5, (2, 1), (7, 5)),
            (17, 24, (1, 1), (3, 2)),
        ];
        for (cin, cout, pad, input) in cases {
            let output = (input.0 + 2 * pad.0 - 2, input.1 + 2 * pad.1 - 2);
            let g = ConvGeometry {
                in_channels: cin,
                out_channels: cout,
                kernel: (3, 3),
                stride: (1, 1),
                pad,
                input,
                output,
            };
            let (w, b, x) = f32_case(&g);
            let expected = conv_f32(&g, &w, &b, &x);
            let residual = cin == cout && pad == (1, 1);
            for (tile_bytes, epilogue) in [
                (1 << 30, Epilogue::None),
                (1, Epilogue::None),
                (1, Epilogue::Relu),
                (1 << 30, Epilogue::ReluPlusInput),
            ] {
                if epilogue == Epilogue::ReluPlusInput && !residual {
                    continue;
                }
                let mut op = WinogradConv::new(g.clone(), w.clone(), b.clone()).unwrap();
                op.tile_bytes = tile_bytes;
                op.epilogue = epilogue;
                let expected: Vec<f32> = match epilogue {
                    Epilogue::None => expected.clone(),
                    Epilogue::Relu => expected.iter().map(|v| v.max(0.0)).collect(),
                    Epilogue::ReluPlusInput => expected
                        .iter()
                        .zip(&x)
                        .map(|(v, x)| v.max(0.0) + x)
                        .collect(),
                };
                let worst = worst_difference(&op.run(&x).unwrap(), &expected);
                assert!(
                    worst < 1e-5,
                    "cin {cin} cout {cout} pad {pad:?} input {input:?} tile {tile_bytes} {epilogue:?}: off by {worst}"
                );
            }
        }
    }
}
