//! A float 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, 2016, "Fast
//! Algorithms for Convolutional Neural Networks"), on tract-linalg's f32 matrix kernel.
//!
//! Every 4x4 block of outputs is `A^T [U ⊙ V] A`, with `U = G g G^T` the 6x6 transform of a 3x3 filter and
//! `V = B^T d B` that of the block's 6x6 input patch. Summed over input channels, the 36 element-wise products of
//! all blocks are 36 matrix products `V_ξ [blocks x in] x U_ξ [in x out]`: 2.25 multiply-adds per output and
//! channel pair where im2col needs 9, 4x fewer, and 2.25 transformed values per output and channel to write where
//! im2col writes 9. Those products have only `in` (17-96) as their depth, where tract-linalg's kernel runs at a
//! third to a half of its peak (per-tile overhead); F(2x2, 3x3), with 2.25x fewer multiply-adds, was measured no
//! faster than im2col for that reason (README, Speed).
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

use super::conv_geometry::{conv_op_plumbing, ConvGeometry};
use super::kernel::{packed_operand, reuse_or_allocate_f32};

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
/// or 16x12 by channel count; README, Speed). Elsewhere tract's own pick stands (ARM: not measured on a board).
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
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { self.run_avx512(x) };
        }
        self.run_inlined::<false>(x)
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

/// Lanes per vectorised step of the transforms: each formula is written once, over fixed arrays of this many
/// independent columns, a loop the compiler turns into whole vectors (over a run-time length of a few dozen it
/// would mostly run its scalar remainder, and over the 6 or 36 terms of one block it does not vectorise at all).
/// One AVX-512 vector on x86-64; one NEON vector on ARM, where the unrolled code counts against the size budget
/// (8 lanes there put the aarch64 binary 8 KB over a 64 KiB step of its size). Any value gives the same bits:
/// each lane's sums are the same.
const LANES: usize = if cfg!(target_arch = "x86_64") { 16 } else { 4 };

type Lanes = [f32; LANES];
// interleave_avx512 moves whole 16-lane vectors.
const _: () = assert!(!cfg!(target_arch = "x86_64") || LANES == 16);

/// `t = B^T d` for LANES independent columns d of 6 (or, on rows, `d B`). Callers pass two local arrays: over
/// references into their slices the compiler could not rule out that inputs and outputs overlap and left the loop
/// scalar (a quarter of the op's time, measured with perf), and arrays returned by value became memcpy calls.
#[inline(always)]
fn b_transpose(d: &[Lanes; PATCH], t: &mut [Lanes; PATCH]) {
    for l in 0..LANES {
        let (d0, d1, d2, d3, d4, d5) = (d[0][l], d[1][l], d[2][l], d[3][l], d[4][l], d[5][l]);
        t[0][l] = 4.0 * d0 - 5.0 * d2 + d4;
        t[1][l] = -4.0 * (d1 + d2) + d3 + d4;
        t[2][l] = 4.0 * (d1 - d2) - d3 + d4;
        t[3][l] = 2.0 * (d3 - d1) - d2 + d4;
        t[4][l] = 2.0 * (d1 - d3) - d2 + d4;
        t[5][l] = 4.0 * d1 - 5.0 * d3 + d5;
    }
}

/// `y = A^T m` for LANES independent columns m of 6 (on local arrays, as `b_transpose`). Inlined on x86-64;
/// elsewhere its two call sites share one copy (size budget).
#[cfg_attr(target_arch = "x86_64", inline(always))]
fn a_transpose(m: &[Lanes; PATCH], y: &mut [Lanes; OUT]) {
    for l in 0..LANES {
        let (m0, m1, m2, m3, m4, m5) = (m[0][l], m[1][l], m[2][l], m[3][l], m[4][l], m[5][l]);
        y[0][l] = m0 + m1 + m2 + m3 + m4;
        y[1][l] = m1 - m2 + 2.0 * (m3 - m4);
        y[2][l] = m1 + m2 + 4.0 * (m3 + m4);
        y[3][l] = m1 - m2 + 8.0 * (m3 - m4) + m5;
    }
}

/// `outs[j][k] = (B^T (ins[0][k] .. ins[5][k]))[j]` for k < len, LANES at a time (the last chunk through
/// local copies).
// Inlined on x86-64 into the AVX-512 copy of the op; elsewhere one copy serves both call sites (size budget).
#[cfg_attr(target_arch = "x86_64", inline(always))]
fn b_transpose_slices(ins: [&[f32]; PATCH], mut outs: [&mut [f32]; PATCH], len: usize) {
    // Lanes past `len` in the last chunk hold stale values; their results are not stored.
    let mut d = [[0f32; LANES]; PATCH];
    let mut t = [[0f32; LANES]; PATCH];
    for k in (0..len).step_by(LANES) {
        let w = (len - k).min(LANES);
        for (d, input) in d.iter_mut().zip(&ins) {
            load(d, &input[k..k + w]);
        }
        b_transpose(&d, &mut t);
        for (out, t) in outs.iter_mut().zip(&t) {
            store(&mut out[k..k + w], t);
        }
    }
}

