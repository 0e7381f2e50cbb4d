//! Which pixels of a frame are missing: a mask image (nonzero = missing), rectangles, or both.

use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, ensure, Context, Result};

use crate::planar::Planar;

/// `--rect X,Y,W,H` in pixels, top-left origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl FromStr for Rect {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let v: Vec<usize> = s
            .split(',')
            .map(|p| p.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|v: &Vec<usize>| v.len() == 4)
            .with_context(|| {
                format!("--rect {s:?}: expected X,Y,W,H as four whole numbers, e.g. 10,20,64,32")
            })?;
        if v[2] == 0 || v[3] == 0 {
            bail!("--rect {s:?}: width and height must be at least 1");
        }
        Ok(Rect {
            x: v[0],
            y: v[1],
            w: v[2],
            h: v[3],
        })
    }
}

/// One frame's mask: `true` = missing.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameMask {
    pub width: usize,
    pub height: usize,
    pub missing: Vec<bool>,
}

impl FrameMask {
    pub fn empty(width: usize, height: usize) -> Self {
        FrameMask {
            width,
            height,
            missing: vec![false; width * height],
        }
    }

    /// From a decoded mask image: a pixel is missing where any colour channel is nonzero.
    pub fn from_image(img: &Planar) -> Self {
        let n = img.width * img.height;
        let missing = (0..n)
            .map(|i| (0..img.channels).any(|c| img.plane(c)[i] > 0.0))
            .collect();
        FrameMask {
            width: img.width,
            height: img.height,
            missing,
        }
    }

    pub fn read(path: &Path) -> Result<Self> {
        let img = crate::image_io::read_image(path)
            .with_context(|| format!("reading mask {}", path.display()))?;
        Ok(Self::from_image(&img))
    }

    /// Marks the rectangles missing; each must lie inside the frame.
    pub fn add_rects(&mut self, rects: &[Rect]) -> Result<()> {
        for r in rects {
            ensure!(
                r.x + r.w <= self.width && r.y + r.h <= self.height,
                "--rect {},{},{},{} reaches outside the {}x{} frame",
                r.x,
                r.y,
                r.w,
                r.h,
                self.width,
                self.height
            );
            for y in r.y..r.y + r.h {
                self.missing[y * self.width + r.x..y * self.width + r.x + r.w].fill(true);
            }
        }
        Ok(())
    }

    pub fn count(&self) -> usize {
        self.missing.iter().filter(|&&m| m).count()
    }

    /// The mask must be the frame's size; `what` names the mask in the message.
    pub fn check_fits(&self, width: usize, height: usize, what: &str) -> Result<()> {
        ensure!(
            (self.width, self.height) == (width, height),
            "{what} is {}x{} but the frame is {width}x{height}: a mask must have the frame's size",
            self.width,
            self.height
        );
        Ok(())
    }
}

/// Where a run's masks come from: one mask file and/or rectangles for every frame, or a folder of masks named as
/// the inputs.
#[derive(Clone, Debug, Default)]
pub struct MaskSource {
    /// The `--mask` file's name and its mask.
    pub file: Option<(String, FrameMask)>,
    pub dir: Option<std::path::PathBuf>,
    pub rects: Vec<Rect>,
}

impl MaskSource {
    pub fn new(file: Option<&Path>, dir: Option<&Path>, rects: Vec<Rect>) -> Result<Self> {
        if file.is_none() && dir.is_none() && rects.is_empty() {
            bail!("no mask given: use --mask FILE, --mask-dir FOLDER or --rect X,Y,W,H");
        }
        if file.is_some() && dir.is_some() {
            bail!("--mask and --mask-dir exclude each other");
        }
        if let Some(d) = dir {
            ensure!(d.is_dir(), "--mask-dir {}: not a folder", d.display());
        }
        Ok(MaskSource {
            file: file
                .map(|p| Ok::<_, anyhow::Error>((p.display().to_string(), FrameMask::read(p)?)))
                .transpose()?,
            dir: dir.map(Path::to_path_buf),
            rects,
        })
    }

    /// The mask for the image read from `input`, of size `width` x `height`.
    pub fn for_frame(&self, input: &Path, width: usize, height: usize) -> Result<FrameMask> {
        let mut mask = if let Some((name, m)) = &self.file {
            m.check_fits(width, height, &format!("mask {name}"))?;
            m.clone()
        } else if let Some(dir) = &self.dir {
            let name = input
                .file_name()
                .filter(|_| !crate::image_io::is_stdio(input))
                .with_context(|| {
                    "--mask-dir needs input files (their names pick the masks), not stdin"
                })?;
            let path = dir.join(name);
            ensure!(
                path.is_file(),
                "no mask {} for input {}",
                path.display(),
                input.display()
            );
            let m = FrameMask::read(&path)?;
            m.check_fits(width, height, &format!("mask {}", path.display()))?;
            m
        } else {
            FrameMask::empty(width, height)
        };
        mask.add_rects(&self.rects)?;
        Ok(mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rects_parse_and_refuse_bad_text() {
        assert_eq!(
            "1,2,3,4".parse::<Rect>().unwrap(),
            Rect {
                x: 1,
                y: 2,
                w: 3,
                h: 4
            }
        );
        for bad in ["1,2,3", "1,2,3,4,5", "a,b,c,d", "-1,2,3,4", "1,2,0,4", ""] {
            let e = bad.parse::<Rect>().unwrap_err().to_string();
            assert!(e.contains("--rect"), "{bad}: {e}");
        }
    }

    #[test]
    fn rects_mark_exactly_their_pixels_and_must_fit() {
        let mut m = FrameMask::empty(6, 4);
        m.add_rects(&["1,1,2,2".parse().unwrap()]).unwrap();
        assert_eq!(m.count(), 4);
        assert!(m.missing[7] && m.missing[8] && m.missing[13] && m.missing[14]);
        let e = m.add_rects(&["5,0,2,1".parse().unwrap()]).unwrap_err();
        assert!(e.to_string().contains("outside the 6x4 frame"), "{e}");
    }
}
