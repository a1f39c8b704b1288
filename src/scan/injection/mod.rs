//! Stage 3 — prompt injection and hidden Unicode (SPEC §8.3 "Stage 3", PI-001–PI-015, UNI-001–UNI-006) on a
//! CommonMark parse (pulldown-cmark with source offsets), with the §8.2 normalised text, sentences and gates.
//!
//! NOTE: interface skeleton; the stage is being written.

use super::report::Finding;
use super::{StageCtx, StageError};

/// Stage 3.
pub fn run(_ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    Ok(Vec::new())
}
