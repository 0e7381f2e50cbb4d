//! The U-Net's pixel shuffle (depth to space, block 2) as one pass. The exported graph spells it as reshape,
//! transpose, reshape, which tract runs as two transposes over the whole tensor (9% of an f32 step at 640x480).

use tract_core::internal::*;

/// [1, 4C, H, W] -> [1, C, 2H, 2W]: out[c, 2h + i, 2w + j] = in[4c + 2i + j, h, w] (ONNX DepthToSpace, CRD).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DepthToSpace2;

/// The shuffle on plain slices, for any element type; `shape` is the input's (c4, h, w).
pub fn depth_to_space2<T: Copy>(x: &[T], (c4, h, w): (usize, usize, usize), y: &mut [T]) {
    let plane = h * w;
    for c in 0..c4 / 4 {
        for i in 0..2 {
            let even = &x[(4 * c + 2 * i) * plane..][..plane];
            let odd = &x[(4 * c + 2 * i + 1) * plane..][..plane];
            for r in 0..h {
                let out = &mut y[((c * 2 * h) + 2 * r + i) * 2 * w..][..2 * w];
                for ((pair, &e), &o) in out
                    .chunks_exact_mut(2)
                    .zip(&even[r * w..][..w])
                    .zip(&odd[r * w..][..w])
                {
                    pair[0] = e;
                    pair[1] = o;
                }
            }
        }
    }
}

impl DepthToSpace2 {
    fn output_shape(shape: &[usize]) -> TractResult<[usize; 4]> {
        let &[1, c4, h, w] = shape else {
            bail!("DepthToSpace2 expects [1, C, H, W], got {shape:?}");
        };
        ensure!(
            c4 % 4 == 0,
            "DepthToSpace2: {c4} channels is not a multiple of 4"
        );
        Ok([1, c4 / 4, 2 * h, 2 * w])
    }

    fn run<T: Datum + Copy>(x: &Tensor) -> TractResult<Tensor> {
        let shape = Self::output_shape(x.shape())?;
        // SAFETY: T is f32, u8 or i32 (eval), with no invalid bit patterns, and depth_to_space2 writes every
        // output element (each (c, 2h + i, 2w + j) from exactly one input element) before it is read.
        let mut y = unsafe { Tensor::uninitialized::<T>(&shape)? };
        depth_to_space2(
            x.try_as_plain_ram()?.as_slice::<T>()?,
            (x.shape()[1], x.shape()[2], x.shape()[3]),
            y.try_as_plain_ram_mut()?.as_slice_mut::<T>()?,
        );
        Ok(y)
    }
}

impl Op for DepthToSpace2 {
    fn name(&self) -> StaticName {
        "DepthToSpace2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for DepthToSpace2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let y = match x.datum_type() {
            DatumType::F32 => Self::run::<f32>(x)?,
            DatumType::U8 => Self::run::<u8>(x)?,
            DatumType::I32 => Self::run::<i32>(x)?,
            dt => bail!("DepthToSpace2: {dt:?} tensors are not handled"),
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for DepthToSpace2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = inputs[0]
            .shape
            .as_concrete()
            .context("DepthToSpace2 needs a concrete shape")?;
        Ok(tvec!(inputs[0].datum_type.fact(Self::output_shape(shape)?)))
    }

    as_op!();
}

/// `id` starts a chain of AxisOps (reshapes, moves) with one reader each; if the whole chain moves the elements
/// of a [1, 4C, H, W] tensor exactly as a block-2 depth-to-space does, it becomes one `DepthToSpace2`.
pub(super) fn pixel_shuffle_patch(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<TypedModelPatch>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_onnx_depth_to_space_crd() {
        let (c4, h, w) = (8, 3, 5);
        let x: Vec<u32> = (0..(c4 * h * w) as u32).collect();
        let mut y = vec![0; x.len()];
        depth_to_space2(&x, (c4, h, w), &mut y);
        for c in 0..c4 / 4 {
            for oy in 0..2 * h {
                for ox in 0..2 * w {
                    let (i, j) = (oy % 2, ox % 2);
                    let expected = x[((4 * c + 2 * i + j) * h + oy / 2) * w + ox / 2];
                    assert_eq!(
                        y[(c * 2 * h + oy) * 2 * w + ox],
                        expected,
                        "c {c} y {oy} x {ox}"
                    );
                }
            }
        }
    }
}
