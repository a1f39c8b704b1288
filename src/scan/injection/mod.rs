//! Stage 3 — prompt injection and hidden Unicode (SPEC §8.3 "Stage 3", PI-001–PI-015, UNI-001–UNI-006) on a
//! CommonMark parse (pulldown-cmark with source offsets), with the §8.2 normalised text, sentences and gates.
//!
//! Scope (§8.3): Markdown (prose, inline code, code blocks, HTML and comments, link/image destinations,
//! titles, alt text, frontmatter), text files, YAML read as text, JSON string values (not lock files or
//! `package.json`), Python/JS string literals ≥ 40 characters and tool metadata of any length; UNI rules on
//! every text file. Unpacked content (`FileSet::packed`) is scanned like its own kind at the container's
//! path. Findings in non-runtime files are lowered two levels (§8.2); PI-011 aggregates per file.
//!
//! Module map: `normalize` (normalised text, sentences, tokens), `doc` (blocks), `markdown` (the parse),
//! `gates` (wording gates), `rules_pi` (sentence rules), `engine` (structural gates, PI-006, PI-008(a),
//! PI-012), `shellpi` (built-in PI-008 shell forms), `writes` (PI-014, PI-015), `format` (PI-005, PI-007),
//! `unicode` (UNI-*), `sources` (code strings and tool metadata).

mod blockrules;
mod doc;
mod engine;
mod format;
mod gates;
mod markdown;
mod normalize;
mod rules_data;
mod rules_pi;
mod shellpi;
mod sources;
mod unicode;
mod writes;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rules;
#[cfg(test)]
mod tests_unicode;

use super::files::{FileSet, is_non_runtime_path};
use super::kinds::{self, Kind};
use super::report::{Finding, Severity};
use super::syntax::Grammar;
use super::vocab;
use super::{StageCtx, StageError};
use crate::permissions::Permissions;
use doc::{Block, Region};
use engine::{Env, Hit};
use std::collections::BTreeSet;

const STAGE: &str = "stage3";
/// §8.6: prompt rules 0.8; the UNI rules are character facts (0.9, like AST rules; chosen).
const CONF_PI: f64 = 0.8;
const CONF_UNI: f64 = 0.9;

/// Stage 3.
pub fn run(ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    let files = ctx.files;
    let manifest = files.effective_manifest(ctx.input.manifest);
    let scope = manifest
        .as_ref()
        .and_then(|m| m.get("name").and_then(|n| n.as_str().map(String::from)))
        .and_then(|n| {
            n.strip_prefix('@')
                .and_then(|r| r.split('/').next())
                .map(|s| s.to_ascii_lowercase())
        });
    let declared = files
        .declared_permissions(ctx.input.manifest)
        .map(|(_, p)| Permissions::from_json(Some(&p)))
        .unwrap_or_default();
    let env = Env {
        files: Some(files),
        deadline: ctx.deadline,
        scope,
        outbound: declared.outbound.clone(),
        depth: 0,
    };
    // Files are independent: spread over the cores like stage 2's (issue #4), merged in package order.
    let per_file = super::par::map(&files.files, super::par::workers(), |f| {
        ctx.check_deadline()?;
        let Some(text) = f.text() else {
            return Ok(Vec::new());
        };
        let hits = scan_text(&f.path, kinds::kind_of(f), &text, &env)?;
        // The engine stops early at the deadline; a partial file must not pass as complete (§8.1).
        ctx.check_deadline()?;
        Ok(to_findings(hits, &f.path, runtime(files, &f.path), None))
    });
    let mut out = Vec::new();
    for found in per_file {
        out.extend(found?);
    }
    for p in &files.packed {
        ctx.check_deadline()?;
        if p.bytes[..p.bytes.len().min(8192)].contains(&0) {
            continue;
        }
        let text = String::from_utf8_lossy(&p.bytes);
        let kind = match kinds::kind_by_name(&p.inner_path) {
            Kind::Other => kinds::kind_by_shebang(&p.bytes),
            k => k,
        };
        let hits = scan_text(&p.inner_path, kind, &text, &env)?;
        out.extend(to_findings(
            hits,
            &p.container,
            runtime(files, &p.container),
            Some(&p.inner_path),
        ));
    }
    Ok(out)
}

fn runtime(files: &FileSet, path: &str) -> bool {
    !is_non_runtime_path(path) || files.is_referenced(path)
}

