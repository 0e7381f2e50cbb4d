//! Element-wise int8 ops for a QDQ graph, each one vectorisable pass:
//! - `Int8Add`, the residual sum: DequantizeLinear(a), DequantizeLinear(b) -> Add -> QuantizeLinear becomes one
//!   pass over the two u8 tensors, computed in the same float order as the graph it replaces:
//!   y = sat_u8(round(((a - a_zero) a_scale + (b - b_zero) b_scale) / y_scale) + y_zero);
//! - `QuantizeU8`, QuantizeLinear of a float tensor, as tract's own but vectorised (tract's rounds each value
//!   through a library call).

use tract_core::internal::*;
use tract_core::ops::element_wise::ElementWiseOp;
use tract_core::ops::math::Add;
use tract_core::ops::quant::QuantizeLinearU8;

use super::graph::{dequantized_u8, is_binary, single_quantize};
use super::quant::{quantize_u8, QuantParams};
use crate::cpu::with_avx512;

#[derive(Clone, Debug, PartialEq)]
pub struct Int8Add {
    pub a: QuantParams,
    pub b: QuantParams,
    /// 1 / y_scale, as QuantizeLinear keeps it.
    pub y_inv_scale: f32,
    pub y_zero: u8,
}

impl Eq for Int8Add {}

impl Int8Add {
    /// The sum over whole tensors. The portable build targets SSE2 (4 lanes); on x86-64 with AVX-512 the same
    /// loop is compiled a second time for 16 lanes (perf: 7% of an int8 stream frame at 4 lanes). Both copies
    /// perform the same float operations in the same order (Rust never fuses a multiply and an add), so the same
    /// bits; a test compares them.
    pub fn run(&self, a: &[u8], b: &[u8], y: &mut [u8]) {
        with_avx512!(self.run_avx512(a, b, y), self.run_portable(a, b, y))
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn run_avx512(&self, a: &[u8], b: &[u8], y: &mut [u8]) {
        self.sum(a, b, y)
    }

    fn run_portable(&self, a: &[u8], b: &[u8], y: &mut [u8]) {
        self.sum(a, b, y)
    }

    #[inline(always)]
    fn sum(&self, a: &[u8], b: &[u8], y: &mut [u8]) {
        let (sa, za) = (self.a.scale, self.a.zero as f32);
        let (sb, zb) = (self.b.scale, self.b.zero as f32);
        let (inv, zy) = (self.y_inv_scale, self.y_zero as i32);
        for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
            let v = (a as f32 - za) * sa + (b as f32 - zb) * sb;
            *y = quantize_u8(v * inv, zy);
        }
    }
}

impl Op for Int8Add {
    fn name(&self) -> StaticName {
        "Int8Add".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Int8Add {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (a, b) = (&inputs[0], &inputs[1]);
        ensure!(
            a.shape() == b.shape(),
            "Int8Add: shapes {:?} and {:?}",
            a.shape(),
            b.shape()
        );
        // Written in place: building a Vec and then a tensor from it copied every output once more.
        // SAFETY: u8 has no invalid values, and `run` writes every element (a, b and y have one shape).
        let mut y = unsafe { Tensor::uninitialized::<u8>(a.shape())? };
        self.run(
            a.try_as_plain_ram()?.as_slice::<u8>()?,
            b.try_as_plain_ram()?.as_slice::<u8>()?,
            y.try_as_plain_ram_mut()?.as_slice_mut::<u8>()?,
        );
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for Int8Add {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs[0].shape == inputs[1].shape,
            "Int8Add needs two inputs of one shape"
        );
        Ok(tvec!(u8::fact(inputs[0].shape.clone())))
    }

    as_op!();
}

/// QuantizeLinear to u8: y = sat_u8(round(x / scale) + zero), `inv_scale` = 1 / scale as QuantizeLinearU8 keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeU8 {
    pub inv_scale: f32,
    pub zero: u8,
}

impl Eq for QuantizeU8 {}

impl Op for QuantizeU8 {
    fn name(&self) -> StaticName {
        "QuantizeU8".into()
    }

    op_as_typed_op!();
}

impl EvalOp for QuantizeU8 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        // SAFETY: u8 has no invalid values, and the loop below writes every element (x and y have one shape).
        let mut y = unsafe { Tensor::uninitialized::<u8>(x.shape())? };
        let (inv, zero) = (self.inv_scale, self.zero as i32);
        for (y, &x) in y
            .try_as_plain_ram_mut()?
            .as_slice_mut::<u8>()?
            .iter_mut()
            .zip(x.try_as_plain_ram()?.as_slice::<f32>()?)
        {
            *y = quantize_u8(x * inv, zero);
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for QuantizeU8 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(u8::fact(inputs[0].shape.clone())))
    }

    as_op!();
}

pub(super) fn int8_add_patch(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<TypedModelPatch>> {
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

pub(super) fn identity_u8_patch(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<TypedModelPatch>> {
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

pub(super) fn quantize_patch(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<TypedModelPatch>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_sum_matches_dequantize_add_quantize() {
        let op = Int8Add {
            a: QuantParams {
                scale: 0.0053500105,
                zero: 129,
            },
            b: QuantParams {
                scale: 0.004524383,
                zero: 0,
            },
            y_inv_scale: 144.54506,
            y_zero: 91,
        };
        let a: Vec<u8> = (0..=255).cycle().take(256 * 7).collect();
        let b: Vec<u8> = (0..256 * 7).map(|i| (i * 7 / 5 % 256) as u8).collect();
        let (mut y, mut portable) = (vec![0; a.len()], vec![0; a.len()]);
        op.run(&a, &b, &mut y);
        op.run_portable(&a, &b, &mut portable);
        assert_eq!(y, portable, "the dispatched and the portable loop differ");
        for i in 0..a.len() {
            let v = (a[i] as f32 - 129.0) * op.a.scale + (b[i] as f32 - 0.0) * op.b.scale;
            let expected = ((v * op.y_inv_scale).round_ties_even() + 91.0).clamp(0.0, 255.0) as u8;
            assert_eq!(y[i], expected, "a {} b {}", a[i], b[i]);
        }
        assert!(y.contains(&0) && y.contains(&255));
    }

    #[test]
    fn quantize_matches_tracts_quantize_linear() {
        let xs: Vec<f32> = (-2000..2000)
            .map(|i| i as f32 / 997.0)
            .chain([0.5 / 255.0, 1.5 / 255.0])
            .collect();
        let op = QuantizeU8 {
            inv_scale: 254.99998,
            zero: 3,
        };
        let y = op
            .eval(
                &EvalContext::out_of_plan(),
                tvec!(tensor1(&xs).into_tvalue()),
            )
            .unwrap();
        let y = y[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<u8>()
            .unwrap()
            .to_vec();
        for (x, y) in xs.iter().zip(y) {
            assert_eq!(
                y,
                tract_core::ops::quant::quantize_linear_f32_u8(*x, 254.99998, 3),
                "x {x}"
            );
        }
    }
}
