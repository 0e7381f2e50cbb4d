//! The restorer R(x_t, t) -> x0 through tract. Every tract call of the crate lives in this module and its
//! submodules (docs/design.md §7: the inner crates are unstable surface, so an upgrade touches this directory only).
//!
//! A model is parsed once; a plan is optimised for each concrete frame size the first time it is seen and cached
//! (symbolic H/W does not survive tract's U-Net skip concatenations).
//!
//! Between tract's declutter and its optimiser, `rewrite` replaces what tract 0.23.9 runs slowly on our models
//! with ops of this module, built on tract-linalg's matrix kernels (docs/performance.md has the measurements):
//! - an int8 (QDQ) model's quantized 3x3 and 1x1 convolutions become integer convolutions (`int8_conv`) and its
//!   residual sums integer sums (`int8_add`): tract would run them as float convolutions between quantize and
//!   dequantize passes;
//! - a float model's 3x3 stride-1 convolutions become Winograd F(4x4, 3x3) convolutions (`winograd_conv`), its
//!   stride-2 ones tiled im2col convolutions (`f32_conv`);
//! - on x86-64, whatever float convolution is left goes through im2col rather than tract's direct spatial kernel
//!   (measured slower here; ARM keeps tract's own choice, not measured on a board).
//!
//! The files, by job: each op in its own file with the rewrite pattern that builds it (`int8_conv`, `int8_add`,
//! `winograd_conv`, `f32_conv`, `depth_to_space`; `fuse` folds a ReLU or residual sum into a float convolution);
//! `rewrite` runs the patterns in passes; `graph` reads tract's graph for them; `kernel`, `conv_geometry` and
//! `quant` hold what several ops share (tract-linalg's matrix kernels, convolution taps, int8 rounding); `cpu`
//! picks an op's AVX-512 or portable copy; `reference` (tests only) holds the definitions the ops are tested
//! against.

pub mod blur_estimator;
mod conv_geometry;
mod depth_to_space;
mod f32_conv;
mod fuse;
mod graph;
mod int8_add;
mod int8_conv;
mod kernel;
pub mod peak;
mod quant;
#[cfg(test)]
mod reference;
mod rewrite;
mod winograd_conv;

pub use rewrite::Rewritten;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};
use tract_core::knobs::KnobScope;
use tract_onnx::prelude::*;

use crate::frame::Frame;
use crate::model_info::ModelInfo;
use crate::sampler::Restore;
use crate::tile::{run_tiles, tile_side, tiles, Tiled, HALO};

type Plan = Arc<TypedRunnableModel>;

/// Plans kept per model instance. Each holds its frame size's packed weights (megabytes for the float models'
/// Winograd transforms), and a folder of photos of many sizes, each in tiles of up to four sizes, would otherwise
/// keep one per size seen; a stream or a tiled still needs at most four at a time.
const PLANS_KEPT: usize = 8;

pub struct Restorer {
    pub info: ModelInfo,
    model: InferenceModel,
    /// What the load-time rewrite changed in the last plan built.
    pub rewritten: Rewritten,
    /// The most recently used first.
    plans: Vec<((usize, usize), Plan)>,
    /// Network calls on larger frames are made in tiles, as `tile::tile_side` reads it (None: by the frame's
    /// size; 0: never). Each call is then exactly the whole frame's (docs/design.md §6a).
    pub tile: Option<usize>,
    /// How many more instances make a tiled call's tiles beside this one, each on its own thread.
    helpers: usize,
    /// Those instances, loaded at the first tiled call, with the model's bytes kept for them.
    helper_instances: Vec<Restorer>,
    bytes: Option<Arc<[u8]>>,
    /// The camera deblurrer's third input: the blur descriptor it is told (`camera_deblur::Descriptor`).
    pub blur: [f32; DESCRIPTOR_LEN],
}

/// Values in the camera deblurrer's blur descriptor.
pub const DESCRIPTOR_LEN: usize = 5;

