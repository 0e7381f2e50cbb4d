//! On-frame annotations drawn with embedded-graphics: a status line (model, steps, ms, fps) and the
//! side-by-side comparison (input's left half | output's right half, a divider, labels).

use std::convert::Infallible;

use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::mono_font::MonoTextStyleBuilder;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle};
use embedded_graphics::text::{Baseline, Text};

use crate::frame::Frame;
use crate::frame_mask::FrameMask;

/// The frame buffer as an embedded-graphics canvas: pixels outside the frame are dropped.
impl OriginDimensions for Frame {
    fn size(&self) -> Size {
        Size::new(self.width as u32, self.height as u32)
    }
}

impl DrawTarget for Frame {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Infallible> {
        let n = self.width * self.height;
        for Pixel(p, c) in pixels {
            let (x, y) = (p.x as usize, p.y as usize);
            if p.x >= 0 && p.y >= 0 && x < self.width && y < self.height && self.channels >= 3 {
                let i = y * self.width + x;
                self.data[i] = c.r() as f32 / 255.0;
                self.data[n + i] = c.g() as f32 / 255.0;
                self.data[2 * n + i] = c.b() as f32 / 255.0;
            }
        }
        Ok(())
    }
}

/// White text on a black box, so it reads on any picture.
pub fn draw_label(frame: &mut Frame, text: &str, x: i32, y: i32) {
    let style = MonoTextStyleBuilder::new()
        .font(&FONT_6X10)
        .text_color(Rgb888::WHITE)
        .background_color(Rgb888::BLACK)
        .build();
    // Drawing into a Frame cannot fail (Infallible).
    let _ = Text::with_baseline(text, Point::new(x, y), style, Baseline::Top).draw(frame);
}

/// Writes the input's left half over the output's left half, with a divider and labels.
pub fn compose_compare(input: &Frame, output: &mut Frame) {
    let half = output.width / 2;
    for c in 0..output.channels.min(input.channels) {
        let (src, w) = (input.plane(c), input.width);
        let dst = output.plane_mut(c);
        for y in 0..input.height {
            dst[y * w..y * w + half].copy_from_slice(&src[y * w..y * w + half]);
        }
    }
    let x = half as i32;
    let _ = Line::new(Point::new(x, 0), Point::new(x, output.height as i32 - 1))
        .into_styled(PrimitiveStyle::with_stroke(Rgb888::WHITE, 1))
        .draw(output);
    draw_label(output, "input", 4, output.height as i32 - 14);
    draw_label(output, "coldframe", x + 4, output.height as i32 - 14);
}

/// The pixels of the mask that touch a known pixel (4-neighbours): its outline, drawn on inpainted frames so a
/// viewer sees what was filled.
pub fn mask_outline(mask: &FrameMask) -> Vec<Point> {
    let (w, h) = (mask.width, mask.height);
    let at = |x: usize, y: usize| mask.missing[y * w + x];
    let mut out = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if at(x, y)
                && ((x > 0 && !at(x - 1, y))
                    || (x + 1 < w && !at(x + 1, y))
                    || (y > 0 && !at(x, y - 1))
                    || (y + 1 < h && !at(x, y + 1)))
            {
                out.push(Point::new(x as i32, y as i32));
            }
        }
    }
    out
}

pub fn draw_outline(frame: &mut Frame, outline: &[Point]) {
    let pixels = outline.iter().map(|&p| Pixel(p, Rgb888::YELLOW));
    // Drawing on a Frame cannot fail (its error type is Infallible).
    let _ = frame.draw_iter(pixels);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_changes_only_its_corner_and_compare_splits_at_the_middle() {
        let mut f = Frame::new(64, 32, 3, vec![0.5; 64 * 32 * 3]).unwrap();
        draw_label(&mut f, "ab", 0, 0);
        let changed: Vec<usize> = (0..64 * 32).filter(|i| f.data[*i] != 0.5).collect();
        assert!(!changed.is_empty());
        assert!(
            changed.iter().all(|i| i % 64 < 12 && i / 64 < 10),
            "label drawn outside its 2x(6x10) box"
        );
        let input = Frame::new(64, 32, 3, vec![0.0; 64 * 32 * 3]).unwrap();
        let mut out = Frame::new(64, 32, 3, vec![1.0; 64 * 32 * 3]).unwrap();
        compose_compare(&input, &mut out);
        assert_eq!(out.data[5 * 64 + 10], 0.0); // left: input
        assert_eq!(out.data[5 * 64 + 50], 1.0); // right: output
        assert_eq!(out.data[5 * 64 + 32], 1.0); // divider (white)
                                                // drawing off the frame is ignored, not a panic
        draw_label(&mut out, "far away", 1000, -50);
    }
}
