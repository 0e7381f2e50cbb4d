//! The frame every latency bench runs on (benches/compare_ort.py builds the same one in numpy).

use coldframe::frame::Frame;

/// The benchmark frame; benches/compare_ort.py builds the same one. For the inpainters (4 channels) the fourth
/// is a mask: a centred box of a quarter of each side, with the fill value under it.
pub fn frame(w: usize, h: usize, channels: usize) -> Frame {
    let mut data = vec![0.0f32; channels * w * h];
    let hole = |x: usize, y: usize| {
        (3 * w / 8..5 * w / 8).contains(&x) && (3 * h / 8..5 * h / 8).contains(&y)
    };
    for c in 0..channels {
        for y in 0..h {
            for x in 0..w {
                data[(c * h + y) * w + x] = match (c, channels == 4 && hole(x, y)) {
                    (3, m) => m as u8 as f32,
                    (_, true) => 0.5,
                    _ => ((x * 7 + y * 13 + c * 29) % 256) as f32 / 255.0,
                };
            }
        }
    }
    Frame::new(w, h, channels, data).expect("sizes match")
}
