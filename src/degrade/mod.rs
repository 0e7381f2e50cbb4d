//! The forward degradations D(x, t) the restorers were trained to invert.

pub mod blur;
pub mod camera_blur;
pub mod mask;
pub mod pyramid_fill;

use crate::frame::Frame;

/// D(x, t): t = 0 is the identity, severity grows with t.
pub trait Degradation {
    fn apply(&self, x: &Frame, t: usize) -> Frame;

    /// Whether the sampler's last step is the full update to t = 0, `x - D(x0, t_1) + D(x0, 0)`, rather than the
    /// model's x0 itself. For the blur the part of x that D(x0, t_1) does not explain is sensor noise and JPEG
    /// blocks, best dropped; for the mask it is every pixel outside the remaining hole (known, or settled by
    /// earlier steps), which must stay as it is.
    fn full_last_step(&self) -> bool {
        false
    }
}
