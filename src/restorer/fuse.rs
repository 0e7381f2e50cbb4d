//! Patterns that fold what follows one of our float convolutions into it: a ReLU, and a residual sum after it.

use tract_core::internal::*;
use tract_core::ops::math::{Add, Max};

use super::f32_conv::F32Conv;
use super::graph::{is_binary, konst, replace_conv};
use super::winograd_conv::{Epilogue, WinogradConv};

/// The float convolution node (ours) whose output is `outlet` and goes nowhere else.
fn sole_float_conv(model: &TypedModel, outlet: OutletId) -> Option<&TypedNode> {
    let node = model.node(outlet.node);
    let ours = node.op_is::<WinogradConv>() || node.op_is::<F32Conv>();
    (ours && node.outputs[0].successors.len() == 1).then_some(node)
}

/// Max(conv, 0) becomes the convolution with a ReLU.
pub(super) fn relu_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
    let node = model.node(id);
    if !is_binary::<Max>(node) {
        return Ok(None);
    }
    for (c, z) in [(0, 1), (1, 0)] {
        let Some(conv) = sole_float_conv(model, node.inputs[c]) else {
            continue;
        };
        let zero = konst(model, node.inputs[z])?
            .is_some_and(|k| k.len() == 1 && k.cast_to_scalar::<f32>().is_ok_and(|v| v == 0.0));
        // The Max must not broadcast the convolution's output to another shape.
        if !zero
            || model.outlet_fact(OutletId::new(id, 0))?.shape
                != model.outlet_fact(node.inputs[c])?.shape
        {
            continue;
        }
        let fused: Box<dyn TypedOp> = if let Some(op) = conv.op_as::<WinogradConv>() {
            match op.with_epilogue(Epilogue::Relu) {
                Some(op) => Box::new(op),
                None => continue,
            }
        } else if let Some(op) = conv.op_as::<F32Conv>().filter(|op| !op.relu) {
            let mut op = op.clone();
            op.relu = true;
            Box::new(op)
        } else {
            continue;
        };
        return replace_conv(model, conv, fused, id).map(Some);
    }
    Ok(None)
}

/// Add(relu(conv(x)), x) becomes the convolution with the sum.
pub(super) fn residual_patch(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<TypedModelPatch>> {
    let node = model.node(id);
    if !is_binary::<Add>(node) {
        return Ok(None);
    }
    for (c, x) in [(0, 1), (1, 0)] {
        let Some(conv) = sole_float_conv(model, node.inputs[c]) else {
            continue;
        };
        let Some(op) = conv.op_as::<WinogradConv>() else {
            continue;
        };
        if conv.inputs[0] != node.inputs[x] {
            continue;
        }
        let Some(fused) = op.with_epilogue(Epilogue::ReluPlusInput) else {
            continue;
        };
        return replace_conv(model, conv, Box::new(fused), id).map(Some);
    }
    Ok(None)
}
