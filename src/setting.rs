//! Refusals of a value the caller chose. The library says which setting, the value and what is wrong with it; a
//! front end can rename the setting to where the value came from (the CLI: its flag), without the library
//! knowing about flags.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    Steps,
    Severity,
    /// The step of a forward degradation (`coldframe degrade`).
    DegradeStep,
    Rect,
    Size,
    Stride,
    Workers,
    Tile,
    /// The kind of blur to invert (`--blur`).
    Blur,
    /// The temporal noise filter's strength (`--temporal`).
    Temporal,
    /// How often a stream's blur is estimated again (`--estimate-every`).
    EstimateEvery,
}

impl Setting {
    fn name(self) -> &'static str {
        match self {
            Setting::Steps => "steps",
            Setting::Severity => "severity",
            Setting::DegradeStep => "step",
            Setting::Rect => "rect",
            Setting::Size => "size",
            Setting::Stride => "stride",
            Setting::Workers => "workers",
            Setting::Tile => "tile",
            Setting::Blur => "blur",
            Setting::Temporal => "temporal",
            Setting::EstimateEvery => "estimate-every",
        }
    }
}

/// "`setting` `value` `problem`", e.g. "steps 21 is outside 1..=20 (T of model deblur-int8)".
#[derive(Debug)]
pub struct Refused {
    pub setting: Setting,
    pub value: String,
    pub problem: String,
    /// What the front end calls the setting, in place of its own name.
    pub called: Option<&'static str>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.called.unwrap_or(self.setting.name());
        write!(f, "{name} {} {}", self.value, self.problem)
    }
}

impl std::error::Error for Refused {}

pub fn refuse(
    setting: Setting,
    value: impl fmt::Display,
    problem: impl Into<String>,
) -> anyhow::Error {
    anyhow::Error::new(Refused {
        setting,
        value: value.to_string(),
        problem: problem.into(),
        called: None,
    })
}

/// Gives a refusal anywhere in `e`'s chain the front end's name for its setting.
pub fn rename(mut e: anyhow::Error, called: impl Fn(Setting) -> &'static str) -> anyhow::Error {
    if let Some(r) = e.downcast_mut::<Refused>() {
        r.called = Some(called(r.setting));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_refusal_under_context_is_renamed_in_place() {
        let e = Err::<(), _>(refuse(Setting::Steps, 21, "is outside 1..=20"))
            .context("restoring a.png")
            .context("run")
            .unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "run: restoring a.png: steps 21 is outside 1..=20"
        );
        let e = rename(e, |s| if s == Setting::Steps { "--steps" } else { "?" });
        assert_eq!(
            format!("{e:#}"),
            "run: restoring a.png: --steps 21 is outside 1..=20"
        );
        let plain = rename(anyhow::anyhow!("not a refusal"), |_| "--steps");
        assert_eq!(format!("{plain:#}"), "not a refusal");
    }
}