/// An ONNX file's graph and its `metadata_props` (docs/design.md §4); `source` names it in errors.
pub(crate) fn load_onnx(
    bytes: &[u8],
    source: &str,
) -> Result<(InferenceModel, HashMap<String, String>)> {
    // Files from torch's dynamo exporter and onnxruntime's quantizer load only without value_info.
    let model = tract_onnx::onnx()
        .with_ignore_value_info(true)
        .model_for_read(&mut &*bytes)
        .with_context(|| format!("{source}: not a loadable ONNX model"))?;
    let props = model
        .properties
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("onnx.metadata_props.")?;
            let val = v
                .try_as_plain_ram()
                .ok()?
                .to_scalar::<String>()
                .ok()?
                .clone();
            Some((key.to_string(), val))
        })
        .collect();
    Ok((model, props))
}

impl Restorer {
    /// Parses an ONNX file's bytes; `source` names it in errors.
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<Self> {
        let (model, props) = load_onnx(bytes, source)?;
        let info = ModelInfo::from_props(&props, source)?;
        let inputs = model.input_outlets()?.len();
        let expected = info.task.inputs();
        if inputs != expected {
            let names = ["image, t", "image, t, blur"][expected - 2];
            bail!(
                "{source}: a {} model takes {expected} inputs ({names}), this one has {inputs}",
                info.task
            );
        }
        Ok(Restorer {
            info,
            model,
            rewritten: Rewritten::default(),
            plans: Vec::new(),
            tile: None,
            helpers: 0,
            helper_instances: Vec::new(),
            bytes: None,
            blur: [0.0; DESCRIPTOR_LEN],
        })
    }

    /// Lets `n` more instances of the model (`bytes`, this restorer's own file) make the tiles of a tiled call
    /// beside this one, each on its own thread; they are loaded at the first tiled call.
    pub fn set_helpers(&mut self, n: usize, bytes: Arc<[u8]>) {
        self.helpers = n;
        self.bytes = Some(bytes);
    }

    fn plan(&mut self, width: usize, height: usize) -> Result<Plan> {
        if let Some(i) = self
            .plans
            .iter()
            .position(|(size, _)| *size == (width, height))
        {
            let entry = self.plans.remove(i);
            self.plans.insert(0, entry);
            return Ok(self.plans[0].1.clone());
        }
        let c = self.info.in_channels();
        let name = &self.info.name;
        let context = || format!("model {name}: cannot build a plan for {width}x{height}");
        let mut typed = self
            .model
            .clone()
            .with_input_fact(0, f32::fact([1, c, height, width]).into())
            .and_then(|m| m.with_input_fact(1, f32::fact([1]).into()))
            .and_then(|m| match self.info.task.inputs() {
                3 => m.with_input_fact(2, f32::fact([1, DESCRIPTOR_LEN]).into()),
                _ => Ok(m),
            })
            .and_then(|m| m.into_typed())
            .and_then(|m| m.into_decluttered())
            .with_context(context)?;
        self.rewritten = rewrite::rewrite(&mut typed)
            .with_context(|| format!("model {name}: rewriting its int8 operations"))?;
        let knobs = if cfg!(target_arch = "x86_64") {
            vec![("TRACT_DISABLE_DIRECT_SPATIAL", "true")]
        } else {
            vec![]
        };
        let knobs = KnobScope::new(knobs)?;
        let plan = knobs
            .enter(|| typed.into_optimized().and_then(|m| m.into_runnable()))
            .with_context(context)?;
        self.plans.insert(0, ((width, height), plan.clone()));
        self.plans.truncate(PLANS_KEPT);
        Ok(plan)
    }
}

/// Time spent in one node of the optimised plan during one call (benches/op_profile.rs).
pub struct NodeTime {
    pub node: String,
    pub op: String,
    pub ms: f64,
}

