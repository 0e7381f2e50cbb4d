//! An integer convolution for tract: u8 activations and i8 weights multiplied on tract-linalg's int8 matrix
//! kernels (VNNI on x86-64, SDOT/NEON on ARM), requantized to u8 in one pass.
//!
//! tract 0.23.9 runs a QDQ convolution (DequantizeLinear -> Conv -> QuantizeLinear) as a float convolution
//! between quantize/dequantize passes, and a QLinearConv through an eager im2col plus separate zero-point and
//! requantization passes over i32 tensors, both slower than its own float path (docs/design.md §7). This op does what
//! onnxruntime's QLinearConv does: acc = sum w_q (x_q - x_zero) + b_q in i32, y_q = sat_u8(round(acc * m_c) +
//! y_zero) with m_c = x_scale * w_scale_c / y_scale.

use std::fmt;
use std::ops::Range;

use tract_core::internal::*;
use tract_core::tract_linalg::mmm::MMMInputValue;
use tract_core::tract_linalg::pack::PackedI8K4;

use super::conv_geometry::{conv_op_plumbing, write_row, ConvGeometry, Segment};
use super::kernel::{packed_operand, reuse_or_allocate, PackedMatmul};
use crate::cpu::with_avx512;

use super::graph::{dequantized_u8, float_conv, single_quantize};
use super::quant::quantize_u8;

/// Quantized weights and the requantization of one convolution, as read off a QDQ graph.
pub struct QuantizedConv {
    pub geometry: ConvGeometry,
    /// [out_channels, in_channels * kh * kw], symmetric (zero point 0).
    pub weights: Vec<i8>,
    /// Bias in the accumulator's units (x_scale * w_scale_c).
    pub bias: Vec<i32>,
    pub x_zero: u8,
    /// x_scale * w_scale_c / y_scale, per output channel.
    pub multiplier: Vec<f32>,
    pub y_zero: u8,
}

#[derive(Clone)]
pub struct Int8Conv {
    geometry: ConvGeometry,
    x_zero: u8,
    multiplier: Arc<Vec<f32>>,
    y_zero: u8,
    /// The weights, and as bias b_q plus the correction for feeding the kernel x - 128 (an i8) instead of x (a
    /// u8): sum w (x - z) = sum w (x - 128) + (128 - z) sum w.
    matmul: PackedMatmul,
    /// Write im2col straight into the kernel's panels where the packing allows it (false: tract's packer; tests
    /// compare both).
    pub direct_pack: bool,
    /// Input channels in the kernel's order: the weights' columns (and so the im2col rows) are in (tap, channel)
    /// order instead of the graph's (channel, tap), with the channels padded to a multiple of 4 (zero weights)
    /// when the kernel takes 4-deep int8 panels, so that each 4-deep block of them holds four channels of one
    /// tap, side by side in a channel-blocked copy of the input (`channel_blocked`).
    channels: usize,
    /// Bytes of packed im2col per tile (see `tile_columns`; tests shrink it to cross tile edges).
    pub tile_bytes: usize,
    /// As given, for comparing two ops (the packed copy is the kernel's business).
    weights: Arc<Vec<i8>>,
    bias: Arc<Vec<i32>>,
}

impl fmt::Debug for Int8Conv {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "Int8Conv({:?}, {})",
            self.geometry,
            self.matmul.mmm.name()
        )
    }
}

impl PartialEq for Int8Conv {
    fn eq(&self, other: &Self) -> bool {
        self.geometry == other.geometry
            && self.x_zero == other.x_zero
            && self.y_zero == other.y_zero
            && self.multiplier == other.multiplier
            && self.bias == other.bias
            && self.matmul.mmm.name() == other.matmul.mmm.name()
            && self.weights == other.weights
    }
}
impl Eq for Int8Conv {}

impl Int8Conv {
    /// The matrix kernel's name, for the plan's listing.
    fn kernel_name(&self) -> &str {
        self.matmul.mmm.name()
    }

