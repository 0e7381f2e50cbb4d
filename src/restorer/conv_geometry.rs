//! The geometry of a 2-D convolution over an NCHW frame with batch 1, the im2col rows our convolution ops build
//! from it, and the tract plumbing they share (`conv_op_plumbing!`).

use std::ops::Range;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    /// Padding before (top, left); the padding after follows from the output size.
    pub pad: (usize, usize),
    pub input: (usize, usize),
    pub output: (usize, usize),
}

/// One run of im2col taps that fall inside the frame: `len` outputs from `dst` on (relative to the first column
/// asked for) read the input from index `src` on, every `step` elements.
#[derive(Clone, Copy)]
pub struct Segment {
    pub dst: usize,
    pub len: usize,
    pub src: usize,
    pub step: usize,
}

impl ConvGeometry {
    /// Rows of the im2col matrix (= the weights' columns): in_channels * kh * kw.
    pub fn k(&self) -> usize {
        self.in_channels * self.kernel.0 * self.kernel.1
    }

    /// Columns of the im2col matrix: output positions.
    pub fn n(&self) -> usize {
        self.output.0 * self.output.1
    }

    /// [1, in_channels, h, w]: the only input the convolution ops take.
    pub fn input_shape(&self) -> [usize; 4] {
        [1, self.in_channels, self.input.0, self.input.1]
    }

    /// [1, out_channels, oh, ow].
    pub fn output_shape(&self) -> [usize; 4] {
        [1, self.out_channels, self.output.0, self.output.1]
    }

    /// The in-frame runs of every im2col row over the output columns `cols`, for building one tile.
    pub fn tile_segments(&self, cols: Range<usize>) -> TileSegments {
        let taps = self.kernel.0 * self.kernel.1;
        TileSegments {
            taps: (0..taps)
                .map(|t| self.segments(t, cols.clone()).collect())
                .collect(),
            plane: self.input.0 * self.input.1,
        }
    }

    /// The in-frame runs of im2col row `kk` (tap (ci, ky, kx), weights' order) over the output columns `cols`.
    /// Everything else in that part of the row is padding.
    pub fn segments(&self, kk: usize, cols: Range<usize>) -> impl Iterator<Item = Segment> + '_ {
        let (h, w) = self.input;
        let ow = self.output.1;
        let (kh, kw) = self.kernel;
        let (sy, sx) = self.stride;
        let (py, px) = self.pad;
        let (ci, ky, kx) = (kk / (kh * kw), kk / kw % kh, kk % kw);
        // Output columns whose tap lands inside an input row: px <= ox * sx + kx < w + px.
        let ox_in =
            px.saturating_sub(kx).div_ceil(sx)..(w + px).saturating_sub(kx).div_ceil(sx).min(ow);
        (cols.start / ow..cols.end.div_ceil(ow)).filter_map(move |oy| {
            let iy = (oy * sy + ky).checked_sub(py).filter(|&iy| iy < h)?;
            // This output row's part of `cols`, and of it the part inside the frame.
            let lo = ox_in.start.max(cols.start.saturating_sub(oy * ow));
            let hi = ox_in.end.min(cols.end - oy * ow);
            (lo < hi).then(|| Segment {
                dst: oy * ow + lo - cols.start,
                len: hi - lo,
                src: (ci * h + iy) * w + lo * sx + kx - px,
                step: sx,
            })
        })
    }
}

/// The runs of every im2col row over one tile's columns. Rows of the same kernel tap (ky, kx) differ only in
/// their input channel, which moves each run's source by whole input planes, so the runs are worked out once per
/// tap, not once per row: for a deep layer's short rows that arithmetic (a handful of integer divisions per row
/// and output row) cost more than the copies.
pub struct TileSegments {
    taps: Vec<Vec<Segment>>,
    plane: usize,
}

impl TileSegments {
    /// The in-frame runs of row `kk`, in increasing `dst` order; as `ConvGeometry::segments(kk, cols)`.
    pub fn row(&self, kk: usize) -> impl Iterator<Item = Segment> + '_ {
        let offset = kk / self.taps.len() * self.plane;
        self.taps[kk % self.taps.len()]
            .iter()
            .map(move |s| Segment {
                src: s.src + offset,
                ..*s
            })
    }
}