impl Restorer {
    /// One network call like `predict`, timing every node of the optimised plan; nodes in execution order.
    pub fn profile(&mut self, x: &Frame, t: usize) -> Result<Vec<NodeTime>> {
        let plan = self.plan(x.width, x.height)?;
        let inputs = self.inputs(x, t)?;
        let mut times = Vec::new();
        let mut state = plan.spawn()?;
        state.run_plan_with_eval(inputs, |ctx, op_state, node, inputs| {
            let t0 = std::time::Instant::now();
            let out = tract_core::plan::eval(ctx, op_state, node, inputs);
            times.push(NodeTime {
                node: node.name.clone(),
                op: node.op().name().to_string(),
                ms: t0.elapsed().as_secs_f64() * 1e3,
            });
            out
        })?;
        Ok(times)
    }
}

impl Restorer {
    /// The network's inputs for frame `x` at step `t`.
    fn inputs(&self, x: &Frame, t: usize) -> Result<TVec<TValue>> {
        let image = Tensor::from_shape(&[1, x.channels, x.height, x.width], &x.data)?;
        let step = Tensor::from_shape(&[1], &[t as f32])?;
        let mut inputs = tvec!(image.into(), step.into());
        if self.info.task.inputs() == 3 {
            inputs.push(Tensor::from_shape(&[1, DESCRIPTOR_LEN], &self.blur)?.into());
        }
        Ok(inputs)
    }
}

impl Restore for Restorer {
    /// One network call, in tiles on a large frame. The frame's sides must be multiples of the model's stride
    /// (see `pad`).
    fn predict(&mut self, x: &Frame, t: usize) -> Result<Frame> {
        let side = tile_side(self.tile, x.width, x.height, Tiled::Calls)?;
        let tiles = tiles(x.width, x.height, side, HALO);
        if tiles.len() == 1 {
            return self.predict_whole(x, t);
        }
        let wanted = self.helpers.min(tiles.len() - 1);
        while self.helper_instances.len() < wanted {
            let bytes = self
                .bytes
                .clone()
                .context("a restorer with helpers keeps its model's bytes")?;
            let helper = Restorer::from_bytes(&bytes, &self.info.name)?;
            self.helper_instances.push(helper);
        }
        let mut helpers = std::mem::take(&mut self.helper_instances);
        for helper in &mut helpers {
            helper.blur = self.blur;
        }
        let mut out = Frame::zeros(x.width, x.height, 3);
        let result = {
            let mut workers: Vec<&mut Restorer> = std::iter::once(&mut *self)
                .chain(helpers.iter_mut().take(wanted))
                .collect();
            run_tiles(
                &tiles,
                &mut workers,
                &|r| x.region(r),
                &|restorer, region| restorer.predict_whole(region, t),
                &mut |tile, y| out.put(&y, tile.core_in_region(), (tile.core.x, tile.core.y)),
            )
        };
        self.helper_instances = helpers;
        result.map(|()| out)
    }
}

impl Restorer {
    fn predict_whole(&mut self, x: &Frame, t: usize) -> Result<Frame> {
        let s = self.info.stride;
        ensure!(
            x.width.is_multiple_of(s) && x.height.is_multiple_of(s),
            "frame {}x{} is not a multiple of the model stride {s}",
            x.width,
            x.height
        );
        ensure!(
            x.channels == self.info.in_channels(),
            "model takes {} channels, frame has {}",
            self.info.in_channels(),
            x.channels
        );
        let plan = self.plan(x.width, x.height)?;
        let out = plan.run(self.inputs(x, t)?).with_context(|| {
            format!(
                "model {} failed on a {}x{} frame",
                self.info.name, x.width, x.height
            )
        })?;
        let y = out[0].to_plain_array_view::<f32>()?;
        ensure!(
            y.shape() == [1, 3, x.height, x.width],
            "model {} returned shape {:?}, expected [1, 3, {}, {}]",
            self.info.name,
            y.shape(),
            x.height,
            x.width
        );
        // The plan's output is contiguous: one memcpy, where an element-wise iterator ran scalar (2% of an int8
        // frame in perf).
        let data = match y.as_slice() {
            Some(contiguous) => contiguous.to_vec(),
            None => y.iter().copied().collect(),
        };
        Frame::new(x.width, x.height, 3, data)
    }
}
