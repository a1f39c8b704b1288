//! Argv vocabulary of process calls (SPEC §8.3 SUP-001 installers, CODE-009 agent CLIs and flags,
//! CODE-002 senders, CODE-005 persistence commands, CODE-004 reads through programs) and a small splitter
//! of shell text into simple commands.

use super::fold::DYN;
use super::procs::basename;
use crate::scan::vocab;

/// Splits shell text into simple commands (at `;`, `&`, `|`, newlines, `$(`, backticks) and words
/// (quotes removed). A word holding a non-constant part is `None`. A small splitter for argv
/// vocabulary; the full shell analysis is `scan::shell`.
pub fn split_commands(text: &str) -> Vec<Vec<Option<String>>> {
    let mut cmds: Vec<Vec<Option<String>>> = Vec::new();
    let mut words: Vec<Option<String>> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let flush_word = |word: &mut String, in_word: &mut bool, words: &mut Vec<Option<String>>| {
        if *in_word {
            let w = std::mem::take(word);
            words.push(if w.contains(DYN) { None } else { Some(w) });
            *in_word = false;
        }
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == '\\' && q == '"' {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            } else {
                word.push(c);
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                in_word = true;
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    word.push(n);
                    in_word = true;
                }
            }
            ' ' | '\t' => flush_word(&mut word, &mut in_word, &mut words),
            ';' | '&' | '|' | '\n' | '`' | '(' | ')' => {
                flush_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    cmds.push(std::mem::take(&mut words));
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                flush_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    cmds.push(std::mem::take(&mut words));
                }
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
        if cmds.len() > 256 {
            break;
        }
    }
    flush_word(&mut word, &mut in_word, &mut words);
    if !words.is_empty() {
        cmds.push(words);
    }
    cmds
}

/// The argv without wrappers (`sudo` and its options, `env` and `VAR=…`, `command`, `exec`, `nohup`,
/// `time`; §8.2 stdin-interpreter stripping).
pub fn unwrap_argv(argv: &[Option<String>]) -> &[Option<String>] {
    let mut i = 0;
    while let Some(Some(w)) = argv.get(i) {
        let b = basename(w);
        if matches!(
            b.as_str(),
            "sudo" | "env" | "command" | "exec" | "nohup" | "time" | "doas"
        ) {
            i += 1;
            while let Some(Some(o)) = argv.get(i) {
                if o.starts_with('-') || (b == "env" && o.contains('=')) {
                    i += 1;
                } else {
                    break;
                }
            }
        } else if w.contains('=') && !w.starts_with('-') && i == 0 {
            i += 1; // `VAR=x cmd`
        } else {
            break;
        }
    }
    argv.get(i..).unwrap_or(&[])
}

fn word(argv: &[Option<String>], i: usize) -> Option<&str> {
    argv.get(i).and_then(|w| w.as_deref())
}

/// SUP-001: the argv runs an installer (§8.3 list).
pub fn is_installer(argv: &[Option<String>]) -> bool {
    let a = unwrap_argv(argv);
    let Some(p) = word(a, 0).map(basename) else {
        return false;
    };
    let w1 = word(a, 1).unwrap_or("");
    let w2 = word(a, 2).unwrap_or("");
    let has = |f: &str| a.iter().any(|w| w.as_deref() == Some(f));
    match p.as_str() {
        "pip" | "pip3" => w1 == "install",
        _ if p.starts_with("pip3.") => w1 == "install",
        _ if p.starts_with("python") || p.starts_with("pypy") || p == "py" => {
            w1 == "-m" && ((w2 == "pip" && word(a, 3) == Some("install")) || w2 == "ensurepip")
        }
        "uv" => {
            (w1 == "pip" && w2 == "install") || w1 == "add" || (w1 == "tool" && w2 == "install")
        }
        "pipx" => w1 == "install" || w1 == "run",
        "poetry" => w1 == "add",
        "conda" | "mamba" => w1 == "install",
        "npm" => matches!(w1, "install" | "i" | "add" | "in" | "isntall"),
        "yarn" => w1 == "add",
        "pnpm" => matches!(w1, "add" | "install" | "i"),
        "bun" => matches!(w1, "add" | "install" | "i"),
        "npx" | "bunx" => has("-y") || has("--yes"),
        "go" => w1 == "install",
        "cargo" => w1 == "install",
        "gem" => w1 == "install",
        _ => false,
    }
}

/// CODE-009: the index in `argv` where the agent CLI's own arguments start, if the program is one.
pub fn agent_cli(argv: &[Option<String>]) -> Option<usize> {
    let a = unwrap_argv(argv);
    let skip = argv.len() - a.len();
    let p = basename(word(a, 0)?);
    if p == "q" {
        return (word(a, 1) == Some("chat")).then_some(skip + 2);
    }
    if crate::scan::vocab::AGENT_CLIS.contains(&p.as_str()) || p == "q" {
        return Some(skip + 1);
    }
    let runner = matches!(p.as_str(), "npx" | "bunx") || (p == "pnpm" && word(a, 1) == Some("dlx"));
    if runner {
        for (i, w) in a.iter().enumerate().skip(1) {
            let Some(w) = w.as_deref() else { continue };
            if w.starts_with('-') || w == "dlx" {
                continue;
            }
            let name = match w.rfind('@') {
                Some(at) if at > 0 => &w[..at],
                _ => w,
            };
            return crate::scan::vocab::AGENT_PACKAGES
                .contains(&name)
                .then_some(skip + i + 1);
        }
    }
    None
}

