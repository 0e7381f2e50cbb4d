//! coldframe: cold-diffusion restoration of camera frames on the CPU through tract.
//!
//! Frames flow `image_io` -> `pad` -> `sampler` (calling `restorer` and a `degrade` operator) -> `image_io`.

pub mod blur_tracker;
pub mod camera_deblur;
pub mod cpu;
pub mod deblur;
pub mod degrade;
pub mod frame;
pub mod frame_mask;
pub mod image_io;
pub mod inpaint;
pub mod job;
pub mod model_info;
pub mod models;
pub mod overlay;
pub mod pad;
pub mod restorer;
pub mod run_paths;
pub mod sampler;
pub mod setting;
pub mod still;
pub mod still_job;
pub mod stream;
pub mod stream_io;
pub mod stream_job;
pub mod temporal;
pub mod tile;
pub mod trail;
