//! Fixture readers shared by the integration tests. Fixtures are written by models/recipe/export.py.
#![allow(dead_code)]

use std::path::PathBuf;

use coldframe::planar::Planar;

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

pub struct Reader {
    bytes: Vec<u8>,
    pos: usize,
}

impl Reader {
    pub fn open(name: &str) -> Reader {
        let p = data(name);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()));
        Reader { bytes, pos: 0 }
    }

    fn take4(&mut self) -> [u8; 4] {
        let b: [u8; 4] = self.bytes[self.pos..self.pos + 4]
            .try_into()
            .expect("4 bytes");
        self.pos += 4;
        b
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take4())
    }

    pub fn f32(&mut self) -> f32 {
        f32::from_le_bytes(self.take4())
    }

    /// A float32 tensor: ndim, shape, data. Returned as a frame ([C, H, W] or [1, C, H, W]).
    pub fn frame(&mut self) -> Planar {
        let nd = self.u32() as usize;
        let shape: Vec<usize> = (0..nd).map(|_| self.u32() as usize).collect();
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| self.f32()).collect();
        let (c, h, w) = (shape[nd - 3], shape[nd - 2], shape[nd - 1]);
        Planar::new(w, h, c, data).expect("fixture shape")
    }
}

pub fn max_abs_diff(a: &Planar, b: &Planar) -> f32 {
    assert_eq!(
        (a.width, a.height, a.channels),
        (b.width, b.height, b.channels)
    );
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn psnr(a: &Planar, b: &Planar) -> f64 {
    let mse: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        / a.data.len() as f64;
    10.0 * (1.0 / mse.max(1e-12)).log10()
}
