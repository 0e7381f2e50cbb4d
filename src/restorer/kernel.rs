//! What both convolution ops share about tract-linalg's matrix kernels: which one to ask for, and the packed
//! buffer carried from tile to tile.

use tract_core::internal::*;

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
