//! Load-time rewrite of tract's decluttered model into the ops of this module (README, Speed, measures each):
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
use tract_core::ops::binary::{BinMiniOp, TypedBinOp};
use tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_core::ops::einsum::EinSum;
use tract_core::ops::element_wise::ElementWiseOp;
use tract_core::ops::math::{Add, Max};
use tract_core::ops::nn::DataFormat;
use tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearU8};

use super::conv_geometry::ConvGeometry;
use super::depth_to_space::{depth_to_space2, DepthToSpace2};
use super::f32_conv::F32Conv;
use super::int8_add::{Int8Add, QuantParams, QuantizeU8};
use super::int8_conv::{Int8Conv, QuantizedConv};
use super::winograd_conv::{Epilogue, WinogradConv};

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

/// The QuantizeLinearU8 that is the only consumer of `node`'s output, if so.
fn single_quantize(model: &TypedModel, node: &TypedNode) -> Option<(usize, QuantizeLinearU8)> {
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
fn dequantized_u8(
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
fn is_binary<O: BinMiniOp>(node: &TypedNode) -> bool {
    node.inputs.len() == 2 && node.op_as::<TypedBinOp>().is_some_and(|op| op.0.is::<O>())
}

fn konst(model: &TypedModel, outlet: OutletId) -> TractResult<Option<Arc<Tensor>>> {
    Ok(model.outlet_fact(outlet)?.konst.clone())
}

/// A float convolution read off the graph: its input outlet, weights [O, I, kh, kw], bias, stride and padding,
/// and the node whose output is the convolution's.
struct FloatConv {
    x: OutletId,
    weights: Arc<Tensor>,
    bias: Vec<f32>,
    stride: (usize, usize),
    pad: (usize, usize),
    last: usize,
}

fn float_conv(model: &TypedModel, node: &TypedNode) -> TractResult<Option<FloatConv>> {
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

fn int8_conv_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
    let node = model.node(id);
    let Some(conv) = float_conv(model, node)? else {
        return Ok(None);
    };
    let Some((x, xq)) = dequantized_u8(model, conv.x)? else {
        return Ok(None);
    };
    let Some((q_id, q)) = single_quantize(model, model.node(conv.last)) else {
        return Ok(None);
    };
    let (Some(&[1, cin, h, w]), Some(&[1, cout, oh, ow])) = (
        model.outlet_fact(x)?.shape.as_concrete(),
        model
            .outlet_fact(OutletId::new(q_id, 0))?
            .shape
            .as_concrete(),
    ) else {
        return Ok(None);
    };
    let &[wo, wi, kh, kw] = conv.weights.shape() else {
        return Ok(None);
    };
    if (wo, wi) != (cout, cin) || conv.bias.len() != cout {
        return Ok(None);
    }
    let weights = conv.weights.cast_to::<f32>()?;
    let weights = weights.try_as_plain_ram()?.as_slice::<f32>()?;
    let k = cin * kh * kw;
    let mut q_weights = Vec::with_capacity(cout * k);
    let mut q_bias = Vec::with_capacity(cout);
    let mut multiplier = Vec::with_capacity(cout);
    for c in 0..cout {
        let wc = &weights[c * k..(c + 1) * k];
        let max = wc.iter().fold(0f32, |m, w| m.max(w.abs()));
        let w_scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        for &wv in wc {
            let qv = wv / w_scale;
            if (qv - qv.round()).abs() > 1e-3 {
                return Ok(None);
            }
            q_weights.push(qv.round() as i8);
        }
        // The bias was quantized with scale x_scale * w_scale (onnxruntime's rule): this is its integer.
        q_bias.push((conv.bias[c] / (xq.scale * w_scale)).round() as i32);
        // QuantizeLinearU8 keeps 1 / y_scale.
        multiplier.push(xq.scale * w_scale * q.scale);
    }
    let op = Int8Conv::new(QuantizedConv {
        geometry: ConvGeometry {
            in_channels: cin,
            out_channels: cout,
            kernel: (kh, kw),
            stride: conv.stride,
            pad: conv.pad,
            input: (h, w),
            output: (oh, ow),
        },
        weights: q_weights,
        bias: q_bias,
        x_zero: xq.zero,
        multiplier,
        y_zero: q.zero_point,
    })?;
    let mut patch = TypedModelPatch::new(format!("int8 conv {}", node.name));
    let x = patch.tap_model(model, x)?;
    let y = patch.wire_node(&node.name, op, &[x])?[0];
    patch.shunt_outside(model, OutletId::new(q_id, 0), y)?;
    Ok(Some(patch))
}

fn int8_add_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
    let node = model.node(id);
    if !is_binary::<Add>(node) {
        return Ok(None);
    }
    let (Some((a, aq)), Some((b, bq))) = (
        dequantized_u8(model, node.inputs[0])?,
        dequantized_u8(model, node.inputs[1])?,
    ) else {
        return Ok(None);
    };
    let Some((q_id, q)) = single_quantize(model, node) else {
        return Ok(None);
    };
    let (fa, fb) = (model.outlet_fact(a)?, model.outlet_fact(b)?);
    if fa.shape != fb.shape || fa.shape.as_concrete().is_none() {
        return Ok(None);
    }
    let op = Int8Add {
        a: aq,
        b: bq,
        y_inv_scale: q.scale,
        y_zero: q.zero_point,
    };
    let mut patch = TypedModelPatch::new(format!("int8 add {}", node.name));
    let taps = [patch.tap_model(model, a)?, patch.tap_model(model, b)?];
    let y = patch.wire_node(&node.name, op, &taps)?[0];
    patch.shunt_outside(model, OutletId::new(q_id, 0), y)?;
    Ok(Some(patch))
}

/// A float convolution on an f32 frame of concrete shape, with what our ops need of it.
fn float_conv_at(
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

/// A float 3x3 stride-1 convolution becomes `WinogradConv` (where the kernel takes it; else `f32_conv_patch`).
fn winograd_conv_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
    let Some((conv, geometry, weights)) = float_conv_at(model, id)? else {
        return Ok(None);
    };
    if !WinogradConv::fits(&geometry) {
        return Ok(None);
    }
    let Ok(op) = WinogradConv::new(geometry, weights, conv.bias) else {
        return Ok(None);
    };
    conv_patch(model, id, conv.x, op)
}

/// Any other float convolution with a kernel (not 1x1) becomes `F32Conv`.
fn f32_conv_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
    let Some((conv, geometry, weights)) = float_conv_at(model, id)? else {
        return Ok(None);
    };
    conv_patch(
        model,
        id,
        conv.x,
        F32Conv::new(geometry, weights, conv.bias)?,
    )
}

