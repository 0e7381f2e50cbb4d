//! Where the tiles of a large frame lie, and how they are run on several workers (docs/design.md §6a): a still's
//! tiles (`still_job`), and a network call's tiles (`Restorer::predict`, with its helper instances if any).
//!
//! Each tile's core is restored from a region around it, the core grown by a halo on every side and clipped at
//! the frame's edges, as a frame of its own; the core of the result is kept. Cores and regions start at
//! multiples of `ALIGN` pixels, so the network's blocks (the stem's 8x8, the 4x4 Winograd blocks of its
//! 1/8-resolution layers) fall where they fall in the whole frame, and a region's edge that is the frame's edge
//! is padded as the whole frame is. Where the halo covers everything a core pixel depends on, the tiled output is
//! the whole-frame output bit for bit: one network call reaches `RECEPTIVE_RADIUS` pixels, which `HALO` covers.
//! Each further sampler step reaches that far again (plus its blurs): there the tiled output differs from the
//! whole frame's only by what the later steps carry in from beyond the halo (tests/tiles.rs bounds it).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{anyhow, Context, Result};

use crate::frame::{Frame, Rect};
use crate::setting::{refuse, Setting};

/// Tile and region origins are multiples of this: 32 = the network's stride 8 times Winograd's 4-pixel blocks.
pub const ALIGN: usize = 32;
/// How far one call of the embedded networks reaches, in full-resolution pixels: its 3x3 convolutions at 1/2,
/// 1/4 and 1/8 resolution (models/recipe/net.py) reach 19 half-resolution pixels (38), and where a pixel sits
/// in its 8x8 block adds up to 8 (tests/tiles.rs checks that this halo makes one call exact).
pub const RECEPTIVE_RADIUS: usize = 46;
/// The default halo: the receptive radius rounded up to `ALIGN`.
pub const HALO: usize = RECEPTIVE_RADIUS.next_multiple_of(ALIGN);

/// What is tiled: a still's whole sampler (`still_job`), or each network call of a sampler that runs on the whole
/// frame (`Restorer::tile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tiled {
    Still,
    Calls,
}

impl Tiled {
    /// The default tile core side. A still's tiles keep the whole sampler in the cache: 512 was faster than
    /// the whole frame on a 12 MP still (docs/performance.md). Tiled calls leave the sampler's whole-frame
    /// passes as they were and pay the halo on every call: 1024 keeps a 1080p stream at the whole frame's speed
    /// (512 was 1.4x slower there).
    pub fn default_side(self) -> usize {
        match self {
            Tiled::Still => 512,
            Tiled::Calls => 1024,
        }
    }
}

/// Frames of at most this many pixels are restored whole by default (a 1280x800 frame, 640x480 with room).
pub const WHOLE_UP_TO: usize = 1 << 20;
/// The largest `--tile`.
pub const MAX_TILE: usize = 4096;

