//! Stills (a file, a folder, stdin) restored by a job: the tiles of one still on several workers, in bounded
//! memory (docs/design.md §6a). Deblurring is tiled; inpainting runs its sampler on the whole frame, since its
//! fill and mask schedule reach across it, and only its network calls are tiled.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{anyhow, Context, Result};

use crate::frame::{check_pixels, Frame, Rect};
use crate::job::{FrameRestorer, Job};
use crate::setting::{refuse, Setting};
use crate::still::Still;
use crate::tile::{tile_side, tiles, Tile, Tiled, HALO};

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
        let max_workers = workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        if !(1..=256).contains(&max_workers) {
            return Err(refuse(Setting::Workers, max_workers, "is outside 1..=256"));
        }
        tile_side(tile, 0, 0, Tiled::Still)?;
        let mut job = job;
        // A tiled still's regions go to the network whole; a still restored whole has its network calls tiled.
        job.network_tile = if job.tiles() { Some(0) } else { tile };
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
        let mut out = still.clone();
        run_tiles(
            &tiles,
            &mut self.workers[..used],
            input,
            &|r| still.region(r),
            &mut |t, restored| out.put(&restored, t.core_in_region(), (t.core.x, t.core.y)),
        )?;
        Ok(out)
    }
}

/// Restores every tile: `region(r)` cuts a region out as a frame, one of `workers` restores it (each worker on its
/// own thread, taking the next tile when it is free), and `put(tile, restored region)` receives the results on the
/// caller's thread, as they come. At most one restored region per worker waits to be put, so memory stays at
/// what the workers hold. The first failure stops the rest and is returned, naming its tile.
pub fn run_tiles(
    tiles: &[Tile],
    workers: &mut [Box<dyn FrameRestorer>],
    input: &Path,
    region: &(dyn Fn(Rect) -> Frame + Sync),
    put: &mut dyn FnMut(&Tile, Frame),
) -> Result<()> {
    let name = |i: usize| {
        let c = tiles[i].core;
        format!(
            "tile {} of {} (at {},{}, {}x{})",
            i + 1,
            tiles.len(),
            c.x,
            c.y,
            c.w,
            c.h
        )
    };
    let used = workers.len().min(tiles.len());
    if used <= 1 {
        let worker = workers.first_mut().context("no worker to restore with")?;
        for (i, tile) in tiles.iter().enumerate() {
            let out = worker
                .restore(input, &region(tile.region))
                .with_context(|| name(i))?;
            put(tile, out);
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<Frame>)>(used);
    std::thread::scope(|scope| {
        for worker in workers[..used].iter_mut() {
            let (tx, next, stop) = (tx.clone(), &next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(tile) = tiles.get(i) else { break };
                    let out = worker.restore(input, &region(tile.region));
                    if tx.send((i, out)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut first_error = None;
        for (i, out) in rx.iter() {
            match out {
                Ok(frame) if first_error.is_none() => put(&tiles[i], frame),
                Ok(_) => {}
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    first_error.get_or_insert_with(|| e.context(name(i)));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    })
    .map_err(|e: anyhow::Error| anyhow!(e))
}
