//! Stage 5 — supply chain (SPEC §8.3 "Stage 5", SUP-002–SUP-007; SUP-001 is found by stage 2's process-call
//! analysis): dependency files, install scripts, typosquats against bundled popular-name lists, a bundled
//! blocklist that an operator can extend, and skill-name squats.
//!
//! Layout: `data` (compiled-in lists, operator blocklist), `deps` (version classes and the per-dependency
//! rules), `python` and `npm` (dependency files), `words` (a small shell-words tokenizer), `installer`
//! (judging one installer line or MCP launch command), `sources` (where those are found: Markdown, agent /
//! IDE command strings, MCP configs, the manifest), `locks` (SUP-006 in lock files), `scripts` (SUP-005),
//! `squat` (SUP-007). Findings are never lowered by path (§8.2).

mod data;
mod deps;
mod installer;
mod locks;
mod npm;
mod python;
mod scripts;
mod sources;
mod squat;
mod words;

pub use data::{Eco, load_extra_blocklist};
/// For stage 2's dynamic installs (SPEC §8.3 SUP-003 "a dependency or dynamic-install name").
pub use deps::typosquat;

use super::kinds::{self, Kind};
use super::report::{Finding, Severity};
use super::{StageCtx, StageError};
use sha2::{Digest, Sha256};
use std::time::Instant;

const STAGE: &str = "stage5";
/// SPEC §8.6: AST / parser rules.
const CONFIDENCE: f64 = 0.9;

/// Where a dependency or command was found; decides SUP-002's reach and SUP-004's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A dependency or configuration file (requirements, pyproject, package.json, .npmrc …).
    Manifest,
    /// An installer line in Markdown shell text or a command string (SPEC §8.3: SUP-003/004/006 only).
    Installer,
    /// An MCP server launch command (`npx`/`bunx`/`uvx`/`pipx run` also get SUP-002).
    Mcp,
}

/// The findings of the stage, with the file currently being read.
pub struct Out {
    file: Option<String>,
    pub findings: Vec<Finding>,
    deadline: Instant,
}

impl Out {
    fn new(deadline: Instant) -> Out {
        Out {
            file: None,
            findings: Vec::new(),
            deadline,
        }
    }

    /// The scan deadline has passed (checked inside per-line loops of large files).
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    pub fn set_file(&mut self, path: Option<&str>) {
        self.file = path.map(String::from);
    }

    pub fn push(
        &mut self,
        severity: Severity,
        rule_id: &'static str,
        rule_type: &'static str,
        message: String,
        line: Option<u32>,
        evidence: String,
    ) {
        let mut f = Finding::fact(
            STAGE,
            severity,
            rule_id,
            rule_type,
            message,
            self.file.clone(),
        )
        .with_evidence(evidence)
        .with_confidence(CONFIDENCE);
        f.line = line;
        self.findings.push(f);
    }

    /// Sets the confidence of the finding just pushed (typosquats are heuristics: 0.6).
    pub fn last_confidence(&mut self, c: f64) {
        if let Some(f) = self.findings.last_mut() {
            f.confidence = c;
        }
    }
}

/// The 1-based line of the first occurrence of `needle` in `text`.
pub fn line_containing(text: &str, needle: &str) -> Option<u32> {
    if needle.is_empty() {
        return None;
    }
    let i = text.find(needle)?;
    Some(text[..i].matches('\n').count() as u32 + 1)
}

/// Bracket nesting above which a TOML file is not parsed (bounded recursion on hostile input; real
/// dependency files nest a handful of levels).
const MAX_TOML_NESTING: usize = 64;

/// True when `text` never nests `[`/`{` deeper than `MAX_TOML_NESTING` (brackets in strings count too,
/// which can only make the check stricter).
fn toml_nesting_ok(text: &str) -> bool {
    let mut depth: usize = 0;
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_TOML_NESTING {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Stage 5.
pub fn run(ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    let files = ctx.files;
    let mut out = Out::new(ctx.deadline);
    let mut visited: Vec<String> = Vec::new();
    let hashes = data::has_hash_entries();
    for f in &files.files {
        ctx.check_deadline()?;
        if hashes && f.complete {
            let h = hex::encode(Sha256::digest(&f.bytes));
            if data::is_blocked(&data::Entry::Sha256(h.clone())) {
                out.set_file(Some(&f.path));
                out.push(
                    Severity::Critical,
                    "SUP-006",
                    "known_malicious",
                    format!(
                        "\"{}\" matches a known malicious file by its SHA-256.",
                        f.path
                    ),
                    None,
                    format!("sha256:{h}"),
                );
            }
        }
        let Some(text) = f.text() else {
            continue;
        };
        let path = f.path.as_str();
        let name = f.name();
        if python::is_requirements(path) {
            python::requirements(files, path, 0, &mut visited, &mut out);
        }
        match name {
            "pyproject.toml" => python::pyproject(path, &text, &mut out),
            "Pipfile" => python::pipfile(path, &text, &mut out),
            "pip.conf" | "pip.ini" => python::pip_conf(path, &text, &mut out),
            ".npmrc" => npm::npmrc(path, &text, false, &mut out),
            ".yarnrc" => npm::npmrc(path, &text, true, &mut out),
            ".yarnrc.yml" => npm::yarnrc_yml(path, &text, &mut out),
            "setup.py" => scripts::setup_py(ctx, path, &text, &mut out)?,
            "package-lock.json" | "npm-shrinkwrap.json" => locks::npm_lock(path, &text, &mut out),
            "Pipfile.lock" => locks::pipfile_lock(path, &text, &mut out),
            "poetry.lock" | "uv.lock" => locks::toml_lock(path, &text, &mut out),
            "package.json" => {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    npm::package_json(path, &text, &v, &mut out);
                    scripts::package_scripts(ctx, path, &text, &v, &mut out);
                }
            }
            _ => {}
        }
        match kinds::kind_of(f) {
            Kind::Markdown => sources::markdown(ctx, path, &text, &mut out)?,
            Kind::Json | Kind::Toml => sources::config_file(path, &text, f.size, &mut out),
            _ => {}
        }
    }
    sources::manifest_mcp(ctx, &mut out);
    squat::check(ctx, &mut out);
    // Work skipped after the deadline must not look like a clean result.
    ctx.check_deadline()?;
    Ok(out.findings)
}

#[cfg(test)]
mod tests;
