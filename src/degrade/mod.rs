//! The forward degradations D(x, t) the restorers were trained to invert.

pub mod blur;
pub mod mask;

use crate::planar::Planar;

/// D(x, t): t = 0 is the identity, severity grows with t.
pub trait Degradation {
    fn apply(&self, x: &Planar, t: usize) -> Planar;
}
