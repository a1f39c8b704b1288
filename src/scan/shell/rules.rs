//! The analyser: walks a script's events in execution order with a little state (variables holding
//! fetched, decoded or sensitive data; downloaded files; password answers) and emits SH hits. This file
//! holds the walk, SH-001 (remote code execution), SH-003 (dangerous shell), the nested analysis of constant `-c`/`eval` code and the decoded-data re-scan of §8.2 shell folding;
//! `exfil.rs` holds SH-004, `flow.rs` SH-005 and SH-006, `prompt.rs` SH-007, `agentcli.rs` SH-002 and
//! CODE-009.

use super::decode;
use super::model::{Cmd, Event, Pipeline, Script, Word};
use super::terms::{self, Runs, cluster_has};
use super::{DECODED_PREFIX, ShellHit, ShellOpts};
use crate::scan::report::{Severity, truncate_chars};
use crate::scan::vocab;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Instant;

/// Nesting of constant code analysed in place (`bash -c '…'`, `eval '…'`).
const MAX_NEST: u8 = 3;

/// `eval "$(X …)"` is allowed for these X (SPEC SH-003).
const EVAL_ALLOW: [&str; 12] = [
    "ssh-agent",
    "pyenv",
    "rbenv",
    "nodenv",
    "direnv",
    "brew",
    "conda",
    "starship",
    "zoxide",
    "fnm",
    "mise",
    "opam",
];

/// A file written by a fetcher (or extracted from one) and whether a check verified it (SH-005).
#[derive(Debug, Clone)]
pub(crate) struct Download {
    pub path: String,
    pub line: u32,
    pub verified: bool,
    /// An extraction root: any path under it (relative paths for "") counts as downloaded.
    pub root: bool,
}

pub(crate) struct Analyzer<'a> {
    pub opts: &'a ShellOpts<'a>,
    pub nest: u8,
    pub budget: &'a Cell<usize>,
    pub hits: Vec<ShellHit>,
    pub fetched_vars: HashSet<String>,
    pub sensitive_vars: HashSet<String>,
    /// Variable → index of the SH-007 prompt hit whose answer it holds.
    pub answer_vars: HashMap<String, usize>,
    /// Event index → SH-007 prompt hit produced by that pipeline.
    pub prompt_events: HashMap<usize, usize>,
    pub downloads: Vec<Download>,
}

