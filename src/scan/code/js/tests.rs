//! Unit tests of the JS analyser: each rule's §8.3 true positive and "not a finding" example (JS
//! variants), the §8.8 MUST-catch inputs for JS, TS/TSX parsing, and garbage input.

use super::analyze;
use crate::permissions::Permissions;
use crate::scan::code::{CodeOutput, FileCtx};
use crate::scan::files::{FileSet, ScanFile};
use crate::scan::report::{Finding, Severity};
use std::time::{Duration, Instant};

mod code;
mod rules;

/// Analyses `src` as the file `path` with the given declarations.
pub(super) fn run_decl(path: &str, src: &str, declared: &Permissions) -> CodeOutput {
    let file = ScanFile::new(path.to_string(), src.len() as u64, src.as_bytes().to_vec());
    let files = FileSet {
        files: vec![file.clone()],
        ..Default::default()
    };
    let runtime = !crate::scan::files::is_non_runtime_path(path);
    let f = FileCtx {
        file: &file,
        text: src,
        runtime,
        files: &files,
        declared,
        deadline: Instant::now() + Duration::from_secs(10),
        depth: 0,
    };
    analyze(&f).expect("no timeout")
}

pub(super) fn run(src: &str) -> CodeOutput {
    run_decl("index.js", src, &Permissions::default())
}

/// The findings (notes included) of one rule.
pub(super) fn of<'a>(out: &'a CodeOutput, rule: &str) -> Vec<&'a Finding> {
    out.findings.iter().filter(|f| f.rule_id == rule).collect()
}

/// (severity, line) of each finding of a rule.
pub(super) fn sev_lines(out: &CodeOutput, rule: &str) -> Vec<(Severity, u32)> {
    of(out, rule)
        .iter()
        .map(|f| (f.severity, f.line.unwrap_or(0)))
        .collect()
}

pub(super) fn outbound(hosts: &[&str]) -> Permissions {
    Permissions {
        outbound: hosts.iter().map(|h| h.to_string()).collect(),
        ..Default::default()
    }
}
