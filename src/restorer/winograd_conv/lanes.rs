//! The transforms' inner loops over `LANES` independent columns: the formulas of B^T and A^T, and moving rows
//! between the frame's layout and lanes, with AVX-512 shuffles where the copy compiled for it runs.

use super::{OUT, PATCH};

/// Lanes per vectorised step of the transforms: each formula is written once, over fixed arrays of this many
/// independent columns, a loop the compiler turns into whole vectors (over a run-time length of a few dozen it
/// would mostly run its scalar remainder, and over the 6 or 36 terms of one block it does not vectorise at all).
/// One AVX-512 vector on x86-64; one NEON vector on ARM, where the unrolled code counts against the size budget
/// (8 lanes there put the aarch64 binary 8 KB over a 64 KiB step of its size). Any value gives the same bits:
/// each lane's sums are the same.
pub(super) const LANES: usize = if cfg!(target_arch = "x86_64") { 16 } else { 4 };

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
pub(super) fn a_transpose(m: &[Lanes; PATCH], y: &mut [Lanes; OUT]) {
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
pub(super) fn b_transpose_slices(ins: [&[f32]; PATCH], mut outs: [&mut [f32]; PATCH], len: usize) {
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
pub(super) fn load(lanes: &mut Lanes, src: &[f32]) {
    match <&Lanes>::try_from(src) {
        Ok(whole) => *lanes = *whole,
        Err(_) => copy_partial(&mut lanes[..src.len()], src),
    }
}

#[inline(never)]
pub(super) fn copy_partial(dst: &mut [f32], src: &[f32]) {
    dst.copy_from_slice(src);
}

/// `phases[p][k] = row[4 k + p]`: an input row split by column phase (mod 4); `row` is 4 x the phases' length.
#[inline(always)]
pub(super) fn deinterleave<const AVX512: bool>(row: &[f32], phases: [&mut [f32]; OUT]) {
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
pub(super) fn deinterleave_avx512(quads: &[f32], phases: [&mut [f32]; OUT]) {
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
pub(super) fn interleave<const AVX512: bool>(y: &[Lanes; OUT], out: &mut [f32; OUT * LANES]) {
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
pub(super) fn interleave_avx512(y: &[Lanes; OUT], out: &mut [f32; OUT * LANES]) {
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
