//! JavaScript / TypeScript analysis for stage 2 (SPEC §8.3: JS-001–JS-005, CODE-001–CODE-009 in JS/TS,
//! SUP-001 for JS process calls) on tree-sitter-javascript / -typescript trees.
//!
//! NOTE: interface skeleton; the analyser is being written.

use super::{CodeOutput, FileCtx};
use crate::scan::StageError;

/// Analyses one JS/TS file (or packed / decoded JS content); the grammar follows `kinds::js_dialect`.
pub fn analyze(_f: &FileCtx) -> Result<CodeOutput, StageError> {
    Ok(CodeOutput::default())
}
