//! SUP-005 install scripts (SPEC §8.3): `package.json` lifecycle scripts that run on install, and a
//! `setup.py` whose top level runs processes or network calls. Critical when the script matches the high
//! variants of SH-001/002/004/005/007 or the critical variants of CODE-009 (asked of the shell analyser),
//! or one of the obvious patterns checked here so the rule stands on its own: a download piped into a
//! shell, and an agent CLI run with its approvals bypassed.

use super::Out;
use super::npm::json_key_line;
use super::words;
use crate::scan::report::Severity;
use crate::scan::shell::{self, ShellOpts};
use crate::scan::syntax::NodeExt;
use crate::scan::syntax::{self, Grammar};
use crate::scan::vocab;
use crate::scan::{StageCtx, StageError};
use serde_json::Value;
use std::collections::HashMap;
use tree_sitter::Node;

/// Lifecycle scripts npm runs on install (`prepare` also runs for git installs: medium).
const INSTALL_SCRIPTS: [&str; 5] = [
    "preinstall",
    "install",
    "postinstall",
    "prepublish",
    "prepare",
];

/// Flags that turn off an agent CLI's approvals (the s1ngularity signature, CODE-009 critical).
const BYPASS_FLAGS: [&str; 5] = [
    "--dangerously-skip-permissions",
    "--dangerously-bypass-approvals-and-sandbox",
    "--yolo",
    "--trust-all-tools",
    "bypasspermissions",
];

/// Why a script is critical, if it is.
pub fn critical_pattern(ctx: &StageCtx, script: &str) -> Option<String> {
    let opts = ShellOpts {
        files: Some(ctx.files),
        declared: None,
        deadline: ctx.deadline,
        depth: 0,
    };
    let hit = shell::analyze(script, &opts).into_iter().find(|h| {
        (matches!(
            h.rule_id,
            "SH-001" | "SH-002" | "SH-004" | "SH-005" | "SH-007"
        ) && h.severity <= Severity::High)
            || (h.rule_id == "CODE-009" && h.severity == Severity::Critical)
    });
    if let Some(h) = hit {
        return Some(format!("it matches {} ({})", h.rule_id, h.rule_type));
    }
    own_patterns(script, 0)
}

/// The patterns stage 5 checks itself: fetch piped to a stdin interpreter, `sh -c "$(curl …)"`,
/// `bash <(curl …)`, and agent CLIs with approval-bypass flags.
pub fn own_patterns(script: &str, depth: u8) -> Option<String> {
    if depth > 2 {
        return None;
    }
    let mut fetch_in_pipe = false;
    for cmd in words::split(script) {
        let argv = cmd.argv();
        let i = words::strip_wrappers(&argv);
        let Some(first) = argv.get(i) else {
            fetch_in_pipe = false;
            continue;
        };
        let prog = words::program(first);
        let args = argv.get(i + 1..).unwrap_or(&[]);
        let runs_code = vocab::SHELLS.contains(&prog.as_str()) || vocab::is_interpreter(&prog);
        if runs_code {
            if fetch_in_pipe && stdin_interpreter(args) {
                return Some("it pipes a download into an interpreter".into());
            }
            if cmd
                .words
                .iter()
                .skip(i + 1)
                .any(|w| w.dynamic && fetches(&w.text))
            {
                return Some("it runs code fetched from the network".into());
            }
            if let Some(p) = args.iter().position(|a| *a == "-c")
                && let Some(code) = args.get(p + 1)
                && vocab::SHELLS.contains(&prog.as_str())
                && let Some(why) = own_patterns(code, depth + 1)
            {
                return Some(why);
            }
        }
        if crate::scan::vocab::AGENT_CLIS.contains(&prog.as_str())
            || matches!(prog.as_str(), "q" | "amp")
                && args.iter().any(|a| {
                    let l = a.to_ascii_lowercase();
                    BYPASS_FLAGS
                        .iter()
                        .any(|f| l == *f || l.ends_with(&format!("={f}")))
                })
        {
            return Some("it runs an agent CLI with its approvals bypassed".into());
        }
        if vocab::FETCHERS.contains(&prog.as_str()) {
            fetch_in_pipe = cmd.piped;
        } else if !cmd.piped {
            fetch_in_pipe = false;
        }
    }
    None
}

