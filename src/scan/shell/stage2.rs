//! Stage 2 for shell text: which files and strings are shell (SPEC §8.2 kinds, kind by use; §8.3 stage 2:
//! command strings of agent configuration and IDE auto-run files; ARC-008 packed content), and how hits
//! become findings (stage `stage2`, confidence 0.9, §8.2 non-runtime lowering).

use super::model::{self, Cmd};
use super::terms::{self, Runs};
use super::{ShellHit, ShellOpts, analyze, analyze_seeing};
use crate::permissions::Permissions;
use crate::scan::agent::{self, ConfigItems, IdeFile};
use crate::scan::files::{FileSet, ScanFile, is_non_runtime_path};
use crate::scan::kinds::{self, Kind};
use crate::scan::report::Finding;
use crate::scan::{StageCtx, StageError, vocab};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

const MIB: u64 = 1024 * 1024;
const CONFIDENCE: f64 = 0.9;

/// A command string of an agent configuration or IDE file, with its line in that file.
struct CommandString {
    text: String,
    line: Option<u32>,
}

pub(super) fn findings(ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    let files = ctx.files;
    let declared_v = files
        .declared_permissions(ctx.input.manifest)
        .map(|(_, v)| v);
    let declared = Permissions::from_json(declared_v.as_ref());
    let opts = ShellOpts {
        files: Some(files),
        declared: Some(&declared),
        deadline: ctx.deadline,
        depth: 0,
    };
    // Command strings of agent configuration and IDE auto-run files (STR-010, STR-013), gathered first:
    // a path they name is "referenced" (§8.2 non-runtime files), which `FileSet::is_referenced` does
    // not know.
    let mut sources: Vec<(&ScanFile, Vec<CommandString>)> = Vec::new();
    for f in &files.files {
        ctx.check_deadline()?;
        if let Some(cmds) = command_strings(f) {
            sources.push((f, cmds));
        }
    }
    let named_by_commands = |p: &str| {
        let stem = p.rsplit_once('.').map_or(p, |(s, _)| s);
        sources
            .iter()
            .flat_map(|(_, c)| c.iter())
            .any(|c| c.text.contains(p) || (stem.contains('/') && c.text.contains(stem)))
    };
    let mut runtime_cache: HashMap<String, bool> = HashMap::new();
    let mut runtime = |p: &str| {
        *runtime_cache.entry(p.to_string()).or_insert_with(|| {
            !is_non_runtime_path(p) || files.is_referenced(p) || named_by_commands(p)
        })
    };
    let mut out = Vec::new();
    let mut done: HashSet<String> = HashSet::new();
    let mut queue: Vec<String> = Vec::new();

    for (f, cmds) in &sources {
        let base = agent::agent_root(&f.path);
        let rt = runtime(&f.path);
        for cs in cmds {
            let mut used = Vec::new();
            let hits = analyze_seeing(&cs.text, &opts, &mut |s| {
                used.extend(used_scripts(files, &base, s));
            });
            for h in hits {
                out.push(finding(&h, &f.path, cs.line, rt, ""));
            }
            queue.extend(used);
        }
        ctx.check_deadline()?;
    }

    // Shell scripts by name or shebang.
    for f in &files.files {
        if kinds::kind_of(f) == Kind::Shell {
            queue.push(f.path.clone());
        }
    }
    // Kind by use: scripts run with `bash f`, `source f`, `cat f | sh` from scanned shell text. Each file
    // is analysed once; the queue grows while new scripts are found.
    let mut i = 0;
    while i < queue.len() && i < 10_000 {
        let path = queue[i].clone();
        i += 1;
        ctx.check_deadline()?;
        if !done.insert(path.clone()) {
            continue;
        }
        let Some(f) = files.get(&path) else {
            continue;
        };
        let Some(text) = f.text() else {
            continue;
        };
        let rt = runtime(&f.path);
        let dir = match f.path.rfind('/') {
            Some(j) => format!("{}/", &f.path[..j]),
            None => String::new(),
        };
        let mut used = Vec::new();
        let hits = analyze_seeing(&text, &opts, &mut |s| {
            used.extend(used_scripts(files, &dir, s));
        });
        for h in hits {
            out.push(finding(&h, &f.path, Some(h.line), rt, ""));
        }
        queue.extend(used);
        ctx.check_deadline()?;
    }

    // Packed content (ARC-008) that is shell by shebang or inner name.
    for pc in &files.packed {
        ctx.check_deadline()?;
        let head = pc.bytes.get(..pc.bytes.len().min(8192)).unwrap_or(&[]);
        let shell = kinds::kind_by_shebang(&pc.bytes) == Kind::Shell
            || kinds::kind_by_name(&pc.inner_path) == Kind::Shell;
        if !shell || head.contains(&0) {
            continue;
        }
        let text = String::from_utf8_lossy(&pc.bytes);
        let rt = runtime(&pc.container);
        let prefix = format!("In packed data ({}): ", pc.inner_path);
        for h in analyze(&text, &opts) {
            out.push(finding(&h, &pc.container, None, rt, &prefix));
        }
    }
    ctx.check_deadline()?;
    Ok(out)
}