    pub fn new(q: QuantizedConv) -> TractResult<Int8Conv> {
        let g = &q.geometry;
        let (m, k, n) = (g.out_channels, g.k(), g.n());
        ensure!(
            q.weights.len() == m * k,
            "weights: {} values for {m}x{k}",
            q.weights.len()
        );
        ensure!(
            q.bias.len() == m && q.multiplier.len() == m,
            "per-channel lengths differ from {m}"
        );
        let shift = 128 - q.x_zero as i32;
        let bias: Vec<i32> = (0..m)
            .map(|c| {
                let sum: i32 = q.weights[c * k..(c + 1) * k]
                    .iter()
                    .map(|&w| w as i32)
                    .sum();
                q.bias[c] + shift * sum
            })
            .collect();
        // The kernel's packing decides the padding. It does not depend on the depth (the VNNI kernel takes
        // 4-deep panels whatever k is), so a first pick with the graph's channels tells.
        let pick = |channels| PackedMatmul::new(&kernel_weights(&q, channels)?, tensor1(&bias), n);
        let (mut channels, mut matmul) = (g.in_channels, pick(g.in_channels)?);
        if is_k4(&matmul) && !channels.is_multiple_of(4) {
            channels = channels.next_multiple_of(4);
            matmul = pick(channels)?;
        }
        Ok(Int8Conv {
            geometry: q.geometry,
            x_zero: q.x_zero,
            multiplier: Arc::new(q.multiplier),
            y_zero: q.y_zero,
            matmul,
            direct_pack: true,
            channels,
            tile_bytes: 128 << 10,
            weights: Arc::new(q.weights),
            bias: Arc::new(q.bias),
        })
    }

    /// Rows of the im2col matrix in the kernel's order: taps x `channels`.
    fn k(&self) -> usize {
        self.geometry.kernel.0 * self.geometry.kernel.1 * self.channels
    }

    /// The graph's (channel, tap) im2col row that row `kk` of the kernel's order holds; None for a padding
    /// channel.
    fn graph_row(&self, kk: usize) -> Option<usize> {
        let g = &self.geometry;
        let (tap, ci) = (kk / self.channels, kk % self.channels);
        (ci < g.in_channels).then(|| ci * (g.kernel.0 * g.kernel.1) + tap)
    }

    /// Whether `packed_columns` writes the panels itself, from the channel-blocked input.
    fn reads_blocked(&self) -> bool {
        self.direct_pack && is_k4(&self.matmul) && self.channels.is_multiple_of(4)
    }

    /// One row of the im2col matrix of x - 128 as i8 over a tile's columns, given its runs; taps outside the
    /// frame hold the input's zero point.
    fn im2col_row(&self, x: &[u8], runs: impl Iterator<Item = Segment>, row: &mut [i8]) {
        write_row(row, (self.x_zero ^ 0x80) as i8, runs, |s, dst| {
            if s.step == 1 {
                // Its own loop: a plain zip vectorises, one through step_by does not.
                for (d, v) in dst.iter_mut().zip(&x[s.src..s.src + s.len]) {
                    *d = (v ^ 0x80) as i8;
                }
            } else {
                // Taps s.step apart: whole chunks of s.step inputs, then the last tap on its own (the slice may
                // end right after it). chunks_exact vectorises where step_by does not.
                let (last, head) = dst.split_last_mut().expect("segments are not empty");
                let src = &x[s.src..s.src + (s.len - 1) * s.step];
                for (d, c) in head.iter_mut().zip(src.chunks_exact(s.step)) {
                    *d = (c[0] ^ 0x80) as i8;
                }
                *last = (x[s.src + (s.len - 1) * s.step] ^ 0x80) as i8;
            }
        });
    }