fn fetches(word: &str) -> bool {
    let l = word.to_ascii_lowercase();
    ["curl", "wget", "iwr", "invoke-webrequest", "irm"]
        .iter()
        .any(|f| l.contains(&format!("({f} ")) || l.contains(&format!("`{f} ")))
}

/// A shell or interpreter that reads its program from stdin (§8.2, simplified): no operand, or `-`/`-s`.
fn stdin_interpreter(args: &[&str]) -> bool {
    if args.iter().any(|a| *a == "-m" || *a == "-c" || *a == "-e") {
        return false;
    }
    args.iter().any(|a| *a == "-" || *a == "-s") || args.iter().all(|a| a.starts_with('-'))
}

/// `package.json` `scripts`.
pub fn package_scripts(ctx: &StageCtx, path: &str, text: &str, v: &Value, out: &mut Out) {
    let Some(scripts) = v.get("scripts").and_then(Value::as_object) else {
        return;
    };
    out.set_file(Some(path));
    for name in INSTALL_SCRIPTS {
        let Some(s) = scripts.get(name).and_then(Value::as_str) else {
            continue;
        };
        let line = json_key_line(text, Some("scripts"), name);
        let evidence = format!("\"{name}\": {}", Value::String(s.to_string()));
        let (sev, message) = match critical_pattern(ctx, s) {
            Some(why) => (
                Severity::Critical,
                format!("The \"{name}\" script runs on install and {why}."),
            ),
            None if name == "prepare" => (
                Severity::Medium,
                "The \"prepare\" script runs when the package is installed from git.".to_string(),
            ),
            None => (
                Severity::High,
                format!("The \"{name}\" script runs code when the package is installed."),
            ),
        };
        out.push(sev, "SUP-005", "install_script", message, line, evidence);
    }
}

/// Process and network calls by resolved dotted name.
fn call_kind(name: &str) -> Option<&'static str> {
    let process = [
        "os.system",
        "os.popen",
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "pty.spawn",
        "commands.getoutput",
    ];
    if process.contains(&name)
        || ["os.exec", "os.spawn", "os.posix_spawn"]
            .iter()
            .any(|p| name.starts_with(p))
    {
        return Some("process");
    }
    let network_prefixes = [
        "requests.",
        "httpx.",
        "urllib.request.",
        "urllib2.",
        "urllib3.",
        "socket.",
        "http.client.",
        "aiohttp.",
        "ftplib.",
        "smtplib.",
    ];
    if network_prefixes.iter().any(|p| name.starts_with(p)) || name == "urllib.urlopen" {
        return Some("network");
    }
    None
}

/// `setup.py`: calls in module-level code (including `if`/`try`/`with` blocks, not function or class
/// bodies) that run processes or use the network.
pub fn setup_py(ctx: &StageCtx, path: &str, text: &str, out: &mut Out) -> Result<(), StageError> {
    let tree = syntax::parse(Grammar::Python, text, ctx.deadline)?;
    let root = tree.root_node();
    let mut aliases: HashMap<String, String> = HashMap::new();
    let mut calls: Vec<Node> = Vec::new();
    collect(root, text, &mut aliases, &mut calls, 0);
    out.set_file(Some(path));
    for call in calls {
        let Some(func) = call.field("function") else {
            continue;
        };
        let Some(name) = resolve(func, text, &aliases) else {
            continue;
        };
        let Some(kind) = call_kind(&name) else {
            continue;
        };
        let line = syntax::line(call);
        let evidence = text
            .lines()
            .nth(line as usize - 1)
            .unwrap_or("")
            .trim()
            .to_string();
        let cmd = call
            .field("arguments")
            .and_then(|a| a.named_child(0))
            .and_then(|a| const_command(a, text, 0));
        let why = if kind == "process" {
            cmd.as_deref().and_then(|c| critical_pattern(ctx, c))
        } else {
            None
        };
        let (sev, message) = match why {
            Some(why) => (
                Severity::Critical,
                format!("setup.py runs a command at install time ({name}) and {why}."),
            ),
            None => (
                Severity::High,
                format!("setup.py makes a {kind} call at install time ({name})."),
            ),
        };
        out.push(
            sev,
            "SUP-005",
            "install_script",
            message,
            Some(line),
            evidence,
        );
    }
    Ok(())
}

