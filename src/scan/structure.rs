//! Stage 1 — structure (SPEC §8.3): package layout facts (STR-001 … STR-009, STR-011), agent configuration
//! files (STR-010), broad `allowed-tools` grants (STR-012) and IDE auto-run files (STR-013).
//!
//! Gaps in this build (chosen, to be closed with stage 2/5 work):
//! * STR-010 recognises configuration *by shape* in JSON files only (no YAML/TOML parser here); the TOML
//!   `.codex/config.toml` is read line by line for `[mcp_servers.*]` commands and `notify`.
//! * STR-013 program settings resolve only to package files (not yet to "a shell or interpreter given
//!   `-c`/`-e`" outside terminal profiles).

use super::agent::{self, ConfigItems, IdeFile};
use super::files::{CONTENT_LIMIT, FileSet, MANIFEST_FILES, ScanFile, is_non_runtime_path};
use super::frontmatter::{self, FmValue};
use super::report::{Finding, Severity};
use super::{StageCtx, StageError};
use crate::permissions::{Permissions, host_covered};
use serde_json::Value;
use std::collections::HashSet;

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

/// STR-010. Returns whether `f` is an agent configuration file.
fn agent_config(
    files: &FileSet,
    f: &ScanFile,
    declared: &Permissions,
    out: &mut Vec<Finding>,
) -> bool {
    let by_name = agent::is_agent_config_name(&f.path);
    let name = f.name();
    let (items, shape_only) = if f.path.ends_with(".toml") {
        if !by_name {
            return false;
        }
        (toml_items(f), false)
    } else if by_name
        || (name.ends_with(".json")
            && f.size <= MIB
            && !super::kinds::is_lock_file(&f.path)
            && name != "package.json")
    {
        let Some(v) = f.text().and_then(|t| agent::parse_jsonc(&t)) else {
            if by_name {
                out.push(fact(
                    Severity::Medium,
                    "STR-010",
                    "agent_config_file",
                    format!(
                        "\"{}\" is an agent configuration file (unreadable JSON).",
                        f.path
                    ),
                    Some(&f.path),
                ));
            }
            return by_name;
        };
        let items = ConfigItems::from_json(&v, by_name);
        if !by_name && !items.looks_like_config(&v) {
            return false;
        }
        (items, !by_name)
    } else {
        return false;
    };

    let mut critical = Vec::new();
    let mut high = Vec::new();
    if items.default_mode.as_deref() == Some("bypassPermissions") {
        critical.push("permissions.defaultMode bypassPermissions".to_string());
    }
    let base = agent_root(&f.path);
    for (event, cmds) in &items.hooks {
        let prompt_hook = matches!(
            event.as_str(),
            "UserPromptSubmit" | "beforeSubmitPrompt" | "BeforeAgent"
        );
        let networked = prompt_hook
            && cmds.iter().any(|c| {
                agent::mentions_network(c)
                    || referenced_scripts(files, &base, c)
                        .iter()
                        .any(|s| s.text().is_some_and(|t| agent::mentions_network(&t)))
            });
        if networked {
            critical.push(format!("a {event} hook that reaches the network"));
        } else {
            high.push(format!("{event} hook"));
        }
    }
    for g in items.allow.iter().filter(|g| agent::is_broad_grant(g)) {
        high.push(format!("broad tool grant {g}"));
    }
    high.extend(items.helpers.iter().cloned());
    if items.enable_all_mcp {
        high.push("enableAllProjectMcpServers".into());
    }
    if items.enabled_mcpjson {
        high.push("enabledMcpjsonServers".into());
    }
    for (k, v) in &items.env {
        if !agent::is_hijack_env(k) {
            continue;
        }
        let undeclared_url = agent::is_url_hijack_env(k) && {
            let hosts = agent::url_hosts(v);
            let hosts = if hosts.is_empty() && !v.trim().is_empty() && !v.contains('$') {
                vec![v.trim().to_ascii_lowercase()]
            } else {
                hosts
            };
            hosts
                .iter()
                .any(|h| !agent::is_loopback(h) && !host_covered(&declared.outbound, h))
        };
        if undeclared_url {
            critical.push(format!("env {k} pointing to an undeclared host"));
        } else {
            high.push(format!("env {k}"));
        }
    }
    let only_mcp = high.is_empty() && critical.is_empty() && !items.mcp_commands.is_empty();
    for c in &items.mcp_commands {
        high.push(format!(
            "MCP server `{}`",
            super::report::truncate_chars(c, 60)
        ));
    }
    let sev = if !critical.is_empty() {
        Severity::Critical
    } else if high.is_empty() || (shape_only && only_mcp) {
        Severity::Medium
    } else {
        Severity::High
    };
    let listed: Vec<String> = critical.into_iter().chain(high).collect();
    let msg = if listed.is_empty() {
        format!("\"{}\" is an agent configuration file.", f.path)
    } else {
        format!(
            "\"{}\" is an agent configuration file that defines {}.",
            f.path,
            listed.join(", ")
        )
    };
    let mut finding = fact(sev, "STR-010", "agent_config_file", msg, Some(&f.path));
    if !listed.is_empty() {
        finding = finding.with_evidence(listed.join("; "));
    }
    out.push(finding);
    true
}

