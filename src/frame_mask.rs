//! Which pixels of a frame are missing: a mask image (nonzero = missing), rectangles, or both.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};

use crate::frame::{Frame, Rect};
use crate::setting::{refuse, Setting};

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
    pub fn from_image(img: &Frame) -> Self {
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
            if r.x + r.w > self.width || r.y + r.h > self.height {
                return Err(refuse(
                    Setting::Rect,
                    format!("{},{},{},{}", r.x, r.y, r.w, r.h),
                    format!("reaches outside the {}x{} frame", self.width, self.height),
                ));
            }
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

/// Where a run's mask images come from, besides its rectangles.
#[derive(Clone, Debug, Default)]
pub enum MaskImages {
    #[default]
    None,
    /// One mask for every frame, with the name it was read from.
    File { name: String, mask: FrameMask },
    /// A folder of masks named as the input files.
    Folder(PathBuf),
}

impl MaskImages {
    pub fn file(path: &Path) -> Result<Self> {
        Ok(MaskImages::File {
            name: path.display().to_string(),
            mask: FrameMask::read(path)?,
        })
    }

    pub fn folder(dir: &Path) -> Result<Self> {
        ensure!(dir.is_dir(), "{}: not a folder", dir.display());
        Ok(MaskImages::Folder(dir.to_path_buf()))
    }
}

/// Where a run's masks come from: mask images and/or rectangles marked in every frame.
#[derive(Clone, Debug, Default)]
pub struct MaskSource {
    pub images: MaskImages,
    pub rects: Vec<Rect>,
}

impl MaskSource {
    /// At least one of the two must mark something.
    pub fn new(images: MaskImages, rects: Vec<Rect>) -> Result<Self> {
        ensure!(
            !(matches!(images, MaskImages::None) && rects.is_empty()),
            "no mask given: neither a mask image nor a rectangle"
        );
        Ok(MaskSource { images, rects })
    }

    /// The mask for the image read from `input`, of size `width` x `height`.
    pub fn for_frame(&self, input: &Path, width: usize, height: usize) -> Result<FrameMask> {
        let mut mask = match &self.images {
            MaskImages::File { name, mask } => {
                mask.check_fits(width, height, &format!("mask {name}"))?;
                mask.clone()
            }
            MaskImages::Folder(dir) => {
                let name = input
                .file_name()
                .filter(|_| !crate::image_io::is_stdio(input))
                .with_context(|| {
                    "a folder of masks needs input files (their names pick the masks), not stdin"
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
            }
            MaskImages::None => FrameMask::empty(width, height),
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
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
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