/// Walks module-level statements: records imports, collects calls, skips function and class bodies.
fn collect<'t>(
    node: Node<'t>,
    src: &str,
    aliases: &mut HashMap<String, String>,
    calls: &mut Vec<Node<'t>>,
    depth: usize,
) {
    if depth > 200 {
        return;
    }
    match node.ty() {
        "function_definition" | "class_definition" | "decorated_definition" | "lambda" => return,
        "import_statement" => {
            let mut c = node.walk();
            for n in node.named_children(&mut c) {
                match n.ty() {
                    "dotted_name" => {
                        let t = syntax::text(n, src);
                        let head = t.split('.').next().unwrap_or(t);
                        aliases.insert(head.to_string(), head.to_string());
                    }
                    "aliased_import" => {
                        if let (Some(nm), Some(al)) = (n.field("name"), n.field("alias")) {
                            aliases.insert(
                                syntax::text(al, src).to_string(),
                                syntax::text(nm, src).to_string(),
                            );
                        }
                    }
                    _ => {}
                }
            }
            return;
        }
        "import_from_statement" => {
            let Some(m) = node.field("module_name") else {
                return;
            };
            let module = syntax::text(m, src).to_string();
            let mut c = node.walk();
            for n in node.children_by_field_name("name", &mut c) {
                let (nm, al) = if n.ty() == "aliased_import" {
                    (
                        n.field("name").map(|x| syntax::text(x, src)),
                        n.field("alias").map(|x| syntax::text(x, src)),
                    )
                } else {
                    (Some(syntax::text(n, src)), None)
                };
                if let Some(nm) = nm {
                    aliases.insert(al.unwrap_or(nm).to_string(), format!("{module}.{nm}"));
                }
            }
            return;
        }
        "call" => calls.push(node),
        _ => {}
    }
    let mut c = node.walk();
    for ch in node.children(&mut c) {
        collect(ch, src, aliases, calls, depth + 1);
    }
}

/// The dotted name of a callee with its first part resolved through imports.
fn resolve(func: Node, src: &str, aliases: &HashMap<String, String>) -> Option<String> {
    if !matches!(func.ty(), "identifier" | "attribute") {
        return None;
    }
    let t: String = syntax::text(func, src)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (head, rest) = match t.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (t.as_str(), None),
    };
    let base = aliases.get(head)?;
    Some(match rest {
        Some(r) => format!("{base}.{r}"),
        None => base.clone(),
    })
}

/// A constant command: a string literal without interpolation, or a list of them (joined by spaces).
fn const_command(node: Node, src: &str, depth: u8) -> Option<String> {
    if depth > 8 {
        return None;
    }
    match node.ty() {
        "string" => {
            let mut c = node.walk();
            let mut s = String::new();
            for ch in node.children(&mut c) {
                match ch.ty() {
                    "string_content" => s.push_str(syntax::text(ch, src)),
                    "interpolation" => return None,
                    _ => {}
                }
            }
            Some(s)
        }
        "concatenated_string" => {
            let mut c = node.walk();
            let parts: Option<Vec<String>> = node
                .named_children(&mut c)
                .map(|n| const_command(n, src, depth + 1))
                .collect();
            parts.map(|p| p.concat())
        }
        "list" | "tuple" => {
            let mut c = node.walk();
            let parts: Option<Vec<String>> = node
                .named_children(&mut c)
                .map(|n| const_command(n, src, depth + 1))
                .collect();
            parts.map(|p| p.join(" "))
        }
        _ => None,
    }
}
