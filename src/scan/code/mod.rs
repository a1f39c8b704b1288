//! Stage 2 — static analysis (SPEC §8.3 "Stage 2"): Python and JS/TS on tree-sitter syntax trees (PY-*,
//! JS-*, CODE-*), shell through `scan::shell`, and the manifest rules MAN-001–MAN-003 computed from the
//! capabilities the language analysers extract. SUP-001 (dynamic installs) is found here, because it needs
//! the process-call analysis, and is reported under `stage5` as §8.3 lists it (chosen).
//!
//! NOTE: interface skeleton; the analysers are being written.

pub mod js;
pub mod python;

use super::files::{FileSet, ScanFile};
use super::report::Finding;
use super::{StageCtx, StageError};
use crate::permissions::Permissions;
use std::time::Instant;

/// A network use found in runtime code (for CODE-001 / MAN-001).
#[derive(Debug, Clone, PartialEq)]
pub struct NetUse {
    /// The constant host, or None when the URL is dynamic (`<dynamic>` in MAN-001 evidence).
    pub host: Option<String>,
    pub file: String,
    pub line: u32,
}

/// A constant filesystem write target (for MAN-003).
#[derive(Debug, Clone, PartialEq)]
pub struct FsWrite {
    pub path: String,
    pub file: String,
    pub line: u32,
}

/// Capabilities extracted from runtime code; non-runtime files never contribute (§8.2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capabilities {
    pub net: Vec<NetUse>,
    /// (file, line) of PY-001, PY-004, JS-001 or JS-004 in runtime Python/JS (MAN-002).
    pub subprocess: Vec<(String, u32)>,
    pub fs_writes: Vec<FsWrite>,
}

/// What a language analyser returns for one file.
#[derive(Debug, Clone, Default)]
pub struct CodeOutput {
    /// Findings with the §8.2 path lowering already applied.
    pub findings: Vec<Finding>,
    pub caps: Capabilities,
}

/// What a language analyser may consult for one file.
pub struct FileCtx<'a> {
    pub file: &'a ScanFile,
    pub text: &'a str,
    /// False for a non-runtime file that nothing references (§8.2).
    pub runtime: bool,
    pub files: &'a FileSet,
    pub declared: &'a Permissions,
    pub deadline: Instant,
    /// Decoding depth already used (§8.2: depth ≤ 2).
    pub depth: u8,
}

/// Stage 2.
pub fn run(_ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    Ok(Vec::new())
}
