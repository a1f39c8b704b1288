//! Stage 4 — secrets (SPEC §8.3 "Stage 4", CRD-001–CRD-010): provider patterns plus entropy, judged on the
//! value; evidence redacted. Never lowered by path.
//!
//! NOTE: interface skeleton; the stage is being written.

use super::report::Finding;
use super::{StageCtx, StageError};

/// Stage 4.
pub fn run(_ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    Ok(Vec::new())
}
