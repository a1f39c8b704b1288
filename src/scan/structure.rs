//! Stage 1 — structure (SPEC §8.3): package layout facts (STR-001 … STR-009, STR-011), agent configuration
//! files (STR-010), broad `allowed-tools` grants (STR-012) and IDE auto-run files (STR-013).
//!
//! Gaps in this build (chosen, to be closed with stage 2/5 work):
//! * STR-010 recognises configuration *by shape* in JSON files only (no YAML/TOML parser here); the TOML
//!   `.codex/config.toml` is read line by line for `[mcp_servers.*]` commands and `notify`.
//! * STR-013 program settings resolve only to package files (not yet to "a shell or interpreter given
//!   `-c`/`-e`" outside terminal profiles).

use super::agent;
use super::files::{CONTENT_LIMIT, FileSet, MANIFEST_FILES, ScanFile, is_non_runtime_path};
use super::frontmatter::{self, FmValue};
use super::report::{Finding, Severity};
use super::{StageCtx, StageError};
use crate::permissions::Permissions;
use serde_json::Value;
use std::collections::HashSet;

mod config;

use config::{agent_config, ide_autorun};

const STAGE: &str = "stage1";
const MIB: u64 = 1024 * 1024;

fn fact(
    sev: Severity,
    id: &'static str,
    ty: &'static str,
    msg: String,
    file: Option<&str>,
) -> Finding {
    Finding::fact(STAGE, sev, id, ty, msg, file.map(String::from))
}

pub fn run(ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    let files = ctx.files;
    let mut out = Vec::new();
    skill_md_rules(files, &mut out);
    manifest_rules(files, ctx.input.manifest, &mut out);
    size_rules(files, &mut out);
    ctx.check_deadline()?;
    let declared = files
        .declared_permissions(ctx.input.manifest)
        .map(|(_, p)| Permissions::from_json(Some(&p)))
        .unwrap_or_default();
    let mut owned: HashSet<&str> = HashSet::new();
    for f in &files.files {
        ctx.check_deadline()?;
        if agent_config(files, f, &declared, &mut out) {
            owned.insert(&f.path);
        }
        if ide_autorun(files, f, &mut out) {
            owned.insert(&f.path);
        }
        allowed_tools(files, f, &mut out);
    }
    for f in &files.files {
        if is_hidden(&f.path) && !owned.contains(f.path.as_str()) && !owned_elsewhere(&f.path) {
            out.push(fact(
                Severity::Low,
                "STR-009",
                "hidden_file",
                format!("\"{}\" is a hidden file.", f.path),
                Some(&f.path),
            ));
        }
    }
    overbroad_permissions(files, ctx.input.manifest, &mut out);
    Ok(out)
}

/// STR-001, STR-002, STR-003.
fn skill_md_rules(files: &FileSet, out: &mut Vec<Finding>) {
    let Some(skill) = files.skill_md() else {
        out.push(fact(
            Severity::Medium,
            "STR-001",
            "missing_skill_md",
            "The package has no SKILL.md at its root.".into(),
            Some("SKILL.md"),
        ));
        return;
    };
    if skill.path != "SKILL.md" {
        out.push(fact(
            Severity::Low,
            "STR-002",
            "skill_md_case",
            format!(
                "The root skill file is named \"{}\", not \"SKILL.md\".",
                skill.path
            ),
            Some(&skill.path),
        ));
    }
    let fm = skill.text().and_then(|t| frontmatter::parse(&t));
    let problem = match &fm {
        None => Some("has no frontmatter block".to_string()),
        Some(m) => {
            let missing: Vec<&str> = ["name", "description"]
                .into_iter()
                .filter(|k| !m.contains_key(*k))
                .collect();
            let desc_len = m
                .get("description")
                .and_then(FmValue::as_str)
                .map_or(0, |d| d.chars().count());
            if !missing.is_empty() {
                Some(format!("frontmatter lacks {}", missing.join(" and ")))
            } else if desc_len > 1024 {
                Some(format!(
                    "frontmatter description has {desc_len} characters (more than 1024)"
                ))
            } else {
                None
            }
        }
    };
    if let Some(p) = problem {
        out.push(fact(
            Severity::Info,
            "STR-003",
            "invalid_frontmatter",
            format!("{}: {p}.", skill.path),
            Some(&skill.path),
        ));
    }
}

/// STR-004, STR-005.
fn manifest_rules(files: &FileSet, request: Option<&Value>, out: &mut Vec<Finding>) {
    for name in MANIFEST_FILES {
        let Some(f) = files.get(name) else { continue };
        let parsed = f
            .complete
            .then(|| serde_json::from_slice::<Value>(&f.bytes).ok())
            .flatten();
        if !parsed.as_ref().is_some_and(Value::is_object) {
            out.push(fact(
                Severity::Medium,
                "STR-004",
                "manifest_invalid",
                format!("{name} is not a JSON object."),
                Some(name),
            ));
            continue;
        }
        let (Some(req), "tank.json", Some(tank)) = (request, name, parsed) else {
            continue;
        };
        // Absent permissions mean `{}` (§5); other keys (e.g. a `publish` block clients strip) are ignored.
        let norm = |v: Option<&Value>, perms: bool| match v {
            None | Some(Value::Null) if perms => Value::Object(Default::default()),
            None => Value::Null,
            Some(x) => x.clone(),
        };
        let diffs: Vec<String> = ["name", "version", "permissions"]
            .into_iter()
            .filter(|k| {
                let p = *k == "permissions";
                norm(tank.get(*k), p) != norm(req.get(*k), p)
            })
            .map(|k| match (tank.get(k), req.get(k)) {
                (Some(Value::String(a)), Some(Value::String(b))) => {
                    format!("{k} (\"{a}\" vs \"{b}\")")
                }
                _ => k.to_string(),
            })
            .collect();
        if !diffs.is_empty() {
            out.push(fact(
                Severity::Medium,
                "STR-005",
                "manifest_mismatch",
                format!(
                    "tank.json differs from the submitted manifest in {}.",
                    diffs.join(", ")
                ),
                Some("tank.json"),
            ));
        }
    }
}