/// All stage-3 hits of one file's text (`path` decides lock files and manifests).
fn scan_text(path: &str, kind: Kind, text: &str, env: &Env) -> Result<Vec<Hit>, StageError> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let manifest = matches!(
        name,
        "package.json" | "tank.json" | "skills.json" | "SKILL.json"
    );
    let code = matches!(kind, Kind::Python | Kind::Js | Kind::Shell | Kind::Json);
    let md = (kind == Kind::Markdown).then(|| markdown::parse(text));
    let mut command_lines = std::collections::HashSet::new();
    if let Some(md) = &md {
        let idx = doc::LineIndex::new(text);
        for r in md.code.iter().chain(&md.inline) {
            command_lines
                .extend(idx.line(r.start)..=idx.line(r.end.saturating_sub(1).max(r.start)));
        }
    }
    let mut hits = unicode::uni_rules(
        text,
        &unicode::UniOpts {
            code,
            identifiers: matches!(kind, Kind::Python | Kind::Js) || manifest,
            command_lines,
        },
        env,
    );
    match kind {
        Kind::Markdown => {
            let md = md.unwrap_or_default();
            hits.extend(engine::analyze(&md.blocks, env));
            hits.extend(format::pi005_markdown(text, &md));
            hits.extend(format::pi007(text, &md));
        }
        Kind::Text | Kind::Yaml => {
            let blocks = doc::text_blocks(text, kind == Kind::Yaml, 1);
            hits.extend(engine::analyze(&blocks, env));
            hits.extend(format::pi005_blocks(&blocks));
        }
        Kind::Json if !kinds::is_lock_file(path) && name != "package.json" => {
            let tools = text.contains("\"tools\"");
            let blocks: Vec<Block> = doc::json_strings(text)
                .into_iter()
                .enumerate()
                .map(|(i, (line, key, s))| {
                    let meta = tools && matches!(key.as_deref(), Some("description" | "title"));
                    let region = if meta { Region::Meta } else { Region::Prose };
                    let mut b = Block::from_text(region, &s, line);
                    b.group = i + 1;
                    b
                })
                .collect();
            hits.extend(engine::analyze(&blocks, env));
            hits.extend(format::pi005_blocks(&blocks));
        }
        Kind::Python | Kind::Js => {
            let g = match kind {
                Kind::Python => Grammar::Python,
                _ => match kinds::js_dialect(path) {
                    kinds::JsDialect::Js => Grammar::JavaScript,
                    kinds::JsDialect::Ts => Grammar::TypeScript,
                    kinds::JsDialect::Tsx => Grammar::Tsx,
                },
            };
            // A package file's own text shares its tree with stage 2 (`syntax::TreeCache`).
            let own = env.depth == 0
                && env
                    .files
                    .and_then(|fs| fs.get(path))
                    .and_then(|f| f.text())
                    .is_some_and(|t| t == text);
            let blocks = match env.files {
                Some(fs) if own => {
                    let tree = fs.trees.parse(path, g, text, env.deadline)?;
                    sources::code_blocks_in(tree, g, text, env.deadline)?
                }
                _ => sources::code_blocks(g, text, env.deadline)?,
            };
            hits.extend(engine::analyze(&blocks, env));
            hits.extend(format::pi005_blocks(&blocks));
        }
        _ => {}
    }
    Ok(hits)
}

/// Rules PI-011 counts (§8.3).
fn counts_for_pi011(rule: &str) -> bool {
    rule.starts_with("PI-") && rule != "PI-011"
        || matches!(rule, "UNI-001" | "UNI-002" | "UNI-003" | "UNI-004")
}

/// Hits → findings: path lowering (§8.2), PI-011, packed prefix (`line: None`).
fn to_findings(hits: Vec<Hit>, path: &str, runtime: bool, inner: Option<&str>) -> Vec<Finding> {
    let mut hits = hits;
    for h in hits.iter_mut() {
        h.sev = vocab::severity_for_path(h.rule, h.sev, runtime);
    }
    let live: Vec<&Hit> = hits
        .iter()
        .filter(|h| h.sev != Severity::Info && !h.capped && counts_for_pi011(h.rule))
        .collect();
    let rules: BTreeSet<&str> = live.iter().map(|h| h.rule).collect();
    if rules.len() >= 3 && !live.iter().any(|h| h.sev == Severity::Critical) {
        let line = live.iter().map(|h| h.line).min().unwrap_or(1);
        let ids: Vec<&str> = rules.into_iter().collect();
        let mut h = Hit::new(
            "PI-011",
            Severity::High,
            line,
            "Several independent injection signals appear in one file.",
            &ids.join(", "),
        );
        h.sev = vocab::severity_for_path("PI-011", h.sev, runtime);
        hits.push(h);
    }
    hits.into_iter()
        .map(|h| {
            let conf = if h.rule.starts_with("UNI") {
                CONF_UNI
            } else {
                CONF_PI
            };
            let msg = match inner {
                Some(i) => format!("In packed data ({i}): {}", h.msg),
                None => h.msg,
            };
            let mut f = Finding::fact(STAGE, h.sev, h.rule, h.ty, msg, Some(path.to_string()))
                .with_evidence(h.evidence)
                .with_confidence(conf);
            f.line = if inner.is_some() { None } else { Some(h.line) };
            f
        })
        .collect()
}
