//! Readers of tract's decluttered graph that the rewrite patterns share: what feeds or follows a node, and a
//! float convolution in either of the forms tract leaves it in.

use tract_core::internal::*;
use tract_core::ops::binary::{BinMiniOp, TypedBinOp};
use tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_core::ops::einsum::EinSum;
use tract_core::ops::element_wise::ElementWiseOp;
use tract_core::ops::math::Add;
use tract_core::ops::nn::DataFormat;
use tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearU8};

use super::conv_geometry::ConvGeometry;
use super::quant::QuantParams;

/// The QuantizeLinearU8 that is the only consumer of `node`'s output, if so.
pub(super) fn single_quantize(
    model: &TypedModel,
    node: &TypedNode,
) -> Option<(usize, QuantizeLinearU8)> {
    let [succ] = &*node.outputs[0].successors else {
        return None;
    };
    let q_node = model.node(succ.node);
    let q = q_node
        .op_as::<ElementWiseOp>()
        .and_then(|ew| ew.0.downcast_ref::<QuantizeLinearU8>())?;
    Some((q_node.id, q.clone()))
}

/// The DequantizeLinearF32 of a u8 tensor feeding `outlet`: its input and its parameters.
pub(super) fn dequantized_u8(
    model: &TypedModel,
    outlet: OutletId,
) -> TractResult<Option<(OutletId, QuantParams)>> {
    let node = model.node(outlet.node);
    let Some(dq) = node.op_as::<DequantizeLinearF32>() else {
        return Ok(None);
    };
    if model.outlet_fact(node.inputs[0])?.datum_type != u8::datum_type()
        || !(0..=255).contains(&dq.zero_point)
    {
        return Ok(None);
    }
    Ok(Some((
        node.inputs[0],
        QuantParams {
            scale: dq.scale,
            zero: dq.zero_point as u8,
        },
    )))
}

/// Whether `node` is the element-wise binary op `O` (Add, Max, ...) on two inputs.
pub(super) fn is_binary<O: BinMiniOp>(node: &TypedNode) -> bool {
    node.inputs.len() == 2 && node.op_as::<TypedBinOp>().is_some_and(|op| op.0.is::<O>())
}

pub(super) fn konst(model: &TypedModel, outlet: OutletId) -> TractResult<Option<Arc<Tensor>>> {
    Ok(model.outlet_fact(outlet)?.konst.clone())
}

/// A float convolution read off the graph: its input outlet, weights [O, I, kh, kw], bias, stride and padding,
/// and the node whose output is the convolution's.
pub(super) struct FloatConv {
    pub(super) x: OutletId,
    pub(super) weights: Arc<Tensor>,
    pub(super) bias: Vec<f32>,
    pub(super) stride: (usize, usize),
    pub(super) pad: (usize, usize),
    pub(super) last: usize,
}

