//! BT.601 YUV <-> RGB for 8-bit planar frames, full (JPEG) or limited (16-235 / 16-240) range, with 4:2:0
//! chroma (replicated up, averaged 2x2 down), 4:4:4, or mono (luma only: the grey frame goes through the model
//! as RGB and comes back as its luma).

use crate::frame::{to_u8, Frame};

const KR: f32 = 0.299;
const KB: f32 = 0.114;
const KG: f32 = 1.0 - KR - KB;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subsampling {
    S420,
    S444,
    Mono,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct YuvLayout {
    pub width: usize,
    pub height: usize,
    pub subsampling: Subsampling,
    pub full_range: bool,
}

impl YuvLayout {
    pub fn chroma_size(&self) -> (usize, usize) {
        match self.subsampling {
            Subsampling::S420 => (self.width.div_ceil(2), self.height.div_ceil(2)),
            Subsampling::S444 => (self.width, self.height),
            Subsampling::Mono => (0, 0),
        }
    }

    pub fn frame_bytes(&self) -> usize {
        let (cw, ch) = self.chroma_size();
        self.width * self.height + 2 * cw * ch
    }

    fn scales(&self) -> (f32, f32, f32) {
        if self.full_range {
            (0.0, 255.0, 255.0)
        } else {
            (16.0, 219.0, 224.0)
        }
    }

    /// Planes Y, U, V (tightly packed, `frame_bytes` long) to RGB in [0, 1].
    pub fn to_rgb(&self, yuv: &[u8]) -> Frame {
        let (w, h) = (self.width, self.height);
        let (cw, ch) = self.chroma_size();
        let (yoff, ys, cs) = self.scales();
        let n = w * h;
        let mut out = Frame::zeros(w, h, 3);
        let (luma, chroma) = yuv.split_at(n);
        let (u, v) = chroma.split_at(cw * ch);
        // Each row's chroma is spread to one value per pixel first, so the per-pixel loop below runs over plain
        // slices and vectorises (with the 4:2:0 lookup x / 2 inside it, it ran scalar: 2% of an int8 frame).
        let (mut cb_row, mut cr_row) = (vec![0.0f32; w], vec![0.0f32; w]);
        let (mut cb_samples, mut cr_samples) = (vec![0.0f32; cw], vec![0.0f32; cw]);
        let (r_plane, rest) = out.data.split_at_mut(n);
        let (g_plane, b_plane) = rest.split_at_mut(n);
        for y in 0..h {
            match self.subsampling {
                Subsampling::Mono => {} // no chroma: the rows stay 0
                Subsampling::S444 => {
                    chroma_of_bytes(&u[y * w..(y + 1) * w], cs, &mut cb_row);
                    chroma_of_bytes(&v[y * w..(y + 1) * w], cs, &mut cr_row);
                }
                Subsampling::S420 => {
                    let row = (y / 2) * cw..(y / 2 + 1) * cw;
                    chroma_of_bytes(&u[row.clone()], cs, &mut cb_samples);
                    chroma_of_bytes(&v[row], cs, &mut cr_samples);
                    for (x, (cb, cr)) in cb_row.iter_mut().zip(cr_row.iter_mut()).enumerate() {
                        (*cb, *cr) = (cb_samples[x / 2], cr_samples[x / 2]);
                    }
                }
            }
            let row = y * w..(y + 1) * w;
            let pixels = r_plane[row.clone()]
                .iter_mut()
                .zip(&mut g_plane[row.clone()])
                .zip(&mut b_plane[row.clone()])
                .zip(&luma[row])
                .zip(cb_row.iter().zip(&cr_row));
            for ((((r, g), b), &lv), (&cb, &cr)) in pixels {
                let l = (lv as f32 - yoff) / ys;
                *r = l + 2.0 * (1.0 - KR) * cr;
                *b = l + 2.0 * (1.0 - KB) * cb;
                *g = (l - KR * *r - KB * *b) / KG;
            }
        }
        out
    }

    /// RGB back to planes Y, U, V, rounded and clamped to 0..=255. Limited-range values outside the legal
    /// 16-235 / 16-240 (camera over- and undershoot, ffmpeg's testsrc) are kept, not clipped: a pixel the
    /// restorer did not touch (inpainting's known pixels) comes back as it came in.
    pub fn from_rgb(&self, rgb: &Frame, out: &mut Vec<u8>) {
        let (w, h) = (self.width, self.height);
        let (cw, ch) = self.chroma_size();
        let (yoff, ys, cs) = self.scales();
        let n = w * h;
        out.clear();
        out.resize(self.frame_bytes(), 0);
        let px = |i: usize| (rgb.data[i], rgb.data[n + i], rgb.data[2 * n + i]);
        // to_u8 rounds and clamps to 0..=255
        let quant = |v: f32| to_u8(v / 255.0);
        let luma_of = |(r, g, b): (f32, f32, f32)| KR * r + KG * g + KB * b;
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = quant(luma_of(px(i)) * ys + yoff);
        }
        if self.subsampling == Subsampling::Mono {
            return;
        }
        let chroma_of = |(r, g, b): (f32, f32, f32)| {
            let l = luma_of((r, g, b));
            ((b - l) / (2.0 * (1.0 - KB)), (r - l) / (2.0 * (1.0 - KR)))
        };
        let f = if self.subsampling == Subsampling::S420 {
            2
        } else {
            1
        };
        // Each pixel's chroma in a loop over a row (it vectorises), then each block's average, summed in the
        // block's row-major order: the same bits as summing pixel by pixel.
        let mut rows = [
            (vec![0.0f32; w], vec![0.0f32; w]),
            (vec![0.0f32; w], vec![0.0f32; w]),
        ];
        let (u, v) = out[n..].split_at_mut(cw * ch);
        for cy in 0..ch {
            let luma_rows = cy * f..((cy + 1) * f).min(h);
            for (y, (cb, cr)) in luma_rows.clone().zip(rows.iter_mut()) {
                for (x, (b, r)) in cb.iter_mut().zip(cr.iter_mut()).enumerate() {
                    (*b, *r) = chroma_of(px(y * w + x));
                }
            }
            for cx in 0..cw {
                let (mut su, mut sv, mut k) = (0.0, 0.0, 0.0);
                for (cb, cr) in &rows[..luma_rows.len()] {
                    for x in cx * f..((cx + 1) * f).min(w) {
                        su += cb[x];
                        sv += cr[x];
                        k += 1.0;
                    }
                }
                u[cy * cw + cx] = quant(su / k * cs + 128.0);
                v[cy * cw + cx] = quant(sv / k * cs + 128.0);
            }
        }
    }
}