fn finding(h: &ShellHit, path: &str, line: Option<u32>, runtime: bool, prefix: &str) -> Finding {
    let sev = vocab::severity_for_path(h.rule_id, h.severity, runtime);
    let mut f = Finding::fact(
        "stage2",
        sev,
        h.rule_id,
        h.rule_type,
        format!("{prefix}{}", h.message),
        Some(path.to_string()),
    )
    .with_evidence(h.evidence.clone())
    .with_confidence(CONFIDENCE);
    f.line = line;
    f
}

/// Package files that shell text runs as shell scripts (§8.2 kind by use, shell interpreters only:
/// the other interpreters' kinds are the code analysers' business).
/// Reads one batch of a text's model (`analyze_seeing`), in order; a text whose parse ran out of time
/// fails the stage at its next deadline check, so partial batches never reach a report.
fn used_scripts(files: &FileSet, dir: &str, script: &model::Script) -> Vec<String> {
    let mut out = Vec::new();
    for p in script.pipelines() {
        for (k, c) in p.cmds.iter().enumerate() {
            let Some((prog, args)) = terms::prog(c) else {
                continue;
            };
            let shell = terms::is_shell(&prog) || prog == "source" || prog == ".";
            if !shell {
                continue;
            }
            let runs = if prog == "source" || prog == "." {
                Runs::Script(0)
            } else {
                terms::interp_runs(&prog, args)
            };
            // A non-constant operand (`"$CLAUDE_PROJECT_DIR"/x.sh`) still names a file here.
            let first_operand = || {
                args.iter()
                    .find(|w| !w.loose.starts_with('-') && !w.loose.starts_with('+'))
                    .map(|w| w.loose.clone())
            };
            let operand = match runs {
                Runs::Script(i) => args.get(i).map(|w| w.loose.clone()),
                Runs::Stdin => first_operand().or_else(|| stdin_file(c)).or_else(|| {
                    // `cat f | sh`
                    k.checked_sub(1)
                        .and_then(|j| p.cmds.get(j))
                        .and_then(|prev| {
                            let (pp, pa) = terms::prog(prev)?;
                            (pp == "cat")
                                .then(|| pa.iter().find(|a| !a.s().starts_with('-')))
                                .flatten()
                                .map(|w| w.loose.clone())
                        })
                }),
                _ => None,
            };
            if let Some(op) = operand
                && let Some(f) = resolve(files, dir, &op)
            {
                out.push(f.path.clone());
            }
        }
    }
    out
}

fn stdin_file(c: &Cmd) -> Option<String> {
    c.redirs
        .iter()
        .find(|r| r.op == "<")
        .map(|r| r.target.loose.clone())
}

/// A package file named by an operand: relative to the running script's directory or the package root;
/// leading `$VAR/`, `${VAR}/` and `$(dirname "$0")/` prefixes are dropped (project-dir variables).
fn resolve<'a>(files: &'a FileSet, dir: &str, op: &str) -> Option<&'a ScanFile> {
    let mut t = op.trim().trim_matches(|c| c == '"' || c == '\'');
    if t.starts_with('$') {
        let cut = t
            .find(")/")
            .map(|i| i + 2)
            .or_else(|| t.find('/').map(|i| i + 1))?;
        t = t.get(cut..)?;
    }
    let t = t.trim_start_matches("./");
    if t.is_empty() || t.starts_with('/') || t.starts_with('~') {
        return None;
    }
    let joined = normalize(&format!("{dir}{t}"));
    files
        .get(&joined)
        .or_else(|| files.get(&normalize(t)))
        .filter(|f| !f.binary)
}

fn normalize(p: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for s in p.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            x => segs.push(x),
        }
    }
    segs.join("/")
}

/// Single-quotes a word for shell unless it is plain.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn argv_string(cmd: &str, args: &[String]) -> String {
    std::iter::once(cmd.to_string())
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// 1-based line of the first occurrence of a JSON/TOML string value in the file text.
fn line_of(text: &str, value: &str) -> Option<u32> {
    let enc = serde_json::to_string(value).ok()?;
    let enc = enc.get(1..enc.len().saturating_sub(1)).unwrap_or("");
    let needle: String = enc.chars().take(60).collect();
    let raw: String = value.chars().take(60).collect();
    let at = text
        .find(&needle)
        .or_else(|| (!raw.is_empty()).then(|| text.find(&raw)).flatten())?;
    Some(text.get(..at)?.matches('\n').count() as u32 + 1)
}

