//! Load-time rewrite of a QDQ graph: DequantizeLinear(u8) -> Conv -> QuantizeLinear(u8) becomes one `Int8Conv`.
//!
//! After tract's declutter the weights' DequantizeLinear is folded into a float constant. The int8 weights are
//! recovered exactly from it: onnxruntime's symmetric per-channel quantization maps each output channel's
//! largest |w| to 127, so w_scale_c = max|w_c| / 127 and w / w_scale_c is an integer. A convolution whose
//! weights do not come back as integers (another quantizer, a float model) is left to tract.

use tract_core::internal::*;
use tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_core::ops::element_wise::ElementWiseOp;
use tract_core::ops::nn::DataFormat;
use tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearU8};

use super::int8_conv::{ConvGeometry, Int8Conv, QuantizedConv};

/// Rewrites every matching convolution of a decluttered model; returns how many were rewritten.
pub fn rewrite_int8_convs(model: &mut TypedModel) -> TractResult<usize> {
    let mut done = 0;
    loop {
        let mut patch = None;
        for id in model.eval_order()? {
            if let Some(p) = try_rewrite(model, id)? {
                patch = Some(p);
                break;
            }
        }
        match patch {
            Some(p) => {
                p.apply(model)?;
                done += 1;
            }
            None => break,
        }
    }
    model.compact()?;
    Ok(done)
}

fn try_rewrite(model: &TypedModel, id: usize) -> TractResult<Option<TypedModelPatch>> {
    let node = model.node(id);
    let Some(conv) = node.op_as::<Conv>() else {
        return Ok(None);
    };
    let spec = &conv.pool_spec;
    if conv.q_params.is_some()
        || conv.group != 1
        || conv.kernel_fmt != KernelFormat::OIHW
        || spec.data_format != DataFormat::NCHW
        || spec.kernel_shape.len() != 2
        || spec
            .dilations
            .as_ref()
            .is_some_and(|d| d.iter().any(|&d| d != 1))
        || node.inputs.len() != 3
    {
        return Ok(None);
    }
    let PaddingSpec::Explicit(before, after) = &spec.padding else {
        return Ok(None);
    };
    let dq_node = model.node(node.inputs[0].node);
    let Some(dq) = dq_node.op_as::<DequantizeLinearF32>() else {
        return Ok(None);
    };
    let x_fact = model.outlet_fact(dq_node.inputs[0])?;
    if x_fact.datum_type != u8::datum_type() || !(0..=255).contains(&dq.zero_point) {
        return Ok(None);
    }
    let Some(shape) = x_fact.shape.as_concrete() else {
        return Ok(None);
    };
    let &[1, cin, h, w] = shape else {
        return Ok(None);
    };
    let (Some(weights), Some(bias)) = (
        model.outlet_fact(node.inputs[1])?.konst.clone(),
        model.outlet_fact(node.inputs[2])?.konst.clone(),
    ) else {
        return Ok(None);
    };
    let [succ] = &*node.outputs[0].successors else {
        return Ok(None);
    };
    let q_node = model.node(succ.node);
    let Some(q) = q_node
        .op_as::<ElementWiseOp>()
        .and_then(|ew| ew.0.downcast_ref::<QuantizeLinearU8>())
    else {
        return Ok(None);
    };
    let out_fact = model.outlet_fact(OutletId::new(q_node.id, 0))?;
    let Some(&[1, cout, oh, ow]) = out_fact.shape.as_concrete() else {
        return Ok(None);
    };
    let (kh, kw) = (spec.kernel_shape[0], spec.kernel_shape[1]);
    let stride = spec
        .strides
        .as_ref()
        .map(|s| (s[0], s[1]))
        .unwrap_or((1, 1));
    if weights.shape() != [cout, cin, kh, kw]
        || bias.len() != cout
        || before.len() != 2
        || after.len() != 2
    {
        return Ok(None);
    }
    let weights = weights.cast_to::<f32>()?;
    let weights = weights.try_as_plain_ram()?.as_slice::<f32>()?;
    let bias = bias.cast_to::<f32>()?;
    let bias = bias.try_as_plain_ram()?.as_slice::<f32>()?;
    let k = cin * kh * kw;
    // QuantizeLinearU8 and DequantizeLinearF32 keep 1/y_scale and x_scale.
    let (x_scale, y_inv_scale) = (dq.scale, q.scale);
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
        q_bias.push((bias[c] / (x_scale * w_scale)).round() as i32);
        multiplier.push(x_scale * w_scale * y_inv_scale);
    }
    let op = Int8Conv::new(QuantizedConv {
        geometry: ConvGeometry {
            in_channels: cin,
            out_channels: cout,
            kernel: (kh, kw),
            stride,
            pad: (before[0], before[1]),
            input: (h, w),
            output: (oh, ow),
        },
        weights: q_weights,
        bias: q_bias,
        x_zero: dq.zero_point as u8,
        multiplier,
        y_zero: q.zero_point,
    })?;
    let mut patch = TypedModelPatch::new(format!("int8 conv {}", node.name));
    let x = patch.tap_model(model, dq_node.inputs[0])?;
    let y = patch.wire_node(&node.name, op, &[x])?[0];
    patch.shunt_outside(model, OutletId::new(q_node.id, 0), y)?;
    Ok(Some(patch))
}
