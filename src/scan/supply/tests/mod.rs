//! Unit tests of stage 5: each SUP rule with the SPEC §8.3 true positive and "not a finding" example,
//! the typosquat negative list, blocklist parsing, the `-r` depth limit, the tokenizer, and whole scans.

mod parts;
mod rules;

use super::run;
use crate::scan::files::{FileSet, ScanFile};
use crate::scan::{Finding, ScanInput, Severity, StageCtx};
use std::time::{Duration, Instant};

/// Runs stage 5 alone on the given files.
pub(super) fn stage5(
    files: &[(&str, &str)],
    manifest: Option<&serde_json::Value>,
    protected: &[String],
) -> Vec<Finding> {
    let mut fs: Vec<ScanFile> = files
        .iter()
        .map(|(p, b)| ScanFile::new(p.to_string(), b.len() as u64, b.as_bytes().to_vec()))
        .collect();
    fs.sort_by(|a, b| a.path.cmp(&b.path));
    let set = FileSet {
        files: fs,
        packed: Vec::new(),
        tarball_len: 0,
        ..FileSet::default()
    };
    let input = ScanInput {
        tarball: &[],
        manifest,
        readme: None,
        protected_names: protected,
        timeout: Duration::from_secs(20),
    };
    let ctx = StageCtx {
        files: &set,
        input: &input,
        deadline: Instant::now() + Duration::from_secs(20),
    };
    let out = run(&ctx).expect("stage 5 finishes");
    for f in &out {
        assert_eq!(f.stage_id, "stage5");
        assert!(f.rule_id.starts_with("SUP-"), "{f:?}");
    }
    out
}

/// (ruleId, severity, file, line) of every finding, for compact assertions.
pub(super) type Row = (&'static str, Severity, Option<String>, Option<u32>);

pub(super) fn rows(files: &[(&str, &str)]) -> Vec<Row> {
    summarise(&stage5(files, None, &[]))
}

pub(super) fn summarise(f: &[Finding]) -> Vec<Row> {
    f.iter()
        .map(|f| (f.rule_id, f.severity, f.file.clone(), f.line))
        .collect()
}

pub(super) fn row(rule: &'static str, sev: Severity, file: &str, line: u32) -> Row {
    (rule, sev, Some(file.to_string()), Some(line))
}
