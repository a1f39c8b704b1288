//! Process-call rules of JS stage 2 (SPEC §8.3): JS-001 / JS-004, JS-003 on process arguments, command
//! strings handed to `scan::shell`, SUP-001 (reported as `stage5`), CODE-009, CODE-005 commands, CODE-004
//! through `cat`-like programs, and CODE-001 for senders such as `curl`.

use super::argv;
use super::fold::{DYN, args};
use super::procs::{self, Proc};
use super::taint::NET;
use super::{AST, Js, line_of};
use crate::permissions::host_covered;
use crate::scan::report::Severity;
use crate::scan::shell::{self, ShellOpts};
use crate::scan::{StageError, vocab};

impl<'t> Js<'_, 't> {
    /// A process call: JS-001 / JS-004, JS-003, shell text, SUP-001, CODE-009, CODE-005, CODE-004,
    /// CODE-001 for fetchers.
    pub(super) fn on_proc(&mut self, p: Proc<'t>) -> Result<(), StageError> {
        let line = line_of(p.node);
        let ev = self.line_text(line);
        let declared = self.f.declared.subprocess;
        if p.shell && !p.constant {
            let sev = if declared {
                Severity::High
            } else {
                Severity::Critical
            };
            self.emit(
                "JS-001",
                "shell_injection",
                sev,
                line,
                "A shell runs a command built from non-constant data.".into(),
                ev.clone(),
                AST,
            );
        } else {
            let sev = if declared {
                Severity::Info
            } else {
                Severity::Medium
            };
            self.emit(
                "JS-004",
                "subprocess_usage",
                sev,
                line,
                "The code starts a subprocess.".into(),
                ev.clone(),
                AST,
            );
        }
        self.subprocess(line);
        self.decoder_flow(&args(p.node), line);
        if let Some(cmd) = &p.command {
            self.shell_text(cmd, line);
        }
        for s in &p.simple {
            self.tick()?;
            self.argv_rules(&p, s, line, &ev);
        }
        Ok(())
    }

    pub(super) fn argv_rules(&mut self, p: &Proc<'t>, s: &[Option<String>], line: u32, ev: &str) {
        if argv::is_installer(s) {
            // Stage 5 findings are never lowered by path (§8.2); "critical in runtime JS" — a
            // non-runtime file gets medium, as shell scripts do (chosen).
            let sev = if self.f.runtime {
                Severity::Critical
            } else {
                Severity::Medium
            };
            self.push(
                "stage5",
                "SUP-001",
                "dynamic_install",
                sev,
                line,
                "The code installs packages at run time.".into(),
                ev.to_string(),
                AST,
            );
        }
        if let Some(k) = argv::agent_cli(s) {
            self.agent_cli(p, s, k, line, ev);
        }
        if argv::is_persistence_cmd(s) {
            self.emit(
                "CODE-005",
                "persistence",
                Severity::High,
                line,
                "The code registers itself to run again (scheduled task or service).".into(),
                ev.to_string(),
                AST,
            );
        }
        if let Some(path) = argv::cred_read_arg(s) {
            self.emit(
                "CODE-004",
                "sensitive_file_read",
                Severity::High,
                line,
                format!("The code reads the credential file `{path}`."),
                ev.to_string(),
                AST,
            );
        }
        if argv::is_sender(s) {
            let hosts = argv::argv_hosts(s);
            let prog = s.iter().flatten().next().cloned().unwrap_or_default();
            let hosts = if hosts.is_empty() { vec![None] } else { hosts };
            self.network(&procs::basename(&prog), hosts, line);
        }
    }

    pub(super) fn agent_cli(
        &mut self,
        p: &Proc<'t>,
        s: &[Option<String>],
        k: usize,
        line: u32,
        ev: &str,
    ) {
        let prog = s
            .get(k.saturating_sub(1))
            .cloned()
            .flatten()
            .map(|w| procs::basename(&w))
            .unwrap_or_default();
        let rest = s.get(k..).unwrap_or(&[]);
        let bypass = rest.iter().enumerate().any(|(i, w)| {
            let next = rest.get(i + 1).and_then(|x| x.as_deref());
            w.as_deref()
                .is_some_and(|w| argv::is_bypass_flag(w, &prog, next))
        });
        let collecting = rest
            .iter()
            .flatten()
            .any(|w| !w.starts_with('-') && argv::is_collecting_prompt(w));
        let broad = rest
            .iter()
            .flatten()
            .any(|w| w.starts_with("--allowedTools") || w.starts_with("--allowed-tools"));
        let net = args(p.node)
            .iter()
            .any(|a| self.taints.get(&a.id()).is_some_and(|t| t & NET != 0));
        let (sev, why) = if bypass {
            (Severity::Critical, " with an approval-bypass flag")
        } else if collecting {
            (
                Severity::Critical,
                " with a prompt that collects credentials or wallets",
            )
        } else if broad {
            (Severity::High, " with a broad tool grant")
        } else if net {
            (
                Severity::High,
                " with a prompt taken from a network response",
            )
        } else {
            (Severity::Medium, "")
        };
        self.emit(
            "CODE-009",
            "agent_cli_invocation",
            sev,
            line,
            format!("The code runs the AI agent CLI `{prog}`{why}."),
            ev.to_string(),
            AST,
        );
    }

    /// Command strings of shell-executing calls are shell text (§8.3 stage 2); hits are reported at the
    /// call's line.
    pub(super) fn shell_text(&mut self, cmd: &str, line: u32) {
        // A non-constant part becomes a variable the shell folding treats as absent (§8.2).
        let text = cmd.replace(DYN, "${__tank_dynamic}");
        let opts = ShellOpts {
            files: Some(self.f.files),
            declared: Some(self.f.declared),
            deadline: self.f.deadline,
            depth: self.f.depth,
        };
        for h in shell::analyze(&text, &opts) {
            self.emit(
                h.rule_id,
                h.rule_type,
                h.severity,
                line,
                h.message,
                h.evidence,
                AST,
            );
        }
    }

    /// CODE-001: low, or a note when every constant host is declared (loopback counts as declared).
    pub(super) fn network(&mut self, api: &str, hosts: Vec<Option<String>>, line: u32) {
        let consts: Vec<&String> = hosts.iter().flatten().collect();
        let declared = !consts.is_empty()
            && consts
                .iter()
                .all(|h| vocab::is_loopback_host(h) || host_covered(&self.f.declared.outbound, h));
        let sev = if declared {
            Severity::Info
        } else {
            Severity::Low
        };
        let named = if consts.is_empty() {
            String::new()
        } else {
            format!(
                " to {}",
                consts
                    .iter()
                    .map(|h| h.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let ev = self.line_text(line);
        self.emit(
            "CODE-001",
            "network_access",
            sev,
            line,
            format!("Network access through `{api}`{named}."),
            ev,
            AST,
        );
        for h in hosts {
            self.net_use(h, line);
        }
    }
}
