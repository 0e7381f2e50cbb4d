//! A Y4M stream of any bytes: header, FRAME markers, planes. Must end in frames or an error, never a panic or an
//! allocation sized by an unchecked header.
#![no_main]

use coldframe::stream_io::{FrameReader, StreamFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    if let Ok(mut r) = FrameReader::new(StreamFormat::Y4m, input, None, None) {
        for _ in 0..8 {
            match r.next_frame() {
                Ok(Some(f)) => assert_eq!((f.width, f.height), r.size()),
                _ => break,
            }
        }
    }
});