/// `lanes[..src.len()] = src`: a whole chunk as a fixed-size copy (vector moves), a partial one out of line.
/// Both as inline copies, the compiler merged them into one memcpy call of run-time length for every chunk
/// (5% of an f32 step).
#[inline(always)]
fn load(lanes: &mut Lanes, src: &[f32]) {
    match <&Lanes>::try_from(src) {
        Ok(whole) => *lanes = *whole,
        Err(_) => copy_partial(&mut lanes[..src.len()], src),
    }
}

#[inline(never)]
fn copy_partial(dst: &mut [f32], src: &[f32]) {
    dst.copy_from_slice(src);
}

/// `phases[p][k] = row[4 k + p]`: an input row split by column phase (mod 4); `row` is 4 x the phases' length.
#[inline(always)]
fn deinterleave<const AVX512: bool>(row: &[f32], phases: [&mut [f32]; OUT]) {
    let [a, b, c, d] = phases;
    // Whole 16-block chunks by shuffles in the AVX-512 copy, the rest (everything elsewhere) one by one.
    let done = if cfg!(target_arch = "x86_64") && AVX512 {
        row.len() / (OUT * LANES) * LANES
    } else {
        0
    };
    #[cfg(target_arch = "x86_64")]
    for ((((quads, a), b), c), d) in row[..OUT * done]
        .chunks_exact(OUT * LANES)
        .zip(a.chunks_exact_mut(LANES))
        .zip(b.chunks_exact_mut(LANES))
        .zip(c.chunks_exact_mut(LANES))
        .zip(d.chunks_exact_mut(LANES))
    {
        // SAFETY: `done` is nonzero only in the copy compiled with AVX-512F, which runs after the CPU was checked.
        unsafe { deinterleave_avx512(quads, [a, b, c, d]) };
    }
    for ((((quad, a), b), c), d) in row[OUT * done..]
        .chunks_exact(OUT)
        .zip(&mut a[done..])
        .zip(&mut b[done..])
        .zip(&mut c[done..])
        .zip(&mut d[done..])
    {
        (*a, *b, *c, *d) = (quad[0], quad[1], quad[2], quad[3]);
    }
}

/// `deinterleave` of 64 values into four 16-lane phases with two rounds of two-source permutes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn deinterleave_avx512(quads: &[f32], phases: [&mut [f32]; OUT]) {
    use std::arch::x86_64::*;
    let [p0, p1, p2, p3] = phases;
    assert!(quads.len() == OUT * LANES);
    assert!(p0.len() == LANES && p1.len() == LANES && p2.len() == LANES && p3.len() == LANES);
    // SAFETY: lengths checked just above; unaligned loads and stores inside them.
    unsafe {
        // No closures or array maps in here: they do not inherit the target feature and stay calls.
        let q = quads.as_ptr();
        let (v0, v1) = (_mm512_loadu_ps(q), _mm512_loadu_ps(q.add(16)));
        let (v2, v3) = (_mm512_loadu_ps(q.add(32)), _mm512_loadu_ps(q.add(48)));
        // Within each pair of source vectors (eight blocks): phases 0 and 1 (resp. 2 and 3), eight values each.
        const PHASES_01: [i32; 16] = [0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29];
        const PHASES_23: [i32; 16] = [2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31];
        let lo01 = _mm512_loadu_si512(PHASES_01.as_ptr().cast());
        let lo23 = _mm512_loadu_si512(PHASES_23.as_ptr().cast());
        let a01 = _mm512_permutex2var_ps(v0, lo01, v1);
        let a23 = _mm512_permutex2var_ps(v0, lo23, v1);
        let b01 = _mm512_permutex2var_ps(v2, lo01, v3);
        let b23 = _mm512_permutex2var_ps(v2, lo23, v3);
        // Eight of each phase from the first pair, then eight from the second.
        const FIRST: [i32; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
        const SECOND: [i32; 16] = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];
        let first = _mm512_loadu_si512(FIRST.as_ptr().cast());
        let second = _mm512_loadu_si512(SECOND.as_ptr().cast());
        _mm512_storeu_ps(p0.as_mut_ptr(), _mm512_permutex2var_ps(a01, first, b01));
        _mm512_storeu_ps(p1.as_mut_ptr(), _mm512_permutex2var_ps(a01, second, b01));
        _mm512_storeu_ps(p2.as_mut_ptr(), _mm512_permutex2var_ps(a23, first, b23));
        _mm512_storeu_ps(p3.as_mut_ptr(), _mm512_permutex2var_ps(a23, second, b23));
    }
}

