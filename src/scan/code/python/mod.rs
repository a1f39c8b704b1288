//! Python analysis for stage 2 (SPEC §8.3: PY-001–PY-006, CODE-001–CODE-009 in Python, SUP-001 for Python
//! process calls): imports resolved, constants folded, taint followed on the tree-sitter-python tree.
//!
//! NOTE: interface skeleton; the analyser is being written.

use super::{CodeOutput, FileCtx};
use crate::scan::StageError;

/// Analyses one Python file (or packed / decoded Python content).
pub fn analyze(_f: &FileCtx) -> Result<CodeOutput, StageError> {
    Ok(CodeOutput::default())
}
