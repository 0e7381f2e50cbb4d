//! Stills (a file, a folder, stdin) restored by a job: the tiles of one still on several workers, in bounded
//! memory (docs/design.md §6a). Deblurring is tiled; inpainting runs its sampler on the whole frame, since its
//! fill and mask schedule reach across it, and only its network calls are tiled.

use std::path::Path;

use anyhow::Result;

use crate::frame::check_pixels;
use crate::job::{worker_count, FrameRestorer, Job};
use crate::still::Still;
use crate::tile::{run_tiles, tile_side, tiles, Tiled, HALO};

pub struct StillJob {
    job: Job,
    /// Made as the first still with that many tiles needs them, then kept for the next stills.
    workers: Vec<Box<dyn FrameRestorer>>,
    max_workers: usize,
    tile: Option<usize>,
}

impl StillJob {
    /// `workers` (default: the number of cores) restore one still's tiles at once; `tile` is the tile core side
    /// (0: the whole frame; default: by the frame's size, `tile::tile_side`).
    pub fn new(job: Job, workers: Option<usize>, tile: Option<usize>) -> Result<StillJob> {
        let max_workers = worker_count(workers)?;
        tile_side(tile, 0, 0, Tiled::Still)?;
        let mut job = job;
        // A tiled still's regions go to the network whole, each worker taking one; a still restored whole has its
        // network calls tiled, one worker and the rest of the cores helping with each call.
        if job.tiles() {
            job.network_tile = Some(0);
        } else {
            job.network_tile = tile;
            job.network_helpers = max_workers - 1;
        }
        Ok(StillJob {
            job,
            workers: Vec::new(),
            max_workers,
            tile,
        })
    }

    pub fn restore(&mut self, input: &Path, still: &Still) -> Result<Still> {
        let (w, h) = (still.width(), still.height());
        let side = if self.job.tiles() {
            tile_side(self.tile, w, h, Tiled::Still)?
        } else {
            0
        };
        if side == 0 {
            check_pixels(w, h, "the image restored whole")?;
        }
        let tiles = tiles(w, h, side, HALO);
        let used = self.max_workers.min(tiles.len());
        while self.workers.len() < used {
            self.workers.push(self.job.worker()?);
        }
        // the camera deblurrer's blur: one for the whole still, given or estimated from a few crops of it
        if let Some(blur) = self.job.blur_of(w, h, &|r| still.region(r))? {
            match &blur {
                Some(told) => eprintln!(
                    "coldframe: {}: {} (t*={})",
                    input.display(),
                    told.describe(),
                    told.t
                ),
                None => eprintln!(
                    "coldframe: {}: no blur found, copied unchanged",
                    input.display()
                ),
            }
            for worker in &mut self.workers {
                worker.set_blur(blur.as_ref());
            }
        }
        let mut out = still.clone();
        run_tiles(
            &tiles,
            &mut self.workers[..used],
            &|r| still.region(r),
            &|worker, region| worker.restore(input, region),
            &mut |t, restored| out.put(&restored, t.core_in_region(), (t.core.x, t.core.y)),
        )?;
        Ok(out)
    }
}