/// The patch that puts `op` (reading `x`) in place of node `id`.
fn conv_patch(
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

/// The float convolution node (ours) whose output is `outlet` and goes nowhere else.
fn sole_float_conv(model: &TypedModel, outlet: OutletId) -> Option<&TypedNode> {
    let node = model.node(outlet.node);
    let ours = node.op_is::<WinogradConv>() || node.op_is::<F32Conv>();
    (ours && node.outputs[0].successors.len() == 1).then_some(node)
}

/// Max(conv, 0) becomes the convolution with a ReLU.
fn relu_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
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
fn residual_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
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

/// The patch that runs `fused` on `conv`'s input in place of `conv` and the node `last` after it.
fn replace_conv(
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

fn identity_u8_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
    let node = model.node(id);
    let Some(ew) = node.op_as::<ElementWiseOp>() else {
        return Ok(None);
    };
    let u8_dt = u8::datum_type();
    if node.inputs.len() != 1
        || model.outlet_fact(node.inputs[0])?.datum_type != u8_dt
        || model.outlet_fact(OutletId::new(id, 0))?.datum_type != u8_dt
    {
        return Ok(None);
    }
    let every_byte = tensor1(&(0..=255u8).collect::<Vec<_>>());
    let mapped = ew.0.eval_out_of_place(&every_byte, ew.1)?;
    if mapped != every_byte {
        return Ok(None);
    }
    TypedModelPatch::shunt_one_op(model, node)
}

fn quantize_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
    let node = model.node(id);
    let Some(q) = node
        .op_as::<ElementWiseOp>()
        .and_then(|ew| ew.0.downcast_ref::<QuantizeLinearU8>())
    else {
        return Ok(None);
    };
    if model.outlet_fact(node.inputs[0])?.datum_type != f32::datum_type() {
        return Ok(None);
    }
    let op = QuantizeU8 {
        inv_scale: q.scale,
        zero: q.zero_point,
    };
    Ok(Some(TypedModelPatch::replace_single_op(
        model,
        node,
        &node.inputs,
        op,
    )?))
}

/// `id` starts a chain of AxisOps (reshapes, moves) with one reader each; if the whole chain moves the elements
/// of a [1, 4C, H, W] tensor exactly as a block-2 depth-to-space does, it becomes one `DepthToSpace2`.
fn pixel_shuffle_patch(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
    let first = model.node(id);
    if !first.op_is::<AxisOp>() || model.node(first.inputs[0].node).op_is::<AxisOp>() {
        return Ok(None);
    }
    let x_fact = model.outlet_fact(first.inputs[0])?;
    let Some(&[1, c4, h, w]) = x_fact.shape.as_concrete() else {
        return Ok(None);
    };
    if c4 % 4 != 0 {
        return Ok(None);
    }
    // Follow the chain while each node is an AxisOp read by exactly one AxisOp; run it on element indices.
    let mut chain = vec![id];
    loop {
        let node = model.node(*chain.last().expect("not empty"));
        match &*node.outputs[0].successors {
            [next] if model.node(next.node).op_is::<AxisOp>() => chain.push(next.node),
            _ => break,
        }
    }
    let last = *chain.last().expect("not empty");
    let Some(out_shape) = model
        .outlet_fact(OutletId::new(last, 0))?
        .shape
        .as_concrete()
        .map(|s| s.to_vec())
    else {
        return Ok(None);
    };
    if out_shape != [1, c4 / 4, 2 * h, 2 * w] {
        return Ok(None);
    }
    let indices: Vec<i32> = (0..(c4 * h * w) as i32).collect();
    let mut value = tensor1(&indices).into_shape(&[1, c4, h, w])?.into_tvalue();
    for &n in &chain {
        let Some(out) = model.node(n).op.eval_out_of_plan(tvec!(value))? else {
            return Ok(None);
        };
        value = out.into_iter().next().context("an AxisOp has one output")?;
    }
    let mut expected = vec![0i32; indices.len()];
    depth_to_space2(&indices, (c4, h, w), &mut expected);
    if value.try_as_plain_ram()?.as_slice::<i32>()? != expected.as_slice() {
        return Ok(None);
    }
    let mut patch = TypedModelPatch::new(format!("pixel shuffle {}", first.name));
    let x = patch.tap_model(model, first.inputs[0])?;
    let y = patch.wire_node(&first.name, DepthToSpace2, &[x])?[0];
    patch.shunt_outside(model, OutletId::new(last, 0), y)?;
    Ok(Some(patch))
}