    /// Columns `cols` of the im2col matrix [k, n] in the kernel's order, packed for the kernel. tract's 4-deep
    /// int8 panels (VNNI) are written straight from the channel-blocked input (`pack_from_blocked`); any other
    /// packing gets the plain matrix and tract's own packer.
    ///
    /// `buffer` carries the packed buffer from one tile to the next: a fresh one of this size comes from mmap
    /// and page-faults on first touch, which cost as much as the packing itself.
    fn packed_columns(
        &self,
        x: &[u8],
        blocked: &[u8],
        cols: Range<usize>,
        buffer: &mut Option<Arc<Blob>>,
    ) -> TractResult<Box<dyn MMMInputValue>> {
        let (k, n) = (self.k(), cols.len());
        let format = self.matmul.columns_format();
        if let Some(k4) = format
            .downcast_ref::<PackedI8K4>()
            .filter(|_| self.reads_blocked())
        {
            let (r, panel_bytes) = (k4.r, k * k4.r);
            let size = n.div_ceil(r) * panel_bytes;
            let blob = reuse_or_allocate(buffer, size, k4.alignment());
            self.pack_from_blocked(
                blocked,
                cols,
                r,
                panel_bytes,
                &mut blob.as_bytes_mut()[..size],
            );
            return Ok(Box::new(packed_operand(
                Box::new(k4.clone()),
                buffer,
                k,
                n,
                panel_bytes,
            )));
        }
        let mut matrix = vec![0i8; k * n];
        let runs = self.geometry.tile_segments(cols);
        for (kk, row) in matrix.chunks_exact_mut(n).enumerate() {
            match self.graph_row(kk) {
                Some(graph_row) => self.im2col_row(x, runs.row(graph_row), row),
                None => row.fill(0), // a padding channel: its weights are zero
            }
        }
        format.prepare_one(&tensor1(&matrix).into_shape(&[k, n])?, 0, 1)
    }

    /// The panels of columns `cols` from the channel-blocked input (`channel_blocked`): in the kernel's order,
    /// k-block `tap * channels / 4 + cb` holds channels 4cb..4cb + 4 of that tap, which for column j is
    /// the blocked input's 4-byte word at the tap's input pixel, or the zero point's outside the frame. A run of
    /// stride-1 taps is then a plain copy, 64 bytes per whole panel; no im2col rows, no interleave.
    fn pack_from_blocked(
        &self,
        blocked: &[u8],
        cols: Range<usize>,
        r: usize,
        panel_bytes: usize,
        packed: &mut [u8],
    ) {
        let g = &self.geometry;
        let (n, blocks, plane) = (cols.len(), self.channels / 4, g.input.0 * g.input.1);
        let pad = [self.x_zero ^ 0x80; 64];
        let runs = g.tile_segments(cols);
        // Columns `range` of k-block `kb` in parts of up to 16 columns within one panel, each one contiguous
        // slice of it (at most 64 bytes: `copy_small`). One division per range, not per part: with r known only
        // at run time each was a div instruction.
        let parts = |range: Range<usize>| {
            let (mut c, mut p, mut j) = (range.start, range.start / r, range.start % r);
            std::iter::from_fn(move || {
                (c < range.end).then(|| {
                    let len = (r - j).min(range.end - c).min(16);
                    let part = (c, p * panel_bytes + j * 4, len);
                    c += len;
                    j += len;
                    if j == r {
                        (p, j) = (p + 1, 0);
                    }
                    part
                })
            })
        };
        for tap in 0..g.kernel.0 * g.kernel.1 {
            for cb in 0..blocks {
                let kb = tap * blocks + cb;
                let src = &blocked[cb * plane * 4..(cb + 1) * plane * 4];
                let mut done = 0;
                let fill = |range: Range<usize>, packed: &mut [u8]| {
                    for (_, at, len) in parts(range) {
                        copy_small(&mut packed[kb * r * 4 + at..][..len * 4], &pad[..len * 4]);
                    }
                };
                for s in runs.row(tap) {
                    fill(done..s.dst, packed);
                    for (c, at, len) in parts(s.dst..s.dst + s.len) {
                        let dst = &mut packed[kb * r * 4 + at..][..len * 4];
                        let q = s.src + (c - s.dst) * s.step;
                        if s.step == 1 {
                            copy_small(dst, &src[q * 4..(q + len) * 4]);
                        } else {
                            for (i, word) in dst.chunks_exact_mut(4).enumerate() {
                                let at = (q + i * s.step) * 4;
                                word.copy_from_slice(&src[at..at + 4]);
                            }
                        }
                    }
                    done = s.dst + s.len;
                }
                fill(done..n, packed);
            }
        }
    }