/// The tile core side for a frame: `requested` if given (0 = the whole frame), else the default for its size.
pub fn tile_side(
    requested: Option<usize>,
    width: usize,
    height: usize,
    what: Tiled,
) -> Result<usize> {
    match requested {
        Some(t) if t != 0 && (t % ALIGN != 0 || !(2 * ALIGN..=MAX_TILE).contains(&t)) => {
            Err(refuse(
                Setting::Tile,
                t,
                format!(
                    "is not 0 (the whole frame) nor a multiple of {ALIGN} from {} to {MAX_TILE}",
                    2 * ALIGN
                ),
            ))
        }
        Some(t) => Ok(t),
        None if width * height <= WHOLE_UP_TO => Ok(0),
        None => Ok(what.default_side()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// The pixels this tile gives the output.
    pub core: Rect,
    /// What is restored to give them: the core and its halo, inside the frame.
    pub region: Rect,
}

impl Tile {
    /// The core in the region's coordinates.
    pub fn core_in_region(&self) -> Rect {
        Rect {
            x: self.core.x - self.region.x,
            y: self.core.y - self.region.y,
            w: self.core.w,
            h: self.core.h,
        }
    }
}

/// (start, length) of the cores along one side, and of their regions.
fn spans(n: usize, tile: usize, halo: usize) -> Vec<((usize, usize), (usize, usize))> {
    (0..n)
        .step_by(tile)
        .map(|start| {
            let end = (start + tile).min(n);
            let (lo, hi) = (start.saturating_sub(halo), (end + halo).min(n));
            ((start, end - start), (lo, hi - lo))
        })
        .collect()
}

/// The tiles of a `width` x `height` frame in row-major order; one tile (the whole frame) for `tile` = 0 or a
/// frame that fits in one core.
pub fn tiles(width: usize, height: usize, tile: usize, halo: usize) -> Vec<Tile> {
    let whole = Rect {
        x: 0,
        y: 0,
        w: width,
        h: height,
    };
    if tile == 0 || (width <= tile && height <= tile) {
        return vec![Tile {
            core: whole,
            region: whole,
        }];
    }
    let (xs, ys) = (spans(width, tile, halo), spans(height, tile, halo));
    let mut out = Vec::with_capacity(xs.len() * ys.len());
    for &((cy, ch), (ry, rh)) in &ys {
        for &((cx, cw), (rx, rw)) in &xs {
            out.push(Tile {
                core: Rect {
                    x: cx,
                    y: cy,
                    w: cw,
                    h: ch,
                },
                region: Rect {
                    x: rx,
                    y: ry,
                    w: rw,
                    h: rh,
                },
            });
        }
    }
    out
}

/// Restores every tile: `region(r)` cuts a region out as a frame, `restore` has one of `workers` restore it (each
/// worker on its own thread, taking the next tile when it is free), and `put(tile, restored region)` receives the
/// results on the caller's thread, as they come. At most one restored region per worker waits to be put, so memory stays at
/// what the workers hold. The first failure stops the rest and is returned, naming its tile.
pub fn run_tiles<W: Send>(
    tiles: &[Tile],
    workers: &mut [W],
    region: &(dyn Fn(Rect) -> Frame + Sync),
    restore: &(dyn Fn(&mut W, &Frame) -> Result<Frame> + Sync),
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
            let out = restore(worker, &region(tile.region)).with_context(|| name(i))?;
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
                    let out = restore(worker, &region(tile.region));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_cover_the_frame_once_and_regions_hold_their_halo() {
        for (w, h, tile, halo) in [
            (1000, 700, 256, 64),
            (257, 64, 64, 32),
            (64, 64, 64, 64),
            (33, 5000, 96, 0),
        ] {
            let ts = tiles(w, h, tile, halo);
            let mut covered = vec![0u8; w * h];
            for t in &ts {
                let (c, r) = (t.core, t.region);
                for y in c.y..c.y + c.h {
                    for x in c.x..c.x + c.w {
                        covered[y * w + x] += 1;
                    }
                }
                assert!(
                    c.x % ALIGN == 0 && c.y % ALIGN == 0 && r.x % ALIGN == 0 && r.y % ALIGN == 0
                );
                assert!(r.x + r.w <= w && r.y + r.h <= h);
                // The halo on every side, or up to the frame's edge.
                assert_eq!(c.x - r.x, c.x.min(halo));
                assert_eq!(r.x + r.w - (c.x + c.w), (w - c.x - c.w).min(halo));
                assert_eq!(c.y - r.y, c.y.min(halo));
                assert_eq!(r.y + r.h - (c.y + c.h), (h - c.y - c.h).min(halo));
            }
            assert!(covered.iter().all(|&n| n == 1), "{w}x{h} tile {tile}");
        }
        assert_eq!(tiles(640, 480, 0, 64).len(), 1);
        assert_eq!(tiles(640, 480, 640, 64).len(), 1);
        assert_eq!(tiles(4056, 3040, 512, 64).len(), 8 * 6);
    }

    #[test]
    fn tile_sides_are_checked_and_defaulted_by_frame_size() {
        assert_eq!(tile_side(None, 640, 480, Tiled::Still).unwrap(), 0);
        assert_eq!(tile_side(None, 4056, 3040, Tiled::Still).unwrap(), 512);
        assert_eq!(tile_side(None, 1920, 1080, Tiled::Calls).unwrap(), 1024);
        assert_eq!(tile_side(Some(0), 4056, 3040, Tiled::Calls).unwrap(), 0);
        assert_eq!(tile_side(Some(256), 10, 10, Tiled::Still).unwrap(), 256);
        for bad in [1, 32, 100, 8192] {
            let e = tile_side(Some(bad), 10, 10, Tiled::Calls)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("tile {bad} is not 0")), "{e}");
        }
    }
}