/// Fills the gaps of `row` between the runs `segments` (in increasing `dst` order) with `pad` and each run with
/// `copy(run, its part of row)`: every element written once.
pub fn write_row<T: Copy>(
    row: &mut [T],
    pad: T,
    segments: impl Iterator<Item = Segment>,
    mut copy: impl FnMut(&Segment, &mut [T]),
) {
    let mut done = 0;
    for s in segments {
        row[done..s.dst].fill(pad);
        copy(&s, &mut row[s.dst..s.dst + s.len]);
        done = s.dst + s.len;
    }
    row[done..].fill(pad);
}

/// The tract plumbing of our convolution ops, the same for each: one [1, C, H, W] input of `$t` elements in the
/// geometry's input shape, computed by `self.run(&[$t]) -> TractResult<Tensor>` into one output of `$t` in its
/// output shape; `info` names the geometry and the matrix kernel (`self.kernel_name()`).
macro_rules! conv_op_plumbing {
    ($op:ident, $t:ty) => {
        impl Op for $op {
            fn name(&self) -> StaticName {
                stringify!($op).into()
            }

            fn info(&self) -> TractResult<Vec<String>> {
                Ok(vec![format!(
                    "{:?} on {}",
                    self.geometry,
                    self.kernel_name()
                )])
            }

            op_as_typed_op!();
        }

        impl EvalOp for $op {
            op_out_of_plan!();

            fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
                let (x, expected) = (&inputs[0], self.geometry.input_shape());
                ensure!(
                    x.shape() == expected,
                    concat!(stringify!($op), ": input shape {:?}, expected {:?}"),
                    x.shape(),
                    expected
                );
                Ok(tvec!(self
                    .run(x.try_as_plain_ram()?.as_slice::<$t>()?)?
                    .into_tvalue()))
            }
        }

        impl TypedOp for $op {
            fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
                Ok(tvec!(<$t>::fact(self.geometry.output_shape())))
            }

            as_op!();
        }
    };
}
pub(crate) use conv_op_plumbing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_exactly_the_in_frame_taps() {
        let g = ConvGeometry {
            in_channels: 2,
            out_channels: 1,
            kernel: (3, 3),
            stride: (2, 2),
            pad: (1, 1),
            input: (7, 9),
            output: (4, 5),
        };
        for kk in 0..g.k() {
            for cols in [0..g.n(), 3..17, 7..8] {
                let mut got = vec![None; cols.len()];
                let tile = g.tile_segments(cols.clone());
                let (a, b): (Vec<_>, Vec<_>) = (
                    g.segments(kk, cols.clone())
                        .map(|s| (s.dst, s.len, s.src, s.step))
                        .collect(),
                    tile.row(kk)
                        .map(|s| (s.dst, s.len, s.src, s.step))
                        .collect(),
                );
                assert_eq!(a, b, "kk {kk}: per-tile runs");
                assert!(
                    a.windows(2).all(|p| p[0].0 + p[0].1 <= p[1].0),
                    "kk {kk}: runs out of order"
                );
                for s in g.segments(kk, cols.clone()) {
                    for i in 0..s.len {
                        assert!(got[s.dst + i].is_none(), "column written twice");
                        got[s.dst + i] = Some(s.src + i * s.step);
                    }
                }
                let (ci, ky, kx) = (kk / 9, kk / 3 % 3, kk % 3);
                for (j, col) in cols.clone().enumerate() {
                    let (oy, ox) = (col / 5, col % 5);
                    let (iy, ix) = ((oy * 2 + ky) as isize - 1, (ox * 2 + kx) as isize - 1);
                    let inside = (0..7).contains(&iy) && (0..9).contains(&ix);
                    let expected = inside.then(|| (ci * 7 + iy as usize) * 9 + ix as usize);
                    assert_eq!(got[j], expected, "kk {kk} column {col}");
                }
            }
        }
    }
}
