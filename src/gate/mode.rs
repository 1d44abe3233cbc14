//! Enforcement modes (spec/engine.md §10): what the gate does with a decision.

use std::fmt;
use std::str::FromStr;

/// How decisions are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Decisions are enforced: deny blocks, ask waits for a human.
    #[default]
    Enforce,
    /// Decisions are recorded but every call proceeds; no state changes (counters, grants).
    Monitor,
    /// Nothing is evaluated; every call is allowed (and still recorded).
    Disabled,
}

impl Mode {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Monitor => "monitor",
            Mode::Disabled => "disabled",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s.trim() {
            "enforce" => Ok(Mode::Enforce),
            "monitor" | "audit" => Ok(Mode::Monitor),
            "disabled" => Ok(Mode::Disabled),
            other => Err(format!(
                "invalid mode {other:?}: expected enforce, monitor or disabled"
            )),
        }
    }
}
