//! When a stream's blur changes (`stream deblur --estimate-every N`): the blur estimated from the first frame
//! holds until two re-estimates in a row agree on another one, so that one odd frame (a passing object, a noisy
//! frame that reads a step longer) never switches the restoration, and an estimate that wavers between two
//! answers never makes the output flicker between them (docs/design.md §2b).

use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{anyhow, Context, Result};

use crate::camera_deblur::{Family, Told};
use crate::degrade::camera_blur::CameraBlur;

/// Two trails within this many degrees are one direction.
const ANGLE_TOLERANCE: f32 = 15.0;

pub struct BlurTracker {
    current: Option<Told>,
    /// A re-estimate that differed from `current`, waiting for the next one to agree.
    pending: Option<Option<Told>>,
}

impl BlurTracker {
    /// Starts from the first frame's blur (None: no blur).
    pub fn new(first: Option<Told>) -> BlurTracker {
        BlurTracker {
            current: first,
            pending: None,
        }
    }

    pub fn current(&self) -> Option<&Told> {
        self.current.as_ref()
    }

    /// Takes a re-estimate; true when it switched the stream's blur to it.
    pub fn observe(&mut self, estimate: Option<Told>) -> bool {
        if same_blur(&estimate, &self.current) {
            self.pending = None;
            return false;
        }
        match self.pending.take() {
            Some(p) if same_blur(&p, &estimate) => {
                self.current = estimate;
                true
            }
            _ => {
                self.pending = Some(estimate);
                false
            }
        }
    }
}

/// Every blur a stream has had, by version (0: the first frame's), shared by the reader, which adds a version
/// when the tracker switches, and the workers and the overlay, which look up the version each frame was read
/// under (its tag).
#[derive(Clone)]
pub struct BlurVersions(Arc<Mutex<Vec<Option<Told>>>>);

impl BlurVersions {
    pub fn new(first: Option<Told>) -> BlurVersions {
        BlurVersions(Arc::new(Mutex::new(vec![first])))
    }

    fn lock(&self) -> Result<MutexGuard<'_, Vec<Option<Told>>>> {
        self.0
            .lock()
            .map_err(|_| anyhow!("a thread panicked while it held the stream's blurs"))
    }

    /// The blur of a version handed out by `latest` or `push`.
    pub fn get(&self, version: usize) -> Result<Option<Told>> {
        self.lock()?
            .get(version)
            .cloned()
            .with_context(|| format!("the stream has no blur version {version}"))
    }

    pub fn latest(&self) -> Result<usize> {
        Ok(self.lock()?.len() - 1)
    }

    pub fn push(&self, blur: Option<Told>) -> Result<usize> {
        let mut v = self.lock()?;
        v.push(blur);
        Ok(v.len() - 1)
    }
}

/// Whether two blurs are one for the stream: both none, or the same kind within one extent step (and, for
/// trails, one direction).
pub fn same_blur(a: &Option<Told>, b: &Option<Told>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let kind = match (&a.family, &b.family) {
                (Family::Gaussian(_), Family::Gaussian(_)) => true,
                (Family::Camera(CameraBlur::Defocus), Family::Camera(CameraBlur::Defocus)) => true,
                (
                    Family::Camera(CameraBlur::Motion { angle: x }),
                    Family::Camera(CameraBlur::Motion { angle: y }),
                ) => {
                    let d = (x - y).rem_euclid(180.0);
                    d.min(180.0 - d) <= ANGLE_TOLERANCE
                }
                (
                    Family::Camera(CameraBlur::Shake { seed: x }),
                    Family::Camera(CameraBlur::Shake { seed: y }),
                ) => x == y,
                _ => false,
            };
            kind && a.t.abs_diff(b.t) <= 1
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn motion(t: usize, angle: f32) -> Option<Told> {
        Some(Told {
            family: Family::Camera(CameraBlur::Motion { angle }),
            t,
            descriptor: [0.0, 0.0, 1.0, 0.0, 0.0],
        })
    }

    fn defocus(t: usize) -> Option<Told> {
        Some(Told {
            family: Family::Camera(CameraBlur::Defocus),
            t,
            descriptor: [0.0, 1.0, 0.0, 0.0, 0.0],
        })
    }

    #[test]
    fn versions_count_from_the_first_frames_blur() {
        let v = BlurVersions::new(None);
        assert_eq!(v.latest().unwrap(), 0);
        assert_eq!(v.clone().push(defocus(4)).unwrap(), 1);
        assert_eq!((v.latest().unwrap(), v.get(1).unwrap()), (1, defocus(4)));
        assert_eq!(v.get(0).unwrap(), None);
        let e = v.get(2).unwrap_err().to_string();
        assert!(e.contains("no blur version 2"), "{e}");
    }

    #[test]
    fn near_answers_are_one_blur() {
        assert!(same_blur(&defocus(6), &defocus(7)));
        assert!(!same_blur(&defocus(6), &defocus(8)));
        assert!(
            same_blur(&motion(10, 175.0), &motion(10, 5.0)),
            "10 degrees apart across 0"
        );
        assert!(!same_blur(&motion(10, 30.0), &motion(10, 60.0)));
        assert!(!same_blur(&motion(10, 0.0), &defocus(10)));
        assert!(same_blur(&None, &None));
        assert!(!same_blur(&None, &defocus(1)));
    }

    #[test]
    fn one_odd_estimate_never_switches_and_two_agreeing_ones_do() {
        let mut tracker = BlurTracker::new(defocus(6));
        // wobbling by a step, or one odd frame between agreeing ones: no switch
        for e in [
            defocus(7),
            defocus(5),
            motion(12, 0.0),
            defocus(6),
            None,
            defocus(6),
        ] {
            assert!(!tracker.observe(e));
            assert_eq!(tracker.current(), defocus(6).as_ref());
        }
        // an answer that alternates between two others never settles either
        for e in [motion(12, 0.0), None, motion(12, 0.0), None] {
            assert!(!tracker.observe(e));
        }
        assert_eq!(tracker.current(), defocus(6).as_ref());
        // the lens refocused: two re-estimates in a row agree on a smaller disc
        assert!(!tracker.observe(defocus(2)));
        assert!(tracker.observe(defocus(3)));
        assert_eq!(tracker.current(), defocus(3).as_ref());
        // and a sharp scene, twice, switches the restoration off
        assert!(!tracker.observe(None));
        assert!(tracker.observe(None));
        assert_eq!(tracker.current(), None);
    }
}