/// STR-006, STR-007, STR-008.
fn size_rules(files: &FileSet, out: &mut Vec<Finding>) {
    let n = files.files.len();
    if n > 1000 || n >= 100 {
        out.push(fact(
            if n > 1000 {
                Severity::High
            } else {
                Severity::Low
            },
            "STR-006",
            "too_many_files",
            format!("The package has {n} files."),
            None,
        ));
    }
    let total: u64 = files.files.iter().map(|f| f.size).sum();
    if total > 50 * MIB {
        out.push(fact(
            Severity::High,
            "STR-007",
            "size_exceeded",
            format!("The package files total {total} bytes (more than 50 MiB)."),
            None,
        ));
    }
    for f in &files.files {
        if f.size > CONTENT_LIMIT {
            out.push(fact(
                Severity::Medium,
                "STR-008",
                "large_file",
                format!(
                    "\"{}\" has {} bytes (more than 5 MiB) and was not content-scanned.",
                    f.path, f.size
                ),
                Some(&f.path),
            ));
        }
    }
}

/// A path component starting with `.`, except the allowed ones (STR-009).
fn is_hidden(path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').collect();
    let (name, dirs) = segs.split_last().expect("non-empty path");
    let allowed_name = |n: &str| {
        matches!(
            n,
            ".gitignore"
                | ".gitattributes"
                | ".editorconfig"
                | ".tankignore"
                | ".npmignore"
                | ".nvmrc"
                | ".python-version"
        ) || n.starts_with(".prettierrc")
            || n.starts_with(".eslintrc")
    };
    dirs.iter().any(|d| d.starts_with('.') && *d != ".github")
        || (name.starts_with('.') && !allowed_name(name))
}

/// Files owned by CRD-009 and SUP-004 (stages 4 and 5), exempt from STR-009.
fn owned_elsewhere(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".env"
        || name.starts_with(".env.")
        || name.ends_with(".env")
        || matches!(
            name,
            ".envrc"
                | ".npmrc"
                | ".pypirc"
                | ".netrc"
                | ".git-credentials"
                | ".yarnrc"
                | ".yarnrc.yml"
        )
        || path == ".docker/config.json"
        || path.ends_with("/.docker/config.json")
}

/// STR-012: `allowed-tools` of any `SKILL.md`, or of Markdown under a `commands/` directory, outside
/// non-runtime paths (unless referenced).
fn allowed_tools(files: &FileSet, f: &ScanFile, out: &mut Vec<Finding>) {
    let lower = f.path.to_ascii_lowercase();
    let is_md = [".md", ".mdx", ".markdown", ".mdc"]
        .iter()
        .any(|e| lower.ends_with(e));
    let skill = f.name().eq_ignore_ascii_case("SKILL.md");
    let command = is_md && lower.split('/').rev().skip(1).any(|d| d == "commands");
    if !(skill || command) {
        return;
    }
    if is_non_runtime_path(&f.path) && !files.is_referenced(&f.path) {
        return;
    }
    let Some(fm) = f.text().and_then(|t| frontmatter::parse(&t)) else {
        return;
    };
    let Some(v) = fm.get("allowed-tools").or_else(|| fm.get("allowed_tools")) else {
        return;
    };
    let entries: Vec<String> = match v {
        FmValue::Str(s) => frontmatter::split_top_level(s, &[',', ' '])
            .into_iter()
            .map(|x| x.trim().to_string())
            .collect(),
        FmValue::List(l) => l.clone(),
    };
    let broad: Vec<&String> = entries
        .iter()
        .filter(|e| agent::is_broad_grant(e))
        .collect();
    if !broad.is_empty() {
        let list = broad
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        out.push(
            fact(
                Severity::High,
                "STR-012",
                "broad_tool_grant",
                format!(
                    "\"{}\" grants broad tool access in allowed-tools: {list}.",
                    f.path
                ),
                Some(&f.path),
            )
            .with_evidence(format!("allowed-tools: {list}")),
        );
    }
}

/// STR-011: wildcard hosts and root-wide filesystem paths in the declared permissions.
fn overbroad_permissions(files: &FileSet, request: Option<&Value>, out: &mut Vec<Finding>) {
    let Some((source, perms)) = files.declared_permissions(request) else {
        return;
    };
    let p = Permissions::from_json(Some(&perms));
    let mut bad: Vec<String> = Vec::new();
    for h in &p.outbound {
        let t = h.trim();
        let single_label = t
            .strip_prefix("*.")
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('.') && rest != "*");
        if t == "*" || t == "*.*" || single_label {
            bad.push(format!("network.outbound \"{t}\""));
        }
    }
    for (kind, list) in [
        ("filesystem.read", &p.fs_read),
        ("filesystem.write", &p.fs_write),
    ] {
        for e in list {
            if matches!(e.trim(), "/" | "/**" | "~" | "~/**" | "**" | "*") {
                bad.push(format!("{kind} \"{}\"", e.trim()));
            }
        }
    }
    if !bad.is_empty() {
        let list = bad.join(", ");
        out.push(
            fact(
                Severity::Medium,
                "STR-011",
                "overbroad_permission",
                format!("The declared permissions are overly broad: {list}."),
                source,
            )
            .with_evidence(list),
        );
    }
}

#[cfg(test)]
mod tests;