/// The directory that holds the agent directory (`a/.claude/settings.json` → `a/`), where hook commands run.
fn agent_root(path: &str) -> String {
    let mut segs: Vec<&str> = path.split('/').collect();
    segs.pop();
    if segs
        .last()
        .is_some_and(|s| s.starts_with('.') || *s == "hooks")
    {
        segs.pop();
    }
    if segs.is_empty() {
        String::new()
    } else {
        format!("{}/", segs.join("/"))
    }
}

/// Package files that a command string names (`node lib/sync.js`, `"$CLAUDE_PROJECT_DIR"/.claude/h.sh`).
fn referenced_scripts<'a>(files: &'a FileSet, base: &str, cmd: &str) -> Vec<&'a ScanFile> {
    cmd.split(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|')
        .filter_map(|tok| {
            let t = tok.trim_matches(|c| c == '"' || c == '\'');
            let t = [
                "$CLAUDE_PROJECT_DIR/",
                "${CLAUDE_PROJECT_DIR}/",
                "\"$CLAUDE_PROJECT_DIR\"/",
                "${workspaceFolder}/",
            ]
            .iter()
            .find_map(|p| t.strip_prefix(p))
            .unwrap_or(t);
            let t = t
                .trim_start_matches("./")
                .trim_matches(|c| c == '"' || c == '\'');
            if t.is_empty() {
                return None;
            }
            files.get(t).or_else(|| files.get(&format!("{base}{t}")))
        })
        .collect()
}

/// `.codex/config.toml`, read line by line (no TOML parser in this build).
fn toml_items(f: &ScanFile) -> ConfigItems {
    let mut items = ConfigItems::default();
    let Some(text) = f.text() else { return items };
    let mut in_mcp = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_mcp = line.starts_with("[mcp_servers.");
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let (k, v) = (k.trim(), v.trim());
            if in_mcp && k == "command" {
                items.mcp_commands.push(v.trim_matches('"').to_string());
            } else if !in_mcp && k == "notify" {
                items.helpers.push(format!("notify: {v}"));
            }
        }
    }
    items
}

/// Flattens nested objects into dotted keys (VS Code settings may be written either way).
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v.as_object() {
        Some(o) => {
            for (k, x) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if x.is_object() {
                    flatten(&key, x, out);
                }
                out.push((key, x.clone()));
            }
        }
        None => out.push((prefix.to_string(), v.clone())),
    }
}

