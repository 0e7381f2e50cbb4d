//! The numerics every int8 op shares: a u8 tensor's quantization, and QuantizeLinear's rounding.

/// Scale and zero point of one u8 tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantParams {
    pub scale: f32,
    pub zero: u8,
}

/// QuantizeLinear's rounding of an already scaled value: round half to even, add the zero point, saturate to
/// u8. Adding 1.5 * 2^23 leaves the nearest integer (ties to even, the default rounding mode) in the low mantissa
/// bits, read off as an integer: no library call (`f32::round_ties_even` is one on x86-64 without SSE4.1) and
/// only min/max/integer steps, so the loops around it vectorise. Values beyond +-4e6 saturate either way.
#[inline(always)]
pub fn quantize_u8(v: f32, zero: i32) -> u8 {
    const MAGIC: f32 = 12_582_912.0;
    let v = v.clamp(-4_000_000.0, 4_000_000.0);
    let i = (v + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32 + zero;
    i.clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_rounds_half_to_even_then_saturates() {
        let std = |v: f32, z: i32| (v.round_ties_even() + z as f32).clamp(0.0, 255.0) as u8;
        // Every half step from -300 to 300 (ties), values just off them, and far out of range.
        let mut values: Vec<f32> = (-600..=600).map(|i| i as f32 * 0.5).collect();
        values.extend((-600..=600).map(|i| i as f32 * 0.5 + 0.001));
        values.extend([1e7, -1e7, 3.9e6, -3.9e6, 0.0, -0.0, 1e-30]);
        for z in [0, 37, 128, 255] {
            for &v in &values {
                assert_eq!(quantize_u8(v, z), std(v, z), "v {v} zero {z}");
            }
        }
    }
}
