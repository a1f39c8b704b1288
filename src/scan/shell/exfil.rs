//! SH-004 (exfiltration): curl / wget uploads of CRED paths, ENV files or `env` output, through options,
//! pipelines, command substitutions or variables; `scp` / `rsync` / `nc` with such a source.

use super::model::{Cmd, Pipeline, Script, Word};
use super::rules::{Analyzer, is_secret_path, pipeline_text};
use super::terms;
use crate::scan::report::Severity;

impl Analyzer<'_> {
    /// A command whose output is sensitive: `env`/`printenv`/`set`, or a read of a CRED path or ENV
    /// file (`cat`, `base64`, `tar`, … or a `<` redirect). Returns what it reads.
    pub fn sensitive_source(&self, c: &Cmd) -> Option<String> {
        for r in &c.redirs {
            if r.op == "<" && is_secret_path(&r.target.loose) {
                return Some(r.target.loose.clone());
            }
        }
        let (p, args) = terms::prog(c)?;
        match p.as_str() {
            "env" | "printenv" => return Some(format!("`{p}` output")),
            "set" | "export" | "declare"
                if args.is_empty() || args.iter().all(|a| a.s() == "-p") =>
            {
                return Some(format!("`{p}` output"));
            }
            "cat" | "base64" | "tar" | "gzip" | "xxd" | "head" | "tail" | "zip" | "openssl"
            | "cp" | "less" | "more" | "strings" | "od" | "hexdump" | "jq" | "grep" => {}
            _ => return None,
        }
        args.iter()
            .find(|a| is_secret_path(&a.loose))
            .map(|a| a.loose.clone())
    }

    /// SH-004 inside one command: curl/wget uploading a CRED path or ENV file (or a substitution /
    /// variable holding one); scp/rsync/nc with such a source.
    pub(super) fn sh004_command(&mut self, s: &Script, c: &Cmd, p: &str, args: &[Word]) {
        let what = match p {
            "curl" | "wget" => upload_files(p, args)
                .into_iter()
                .find(|f| is_secret_path(f))
                .or_else(|| self.tainted_arg(s, args)),
            "scp" | "rsync" | "sftp" => {
                let ops: Vec<&Word> = args.iter().filter(|a| !a.s().starts_with('-')).collect();
                let remote = ops.last().is_some_and(|w| is_remote(&w.loose));
                ops.split_last()
                    .and_then(|(_, srcs)| srcs.iter().find(|w| is_secret_path(&w.loose)))
                    .filter(|_| remote)
                    .map(|w| w.loose.clone())
            }
            "nc" | "ncat" | "netcat" | "socat" | "telnet" => c
                .redirs
                .iter()
                .find(|r| r.op == "<" && is_secret_path(&r.target.loose))
                .map(|r| r.target.loose.clone())
                .or_else(|| self.tainted_arg(s, args)),
            _ => None,
        };
        if let Some(w) = what {
            self.hit(
                "SH-004",
                Severity::Critical,
                c.line,
                format!("`{p}` uploads {} (credential exfiltration).", describe(&w)),
                &c.raw,
            );
        }
    }

    /// An argument that holds sensitive data through a substitution or a variable.
    pub(super) fn tainted_arg(&self, s: &Script, args: &[Word]) -> Option<String> {
        args.iter().find_map(|a| {
            let sub = a.subs.iter().find_map(|sub| {
                s.cmds_in(sub.events.clone())
                    .find_map(|c| self.sensitive_source(c))
            });
            sub.or_else(|| {
                a.vars
                    .iter()
                    .find(|v| self.sensitive_vars.contains(*v))
                    .map(|v| format!("`${v}` (sensitive data)"))
            })
        })
    }

    /// SH-004 across a pipeline: sensitive output earlier, an upload of stdin (or a raw socket) later.
    pub(super) fn sh004_pipeline(&mut self, p: &Pipeline) {
        let mut src: Option<String> = None;
        for c in &p.cmds {
            let Some((prog, args)) = terms::prog(c) else {
                continue;
            };
            if let Some(what) = &src {
                let sends = match prog.as_str() {
                    "curl" | "wget" => upload_files(&prog, args)
                        .iter()
                        .any(|f| matches!(f.as_str(), "-" | "." | "/dev/stdin")),
                    "nc" | "ncat" | "netcat" | "socat" | "telnet" => true,
                    "openssl" => args.first().is_some_and(|a| a.s() == "s_client"),
                    _ => false,
                };
                if sends {
                    let msg = format!(
                        "`{prog}` uploads {} (credential exfiltration).",
                        describe(what)
                    );
                    self.hit("SH-004", Severity::Critical, p.line, msg, &pipeline_text(p));
                    return;
                }
            }
            if src.is_none() {
                src = self.sensitive_source(c);
            }
        }
    }
}

fn describe(what: &str) -> String {
    if what.starts_with('`') {
        what.to_string()
    } else {
        format!("`{what}`")
    }
}

fn is_remote(op: &str) -> bool {
    let (host, _) = match op.split_once(':') {
        Some(x) => x,
        None => return false,
    };
    !host.is_empty() && !host.contains('/') && !op.starts_with('/') && !op.starts_with('.')
}

/// The files curl / wget upload (`-d @f`, `--data-binary @f`, `-F x=@f`, `-T f`, `--upload-file f`,
/// `--post-file f`); `-` for stdin.
pub(crate) fn upload_files(p: &str, args: &[Word]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let t = args[i].loose.as_str();
        let (opt, inline) = match t.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o, Some(v.to_string())),
            _ => (t, None),
        };
        let value = |i: usize| {
            inline
                .clone()
                .or_else(|| args.get(i + 1).map(|w| w.loose.clone()))
        };
        let data_opt = matches!(
            opt,
            "-d" | "--data" | "--data-binary" | "--data-ascii" | "--data-urlencode" | "--json"
        );
        let form_opt = matches!(opt, "-F" | "--form" | "--form-string");
        let upload_opt = matches!(opt, "-T" | "--upload-file" | "--post-file" | "--body-file");
        if p == "curl" && (data_opt || form_opt) {
            if let Some(v) = value(i) {
                if let Some(f) = v.split_once('@').map(|(_, f)| f).or_else(|| {
                    form_opt
                        .then(|| v.split_once("=<").map(|(_, f)| f))
                        .flatten()
                }) {
                    out.push(f.split(';').next().unwrap_or(f).to_string());
                }
            }
            i += if inline.is_some() { 1 } else { 2 };
            continue;
        }
        if p == "curl" && t.len() > 2 && (t.starts_with("-d@") || t.starts_with("-T")) {
            out.push(t[2..].trim_start_matches('@').to_string());
        } else if upload_opt && (p == "curl" || opt.starts_with("--")) {
            if let Some(v) = value(i) {
                out.push(v);
            }
            i += if inline.is_some() { 1 } else { 2 };
            continue;
        }
        i += 1;
    }
    out
}
