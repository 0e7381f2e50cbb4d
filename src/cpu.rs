//! Which copy of a hand-vectorised loop this CPU runs. The portable build targets the architecture's baseline
//! (SSE2 on x86-64, NEON on aarch64); on x86-64 some loops (the restorer's ops, the blurs) are compiled a second
//! time with AVX-512 enabled, and each picks between its two copies here, so the feature test and its safety
//! argument live in one place.

/// Whether this CPU runs the AVX-512 copies: they may use AVX-512 F and BW.
#[cfg(target_arch = "x86_64")]
pub fn avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

/// `with_avx512!(fast, portable)`: evaluates `fast`, a call into code compiled with at most
/// `#[target_feature(enable = "avx512f,avx512bw")]`, on a CPU that has those features, and `portable` elsewhere.
/// Outside x86-64 `fast` is not compiled at all, so it may name x86-64-only functions.
macro_rules! with_avx512 {
    ($fast:expr, $portable:expr $(,)?) => {{
        #[cfg(target_arch = "x86_64")]
        let value = if $crate::cpu::avx512() {
            // SAFETY: the CPU has AVX-512 F and BW (checked just above), all that the fast copy enables.
            #[allow(unused_unsafe)]
            unsafe {
                $fast
            }
        } else {
            $portable
        };
        #[cfg(not(target_arch = "x86_64"))]
        let value = $portable;
        value
    }};
}
pub(crate) use with_avx512;