impl<'a> Analyzer<'a> {
    pub fn new(opts: &'a ShellOpts<'a>, nest: u8, budget: &'a Cell<usize>) -> Analyzer<'a> {
        Analyzer {
            opts,
            nest,
            budget,
            hits: Vec::new(),
            fetched_vars: HashSet::new(),
            sensitive_vars: HashSet::new(),
            answer_vars: HashMap::new(),
            prompt_events: HashMap::new(),
            downloads: Vec::new(),
        }
    }

    pub fn hit(
        &mut self,
        rule_id: &'static str,
        severity: Severity,
        line: u32,
        message: String,
        evidence: &str,
    ) -> usize {
        self.hits.push(ShellHit {
            rule_id,
            rule_type: rule_type(rule_id),
            severity,
            line,
            message,
            evidence: truncate_chars(evidence, 200),
            decoded: false,
        });
        self.hits.len() - 1
    }

    /// Runs over one batch of events (state other than event indices carries over between batches).
    pub fn run(&mut self, s: &Script) {
        self.prompt_events.clear();
        for (i, ev) in s.events.iter().enumerate() {
            if i % 64 == 0 && Instant::now() >= self.opts.deadline {
                return;
            }
            match ev {
                Event::Assign(a) => self.assign(s, &a.name, &a.value),
                Event::Pipe(p) => self.pipeline(s, i, p),
            }
        }
    }

    fn assign(&mut self, s: &Script, name: &str, v: &Word) {
        let fetched = v.vars.iter().any(|x| self.fetched_vars.contains(x))
            || v.subs
                .iter()
                .any(|sub| self.range_fetches(s, sub.events.clone()));
        if fetched {
            self.fetched_vars.insert(name.to_string());
        }
        let sensitive = v.vars.iter().any(|x| self.sensitive_vars.contains(x))
            || v.subs
                .iter()
                .any(|sub| self.range_sensitive(s, sub.events.clone()));
        if sensitive {
            self.sensitive_vars.insert(name.to_string());
        }
        let answer = v
            .vars
            .iter()
            .find_map(|x| self.answer_vars.get(x).copied())
            .or_else(|| {
                v.subs.iter().find_map(|sub| {
                    sub.events
                        .clone()
                        .find_map(|e| self.prompt_events.get(&e).copied())
                })
            });
        if let Some(h) = answer {
            self.answer_vars.insert(name.to_string(), h);
        }
    }

    /// Any command in the events fetches, decodes or slices (SH-001 sources).
    pub fn range_fetches(&self, s: &Script, r: Range<usize>) -> bool {
        s.cmds_in(r).any(|c| self.is_source(c))
    }

    pub fn is_source(&self, c: &Cmd) -> bool {
        let Some((p, args)) = terms::prog(c) else {
            return false;
        };
        terms::is_fetcher(&p, args)
            || decode::decoder(&p, args).is_some()
            || terms::is_slice(&p, args, self.opts.files)
            || c.argv
                .iter()
                .any(|w| w.vars.iter().any(|v| self.fetched_vars.contains(v)))
    }

    fn range_sensitive(&self, s: &Script, r: Range<usize>) -> bool {
        s.cmds_in(r).any(|c| self.sensitive_source(c).is_some())
    }

    fn pipeline(&mut self, s: &Script, idx: usize, p: &Pipeline) {
        for c in &p.cmds {
            self.command(s, c);
        }
        self.sh001_pipeline(p);
        self.sh004_pipeline(p);
        self.folded_output(p);
        self.sh005_pipeline(p);
        if let Some(h) = self.sh007_pipeline(s, p) {
            self.prompt_events.insert(idx, h);
        }
    }

    fn command(&mut self, s: &Script, c: &Cmd) {
        let Some((p, args)) = terms::prog(c) else {
            return;
        };
        let rce = self.sh001_command(s, c, &p, args);
        self.sh002(c, &p, args);
        self.sh003(c, &p, args, rce);
        self.sh004_command(s, c, &p, args);
        self.sh006(c, &p, args);
        self.sh007_command(c, &p, args);
        self.code009(s, c, &p, args);
        self.sh005_command(c, &p, args);
        self.nested_code(c, &p, args);
    }

    /// SH-001: a fetcher, decoder or package slice earlier in a pipeline and a stdin interpreter later.
    fn sh001_pipeline(&mut self, p: &Pipeline) {
        let mut source: Option<String> = None;
        for c in &p.cmds {
            let Some((prog, args)) = terms::prog(c) else {
                continue;
            };
            if let Some(src) = &source
                && terms::is_stdin_interpreter(&prog, args)
            {
                let msg = format!(
                    "A pipeline hands the output of `{src}` to the interpreter `{prog}` (remote or hidden code execution)."
                );
                self.hit("SH-001", Severity::Critical, p.line, msg, &pipeline_text(p));
                return;
            }
            if source.is_none() && self.is_source(c) {
                source = Some(prog);
            }
        }
    }

    /// SH-001 forms around one command: `bash <(curl …)`, `sh -c "$(curl …)"`, `eval "$(curl …)"`,
    /// `iex (iwr …)`, and the same through a variable holding fetched or decoded data.
    fn sh001_command(&mut self, s: &Script, c: &Cmd, p: &str, args: &[Word]) -> bool {
        let word_fetches = |a: &Analyzer, w: &Word, process: bool| {
            w.subs
                .iter()
                .any(|sub| sub.process == process && a.range_fetches(s, sub.events.clone()))
                || (!process && w.vars.iter().any(|v| a.fetched_vars.contains(v)))
        };
        let mut why = None;
        if terms::is_interp(p) || p == "source" || p == "." {
            // `bash <(curl …)`: a process substitution is a non-constant operand, so look at every word.
            if args.iter().any(|w| word_fetches(self, w, true)) {
                why = Some(format!("`{p}` runs code that is fetched or decoded"));
            }
            match terms::interp_runs(p, args) {
                Runs::Code(i) if args.get(i).is_some_and(|w| word_fetches(self, w, false)) => {
                    why = Some(format!("`{p}` runs code that is fetched or decoded"));
                }
                Runs::Stdin => {
                    let from_sub = c
                        .redirs
                        .iter()
                        .any(|r| r.op == "<" && word_fetches(self, &r.target, true));
                    if from_sub {
                        why = Some(format!(
                            "`{p}` reads fetched code from a process substitution"
                        ));
                    }
                }
                _ => {}
            }
        }
        if p == "eval" && args.iter().any(|w| word_fetches(self, w, false)) {
            why = Some("`eval` runs fetched or decoded code".into());
        }
        if matches!(p, "iex" | "invoke-expression")
            && (args.iter().any(|w| word_fetches(self, w, false))
                || c.inner.clone().is_some_and(|r| self.range_fetches(s, r)))
        {
            why = Some("`Invoke-Expression` runs downloaded or decoded code".into());
        }
        let Some(why) = why else {
            return false;
        };
        self.hit(
            "SH-001",
            Severity::Critical,
            c.line,
            format!("{why} (remote or hidden code execution)."),
            &c.raw,
        );
        true
    }

    /// SH-003 (high: `eval` of a variable or substitution, setuid/setgid `chmod`, `rm -rf` of `/` or
    /// home; medium: world-writable `chmod`). `sudo` on its own is a note (§8.9 "sudo is never a
    /// finding on its own", chosen over the table's medium).
    fn sh003(&mut self, c: &Cmd, p: &str, args: &[Word], rce: bool) {
        if c.argv
            .first()
            .is_some_and(|w| matches!(w.s(), "sudo" | "doas"))
        {
            self.hit(
                "SH-003",
                Severity::Info,
                c.line,
                "The script runs a command with `sudo`.".into(),
                &c.raw,
            );
        }
        match p {
            "eval" if !rce => {
                let dynamic = args.iter().any(|w| w.text.is_none());
                let allowed = args.iter().any(|w| {
                    w.subs.iter().any(|sub| !sub.process)
                        && EVAL_ALLOW.iter().any(|x| {
                            let t = w.loose.trim_start_matches("$(").trim_start();
                            terms::base(t.split_whitespace().next().unwrap_or("")) == *x
                        })
                });
                if dynamic && !allowed {
                    self.hit(
                        "SH-003",
                        Severity::High,
                        c.line,
                        "`eval` runs code held in a variable or command substitution.".into(),
                        &c.raw,
                    );
                }
            }
            "chmod" => {
                let Some(mode) = args.iter().map(|a| a.s()).find(|a| {
                    !a.starts_with('-')
                        || a.len() > 1 && a[1..].chars().all(|x| "rwxXst".contains(x))
                }) else {
                    return;
                };
                if mode_setuid(mode) {
                    self.hit(
                        "SH-003",
                        Severity::High,
                        c.line,
                        format!("`chmod {mode}` sets the setuid or setgid bit."),
                        &c.raw,
                    );
                } else if mode_world_writable(mode) {
                    self.hit(
                        "SH-003",
                        Severity::Medium,
                        c.line,
                        format!("`chmod {mode}` makes files writable by everyone."),
                        &c.raw,
                    );
                }
            }
            "rm" => {
                let recursive = args.iter().any(|a| {
                    let t = a.s();
                    t == "--recursive" || cluster_has(t, 'r') || cluster_has(t, 'R')
                });
                let root = args.iter().any(|a| {
                    let f = vocab::fold_home(&a.loose);
                    matches!(f.as_str(), "/" | "/*" | "~" | "~/" | "~/*" | "/." | "~/.")
                });
                if recursive && root {
                    self.hit(
                        "SH-003",
                        Severity::High,
                        c.line,
                        "`rm -rf` deletes the root or home directory.".into(),
                        &c.raw,
                    );
                }
            }
            _ => {}
        }
    }

    /// §8.2 shell folding of a pipeline's constant output: decoded data is re-scanned (prefix `In
    /// decoded data: `); a constant piped into a shell is analysed as that shell's code.
    fn folded_output(&mut self, p: &Pipeline) {
        let n = p.cmds.len();
        for m in (1..=n).rev() {
            let Some((data, decoders)) = decode::pipeline_output(&p.cmds, 0, m) else {
                continue;
            };
            let into_shell = p
                .cmds
                .get(m)
                .and_then(terms::prog)
                .is_some_and(|(prog, args)| {
                    terms::is_shell(&prog) && terms::is_stdin_interpreter(&prog, args)
                });
            let line = p.cmds.get(m - 1).map_or(p.line, |c| c.line);
            if decoders > 0 {
                self.rescan_decoded(&data, line);
            } else if into_shell {
                let text = String::from_utf8_lossy(&data).into_owned();
                self.nested(&text, line);
            }
            return;
        }
    }

    pub fn rescan_decoded(&mut self, data: &[u8], line: u32) {
        let left = self.budget.get();
        if self.opts.depth >= 2 || left == 0 || data.contains(&0) {
            return;
        }
        let take = data.len().min(left);
        self.budget.set(left - take);
        let text = String::from_utf8_lossy(data.get(..take).unwrap_or(data)).into_owned();
        let opts = ShellOpts {
            depth: self.opts.depth + 1,
            ..*self.opts
        };
        let inner = super::analyze_inner(&text, &opts, 0, self.budget);
        for h in inner {
            let msg = h.message.strip_prefix(DECODED_PREFIX).unwrap_or(&h.message);
            // A hit from a deeper decoding keeps its own (innermost) decoded text.
            let evidence = if h.decoded {
                h.evidence.clone()
            } else {
                truncate_chars(text.trim(), 200)
            };
            self.hits.push(ShellHit {
                message: format!("{DECODED_PREFIX}{msg}"),
                evidence,
                line,
                decoded: true,
                ..h
            });
        }
    }

    /// Constant code run in place (`bash -c '…'`, `eval '…'`) is analysed as shell at the command's line.
    fn nested_code(&mut self, c: &Cmd, p: &str, args: &[Word]) {
        let code = if p == "eval" {
            let t: Option<Vec<&str>> = args.iter().map(|a| a.text.as_deref()).collect();
            t.map(|t| t.join(" "))
        } else if terms::is_shell(p) {
            match terms::interp_runs(p, args) {
                Runs::Code(i) => args.get(i).and_then(|w| w.text.clone()),
                _ => None,
            }
        } else {
            None
        };
        if let Some(code) = code {
            self.nested(&code, c.line);
            return;
        }
        // `bash <<'EOF' … EOF` / `sh <<< '…'`: the here-document is the shell's script; its hits keep
        // their own lines (the body starts on the line after the command).
        if terms::is_shell(p)
            && terms::interp_runs(p, args) == Runs::Stdin
            && let Some(body) = c.stdin.as_ref().and_then(|w| w.text.clone())
        {
            self.nested_lines(&body, c.line);
        }
    }

    fn nested(&mut self, code: &str, line: u32) {
        if self.nest >= MAX_NEST || code.trim().is_empty() {
            return;
        }
        let inner = super::analyze_inner(code, self.opts, self.nest + 1, self.budget);
        for h in inner {
            self.hits.push(ShellHit { line, ..h });
        }
    }

    fn nested_lines(&mut self, code: &str, line: u32) {
        if self.nest >= MAX_NEST || code.trim().is_empty() {
            return;
        }
        let inner = super::analyze_inner(code, self.opts, self.nest + 1, self.budget);
        for h in inner {
            let l = if h.decoded { line } else { line + h.line };
            self.hits.push(ShellHit { line: l, ..h });
        }
    }
}

pub(crate) fn rule_type(rule_id: &str) -> &'static str {
    match rule_id {
        "SH-001" => "remote_code_execution",
        "SH-002" => "reverse_shell",
        "SH-003" => "dangerous_shell",
        "SH-004" => "exfiltration",
        "SH-005" => "download_execute",
        "SH-006" => "security_control_bypass",
        "SH-007" => "credential_prompt",
        _ => "agent_cli_invocation",
    }
}

