//! Process calls in Python (SPEC §8.3): PY-001 / PY-004, and on each argv or command string SUP-001
//! (installers), CODE-009 (agent CLIs), CODE-005 (persistence commands), the CODE-002 process sink and
//! the shell analyser (SH rules on command strings of shell-executing calls).

use super::fold::{DYN, Val, is_true};
use super::{Mode, Py, Scope, T_DEC, T_NET, kids};
use crate::scan::code::terms;
use crate::scan::report::Severity;
use crate::scan::shell;
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use tree_sitter::Node;

/// Process-call classes of PY-001 / PY-004.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proc {
    /// The command is a shell string.
    Shell,
    /// The command is an argv (or a program path).
    Exec,
    /// `os.exec*`, `os.spawn*`, `os.posix_spawn*`.
    OsExec,
}

pub fn proc_kind(q: &str) -> Option<Proc> {
    let (base, m) = q.rsplit_once('.')?;
    match (base, m) {
        ("os", "system" | "popen" | "popen2" | "popen3" | "popen4")
        | ("subprocess" | "commands", "getoutput" | "getstatusoutput")
        | ("asyncio", "create_subprocess_shell") => Some(Proc::Shell),
        ("subprocess", "run" | "call" | "check_call" | "check_output" | "Popen")
        | ("pty", "spawn")
        | ("asyncio", "create_subprocess_exec") => Some(Proc::Exec),
        ("os", _)
            if m.starts_with("exec") || m.starts_with("spawn") || m.starts_with("posix_spawn") =>
        {
            Some(Proc::OsExec)
        }
        _ => None,
    }
}

/// Splits shell text into simple commands' words (quotes removed; words with a dynamic part are None).
pub fn simple_commands(text: &str) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    let mut words: Vec<Option<String>> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let flush = |cur: &mut String, in_word: &mut bool, words: &mut Vec<Option<String>>| {
        if *in_word {
            let w = std::mem::take(cur);
            words.push((!w.contains(DYN)).then_some(w));
            *in_word = false;
        }
    };
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    in_word = true;
                }
                ' ' | '\t' => flush(&mut cur, &mut in_word, &mut words),
                ';' | '&' | '|' | '\n' | '(' | ')' => {
                    flush(&mut cur, &mut in_word, &mut words);
                    if !words.is_empty() {
                        out.push(std::mem::take(&mut words));
                    }
                }
                _ => {
                    cur.push(c);
                    in_word = true;
                }
            },
        }
    }
    flush(&mut cur, &mut in_word, &mut words);
    if !words.is_empty() {
        out.push(words);
    }
    out.truncate(256);
    out
}

