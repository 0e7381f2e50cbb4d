//! Raw RGB24 / I420 frames: the first 4 bytes pick the format, size and stride (as a user's flags would), the
//! rest is the stream.
#![no_main]

use coldframe::stream_io::{FrameReader, StreamFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let format = if data[0] & 1 == 0 { StreamFormat::Rgb24 } else { StreamFormat::I420 };
    let (w, h) = (data[1] as usize % 70, data[2] as usize % 50);
    let stride = (data[0] & 2 != 0).then_some(data[3] as usize);
    let input = Box::new(std::io::Cursor::new(data[4..].to_vec()));
    if let Ok(mut r) = FrameReader::new(format, input, Some((w, h)), stride) {
        for _ in 0..8 {
            match r.next_frame() {
                Ok(Some(f)) => assert_eq!((f.width, f.height), (w, h)),
                _ => break,
            }
        }
    }
});
