//! Allocations follow the bytes that arrive, not the sizes that headers claim (a fuzzing find: the frame
//! readers used to size their buffer from the header before reading). A counting allocator records the peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

use coldframe::stream_io::{FrameReader, StreamFormat};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::SeqCst) + l.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::SeqCst);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Peak bytes allocated above the level at the start, while reading every frame of `input`; and the error.
fn peak_while_reading(
    format: StreamFormat,
    input: Vec<u8>,
    size: Option<(usize, usize)>,
) -> (usize, String) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let err = match FrameReader::new(format, Box::new(Cursor::new(input)), size, None) {
        Err(e) => e.to_string(),
        Ok(mut r) => loop {
            match r.next_frame() {
                Ok(Some(_)) => {}
                Ok(None) => break String::new(),
                Err(e) => break e.to_string(),
            }
        },
    };
    (PEAK.load(Ordering::SeqCst) - base, err)
}

#[test]
fn a_header_that_promises_a_huge_frame_costs_only_the_bytes_that_came() {
    // 4096x4096 4:2:0 is a legal 25 MB frame (16 MP, the most the binary takes); the stream holds 10 bytes of it
    let mut y4m = b"YUV4MPEG2 W4096 H4096 F25:1 C420jpeg\nFRAME\n".to_vec();
    y4m.extend_from_slice(&[128; 10]);
    let (peak, err) = peak_while_reading(StreamFormat::Y4m, y4m, None);
    assert!(err.contains("truncated: 10 of 25165824 bytes"), "{err}");
    assert!(peak < 4 << 20, "reading 10 bytes allocated {peak} bytes");
    // raw frames: the size comes from the user's flags, but the same holds
    let (peak, err) = peak_while_reading(StreamFormat::Rgb24, vec![7; 1000], Some((4096, 4096)));
    assert!(err.contains("truncated: 1000 of"), "{err}");
    assert!(peak < 4 << 20, "reading 1000 bytes allocated {peak} bytes");
}