/// Chroma bytes to signed values in [-0.5, 0.5] (`cs`: the range's chroma scale).
fn chroma_of_bytes(bytes: &[u8], cs: f32, out: &mut [f32]) {
    for (o, &b) in out.iter_mut().zip(bytes) {
        *o = (b as f32 - 128.0) / cs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(s: Subsampling, full: bool) -> YuvLayout {
        YuvLayout {
            width: 5,
            height: 3,
            subsampling: s,
            full_range: full,
        }
    }

    #[test]
    fn round_trip_keeps_every_sample_within_one_level() {
        for s in [Subsampling::S444, Subsampling::Mono] {
            for full in [true, false] {
                let l = layout(s, full);
                let (lo, hi) = if full { (0u8, 255u8) } else { (16, 235) };
                // legal, colour-neutral-ish values so that RGB stays inside [0, 1]
                let mut yuv: Vec<u8> = (0..l.frame_bytes())
                    .map(|i| {
                        if i < 15 {
                            lo + (i as u8 * 13) % (hi - lo)
                        } else {
                            128
                        }
                    })
                    .collect();
                yuv.truncate(l.frame_bytes());
                let rgb = l.to_rgb(&yuv);
                let mut back = Vec::new();
                l.from_rgb(&rgb, &mut back);
                for (a, b) in yuv.iter().zip(&back) {
                    assert!(
                        (*a as i32 - *b as i32).abs() <= 1,
                        "{s:?} full={full}: {a} -> {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn known_colours_convert_as_bt601_says() {
        // limited-range 4:4:4 pure red: Y 81, Cb 90, Cr 240
        let l = YuvLayout {
            width: 1,
            height: 1,
            subsampling: Subsampling::S444,
            full_range: false,
        };
        let rgb = l.to_rgb(&[81, 90, 240]);
        assert!(
            (rgb.data[0] - 1.0).abs() < 0.01
                && rgb.data[1].abs() < 0.01
                && rgb.data[2].abs() < 0.01,
            "{rgb:?}"
        );
        // full-range white and black
        let f = YuvLayout {
            full_range: true,
            ..l
        };
        assert!(f
            .to_rgb(&[255, 128, 128])
            .data
            .iter()
            .all(|v| (v - 1.0).abs() < 1e-6));
        let mut out = Vec::new();
        f.from_rgb(&Frame::new(1, 1, 3, vec![0.0; 3]).unwrap(), &mut out);
        assert_eq!(out, [0, 128, 128]);
    }

    #[test]
    fn chroma_420_is_averaged_over_its_block_including_odd_edges() {
        let l = YuvLayout {
            width: 3,
            height: 3,
            subsampling: Subsampling::S420,
            full_range: true,
        };
        assert_eq!(l.frame_bytes(), 9 + 2 * 4);
        let grey = Frame::new(3, 3, 3, vec![0.5; 27]).unwrap();
        let mut out = Vec::new();
        l.from_rgb(&grey, &mut out);
        assert!(out[9..].iter().all(|c| *c == 128));
    }

    // The per-pixel code before its loops were restructured to vectorise: the conversions must keep its bits.
    fn reference_to_rgb(layout: &YuvLayout, yuv: &[u8]) -> Frame {
        let (w, h) = (layout.width, layout.height);
        let (cw, ch) = layout.chroma_size();
        let (yoff, ys, cs) = layout.scales();
        let n = w * h;
        let mut out = Frame::zeros(w, h, 3);
        let (luma, chroma) = yuv.split_at(n);
        let (u, v) = chroma.split_at(cw * ch);
        for y in 0..h {
            for x in 0..w {
                let l = (luma[y * w + x] as f32 - yoff) / ys;
                let (cb, cr) = match layout.subsampling {
                    Subsampling::Mono => (0.0, 0.0),
                    Subsampling::S444 => (
                        (u[y * w + x] as f32 - 128.0) / cs,
                        (v[y * w + x] as f32 - 128.0) / cs,
                    ),
                    Subsampling::S420 => {
                        let i = (y / 2) * cw + x / 2;
                        ((u[i] as f32 - 128.0) / cs, (v[i] as f32 - 128.0) / cs)
                    }
                };
                let r = l + 2.0 * (1.0 - KR) * cr;
                let b = l + 2.0 * (1.0 - KB) * cb;
                let g = (l - KR * r - KB * b) / KG;
                let i = y * w + x;
                out.data[i] = r;
                out.data[n + i] = g;
                out.data[2 * n + i] = b;
            }
        }
        out
    }

    fn reference_from_rgb(layout: &YuvLayout, rgb: &Frame, out: &mut Vec<u8>) {
        let (w, h) = (layout.width, layout.height);
        let (cw, ch) = layout.chroma_size();
        let (yoff, ys, cs) = layout.scales();
        let n = w * h;
        out.clear();
        out.resize(layout.frame_bytes(), 0);
        let px = |i: usize| (rgb.data[i], rgb.data[n + i], rgb.data[2 * n + i]);
        // to_u8 rounds and clamps to 0..=255
        let quant = |v: f32| to_u8(v / 255.0);
        let luma_of = |(r, g, b): (f32, f32, f32)| KR * r + KG * g + KB * b;
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = quant(luma_of(px(i)) * ys + yoff);
        }
        if layout.subsampling == Subsampling::Mono {
            return;
        }
        let chroma_of = |(r, g, b): (f32, f32, f32)| {
            let l = luma_of((r, g, b));
            ((b - l) / (2.0 * (1.0 - KB)), (r - l) / (2.0 * (1.0 - KR)))
        };
        let (u, v) = out[n..].split_at_mut(cw * ch);
        for cy in 0..ch {
            for cx in 0..cw {
                let (mut su, mut sv, mut k) = (0.0, 0.0, 0.0);
                let (fy, fx) = if layout.subsampling == Subsampling::S420 {
                    (2, 2)
                } else {
                    (1, 1)
                };
                for y in cy * fy..((cy + 1) * fy).min(h) {
                    for x in cx * fx..((cx + 1) * fx).min(w) {
                        let (a, b) = chroma_of(px(y * w + x));
                        su += a;
                        sv += b;
                        k += 1.0;
                    }
                }
                u[cy * cw + cx] = quant(su / k * cs + 128.0);
                v[cy * cw + cx] = quant(sv / k * cs + 128.0);
            }
        }
    }

    #[test]
    fn conversions_keep_the_bits_of_the_pixel_by_pixel_code() {
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        for (w, h) in [(7, 5), (8, 6), (1, 1), (2, 3), (33, 2)] {
            for s in [Subsampling::S420, Subsampling::S444, Subsampling::Mono] {
                for full in [true, false] {
                    let l = YuvLayout {
                        width: w,
                        height: h,
                        subsampling: s,
                        full_range: full,
                    };
                    let yuv: Vec<u8> = (0..l.frame_bytes()).map(|_| next() as u8).collect();
                    let (got, want) = (l.to_rgb(&yuv), reference_to_rgb(&l, &yuv));
                    let same = |a: &[f32], b: &[f32]| {
                        a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits())
                    };
                    assert!(
                        same(&got.data, &want.data),
                        "to_rgb {w}x{h} {s:?} full={full}"
                    );
                    let rgb: Vec<f32> = (0..3 * w * h)
                        .map(|_| (next() % 1200) as f32 / 1000.0 - 0.1)
                        .collect();
                    let rgb = Frame::new(w, h, 3, rgb).unwrap();
                    let (mut got, mut want) = (Vec::new(), Vec::new());
                    l.from_rgb(&rgb, &mut got);
                    reference_from_rgb(&l, &rgb, &mut want);
                    assert_eq!(got, want, "from_rgb {w}x{h} {s:?} full={full}");
                }
            }
        }
    }
}