pub(crate) fn pipeline_text(p: &Pipeline) -> String {
    p.cmds
        .iter()
        .filter(|c| !c.raw.is_empty())
        .map(|c| c.raw.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A CRED path or an ENV file (§8.2).
pub(crate) fn is_secret_path(p: &str) -> bool {
    let t = p.trim().trim_matches(|c| c == '"' || c == '\'');
    !t.is_empty() && (vocab::is_cred_path(t) || vocab::is_env_file(t))
}

fn mode_setuid(m: &str) -> bool {
    if m.len() == 4 && m.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return (m.as_bytes()[0] - b'0') & 6 != 0;
    }
    m.split(',').any(|cl| {
        cl.find(['+', '='])
            .is_some_and(|i| cl.get(i + 1..).is_some_and(|perm| perm.contains('s')))
    })
}

fn mode_world_writable(m: &str) -> bool {
    if (3..=4).contains(&m.len()) && m.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return m.as_bytes().last().is_some_and(|d| (d - b'0') & 2 != 0);
    }
    m.split(',').any(|cl| {
        cl.find(['+', '=']).is_some_and(|i| {
            let who = &cl[..i];
            (who.contains('o') || who.contains('a'))
                && cl.get(i + 1..).is_some_and(|perm| perm.contains('w'))
        })
    })
}
