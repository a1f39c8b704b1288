//! Stage 5 — supply chain (SPEC §8.3 "Stage 5", SUP-002–SUP-007; SUP-001 is found by stage 2's process-call
//! analysis): dependency files, install scripts, typosquats against bundled popular-name lists, a bundled
//! blocklist that an operator can extend, and skill-name squats.
//!
//! NOTE: interface skeleton; the stage is being written.

use super::report::Finding;
use super::{StageCtx, StageError};

/// Stage 5.
pub fn run(_ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    Ok(Vec::new())
}