pub(super) fn float_conv(model: &TypedModel, node: &TypedNode) -> TractResult<Option<FloatConv>> {
    if let Some(conv) = node.op_as::<Conv>() {
        let spec = &conv.pool_spec;
        let PaddingSpec::Explicit(before, _) = &spec.padding else {
            return Ok(None);
        };
        if conv.q_params.is_some()
            || conv.group != 1
            || conv.kernel_fmt != KernelFormat::OIHW
            || spec.data_format != DataFormat::NCHW
            || spec.kernel_shape.len() != 2
            || before.len() != 2
            || spec
                .dilations
                .as_ref()
                .is_some_and(|d| d.iter().any(|&d| d != 1))
            || node.inputs.len() != 3
        {
            return Ok(None);
        }
        let (Some(weights), Some(bias)) =
            (konst(model, node.inputs[1])?, konst(model, node.inputs[2])?)
        else {
            return Ok(None);
        };
        let bias = bias
            .cast_to::<f32>()?
            .try_as_plain_ram()?
            .as_slice::<f32>()?
            .to_vec();
        let stride = spec
            .strides
            .as_ref()
            .map(|s| (s[0], s[1]))
            .unwrap_or((1, 1));
        return Ok(Some(FloatConv {
            x: node.inputs[0],
            weights,
            bias,
            stride,
            pad: (before[0], before[1]),
            last: node.id,
        }));
    }
    // tract turns a 1x1 convolution into EinSum(NIHW,OI->NOHW) followed by the bias Add.
    if !is_binary::<Add>(node) {
        return Ok(None);
    }
    for (e, b) in [(0, 1), (1, 0)] {
        let einsum_node = model.node(node.inputs[e].node);
        let Some(einsum) = einsum_node.op_as::<EinSum>() else {
            continue;
        };
        let Some(bias) = konst(model, node.inputs[b])? else {
            continue;
        };
        if einsum.q_params.is_some()
            || einsum.axes.to_string() != "NIHW,OI->NOHW"
            || einsum_node.inputs.len() != 2
            || einsum_node.outputs[0].successors.len() != 1
        {
            continue;
        }
        let Some(w) = konst(model, einsum_node.inputs[1])? else {
            continue;
        };
        let &[o, i] = w.shape() else {
            continue;
        };
        if bias.len() != o {
            continue;
        }
        let weights = Arc::new(w.as_ref().clone().into_shape(&[o, i, 1, 1])?);
        let bias = bias
            .cast_to::<f32>()?
            .try_as_plain_ram()?
            .as_slice::<f32>()?
            .to_vec();
        return Ok(Some(FloatConv {
            x: einsum_node.inputs[0],
            weights,
            bias,
            stride: (1, 1),
            pad: (0, 0),
            last: node.id,
        }));
    }
    Ok(None)
}

/// A float convolution on an f32 frame of concrete shape, with what our ops need of it.
pub(super) fn float_conv_at(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<(FloatConv, ConvGeometry, Vec<f32>)>> {
    let node = model.node(id);
    if !node.op_is::<Conv>() {
        return Ok(None);
    }
    let Some(conv) = float_conv(model, node)? else {
        return Ok(None);
    };
    let x_fact = model.outlet_fact(conv.x)?;
    let (Some(&[1, cin, h, w]), Some(&[1, cout, oh, ow])) = (
        x_fact.shape.as_concrete(),
        model.outlet_fact(OutletId::new(id, 0))?.shape.as_concrete(),
    ) else {
        return Ok(None);
    };
    let &[wo, wi, kh, kw] = conv.weights.shape() else {
        return Ok(None);
    };
    if x_fact.datum_type != f32::datum_type() || (wo, wi) != (cout, cin) || kh * kw < 2 {
        return Ok(None);
    }
    let weights = conv
        .weights
        .cast_to::<f32>()?
        .try_as_plain_ram()?
        .as_slice::<f32>()?
        .to_vec();
    let geometry = ConvGeometry {
        in_channels: cin,
        out_channels: cout,
        kernel: (kh, kw),
        stride: conv.stride,
        pad: conv.pad,
        input: (h, w),
        output: (oh, ow),
    };
    Ok(Some((conv, geometry, weights)))
}

/// The patch that puts `op` (reading `x`) in place of node `id`.
pub(super) fn conv_patch(
    model: &TypedModel,
    id: usize,
    x: OutletId,
    op: impl TypedOp,
) -> TractResult<Option<TypedModelPatch>> {
    let name = &model.node(id).name;
    let mut patch = TypedModelPatch::new(format!("f32 conv {name}"));
    let x = patch.tap_model(model, x)?;
    let y = patch.wire_node(name, op, &[x])?[0];
    patch.shunt_outside(model, OutletId::new(id, 0), y)?;
    Ok(Some(patch))
}

/// The patch that runs `fused` on `conv`'s input in place of `conv` and the node `last` after it.
pub(super) fn replace_conv(
    model: &TypedModel,
    conv: &TypedNode,
    fused: Box<dyn TypedOp>,
    last: usize,
) -> TractResult<TypedModelPatch> {
    let mut patch = TypedModelPatch::new(format!("fuse into {}", conv.name));
    let x = patch.tap_model(model, conv.inputs[0])?;
    let y = patch.wire_node(&conv.name, fused, &[x])?[0];
    patch.shunt_outside(model, OutletId::new(last, 0), y)?;
    Ok(patch)
}
