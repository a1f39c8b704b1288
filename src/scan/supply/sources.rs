//! Where installer lines and MCP launch commands are found (SPEC §8.3 stage 5): Markdown shell text
//! (inline code and code blocks, prompts stripped), command strings of agent configuration (STR-010, by
//! name or by shape) and IDE auto-run (STR-013) files, MCP server entries of those configs and of
//! `.codex/config.toml`, and the effective manifest's `mcp_server`. Judging a command is `installer.rs`.

use super::installer::check_command;
use super::words::{self, Command};
use super::{Origin, Out, line_containing};
use crate::scan::StageCtx;
use crate::scan::StageError;
use crate::scan::agent::{self, ConfigItems};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

/// Shell text: every simple command, at `base_line + line - 1`.
fn shell_text(text: &str, base_line: u32, origin: Origin, out: &mut Out) {
    let lines: Vec<&str> = text.lines().collect();
    for cmd in words::split(text) {
        let Command { line, .. } = cmd;
        let argv = cmd.argv();
        let evidence = lines
            .get(line.saturating_sub(1) as usize)
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| argv.join(" "));
        check_command(&argv, Some(base_line + line - 1), &evidence, origin, out);
    }
}

/// Strips `$ ` and `> ` prompts (SPEC §8.2 Markdown shell text).
fn strip_prompts(block: &str) -> String {
    block
        .lines()
        .map(|l| {
            let t = l.trim_start();
            t.strip_prefix("$ ")
                .or_else(|| t.strip_prefix("> "))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Inline code and code blocks of a Markdown file.
pub fn markdown(ctx: &StageCtx, path: &str, text: &str, out: &mut Out) -> Result<(), StageError> {
    out.set_file(Some(path));
    let line_at = |off: usize| {
        text.get(..off)
            .map_or(1, |t| t.matches('\n').count() as u32 + 1)
    };
    let mut block: Option<(usize, String)> = None;
    for (n, (ev, range)) in Parser::new_ext(text, Options::empty())
        .into_offset_iter()
        .enumerate()
    {
        if n % 256 == 0 {
            ctx.check_deadline()?;
        }
        match ev {
            Event::Start(Tag::CodeBlock(kind)) => {
                let start = match kind {
                    // Content starts on the line after the opening fence.
                    CodeBlockKind::Fenced(_) => text
                        .get(range.start..)
                        .and_then(|t| t.find('\n'))
                        .map_or(range.start, |i| range.start + i + 1),
                    CodeBlockKind::Indented => range.start,
                };
                block = Some((start, String::new()));
            }
            Event::Text(t) => {
                if let Some((_, b)) = block.as_mut() {
                    b.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((start, b)) = block.take() {
                    shell_text(&strip_prompts(&b), line_at(start), Origin::Installer, out);
                }
            }
            Event::Code(c) => {
                shell_text(
                    &strip_prompts(&c),
                    line_at(range.start),
                    Origin::Installer,
                    out,
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// The 1-based line of a JSON string value in the file text.
fn json_string_line(text: &str, s: &str) -> Option<u32> {
    let head: String = s.chars().take(60).collect();
    line_containing(text, &head).or_else(|| {
        let esc = serde_json::to_string(&head).ok()?;
        line_containing(text, esc.trim_matches('"'))
    })
}

/// Agent configuration (STR-010, by name or by shape) and IDE auto-run (STR-013) files: command strings
/// are installer lines; MCP server entries are launch commands.
pub fn config_file(path: &str, text: &str, size: u64, out: &mut Out) {
    let by_name = agent::is_agent_config_name(path);
    let ide = agent::ide_file(path);
    let name = path.rsplit('/').next().unwrap_or(path);
    if path.ends_with(".toml") {
        if by_name {
            out.set_file(Some(path));
            codex_toml(text, out);
        }
        return;
    }
    if !by_name
        && ide.is_none()
        && (size > 1024 * 1024 || crate::scan::kinds::is_lock_file(path) || name == "package.json")
    {
        return;
    }
    let Some(v) = agent::parse_jsonc(text) else {
        return;
    };
    out.set_file(Some(path));
    if let Some(kind) = ide {
        for (c, needle) in ide_commands(kind, &v) {
            let line = json_string_line(text, &needle);
            shell_line(&c, line, out);
        }
        return;
    }
    let items = ConfigItems::from_json(&v, by_name);
    if !by_name && !items.looks_like_config(&v) {
        return;
    }
    let mut cmds: Vec<String> = items.hooks.into_iter().flat_map(|(_, c)| c).collect();
    for key in [
        "apiKeyHelper",
        "awsAuthRefresh",
        "awsCredentialExport",
        "otelHeadersHelper",
    ] {
        if let Some(s) = v.get(key).and_then(Value::as_str) {
            cmds.push(s.to_string());
        }
    }
    if let Some(s) = v.pointer("/statusLine/command").and_then(Value::as_str) {
        cmds.push(s.to_string());
    }
    for c in cmds {
        let line = json_string_line(text, &c);
        shell_line(&c, line, out);
    }
    let keys: &[&str] = if by_name {
        &["mcpServers", "mcp_servers", "servers"]
    } else {
        &["mcpServers", "mcp_servers"]
    };
    for key in keys {
        if let Some(servers) = v.get(key).and_then(Value::as_object) {
            for s in servers.values() {
                mcp_server(s, text, out);
            }
        }
    }
}

/// A command string read as shell: each simple command is an installer line at `line`.
fn shell_line(cmd: &str, line: Option<u32>, out: &mut Out) {
    for c in words::split(cmd) {
        let argv = c.argv();
        check_command(&argv, line, cmd, Origin::Installer, out);
    }
}

/// One MCP server object (`command` + `args`).
fn mcp_server(s: &Value, text: &str, out: &mut Out) {
    let Some(cmd) = s.get("command").and_then(Value::as_str) else {
        return;
    };
    let args: Vec<&str> = s
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // The package operand is more distinctive than the command (`npx` may start several entries).
    let needle = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .copied()
        .unwrap_or(cmd);
    let line = json_string_line(text, needle).or_else(|| json_string_line(text, cmd));
    mcp_launch(cmd, &args, line, out);
}

fn mcp_launch(cmd: &str, args: &[&str], line: Option<u32>, out: &mut Out) {
    let split = words::split(cmd);
    let mut argv: Vec<String> = split
        .first()
        .map(|c| c.words.iter().map(|w| w.text.clone()).collect())
        .unwrap_or_default();
    argv.extend(args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let evidence = refs.join(" ");
    check_command(&refs, line, &evidence, Origin::Mcp, out);
}

/// `.codex/config.toml`: `[mcp_servers.<name>]` with `command` and `args`.
fn codex_toml(text: &str, out: &mut Out) {
    if !super::toml_nesting_ok(text) {
        return;
    }
    let Ok(t) = text.parse::<toml::Table>() else {
        return;
    };
    let Some(servers) = t.get("mcp_servers").and_then(toml::Value::as_table) else {
        return;
    };
    for s in servers.values() {
        let Some(cmd) = s.get("command").and_then(toml::Value::as_str) else {
            continue;
        };
        let args: Vec<&str> = s
            .get("args")
            .and_then(toml::Value::as_array)
            .map(|a| a.iter().filter_map(toml::Value::as_str).collect())
            .unwrap_or_default();
        mcp_launch(cmd, &args, line_containing(text, cmd), out);
    }
}

/// Command strings of STR-013 files: task commands (with their args) and dev-container lifecycle
/// commands (string, array or object of either), each with the raw string that locates its line.
fn ide_commands(kind: agent::IdeFile, v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let as_cmd = |c: &Value| -> Option<(String, String)> {
        match c {
            Value::String(s) => Some((s.clone(), s.clone())),
            Value::Array(a) => {
                let parts: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                Some((
                    parts
                        .iter()
                        .map(|p| shell_quote(p))
                        .collect::<Vec<_>>()
                        .join(" "),
                    parts.first().map(|p| p.to_string()).unwrap_or_default(),
                ))
            }
            _ => None,
        }
    };
    match kind {
        agent::IdeFile::VscodeTasks => {
            for t in v
                .get("tasks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some((mut c, needle)) = t.get("command").and_then(as_cmd) {
                    if let Some(a) = t.get("args").and_then(Value::as_array) {
                        for x in a.iter().filter_map(Value::as_str) {
                            c.push(' ');
                            c.push_str(&shell_quote(x));
                        }
                    }
                    out.push((c, needle));
                }
            }
        }
        agent::IdeFile::Devcontainer => {
            for k in [
                "initializeCommand",
                "onCreateCommand",
                "updateContentCommand",
                "postCreateCommand",
                "postStartCommand",
                "postAttachCommand",
            ] {
                match v.get(k) {
                    Some(Value::Object(o)) => out.extend(o.values().filter_map(as_cmd)),
                    Some(c) => out.extend(as_cmd(c)),
                    None => {}
                }
            }
        }
        agent::IdeFile::VscodeSettings => {}
    }
    out
}

/// Quotes an argv element so the tokenizer reads it back as one word.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@^~".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The effective manifest's `mcp_server` (SPEC §8.3 stage 5): a launch command like an MCP config entry.
pub fn manifest_mcp(ctx: &StageCtx, out: &mut Out) {
    let Some(m) = ctx.files.effective_manifest(ctx.input.manifest) else {
        return;
    };
    let Some(s) = m.get("mcp_server") else {
        return;
    };
    // The request manifest has no file; a root manifest file is named (SPEC §8.2 effective manifest).
    let file = if ctx.input.manifest.is_some() {
        None
    } else {
        ctx.files
            .root_manifests()
            .into_iter()
            .find(|(_, v)| v.is_some())
            .map(|(n, _)| n)
    };
    out.set_file(file);
    let text = file
        .and_then(|f| ctx.files.get(f))
        .and_then(|f| f.text())
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let Some(cmd) = s.get("command").and_then(Value::as_str) else {
        return;
    };
    let args: Vec<&str> = s
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let line = line_containing(&text, "\"mcp_server\"");
    mcp_launch(cmd, &args, line, out);
}