fn strings_of(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("value").and_then(Value::as_str).map(String::from),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The command strings of an agent configuration (§8.2, by name or shape) or IDE auto-run file.
fn command_strings(f: &ScanFile) -> Option<Vec<CommandString>> {
    let text = f.text()?;
    let mut raw: Vec<String> = Vec::new();
    if let Some(ide) = agent::ide_file(&f.path) {
        let v = agent::parse_jsonc(&text)?;
        match ide {
            IdeFile::VscodeTasks => {
                for t in v
                    .get("tasks")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    for scope in [Some(t), t.get("windows"), t.get("linux"), t.get("osx")]
                        .into_iter()
                        .flatten()
                    {
                        if let Some(c) = scope.get("command").and_then(Value::as_str) {
                            let args = scope.get("args").map(strings_of).unwrap_or_default();
                            raw.push(argv_string(c, &args));
                        }
                    }
                }
            }
            IdeFile::Devcontainer => {
                for k in [
                    "initializeCommand",
                    "onCreateCommand",
                    "updateContentCommand",
                    "postCreateCommand",
                    "postStartCommand",
                    "postAttachCommand",
                ] {
                    match v.get(k) {
                        Some(Value::String(s)) => raw.push(s.clone()),
                        Some(Value::Array(_)) => {
                            let a = strings_of(v.get(k)?);
                            if let Some((c, rest)) = a.split_first() {
                                raw.push(argv_string(c, rest));
                            }
                        }
                        Some(Value::Object(o)) => {
                            for x in o.values() {
                                match x {
                                    Value::String(s) => raw.push(s.clone()),
                                    Value::Array(_) => {
                                        let a = strings_of(x);
                                        if let Some((c, rest)) = a.split_first() {
                                            raw.push(argv_string(c, rest));
                                        }
                                    }
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            IdeFile::VscodeSettings => {}
        }
    } else if f.path.ends_with(".codex/config.toml") || f.path == ".codex/config.toml" {
        let v: toml::Value = toml::from_str(&text).ok()?;
        if let Some(servers) = v.get("mcp_servers").and_then(toml::Value::as_table) {
            for s in servers.values() {
                if let Some(c) = s.get("command").and_then(toml::Value::as_str) {
                    let args: Vec<String> = s
                        .get("args")
                        .and_then(toml::Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    raw.push(argv_string(c, &args));
                }
            }
        }
        if let Some(n) = v.get("notify").and_then(toml::Value::as_array) {
            let a: Vec<String> = n
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect();
            if let Some((c, rest)) = a.split_first() {
                raw.push(argv_string(c, rest));
            }
        }
    } else {
        let by_name = agent::is_agent_config_name(&f.path);
        let name = f.name();
        let shape_candidate = name.ends_with(".json")
            && f.size <= MIB
            && !kinds::is_lock_file(&f.path)
            && name != "package.json";
        if !by_name && !shape_candidate {
            return None;
        }
        let v = agent::parse_jsonc(&text)?;
        let items = ConfigItems::from_json(&v, by_name);
        if !by_name && !items.looks_like_config(&v) {
            return None;
        }
        for (_, cmds) in &items.hooks {
            raw.extend(cmds.iter().cloned());
        }
        let keys: &[&str] = if by_name {
            &["mcpServers", "mcp_servers", "servers"]
        } else {
            &["mcpServers", "mcp_servers"]
        };
        for key in keys {
            for s in v
                .get(key)
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|o| o.values())
            {
                if let Some(c) = s.get("command").and_then(Value::as_str) {
                    let args = s.get("args").map(strings_of).unwrap_or_default();
                    raw.push(argv_string(c, &args));
                }
            }
        }
        for key in [
            "apiKeyHelper",
            "awsAuthRefresh",
            "awsCredentialExport",
            "otelHeadersHelper",
        ] {
            if let Some(s) = v.get(key).and_then(Value::as_str) {
                raw.push(s.to_string());
            }
        }
        if let Some(s) = v.pointer("/statusLine/command").and_then(Value::as_str) {
            raw.push(s.to_string());
        }
    }
    if raw.is_empty() {
        return None;
    }
    Some(
        raw.into_iter()
            .map(|t| {
                // For `command + args` the command word locates the entry.
                let first = t.split_whitespace().next().unwrap_or("").to_string();
                let line = line_of(&text, &t).or_else(|| line_of(&text, &first));
                CommandString { text: t, line }
            })
            .collect(),
    )
}
