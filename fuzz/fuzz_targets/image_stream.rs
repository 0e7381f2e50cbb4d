//! Concatenated MJPEG / PPM / PNG images: the first byte picks the format, the rest is the stream.
#![no_main]

use coldframe::stream_io::{FrameReader, StreamFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = [StreamFormat::Mjpeg, StreamFormat::Ppm, StreamFormat::Png][pick as usize % 3];
    let input = Box::new(std::io::Cursor::new(rest.to_vec()));
    if let Ok(mut r) = FrameReader::new(format, input, None, None) {
        for _ in 0..8 {
            if !matches!(r.next_frame(), Ok(Some(_))) {
                break;
            }
        }
    }
});