fn base_name(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

const SEND_PROGRAMS: [&str; 9] = [
    "curl", "wget", "nc", "ncat", "netcat", "scp", "rsync", "ftp", "sftp",
];
/// Programs whose remote operands are network use (§8.3 CODE-001 "shell curl, wget, nc …").
const NET_PROGRAMS: [&str; 7] = ["curl", "wget", "nc", "ncat", "scp", "rsync", "aria2c"];

impl<'t> Py<'t> {
    /// True for a socket object or its `fileno()` / `makefile()` (qualified `socket.…()`).
    pub fn is_socket(&self, n: Node<'t>, sc: &Scope<'t>) -> bool {
        self.qual(n, sc).is_some_and(|q| {
            q.ends_with("()") && (q.starts_with("socket.") || q.contains("wrap_socket"))
        })
    }

    /// CODE-001 for a fetcher run as a process (`["curl", url]`), recording its constant hosts.
    fn fetcher_network(&mut self, call: Node<'t>, argv: &[Option<String>], sc: &Scope<'t>) {
        let argv = terms::strip_wrappers(argv);
        let Some(Some(p)) = argv.first() else { return };
        let prog = base_name(p);
        if !NET_PROGRAMS.contains(&prog)
            || (prog.starts_with("nc") && argv.iter().any(|w| w.as_deref() == Some("-z")))
        {
            return;
        }
        let hosts: Vec<String> = argv[1..]
            .iter()
            .flatten()
            .filter_map(|w| super::net::url_host(w, true))
            .collect();
        let declared = |h: &str| {
            crate::scan::vocab::is_loopback_host(h)
                || crate::permissions::host_covered(&self.f.declared.outbound, h)
        };
        let sev = if !hosts.is_empty() && hosts.iter().all(|h| declared(h)) {
            Severity::Info
        } else {
            Severity::Low
        };
        self.emit(
            sc,
            call,
            "CODE-001",
            "network_access",
            sev,
            format!("Runs {prog}, which uses the network."),
            None,
            0.9,
        );
        if sc.mode == Mode::Normal {
            let (file, line) = (self.f.file.path.clone(), syntax::line(call));
            if hosts.is_empty() {
                self.caps.net.push(crate::scan::code::NetUse {
                    host: None,
                    file,
                    line,
                });
            } else {
                for h in hosts {
                    self.caps.net.push(crate::scan::code::NetUse {
                        host: Some(h),
                        file: file.clone(),
                        line,
                    });
                }
            }
        }
    }

    /// Renders a command expression as shell text: constant parts kept, others replaced by `$__dyn`.
    pub fn render(&self, n: Node<'t>, sc: &Scope<'t>, d: u8) -> String {
        if d > 16 {
            return DYN.to_string();
        }
        if let Some(Val::Str(s)) = self.fold(n, sc).first() {
            return s.clone();
        }
        match n.ty() {
            "string" => {
                let mut out = String::new();
                for c in super::all_kids(n) {
                    match c.ty() {
                        "string_content" => out.push_str(syntax::text(c, self.src)),
                        "interpolation" => match c.field("expression") {
                            Some(e) => out.push_str(&self.render(e, sc, d + 1)),
                            None => out.push_str(DYN),
                        },
                        _ => {}
                    }
                }
                out
            }
            "binary_operator" => {
                let op = n
                    .field("operator")
                    .map(|o| syntax::text(o, self.src))
                    .unwrap_or("");
                match (op, n.field("left"), n.field("right")) {
                    ("+", Some(l), Some(r)) => {
                        format!("{}{}", self.render(l, sc, d + 1), self.render(r, sc, d + 1))
                    }
                    ("%", Some(l), _) => self.render(l, sc, d + 1).replace("%s", DYN),
                    _ => DYN.to_string(),
                }
            }
            "parenthesized_expression" | "concatenated_string" => kids(n)
                .into_iter()
                .map(|c| self.render(c, sc, d + 1))
                .collect(),
            _ => DYN.to_string(),
        }
    }

    fn argv_of_list(&self, n: Node<'t>, sc: &Scope<'t>) -> Option<Vec<Option<String>>> {
        if matches!(n.ty(), "list" | "tuple") {
            return Some(
                kids(n)
                    .into_iter()
                    .filter(|c| c.ty() != "comment")
                    .map(|c| match c.ty() {
                        "list_splat" => None,
                        _ => self.fold(c, sc).first().and_then(Val::text),
                    })
                    .collect(),
            );
        }
        match self.fold(n, sc).into_iter().next() {
            Some(Val::List(items)) => Some(items.iter().map(Val::text).collect()),
            _ => None,
        }
    }

    pub fn process_call(
        &mut self,
        call: Node<'t>,
        kind: Proc,
        q: &str,
        pos: &[Node<'t>],
        kw: &[(String, Node<'t>)],
        sc: &Scope<'t>,
    ) {
        let shell_kw = kw
            .iter()
            .find(|(k, _)| k == "shell")
            .is_some_and(|(_, v)| is_true(&self.fold(*v, sc)));
        let kind = if kind == Proc::Exec && shell_kw && q.starts_with("subprocess.") {
            Proc::Shell
        } else {
            kind
        };
        let cmd = pos.first().copied().or_else(|| {
            kw.iter()
                .find(|(k, _)| matches!(k.as_str(), "args" | "cmd" | "command"))
                .map(|(_, v)| *v)
        });
        let declared_sub = self.f.declared.subprocess;
        let mut argvs: Vec<Vec<Option<String>>> = Vec::new();
        let mut shell_texts: Vec<String> = Vec::new();
        let all_taint = pos
            .iter()
            .chain(kw.iter().filter(|(k, _)| k != "env").map(|(_, v)| v))
            .fold(0, |t, a| t | self.taint_of(*a, sc));
        let cmd_taint = cmd.map_or(0, |c| self.taint_of(c, sc));
        match kind {
            Proc::Shell => {
                let constant = cmd.is_some_and(|c| {
                    let v = self.fold(c, sc);
                    !v.is_empty() && v.iter().all(|x| matches!(x, Val::Str(_) | Val::Bytes(_)))
                });
                let text = cmd.map(|c| self.render(c, sc, 0)).unwrap_or_default();
                if constant {
                    self.emit(
                        sc,
                        call,
                        "PY-004",
                        "subprocess_usage",
                        if declared_sub {
                            Severity::Info
                        } else {
                            Severity::Medium
                        },
                        format!("Runs a constant shell command through {q}."),
                        None,
                        0.9,
                    );
                } else {
                    self.emit(
                        sc,
                        call,
                        "PY-001",
                        "shell_injection",
                        if declared_sub {
                            Severity::High
                        } else {
                            Severity::Critical
                        },
                        format!("Runs a shell command built at run time through {q}."),
                        None,
                        0.9,
                    );
                }
                shell_texts.push(text);
            }
            Proc::Exec | Proc::OsExec => {
                let argv = if kind == Proc::OsExec {
                    let rest: Vec<Node<'t>> = pos
                        .iter()
                        .copied()
                        .skip_while(|n| matches!(self.fold(*n, sc).first(), Some(Val::Int(_))))
                        .collect();
                    match rest.iter().find_map(|n| self.argv_of_list(*n, sc)) {
                        Some(a) => a,
                        None => rest
                            .iter()
                            .skip(usize::from(rest.len() > 1))
                            .map(|n| self.fold_str(*n, sc))
                            .collect(),
                    }
                } else if q == "asyncio.create_subprocess_exec" {
                    pos.iter().map(|n| self.fold_str(*n, sc)).collect()
                } else {
                    match cmd {
                        Some(c) => match self.argv_of_list(c, sc) {
                            Some(a) => a,
                            None => match self.fold_str(c, sc) {
                                Some(s) => {
                                    s.split_whitespace().map(|w| Some(w.to_string())).collect()
                                }
                                None => vec![None],
                            },
                        },
                        None => vec![None],
                    }
                };
                // `bash -c "<text>"`: the text is shell text too.
                if let Some(Some(p)) = argv.first()
                    && crate::scan::vocab::SHELLS.contains(&base_name(p))
                    && let Some(i) = argv.iter().position(|w| w.as_deref() == Some("-c"))
                    && let Some(Some(t)) = argv.get(i + 1)
                {
                    shell_texts.push(t.clone());
                }
                self.emit(
                    sc,
                    call,
                    "PY-004",
                    "subprocess_usage",
                    if declared_sub {
                        Severity::Info
                    } else {
                        Severity::Medium
                    },
                    format!("Runs a process through {q}."),
                    None,
                    0.9,
                );
                argvs.push(argv);
            }
        }
        // SH-002 in Python code (§8.3, chosen): a socket becomes the spawned process's standard streams.
        let stream_socket = kw.iter().any(|(k, v)| {
            matches!(k.as_str(), "stdin" | "stdout" | "stderr") && self.is_socket(*v, sc)
        });
        if sc.dup_socket || stream_socket {
            self.emit(
                sc,
                call,
                "SH-002",
                "reverse_shell",
                Severity::Critical,
                "A network socket is handed to a spawned process as its standard streams (reverse shell)."
                    .into(),
                None,
                0.9,
            );
        }
        if sc.mode == Mode::Normal {
            self.caps
                .subprocess
                .push((self.f.file.path.clone(), syntax::line(call)));
        }
        // PY-003: decoded data reaches the process call.
        if cmd_taint & T_DEC != 0 {
            self.obfuscation(call, cmd, sc);
        }
        for t in &shell_texts {
            argvs.extend(simple_commands(t));
            self.shell_hits(call, t, sc);
        }
        for argv in &argvs {
            self.command_rules(call, argv, all_taint, sc);
        }
    }

    /// SUP-001, CODE-009, CODE-005 (persistence commands) and the CODE-002 process sink for one argv.
    fn command_rules(
        &mut self,
        call: Node<'t>,
        argv: &[Option<String>],
        taint: u8,
        sc: &Scope<'t>,
    ) {
        self.fetcher_network(call, argv, sc);
        if terms::is_installer(argv) {
            self.emit(
                sc,
                call,
                "SUP-001",
                "dynamic_install",
                Severity::Critical,
                "Installs packages at run time from a process call.".into(),
                None,
                0.9,
            );
        }
        if let Some(args) = terms::agent_cli_args(argv) {
            let sev = terms::agent_cli_severity(args, taint & T_NET != 0);
            let prog = argv
                .iter()
                .flatten()
                .next()
                .map(String::as_str)
                .unwrap_or("an agent CLI");
            self.emit(
                sc,
                call,
                "CODE-009",
                "agent_cli_invocation",
                sev,
                format!("Runs the AI agent CLI {}.", base_name(prog)),
                None,
                0.9,
            );
        }
        if terms::is_persistence_command(argv) {
            self.emit(
                sc,
                call,
                "CODE-005",
                "persistence",
                Severity::High,
                "Installs a persistent job or start-up entry from a process call.".into(),
                None,
                0.9,
            );
        }
        let stripped = terms::strip_wrappers(argv);
        if let Some(Some(p)) = stripped.first()
            && SEND_PROGRAMS.contains(&base_name(p))
            && Self::sensitive(taint)
        {
            self.emit(
                sc,
                call,
                "CODE-002",
                "exfiltration",
                Severity::Critical,
                format!("Sensitive data reaches a {} command.", base_name(p)),
                None,
                0.85,
            );
        }
    }

    /// Command strings of shell-executing calls are checked with the SH rules (§8.3 stage 2 intro).
    fn shell_hits(&mut self, call: Node<'t>, text: &str, sc: &Scope<'t>) {
        let opts = shell::ShellOpts {
            files: Some(self.f.files),
            declared: Some(self.f.declared),
            deadline: self.f.deadline,
            depth: self.f.depth,
        };
        for h in shell::analyze(text, &opts) {
            self.emit(
                sc,
                call,
                h.rule_id,
                h.rule_type,
                h.severity,
                h.message,
                Some(h.evidence),
                0.9,
            );
        }
    }
}