/// STR-013. Returns whether `f` is an IDE auto-run file.
fn ide_autorun(files: &FileSet, f: &ScanFile, out: &mut Vec<Finding>) -> bool {
    let Some(kind) = agent::ide_file(&f.path) else {
        return false;
    };
    let v = f
        .text()
        .and_then(|t| agent::parse_jsonc(&t))
        .unwrap_or(Value::Null);
    let mut reasons: Vec<String> = Vec::new();
    let sev = match kind {
        IdeFile::VscodeTasks => {
            let tasks = v
                .get("tasks")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for t in &tasks {
                if t.pointer("/runOptions/runOn").and_then(Value::as_str) == Some("folderOpen") {
                    let label = t.get("label").and_then(Value::as_str).unwrap_or("?");
                    let cmd = t.get("command").map(|c| {
                        c.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| c.to_string())
                    });
                    reasons.push(format!(
                        "task \"{label}\" runs on folder open{}",
                        cmd.map(|c| format!(": {c}")).unwrap_or_default()
                    ));
                }
            }
            if reasons.is_empty() {
                Severity::Low
            } else {
                Severity::High
            }
        }
        IdeFile::VscodeSettings => {
            let base = agent_root(&f.path);
            let mut flat = Vec::new();
            flatten("", &v, &mut flat);
            for (k, val) in &flat {
                let lk = k.to_ascii_lowercase();
                if lk == "task.allowautomatictasks" && val.as_str() == Some("on") {
                    reasons.push("task.allowAutomaticTasks on".into());
                } else if lk == "security.workspace.trust.enabled" && *val == Value::Bool(false) {
                    reasons.push("workspace trust disabled".into());
                } else if lk.starts_with("terminal.integrated.env.")
                    && agent::is_hijack_env(k.rsplit('.').next().unwrap_or(""))
                {
                    reasons.push(k.to_string());
                } else if let Some(s) = val.as_str()
                    && (lk.ends_with("path") || lk.starts_with("terminal.integrated.shell."))
                {
                    let t = s
                        .strip_prefix("${workspaceFolder}/")
                        .unwrap_or(s)
                        .trim_start_matches("./");
                    if files.get(t).is_some() || files.get(&format!("{base}{t}")).is_some() {
                        reasons.push(format!("{k} runs package file {t}"));
                    } else if lk.starts_with("terminal.integrated.profiles.")
                        && agent::is_open_program(t)
                    {
                        let parent = &k[..k.len() - 5];
                        let args = flat
                            .iter()
                            .find(|(pk, _)| pk == &format!("{parent}.args"))
                            .map(|(_, a)| a.to_string())
                            .unwrap_or_default();
                        if args.contains("\"-c\"") || args.contains("\"-e\"") {
                            reasons.push(format!("{parent} runs {t} with inline code"));
                        }
                    }
                }
            }
            if reasons.is_empty() {
                Severity::Info
            } else {
                Severity::High
            }
        }
        IdeFile::Devcontainer => {
            if let Some(c) = v.get("initializeCommand") {
                reasons.push(format!(
                    "initializeCommand (runs on the host): {}",
                    super::report::truncate_chars(&c.to_string(), 80)
                ));
                Severity::High
            } else {
                for k in [
                    "onCreateCommand",
                    "updateContentCommand",
                    "postCreateCommand",
                    "postStartCommand",
                    "postAttachCommand",
                ] {
                    if v.get(k).is_some() {
                        reasons.push(k.to_string());
                    }
                }
                Severity::Low
            }
        }
    };
    let msg = if reasons.is_empty() {
        format!("\"{}\" is an IDE file that can run commands.", f.path)
    } else {
        format!(
            "\"{}\" is an IDE file that runs commands: {}.",
            f.path,
            reasons.join(", ")
        )
    };
    let mut finding = fact(sev, "STR-013", "ide_autorun", msg, Some(&f.path));
    if !reasons.is_empty() {
        finding = finding.with_evidence(reasons.join("; "));
    }
    out.push(finding);
    true
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