    /// Output columns per tile: the tile's packed im2col (k x tile bytes) stays in the L2 cache between being
    /// written and being read by the kernel, where the whole frame's (16.6 MB for a 24-channel 3x3 layer at
    /// 320x240) would go through memory twice. A multiple of 64 columns, so that only the last tile has a
    /// partial panel.
    fn tile_columns(&self) -> usize {
        (self.tile_bytes / self.k()).max(64) / 64 * 64
    }

    fn run(&self, x: &[u8]) -> TractResult<Tensor> {
        let g = &self.geometry;
        // The output tensor is written in place (a Vec turned into a tensor is copied once more).
        // SAFETY: u8 has no invalid values, and the tiles cover columns 0..n of every output channel, each
        // written once below before the tensor is returned.
        let mut output = unsafe { Tensor::uninitialized::<u8>(&g.output_shape())? };
        let mut plain = output.try_as_plain_ram_mut()?;
        let y = plain.as_slice_mut::<u8>()?;
        let y_zero = self.y_zero as i32;
        BLOCKED_INPUT.with_borrow_mut(|blocked| {
            if self.reads_blocked() {
                channel_blocked(
                    x,
                    g.in_channels,
                    self.channels,
                    g.input.0 * g.input.1,
                    blocked,
                );
            }
            self.run_tiles(x, blocked, y, y_zero)
        })?;
        Ok(output)
    }

    fn run_tiles(&self, x: &[u8], blocked: &[u8], y: &mut [u8], y_zero: i32) -> TractResult<()> {
        let g = &self.geometry;
        let n = g.n();
        self.matmul.run_tiles(
            n,
            self.tile_columns().min(n),
            |cols, buffer| self.packed_columns(x, blocked, cols, buffer),
            |start, acc| {
                let acc = acc.try_as_plain_ram()?;
                let acc = acc.as_slice::<i32>()?;
                let width = acc.len() / g.out_channels;
                for (c, accs) in acc.chunks_exact(width).enumerate() {
                    requantize(
                        accs,
                        self.multiplier[c],
                        y_zero,
                        &mut y[c * n + start..][..width],
                    );
                }
                Ok(())
            },
        )
    }
}