/// CODE-009 approval-bypass flags.
pub fn is_bypass_flag(w: &str, program: &str, next: Option<&str>) -> bool {
    let l = w.to_ascii_lowercase();
    l.starts_with('-')
        && (l.contains("yolo")
            || l.contains("skip-permissions")
            || l.contains("bypass")
            || l.contains("trust-all")
            || l == "--allow-all-tools"
            || l == "--yes-always"
            || (program == "gemini" && l == "-y")
            || (l == "--permission-mode" && next == Some("bypassPermissions"))
            || (l == "--approval-mode" && next == Some("yolo")))
        || l == "--permission-mode=bypasspermissions"
}

/// CODE-009 critical prompt: a collecting verb with a CRED path, an ENV file or wallet vocabulary.
pub fn is_collecting_prompt(text: &str) -> bool {
    let lower = text.to_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|t| !t.is_empty())
        .collect();
    let verb = tokens.iter().any(|t| {
        vocab::COLLECT_VERBS
            .iter()
            .any(|v| *t == *v || (t.starts_with(v) && t.len() <= v.len() + 3))
    });
    if !verb {
        return false;
    }
    let wallet = vocab::WALLET_TERMS.iter().any(|w| lower.contains(w));
    let path = text.split_whitespace().any(|w| {
        let w = w.trim_matches(|c: char| "\"'`,;:()[]{}".contains(c));
        vocab::is_cred_path(w) || vocab::is_env_file(w) || w == ".env" || w.ends_with("/.env")
    });
    wallet || path
}

/// Programs whose command line sends data (CODE-002 sinks, CODE-001 in process calls).
pub fn is_sender(argv: &[Option<String>]) -> bool {
    let a = unwrap_argv(argv);
    let Some(p) = word(a, 0).map(basename) else {
        return false;
    };
    match p.as_str() {
        "curl" | "wget" | "scp" | "rsync" | "ftp" | "sftp" => true,
        "nc" | "ncat" | "netcat" => !a.iter().any(|w| w.as_deref() == Some("-z")),
        _ => false,
    }
}

/// CODE-005 commands: `crontab`, `launchctl load`, `systemctl --user enable`, `schtasks /create`,
/// `reg add …\Run`.
pub fn is_persistence_cmd(argv: &[Option<String>]) -> bool {
    let a = unwrap_argv(argv);
    let Some(p) = word(a, 0).map(basename) else {
        return false;
    };
    let has = |f: &str| {
        a.iter()
            .any(|w| w.as_deref().is_some_and(|w| w.eq_ignore_ascii_case(f)))
    };
    match p.as_str() {
        "crontab" => !has("-l"),
        "launchctl" => has("load") || has("bootstrap"),
        "systemctl" => has("enable"),
        "schtasks" => has("/create"),
        "reg" => {
            has("add")
                && a.iter().any(|w| {
                    w.as_deref()
                        .is_some_and(|w| w.to_ascii_lowercase().contains("\\run"))
                })
        }
        _ => false,
    }
}

/// CODE-004 in a process call: `cat`/`cp`/`base64`/`tar`/… of a CRED path.
pub fn cred_read_arg(argv: &[Option<String>]) -> Option<String> {
    let a = unwrap_argv(argv);
    let p = word(a, 0).map(basename)?;
    if !matches!(
        p.as_str(),
        "cat"
            | "cp"
            | "base64"
            | "tar"
            | "head"
            | "tail"
            | "less"
            | "more"
            | "zip"
            | "xxd"
            | "scp"
            | "rsync"
            | "curl"
    ) {
        return None;
    }
    a.iter().skip(1).flatten().find_map(|w| {
        let w = w.trim_start_matches('@');
        let w = w
            .rsplit_once('=')
            .map_or(w, |(_, v)| v)
            .trim_start_matches('@');
        vocab::is_cred_path(w).then(|| w.to_string())
    })
}

/// URL hosts named in constant words of a process call (CODE-001 for `curl`, `wget`, …).
pub fn argv_hosts(argv: &[Option<String>]) -> Vec<Option<String>> {
    let a = unwrap_argv(argv);
    let mut out = Vec::new();
    let mut any_dyn = false;
    for w in a.iter().skip(1) {
        match w {
            Some(w) => out.extend(crate::scan::agent::url_hosts(w).into_iter().map(Some)),
            None => any_dyn = true,
        }
    }
    if out.is_empty() && any_dyn {
        out.push(None);
    }
    out
}