/// `out[4 l + b] = y[b][l]`: a row of LANES output blocks, their four columns side by side. The AVX-512 copy of
/// the op does it with shuffles in registers; as a plain loop it compiled to 64 scalar moves, and the residual sum
/// that reads the row back as vectors stalled on them.
#[inline(always)]
fn interleave<const AVX512: bool>(y: &[Lanes; OUT], out: &mut [f32; OUT * LANES]) {
    #[cfg(target_arch = "x86_64")]
    if AVX512 {
        // SAFETY: AVX512 is true only in the copy compiled with AVX-512F, which runs after the CPU was checked.
        unsafe { interleave_avx512(y, out) };
        return;
    }
    for (l, quad) in out.chunks_exact_mut(OUT).enumerate() {
        for (b, v) in quad.iter_mut().enumerate() {
            *v = y[b][l];
        }
    }
}

/// `interleave` as a 4 x 16 transpose: pairs within 128-bit lanes, then 128-bit lanes across the four vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn interleave_avx512(y: &[Lanes; OUT], out: &mut [f32; OUT * LANES]) {
    use std::arch::x86_64::*;
    // SAFETY: each Lanes is 16 f32 and `out` 64: the unaligned loads and stores stay inside them.
    unsafe {
        // No closures or array maps in here: they do not inherit the target feature and stay calls.
        let y0 = _mm512_loadu_ps(y[0].as_ptr());
        let y1 = _mm512_loadu_ps(y[1].as_ptr());
        let y2 = _mm512_loadu_ps(y[2].as_ptr());
        let y3 = _mm512_loadu_ps(y[3].as_ptr());
        // t0 = y0[0] y1[0] y0[1] y1[1] | ..4.. | ..8.. | ..12..; t1 the same for 2, 3 of each 128-bit lane
        let (t0, t1) = (_mm512_unpacklo_ps(y0, y1), _mm512_unpackhi_ps(y0, y1));
        let (t2, t3) = (_mm512_unpacklo_ps(y2, y3), _mm512_unpackhi_ps(y2, y3));
        let (t0, t1) = (_mm512_castps_pd(t0), _mm512_castps_pd(t1));
        let (t2, t3) = (_mm512_castps_pd(t2), _mm512_castps_pd(t3));
        // u0 = block columns (0, 4, 8, 12) with their four values each; u1 (1, 5, 9, 13); u2 (2, ..); u3 (3, ..)
        let u0 = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        let u1 = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        let u2 = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        let u3 = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
        // 128-bit lanes: out vector q takes lane q of u0, u1, u2, u3.
        let v0 = _mm512_shuffle_f32x4::<0b01_00_01_00>(u0, u1);
        let v1 = _mm512_shuffle_f32x4::<0b01_00_01_00>(u2, u3);
        let v2 = _mm512_shuffle_f32x4::<0b11_10_11_10>(u0, u1);
        let v3 = _mm512_shuffle_f32x4::<0b11_10_11_10>(u2, u3);
        let o = out.as_mut_ptr();
        _mm512_storeu_ps(o, _mm512_shuffle_f32x4::<0b10_00_10_00>(v0, v1));
        _mm512_storeu_ps(o.add(16), _mm512_shuffle_f32x4::<0b11_01_11_01>(v0, v1));
        _mm512_storeu_ps(o.add(32), _mm512_shuffle_f32x4::<0b10_00_10_00>(v2, v3));
        _mm512_storeu_ps(o.add(48), _mm512_shuffle_f32x4::<0b11_01_11_01>(v2, v3));
    }
}

/// `dst = lanes[..dst.len()]`, as `load`.
#[inline(always)]
fn store(dst: &mut [f32], lanes: &Lanes) {
    let n = dst.len();
    match <&mut Lanes>::try_from(&mut *dst) {
        Ok(whole) => *whole = *lanes,
        Err(_) => copy_partial(dst, &lanes[..n]),
    }
}

conv_op_plumbing!(WinogradConv, f32);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restorer::f32_conv::tests::{reference, worst_difference};

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
            let w: Vec<f32> = (0..cout * cin * 9)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 400.0)
                .collect();
            let b: Vec<f32> = (0..cout).map(|c| c as f32 * 0.01 - 0.1).collect();
            let x: Vec<f32> = (0..cin * input.0 * input.1)
                .map(|i| (i * 53 % 97) as f32 / 97.0)
                .collect();
            let expected = reference(&g, &w, &b, &x);
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
