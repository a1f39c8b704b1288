//! SH-002 (reverse shells) and CODE-009 (AI agent CLI invocations) on one simple command.

use super::model::{Cmd, Script, Word};
use super::rules::{Analyzer, is_secret_path};
use super::terms::{self, Runs, cluster_has};
use crate::scan::agent;
use crate::scan::report::Severity;
use crate::scan::vocab;

const BYPASS_FLAGS: [&str; 6] = [
    "--dangerously-skip-permissions",
    "--dangerously-bypass-approvals-and-sandbox",
    "--yolo",
    "--trust-all-tools",
    "--allow-all-tools",
    "--yes-always",
];

/// The agent CLI a command runs and the index in `args` where its own arguments start.
fn agent_cli(p: &str, args: &[Word]) -> Option<(String, usize)> {
    if vocab::AGENT_CLIS.contains(&p) {
        return Some((p.to_string(), 0));
    }
    if p == "q" && args.first().is_some_and(|a| a.s() == "chat") {
        return Some(("q chat".into(), 1));
    }
    let runner = match p {
        "npx" | "bunx" | "pnpx" => Some(0),
        "pnpm" | "yarn" if args.first().is_some_and(|a| a.s() == "dlx") => Some(1),
        "npm" if args.first().is_some_and(|a| a.s() == "exec") => Some(1),
        _ => None,
    }?;
    let (i, pkg) = args
        .iter()
        .enumerate()
        .skip(runner)
        .find(|(_, a)| !a.s().starts_with('-'))?;
    let t = pkg.s();
    // `@scope/name@1.2.3` → `@scope/name`.
    let name = match t.rfind('@') {
        Some(at) if at > 0 => &t[..at],
        _ => t,
    };
    vocab::AGENT_PACKAGES
        .contains(&name)
        .then(|| (name.to_string(), i + 1))
}

impl Analyzer<'_> {
    /// CODE-009: medium; high with a broad tool grant or a prompt from the network; critical with an
    /// approval-bypass flag or a constant prompt collecting secrets. Never lowered (chain rule).
    pub fn code009(&mut self, s: &Script, c: &Cmd, p: &str, args: &[Word]) {
        let Some((cli, from)) = agent_cli(p, args) else {
            return;
        };
        let own = args.get(from..).unwrap_or(&[]);
        let mut sev = Severity::Medium;
        let mut why = String::new();
        let bypass = own.iter().enumerate().find(|(i, a)| {
            let t = a.s();
            let l = t.to_ascii_lowercase();
            let next = own.get(i + 1).map(|n| n.s().to_ascii_lowercase());
            BYPASS_FLAGS.contains(&t)
                || (cli == "gemini" && t == "-y")
                || l == "--permission-mode=bypasspermissions"
                || (l == "--permission-mode" && next.as_deref() == Some("bypasspermissions"))
                || l == "--approval-mode=yolo"
                || (l == "--approval-mode" && next.as_deref() == Some("yolo"))
                || (t.starts_with('-')
                    && ["yolo", "skip-permissions", "bypass", "trust-all"]
                        .iter()
                        .any(|k| l.contains(k)))
        });
        let prompt: Vec<&str> = own
            .iter()
            .filter(|a| !a.s().starts_with('-'))
            .filter_map(|a| a.text.as_deref())
            .collect();
        if let Some((_, f)) = bypass {
            sev = Severity::Critical;
            why = format!(" with the approval-bypass flag `{}`", f.s());
        } else if collects_secrets(&prompt.join(" ")) {
            sev = Severity::Critical;
            why = " with a prompt that collects credentials or wallets".into();
        } else if let Some(g) = broad_grant(own) {
            sev = Severity::High;
            why = format!(" with the broad tool grant `{g}`");
        } else if own.iter().any(|a| {
            a.vars.iter().any(|v| self.fetched_vars.contains(v))
                || a.subs
                    .iter()
                    .any(|sub| self.range_fetches(s, sub.events.clone()))
        }) {
            sev = Severity::High;
            why = " with a prompt taken from a network response".into();
        }
        self.hit(
            "CODE-009",
            sev,
            c.line,
            format!("The script invokes the AI agent CLI `{cli}`{why}."),
            &c.raw,
        );
    }

    /// SH-002.
    pub fn sh002(&mut self, c: &Cmd, p: &str, args: &[Word]) {
        let dev_tcp = |w: &Word| w.loose.contains("/dev/tcp/") || w.loose.contains("/dev/udp/");
        let printing = matches!(p, "echo" | "printf" | "grep" | "sed" | "awk");
        let mut why: Option<&str> = None;
        if c.redirs.iter().any(|r| dev_tcp(&r.target)) || (!printing && args.iter().any(dev_tcp)) {
            why = Some("a `/dev/tcp` or `/dev/udp` connection");
        }
        match p {
            "nc" | "ncat" | "netcat" => {
                let exec = args.iter().any(|a| {
                    let t = a.s();
                    matches!(t, "--exec" | "--sh-exec" | "--lua-exec")
                        || (cluster_has(t, 'e') || cluster_has(t, 'c')) && t.len() <= 6
                });
                if exec {
                    why = Some("`nc` executing a program for the remote side");
                }
            }
            "socat"
                if args.iter().any(|a| {
                    let l = a.loose.to_ascii_lowercase();
                    l.contains("exec:") || l.contains("system:")
                }) =>
            {
                why = Some("`socat` connecting a program to the network");
            }
            _ => {}
        }
        if why.is_none()
            && let Runs::Code(i) = terms::interp_runs(p, args)
            && let Some(code) = args.get(i)
        {
            let l = code.loose.to_ascii_lowercase();
            let socket = l.contains("socket") || l.contains("fsockopen") || l.contains("tcpsocket");
            let spawn = [
                "subprocess",
                "pty",
                "dup2",
                "/bin/sh",
                "/bin/bash",
                "exec(",
                "spawn",
                "proc_open",
                "shell_exec",
            ]
            .iter()
            .any(|k| l.contains(k));
            if socket && spawn && !terms::is_shell(p) {
                why = Some("inline code that wires a socket to a shell");
            }
        }
        if let Some(why) = why {
            self.hit(
                "SH-002",
                Severity::Critical,
                c.line,
                format!("Reverse shell: {why}."),
                &c.raw,
            );
        }
    }

    /// SH-002 `mkfifo` with `nc` on one line.
    pub fn sh002_fifo(&mut self, s: &Script) {
        let cmds: Vec<&Cmd> = s.cmds_in(0..s.events.len()).collect();
        let fifo_lines: std::collections::HashSet<u32> = cmds
            .iter()
            .filter(|c| terms::prog(c).is_some_and(|(q, _)| q == "mkfifo"))
            .map(|c| c.line)
            .collect();
        if fifo_lines.is_empty() {
            return;
        }
        for c in &cmds {
            let Some((p, _)) = terms::prog(c) else {
                continue;
            };
            if matches!(p.as_str(), "nc" | "ncat" | "netcat") && fifo_lines.contains(&c.line) {
                self.hit(
                    "SH-002",
                    Severity::Critical,
                    c.line,
                    "Reverse shell: `mkfifo` with `nc` relays a shell over the network.".into(),
                    &c.raw,
                );
            }
        }
    }
}