/// One output channel's accumulators to u8: `quantize_u8(acc * multiplier, zero)`. Compiled a second time for
/// AVX-512 on x86-64 (16 lanes; 4 in the SSE2 build), as `Int8Add::run`; the same float operations, so the same
/// bits (the convolution tests run whichever copy the machine has against the definition).
fn requantize(accs: &[i32], multiplier: f32, zero: i32, y: &mut [u8]) {
    #[inline(always)]
    fn each(accs: &[i32], multiplier: f32, zero: i32, y: &mut [u8]) {
        for (y, &a) in y.iter_mut().zip(accs) {
            *y = quantize_u8(a as f32 * multiplier, zero);
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn avx512(accs: &[i32], multiplier: f32, zero: i32, y: &mut [u8]) {
        each(accs, multiplier, zero, y)
    }
    with_avx512!(
        avx512(accs, multiplier, zero, y),
        each(accs, multiplier, zero, y)
    )
}

thread_local! {
    /// The channel-blocked copy of the current convolution's input, kept from op to op (each worker runs its plan
    /// on one thread): a fresh buffer of a few MB would come from mmap and page-fault on first touch.
    static BLOCKED_INPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// x - 128 (as i8 bytes) with channels in groups of four: byte (cb * plane + q) * 4 + c holds channel 4cb + c at
/// pixel q. `padded` channels (a multiple of 4), of which the last `padded - channels` repeat channel 0: their
/// weights are zero, so any finite byte will do.
fn channel_blocked(x: &[u8], channels: usize, padded: usize, plane: usize, out: &mut Vec<u8>) {
    // Every byte is written below: resizing the kept buffer zero-fills only what it grows by (clearing it first
    // zeroed the whole copy on every convolution).
    out.resize(padded * plane, 0);
    let whole = plane / 16 * 16;
    for (cb, dst) in out.chunks_exact_mut(4 * plane).enumerate() {
        let planes: [&[u8]; 4] = std::array::from_fn(|c| {
            let ci = Some(4 * cb + c).filter(|&ci| ci < channels).unwrap_or(0);
            &x[ci * plane..][..plane]
        });
        for (q, block) in (0..whole).step_by(16).zip(dst.chunks_exact_mut(64)) {
            interleave16(planes.map(|p| &p[q..q + 16]), block);
        }
        for q in whole..plane {
            for c in 0..4 {
                dst[q * 4 + c] = planes[c][q];
            }
        }
        for b in dst.iter_mut() {
            *b ^= 0x80;
        }
    }
}

/// The weights [m, taps x `channels`] in the kernel's (tap, channel) order, zero for padding channels.
fn kernel_weights(q: &QuantizedConv, channels: usize) -> TractResult<Tensor> {
    let g = &q.geometry;
    let (m, k, taps) = (g.out_channels, g.k(), g.kernel.0 * g.kernel.1);
    let mut ordered = vec![0i8; m * taps * channels];
    for (co, row) in ordered.chunks_exact_mut(taps * channels).enumerate() {
        for tap in 0..taps {
            for ci in 0..g.in_channels {
                row[tap * channels + ci] = q.weights[co * k + ci * taps + tap];
            }
        }
    }
    tensor1(&ordered).into_shape(&[m, taps * channels])
}

fn is_k4(matmul: &PackedMatmul) -> bool {
    matmul
        .columns_format()
        .downcast_ref::<PackedI8K4>()
        .is_some()
}

/// Four rows of 16 columns into PackedI8K4's order: column j's four bytes at 4j..4j+4 of `out` (64 bytes).
#[inline(always)]
fn interleave16(rows: [&[u8]; 4], out: &mut [u8]) {
    assert!(rows.iter().all(|r| r.len() == 16) && out.len() == 64);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of x86-64; the loads read 16 bytes of 16-byte slices and the stores write the 64
    // bytes of `out`, all unaligned accesses (checked lengths above).
    unsafe {
        use std::arch::x86_64::*;
        let [a, b, c, d] = rows.map(|r| _mm_loadu_si128(r.as_ptr() as *const __m128i));
        let (ab_lo, ab_hi) = (_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b));
        let (cd_lo, cd_hi) = (_mm_unpacklo_epi8(c, d), _mm_unpackhi_epi8(c, d));
        let o = out.as_mut_ptr() as *mut __m128i;
        _mm_storeu_si128(o, _mm_unpacklo_epi16(ab_lo, cd_lo));
        _mm_storeu_si128(o.add(1), _mm_unpackhi_epi16(ab_lo, cd_lo));
        _mm_storeu_si128(o.add(2), _mm_unpacklo_epi16(ab_hi, cd_hi));
        _mm_storeu_si128(o.add(3), _mm_unpackhi_epi16(ab_hi, cd_hi));
    }
    #[cfg(not(target_arch = "x86_64"))]
    for j in 0..16 {
        for (i, row) in rows.iter().enumerate() {
            out[4 * j + i] = row[j];
        }
    }
}

/// `dst.copy_from_slice(src)` for the up to 64 bytes of one panel block, as overlapping moves of fixed widths
/// from both ends. A variable-length copy is a memcpy call, and on layers whose rows do not divide into whole
/// panels those calls took 10% of an int8 frame; fixed-width `copy_from_slice`s were no better (the compiler
/// merged the four widths' second copies back into one memcpy call of variable length), integer moves are.
#[inline(always)]
fn copy_small(dst: &mut [u8], src: &[u8]) {
    let n = dst.len();
    assert!(n == src.len() && n <= 64);
    let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
    // SAFETY: each call moves size_of::<T>() bytes at `at`, and every `at` below is within 0..=n - that size, so
    // all reads and writes stay inside the two slices (distinct buffers), unaligned.
    let mv =
        |at: usize, width: usize| unsafe {
            match width {
                16 => (d.add(at) as *mut u128)
                    .write_unaligned((s.add(at) as *const u128).read_unaligned()),
                8 => (d.add(at) as *mut u64)
                    .write_unaligned((s.add(at) as *const u64).read_unaligned()),
                _ => (d.add(at) as *mut u32)
                    .write_unaligned((s.add(at) as *const u32).read_unaligned()),
            }
        };
    match n {
        32.. => {
            mv(0, 16);
            mv(16, 16);
            mv(n - 32, 16);
            mv(n - 16, 16);
        }
        16.. => {
            mv(0, 16);
            mv(n - 16, 16);
        }
        8.. => {
            mv(0, 8);
            mv(n - 8, 8);
        }
        4.. => {
            mv(0, 4);
            mv(n - 4, 4);
        }
        _ => {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = *s;
            }
        }
    }
}

conv_op_plumbing!(Int8Conv, u8);

pub(super) fn int8_conv_patch(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<TypedModelPatch>> {
    let node = model.node(id);
    let Some(conv) = float_conv(model, node)? else {
        return Ok(None);
    };
    let Some((x, xq)) = dequantized_u8(model, conv.x)? else {
        return Ok(None);
    };
    let Some((q_id, q)) = single_quantize(model, model.node(conv.last)) else {
        return Ok(None);
    };
    let (Some(&[1, cin, h, w]), Some(&[1, cout, oh, ow])) = (
        model.outlet_fact(x)?.shape.as_concrete(),
        model
            .outlet_fact(OutletId::new(q_id, 0))?
            .shape
            .as_concrete(),
    ) else {
        return Ok(None);
    };
    let &[wo, wi, kh, kw] = conv.weights.shape() else {
        return Ok(None);
    };
    if (wo, wi) != (cout, cin) || conv.bias.len() != cout {
        return Ok(None);
    }
    let weights = conv.weights.cast_to::<f32>()?;
    let weights = weights.try_as_plain_ram()?.as_slice::<f32>()?;
    let k = cin * kh * kw;
    let mut q_weights = Vec::with_capacity(cout * k);
    let mut q_bias = Vec::with_capacity(cout);
    let mut multiplier = Vec::with_capacity(cout);
    for c in 0..cout {
        let wc = &weights[c * k..(c + 1) * k];
        let max = wc.iter().fold(0f32, |m, w| m.max(w.abs()));
        let w_scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        for &wv in wc {
            let qv = wv / w_scale;
            if (qv - qv.round()).abs() > 1e-3 {
                return Ok(None);
            }
            q_weights.push(qv.round() as i8);
        }
        // The bias was quantized with scale x_scale * w_scale (onnxruntime's rule): this is its integer.
        q_bias.push((conv.bias[c] / (xq.scale * w_scale)).round() as i32);
        // QuantizeLinearU8 keeps 1 / y_scale.
        multiplier.push(xq.scale * w_scale * q.scale);
    }
    let op = Int8Conv::new(QuantizedConv {
        geometry: ConvGeometry {
            in_channels: cin,
            out_channels: cout,
            kernel: (kh, kw),
            stride: conv.stride,
            pad: conv.pad,
            input: (h, w),
            output: (oh, ow),
        },
        weights: q_weights,
        bias: q_bias,
        x_zero: xq.zero,
        multiplier,
        y_zero: q.zero_point,
    })?;
    let mut patch = TypedModelPatch::new(format!("int8 conv {}", node.name));
    let x = patch.tap_model(model, x)?;
    let y = patch.wire_node(&node.name, op, &[x])?[0];
    patch.shunt_outside(model, OutletId::new(q_id, 0), y)?;
    Ok(Some(patch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restorer::reference::{conv_u8, weight, Lcg};

    #[test]
    fn integer_convolution_matches_the_definition_exactly() {
        let mut rng = Lcg(7);
        // (cin, cout, kernel, stride, pad, input): odd channel counts, k not a multiple of 4, m not a multiple
        // of the kernel's 16 rows, stride 2 with an odd input, a 1x1 kernel.
        let cases = [
            (13, 24, (3, 3), (1, 1), (1, 1), (17, 23)),
            (24, 12, (3, 3), (1, 1), (1, 1), (16, 16)),
            (5, 48, (3, 3), (2, 2), (1, 1), (15, 21)),
            (96, 7, (1, 1), (1, 1), (0, 0), (8, 8)),
            (3, 5, (3, 3), (2, 2), (0, 0), (9, 9)),
            // channels in fours (the channel-blocked packing): rows wider than a panel, stride 2, a 1x1 kernel
            (16, 24, (3, 3), (1, 1), (1, 1), (13, 45)),
            (8, 16, (3, 3), (2, 2), (1, 1), (15, 37)),
            (4, 12, (1, 1), (1, 1), (0, 0), (5, 19)),
        ];
        for (cin, cout, kernel, stride, pad, input) in cases {
            let output = (
                (input.0 + 2 * pad.0 - kernel.0) / stride.0 + 1,
                (input.1 + 2 * pad.1 - kernel.1) / stride.1 + 1,
            );
            let k = cin * kernel.0 * kernel.1;
            let weights: Vec<i8> = (0..cout * k).map(|_| weight(&mut rng)).collect();
            let q = || QuantizedConv {
                geometry: ConvGeometry {
                    in_channels: cin,
                    out_channels: cout,
                    kernel,
                    stride,
                    pad,
                    input,
                    output,
                },
                weights: weights.clone(),
                bias: (0..cout).map(|c| c as i32 * 97 - 1000).collect(),
                x_zero: 91,
                // About 100-300 levels per standard deviation of the sum, so both ends saturate.
                multiplier: (0..cout)
                    .map(|c| {
                        200.0 / (k as f32 * 73.0 * 74.0).sqrt() * (0.5 + c as f32 / cout as f32)
                    })
                    .collect(),
                y_zero: 37,
            };
            let x: Vec<u8> = (0..cin * input.0 * input.1)
                .map(|_| rng.next_u32() as u8)
                .collect();
            let expected = conv_u8(&q(), &x);
            // Whole-frame tiles and tiles of 64 columns, which cut output rows at arbitrary places.
            for (direct_pack, tile_bytes) in
                [(true, 1 << 30), (false, 1 << 30), (true, 1), (false, 1)]
            {
                let mut op = Int8Conv::new(q()).unwrap();
                op.direct_pack = direct_pack;
                op.tile_bytes = tile_bytes;
                let got = op.run(&x).unwrap();
                let got = got
                    .try_as_plain_ram()
                    .unwrap()
                    .as_slice::<u8>()
                    .unwrap()
                    .to_vec();
                assert_eq!(
                    got, expected,
                    "cin {cin} cout {cout} stride {stride:?} direct_pack {direct_pack}"
                );
            }
            // Saturation is exercised: some outputs at 0 and some at 255.
            assert!(
                expected.contains(&0) && expected.contains(&255),
                "case {cin}x{cout} never saturates"
            );
        }
    }
}
