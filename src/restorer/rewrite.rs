//! Load-time rewrite of tract's decluttered model into the ops of this module (docs/performance.md measures
//! each). Each pattern lives beside the op it builds; this file runs them in passes:
//! - DequantizeLinear(u8) -> Conv (or, for a 1x1 convolution, EinSum + bias) -> QuantizeLinear(u8) becomes one
//!   `Int8Conv`;
//! - DequantizeLinear(u8), DequantizeLinear(u8) -> Add -> QuantizeLinear(u8) becomes one `Int8Add`;
//! - QuantizeLinear(f32 -> u8) becomes `QuantizeU8`, the same rounding, vectorised;
//! - a u8 -> u8 element-wise op that maps every byte to itself goes: tract folds each DequantizeLinear ->
//!   reshape -> QuantizeLinear around our pixel shuffles into such a lookup table, a copy of the tensor;
//! - a chain of reshapes and transposes that amounts to a pixel shuffle becomes one `DepthToSpace2` pass (the
//!   chain is run on the tensor of its element indices and kept only if the result is exactly that shuffle);
//! - then a float 3x3 stride-1 convolution (a float model's, or a layer an int8 file keeps in float) becomes
//!   `WinogradConv`, and any other float convolution with a kernel larger than 1x1 (the stride-2 downsamplers)
//!   `F32Conv`.
//!
//! After tract's declutter the weights' DequantizeLinear is folded into a float constant. The int8 weights are
//! recovered exactly from it: onnxruntime's symmetric per-channel quantization maps each output channel's
//! largest |w| to 127, so w_scale_c = max|w_c| / 127 and w / w_scale_c is an integer. A convolution whose
//! weights do not come back as integers (another quantizer, a float model) is left to tract, as is anything
//! else that does not match exactly.

use tract_core::internal::*;

use super::depth_to_space::pixel_shuffle_patch;
use super::f32_conv::f32_conv_patch;
use super::fuse::{relu_patch, residual_patch};
use super::int8_add::{identity_u8_patch, int8_add_patch, quantize_patch};
use super::int8_conv::int8_conv_patch;
use super::winograd_conv::winograd_conv_patch;

/// What the rewrite changed in one model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rewritten {
    pub int8_convs: usize,
    pub int8_adds: usize,
    pub identities: usize,
    pub quantizes: usize,
    pub pixel_shuffles: usize,
    pub winograd_convs: usize,
    pub f32_convs: usize,
    /// ReLUs, and residual sums after them, folded into the float convolution before them.
    pub fused_relus: usize,
    pub fused_residuals: usize,
}

/// A pattern: the patch that rewrites the subgraph at node `id`, if it matches there.
type Pattern = fn(&TypedModel, usize) -> TractResult<Option<TypedModelPatch>>;
/// The counter a pattern's rewrites add to.
type Counter = fn(&mut Rewritten) -> &mut usize;

/// The patterns in passes: the float convolutions are only looked at once no int8 pattern or clean-up is left
/// (an int8 file's quantized convolutions must become `Int8Conv`, not `F32Conv`), and what follows them once
/// they are ours. Within a pass, nodes in evaluation order, each trying the patterns in this order.
const PASSES: [&[(Pattern, Counter)]; 3] = [
    &[
        (int8_conv_patch, |r| &mut r.int8_convs),
        (int8_add_patch, |r| &mut r.int8_adds),
        (identity_u8_patch, |r| &mut r.identities),
        (quantize_patch, |r| &mut r.quantizes),
        (pixel_shuffle_patch, |r| &mut r.pixel_shuffles),
    ],
    &[
        (winograd_conv_patch, |r| &mut r.winograd_convs),
        (f32_conv_patch, |r| &mut r.f32_convs),
    ],
    &[
        (relu_patch, |r| &mut r.fused_relus),
        (residual_patch, |r| &mut r.fused_residuals),
    ],
];

/// Rewrites every matching pattern of a decluttered model, one patch at a time (each changes what the next
/// one sees).
pub fn rewrite(model: &mut TypedModel) -> TractResult<Rewritten> {
    let mut done = Rewritten::default();
    'patches: loop {
        for pass in PASSES {
            if let Some((patch, counter)) = first_match(model, pass)? {
                patch.apply(model)?;
                *counter(&mut done) += 1;
                continue 'patches;
            }
        }
        break;
    }
    model.compact()?;
    Ok(done)
}

fn first_match(
    model: &TypedModel,
    pass: &[(Pattern, Counter)],
) -> TractResult<Option<(TypedModelPatch, Counter)>> {
    for id in model.eval_order()? {
        for &(pattern, counter) in pass {
            if let Some(patch) = pattern(model, id)? {
                return Ok(Some((patch, counter)));
            }
        }
    }
    Ok(None)
}
