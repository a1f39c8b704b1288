//! Stage 2 — static analysis (SPEC §8.3 "Stage 2"): Python and JS/TS on tree-sitter syntax trees (PY-*,
//! JS-*, CODE-*), shell through `scan::shell`, and the manifest rules MAN-001–MAN-003 computed from the
//! capabilities the language analysers extract. SUP-001 (dynamic installs) is found here, because it needs
//! the process-call analysis, and is reported under `stage5` as §8.3 lists it (chosen).

pub mod js;
pub mod man;
pub mod python;
pub mod terms;

use super::files::{FileSet, ScanFile, is_non_runtime_path};
use super::kinds::{self, Kind};
use super::report::Finding;
use super::{StageCtx, StageError};
use crate::permissions::Permissions;
use std::time::Instant;

pub use man::man_findings;

/// The stage id of every stage-2 finding (SUP-001 excepted, which is `stage5`).
pub const STAGE: &str = "stage2";

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

impl Capabilities {
    /// Appends `other` (used to aggregate per-file capabilities for the package).
    pub fn extend(&mut self, other: Capabilities) {
        self.net.extend(other.net);
        self.subprocess.extend(other.subprocess);
        self.fs_writes.extend(other.fs_writes);
    }
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

/// Parses the text under analysis: a package file's own text through the tree cache it shares with
/// stage 3, anything else (packed or decoded content) on its own.
pub(crate) fn parse_file(
    f: &FileCtx,
    g: crate::scan::syntax::Grammar,
) -> Result<tree_sitter::Tree, StageError> {
    let own = f.depth == 0
        && f.files
            .get(&f.file.path)
            .is_some_and(|x| std::ptr::eq(x, f.file));
    if own {
        f.files.trees.parse(&f.file.path, g, f.text, f.deadline)
    } else {
        crate::scan::syntax::parse(g, f.text, f.deadline)
    }
}

/// Runtime status of a package path (§8.2 "Non-runtime files … unless it is referenced").
pub fn is_runtime(files: &FileSet, path: &str) -> bool {
    !is_non_runtime_path(path) || files.is_referenced(path)
}

/// Stage 2.
pub fn run(ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    let files = ctx.files;
    let declared = Permissions::from_json(
        files
            .declared_permissions(ctx.input.manifest)
            .map(|(_, v)| v)
            .as_ref(),
    );
    let mut out = Vec::new();
    let mut caps = Capabilities::default();
    let mut facts: Vec<(&str, python::ChainFacts)> = Vec::new();
    for f in &files.files {
        ctx.check_deadline()?;
        let kind = kinds::kind_of(f);
        if !matches!(kind, Kind::Python | Kind::Js) {
            continue;
        }
        let Some(text) = f.text() else { continue };
        let runtime = is_runtime(files, &f.path);
        let fctx = FileCtx {
            file: f,
            text: &text,
            runtime,
            files,
            declared: &declared,
            deadline: ctx.deadline,
            depth: 0,
        };
        let o = if kind == Kind::Python {
            let (o, fa) = python::analyze_with_facts(&fctx)?;
            if runtime {
                facts.push((&f.path, fa));
            }
            o
        } else {
            analyze_kind(kind, &fctx)?
        };
        out.extend(o.findings);
        if runtime {
            caps.extend(o.caps);
        }
    }
    // Content unpacked by ARC-008 is judged at the container's path and runtime status (§8.3 ARC-008).
    for p in &files.packed {
        ctx.check_deadline()?;
        let kind = kinds::kind_by_name(&p.inner_path);
        let kind = match kind {
            Kind::Other => kinds::kind_by_shebang(&p.bytes),
            k => k,
        };
        if !matches!(kind, Kind::Python | Kind::Js) || p.bytes.contains(&0) {
            continue;
        }
        let text = String::from_utf8_lossy(&p.bytes);
        let runtime = is_runtime(files, &p.container);
        // A synthetic file at the container's path, named like the inner path so that the JS analyser
        // picks the right dialect.
        let file = ScanFile::new(p.container.clone(), p.bytes.len() as u64, Vec::new());
        let fctx = FileCtx {
            file: &file,
            text: &text,
            runtime,
            files,
            declared: &declared,
            deadline: ctx.deadline,
            depth: 0,
        };
        let o = analyze_kind(kind, &fctx)?;
        for mut fi in o.findings {
            fi.line = None;
            fi.message = format!("In packed data ({}): {}", p.inner_path, fi.message);
            out.push(fi);
        }
        if runtime {
            caps.extend(o.caps);
        }
    }
    ctx.check_deadline()?;
    out.extend(super::shell::stage2_findings(ctx)?);
    if let Some(f) = multi_file_chain(&facts, &out) {
        out.push(f);
    }
    out.extend(man_findings(&caps, &declared));
    Ok(out)
}

/// CODE-002's package heuristic (§8.3): three different runtime files that (a) read secrets, (b) encode
/// and (c) send a non-constant body to an undeclared host. Not added when a proven CODE-002 exists (chosen:
/// the heuristic stands in for a flow the analysers could not follow).
fn multi_file_chain(facts: &[(&str, python::ChainFacts)], found: &[Finding]) -> Option<Finding> {
    if found.iter().any(|f| f.rule_id == "CODE-002") {
        return None;
    }
    for (a, _) in facts.iter().filter(|(_, f)| f.reads_secret) {
        for (b, _) in facts.iter().filter(|(p, f)| f.encoder && p != a) {
            if let Some((c, _)) = facts.iter().find(|(p, f)| f.sends && p != a && p != b) {
                let mut f = Finding::fact(
                    STAGE,
                    super::report::Severity::High,
                    "CODE-002",
                    "exfiltration",
                    "Possible multi-file exfiltration chain (heuristic, no data flow proven)",
                    Some(c.to_string()),
                )
                .with_evidence(format!("{a}, {b}, {c}"))
                .with_confidence(0.5);
                f.line = None;
                return Some(f);
            }
        }
    }
    None
}

fn analyze_kind(kind: Kind, f: &FileCtx) -> Result<CodeOutput, StageError> {
    match kind {
        Kind::Python => python::analyze(f),
        Kind::Js => js::analyze(f),
        _ => Ok(CodeOutput::default()),
    }
}

#[cfg(test)]
mod tests;
