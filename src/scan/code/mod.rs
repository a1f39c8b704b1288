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
    // The shell analysis and each Python or JS file are independent jobs, spread over the cores
    // (issue #4); their findings are merged in the order of the sequential scan (files in package order,
    // packed content, then shell), so the report does not depend on thread timing.
    let mut jobs: Vec<Job> = vec![Job::Shell];
    jobs.extend(files.files.iter().filter_map(|f| {
        let kind = kinds::kind_of(f);
        matches!(kind, Kind::Python | Kind::Js).then_some(Job::File(f, kind))
    }));
    let mut done = super::par::map(&jobs, super::par::workers(), |job| {
        ctx.check_deadline()?;
        match *job {
            Job::Shell => super::shell::stage2_findings(ctx).map(|findings| Done {
                out: CodeOutput {
                    findings,
                    caps: Capabilities::default(),
                },
                ..Done::default()
            }),
            Job::File(f, kind) => analyze_file(f, kind, files, &declared, ctx.deadline),
        }
    })
    .into_iter();
    let shell = done.next().unwrap_or(Ok(Done::default()))?;
    let mut out = Vec::new();
    let mut caps = Capabilities::default();
    let mut facts: Vec<(&str, python::ChainFacts)> = Vec::new();
    for (job, d) in jobs.iter().skip(1).zip(done) {
        let d = d?;
        if let (Job::File(f, _), Some(fa)) = (job, d.facts) {
            facts.push((&f.path, fa));
        }
        out.extend(d.out.findings);
        if d.runtime {
            caps.extend(d.out.caps);
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
    out.extend(shell.out.findings);
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

/// One unit of stage 2's parallel part.
enum Job<'a> {
    /// Shell text of the whole package (`shell::stage2_findings`: it follows scripts run by others).
    Shell,
    File(&'a ScanFile, Kind),
}

/// What a job found.
#[derive(Default)]
struct Done {
    out: CodeOutput,
    /// CODE-002 chain facts of a runtime Python file.
    facts: Option<python::ChainFacts>,
    runtime: bool,
}

/// Stage 2 of one Python or JS/TS package file.
fn analyze_file(
    f: &ScanFile,
    kind: Kind,
    files: &FileSet,
    declared: &Permissions,
    deadline: Instant,
) -> Result<Done, StageError> {
    let Some(text) = f.text() else {
        return Ok(Done::default());
    };
    let runtime = is_runtime(files, &f.path);
    let fctx = FileCtx {
        file: f,
        text: &text,
        runtime,
        files,
        declared,
        deadline,
        depth: 0,
    };
    if kind == Kind::Python {
        let (out, facts) = python::analyze_with_facts(&fctx)?;
        Ok(Done {
            out,
            facts: runtime.then_some(facts),
            runtime,
        })
    } else {
        Ok(Done {
            out: analyze_kind(kind, &fctx)?,
            facts: None,
            runtime,
        })
    }
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
