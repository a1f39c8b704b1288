//! Stage 1's agent configuration (STR-010) and IDE auto-run (STR-013) rules: which files configure an agent
//! or an editor to run commands, and the findings on what those commands run.

use super::{MIB, fact};
use crate::permissions::{Permissions, host_covered};
use crate::scan::agent::{self, ConfigItems, IdeFile};
use crate::scan::files::{FileSet, ScanFile};
use crate::scan::report::{Finding, Severity};
use serde_json::Value;

/// STR-010. Returns whether `f` is an agent configuration file.
pub(super) fn agent_config(
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
            && !crate::scan::kinds::is_lock_file(&f.path)
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
    let base = agent::agent_root(&f.path);
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
            crate::scan::report::truncate_chars(c, 60)
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
pub(super) fn ide_autorun(files: &FileSet, f: &ScanFile, out: &mut Vec<Finding>) -> bool {
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
            let base = agent::agent_root(&f.path);
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
                    crate::scan::report::truncate_chars(&c.to_string(), 80)
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