/// A constant prompt pairing a collecting verb with a CRED path, an ENV file or wallet words.
fn collects_secrets(prompt: &str) -> bool {
    let l = prompt.to_ascii_lowercase();
    let tokens: Vec<&str> = l
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '(' | ')' | '`'))
        .map(|t| t.trim_end_matches(['.', ':', '!', '?']))
        .filter(|t| !t.is_empty())
        .collect();
    let verb = tokens.iter().any(|t| vocab::COLLECT_VERBS.contains(t));
    let object = tokens.iter().any(|t| is_secret_path(t) || *t == ".env")
        || vocab::WALLET_TERMS.iter().any(|w| l.contains(w));
    verb && object
}

/// A broad tool grant in `--allowedTools` / `--allowed-tools` values.
fn broad_grant(args: &[Word]) -> Option<String> {
    for (i, a) in args.iter().enumerate() {
        let t = a.s();
        let lower = t.to_ascii_lowercase();
        let value = if lower == "--allowedtools" || lower == "--allowed-tools" {
            args.get(i + 1).map(|w| w.s().to_string())
        } else {
            lower
                .strip_prefix("--allowedtools=")
                .or_else(|| lower.strip_prefix("--allowed-tools="))
                .map(|_| t.split_once('=').map(|x| x.1).unwrap_or("").to_string())
        };
        if let Some(v) = value {
            for entry in split_grants(&v) {
                if agent::is_broad_grant(&entry) {
                    return Some(entry);
                }
            }
        }
    }
    None
}

/// Splits `Read,Bash(git diff:*) Edit` at commas and spaces outside parentheses.
fn split_grants(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    for ch in v.chars() {
        match ch {
            '(' => {
                depth += 1;
                cur.push(ch);
            }
            ')' => {
                depth -= 1;
                cur.push(ch);
            }
            ',' | ' ' if depth <= 0 => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
            }
            _ => cur.push(ch),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}
