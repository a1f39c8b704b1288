//! Shell analysis (SPEC §8.3 SH-001–SH-007, CODE-009 in shell text, §8.2 shell terms and shell folding) on
//! tree-sitter-bash syntax trees. Used by stage 2 (shell scripts, command strings of process calls and of
//! agent configuration / IDE auto-run files), by stage 3 (PI-008 reads these hits in Markdown shell text)
//! and by stage 5 (SUP-005 install scripts).
//!
//! NOTE: interface skeleton; the analyser is being written.

use super::files::FileSet;
use super::report::{Finding, Severity};
use super::{StageCtx, StageError};
use crate::permissions::Permissions;
use std::time::Instant;

/// One match of an SH rule (or CODE-009) in a piece of shell text.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellHit {
    pub rule_id: &'static str,
    pub rule_type: &'static str,
    /// `Info` for the note variants (e.g. SH-005 after a checksum check).
    pub severity: Severity,
    /// 1-based line within the analysed text.
    pub line: u32,
    pub message: String,
    /// The command (≤ 200 characters) or, for decoded data, the decoded text.
    pub evidence: String,
    /// True when the hit comes from decoded data (message starts with `In decoded data: `).
    pub decoded: bool,
}

/// What the shell analyser may consult.
#[derive(Clone, Copy)]
pub struct ShellOpts<'a> {
    /// The package (package slices of §8.2, `tail -c +N <package file>`); None when unknown.
    pub files: Option<&'a FileSet>,
    /// Declared permissions (SH-002 "also with the host declared" never lowers; kept for messages).
    pub declared: Option<&'a Permissions>,
    pub deadline: Instant,
    /// Decoding depth already used (§8.2: depth ≤ 2).
    pub depth: u8,
}

/// Analyses shell text (a script, one command string, or a Markdown block read as shell) and returns
/// the SH / CODE-009 hits. Never panics on any input; stops early at the deadline.
pub fn analyze(_text: &str, _opts: &ShellOpts) -> Vec<ShellHit> {
    Vec::new()
}

/// One simple command of shell text after shell folding (§8.2): its line and words. A word that does not
/// fold to a constant is `None` ("a non-constant operand counts as absent").
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleCommand {
    pub line: u32,
    pub argv: Vec<Option<String>>,
}

/// The simple commands of shell text, in source order (pipelines, lists, subshells, substitutions
/// flattened), after stripping `sudo`/`env VAR=…`/`command`/`exec`/`nohup`/`time` wrappers is NOT done
/// here (callers decide). Used by stage 5 for installer lines and by stage 3.
pub fn commands(_text: &str, _deadline: Instant) -> Vec<SimpleCommand> {
    Vec::new()
}

/// Stage 2 findings for shell scripts (kind Shell, by name, shebang or use) and for the command strings
/// of agent configuration and IDE auto-run files (STR-010, STR-013), with §8.2 path lowering applied.
pub fn stage2_findings(_ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    Ok(Vec::new())
}
