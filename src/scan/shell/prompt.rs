//! SH-007 (credential prompts): high for password dialogs, medium for `zenity`/`kdialog`/`Get-Credential`,
//! critical when the answer reaches a send sink, a file, `dscl . -authonly`, `security unlock-keychain` or
//! `sudo -S` (in the same pipeline or through a variable); keychain reads.

use super::flow::opt_value;
use super::model::{Cmd, Pipeline, Script, Word};
use super::rules::Analyzer;
use super::terms::{self, cluster_has};
use crate::scan::report::Severity;

impl Analyzer<'_> {
    /// SH-007 prompts in a pipeline; critical when a later command of the pipeline sends or stores the
    /// answer. Also upgrades prompts whose answer variable reaches such a command here. Returns the hit
    /// of the prompt (for `pw=$(osascript …)`).
    pub fn sh007_pipeline(&mut self, _s: &Script, p: &Pipeline) -> Option<usize> {
        let mut prompt: Option<usize> = None;
        for (i, c) in p.cmds.iter().enumerate() {
            let Some((prog, args)) = terms::prog(c) else {
                continue;
            };
            if let Some(h) = prompt
                && (is_answer_sink(c, &prog, args) || (i + 1 == p.cmds.len() && writes_file(c)))
            {
                self.upgrade(h);
            }
            // `echo "$pw" | sudo -S …`: the answer variable feeds a sink later in the pipeline.
            if let Some(h) = c
                .argv
                .iter()
                .flat_map(|w| w.vars.iter())
                .find_map(|v| self.answer_vars.get(v).copied())
                && p.cmds
                    .get(i + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .any(|n| terms::prog(n).is_some_and(|(np, na)| is_answer_sink(n, &np, na)))
            {
                self.upgrade(h);
            }
            if prompt.is_none() {
                prompt = self.prompt(c, &prog, args);
            }
        }
        prompt
    }

    fn upgrade(&mut self, h: usize) {
        if let Some(hit) = self.hits.get_mut(h)
            && hit.severity != Severity::Critical
        {
            hit.severity = Severity::Critical;
            hit.message = hit.message.replace(
                "asks for the user's password.",
                "asks for the user's password and passes the answer on (credential theft).",
            );
        }
    }

    /// Password prompts (osascript dialogs, zenity, kdialog, Get-Credential).
    fn prompt(&mut self, c: &Cmd, p: &str, args: &[Word]) -> Option<usize> {
        let (sev, what) = match p {
            "osascript" => {
                let mut script = String::new();
                for (i, a) in args.iter().enumerate() {
                    if a.s() == "-e"
                        && let Some(v) = args.get(i + 1)
                    {
                        script.push_str(&v.loose);
                        script.push('\n');
                    }
                }
                if let Some(w) = &c.stdin {
                    script.push_str(&w.loose);
                }
                let l = script.to_ascii_lowercase();
                let asks = l.contains("display dialog")
                    && (l.contains("hidden answer")
                        || (l.contains("default answer")
                            && ["password", "passcode", "credential"]
                                .iter()
                                .any(|k| l.contains(k))));
                if !asks {
                    return None;
                }
                (Severity::High, "an `osascript` dialog")
            }
            "zenity" | "kdialog" if args.iter().any(|a| a.s() == "--password") => (
                Severity::Medium,
                if p == "zenity" {
                    "`zenity --password`"
                } else {
                    "`kdialog --password`"
                },
            ),
            "get-credential" => (Severity::Medium, "`Get-Credential`"),
            _ => return None,
        };
        Some(self.hit(
            "SH-007",
            sev,
            c.line,
            format!("{what} asks for the user's password."),
            &c.raw,
        ))
    }

    /// SH-007 single commands: `dscl . -authonly`, `security dump-keychain`, keychain reads, and answer
    /// variables reaching a sink.
    pub fn sh007_command(&mut self, c: &Cmd, p: &str, args: &[Word]) {
        let answer = c
            .argv
            .iter()
            .chain(c.redirs.iter().map(|r| &r.target))
            .chain(c.stdin.iter())
            .flat_map(|w| w.vars.iter())
            .find_map(|v| self.answer_vars.get(v).copied());
        if let Some(h) = answer
            && (is_answer_sink(c, p, args) || writes_file(c))
        {
            self.upgrade(h);
            return;
        }
        match p {
            "dscl"
                if args
                    .iter()
                    .any(|a| matches!(a.s(), "-authonly" | "authonly")) =>
            {
                self.hit(
                    "SH-007",
                    Severity::High,
                    c.line,
                    "`dscl . -authonly` checks a user's password.".into(),
                    &c.raw,
                );
            }
            "security" => {
                let sub = args.first().map(|a| a.s()).unwrap_or("");
                if sub == "dump-keychain" {
                    self.hit(
                        "SH-007",
                        Severity::High,
                        c.line,
                        "`security dump-keychain` dumps the keychain.".into(),
                        &c.raw,
                    );
                } else if matches!(sub, "find-generic-password" | "find-internet-password")
                    && args.iter().any(|a| {
                        a.s() == "-w"
                            || a.s() == "-g"
                            || (cluster_has(a.s(), 'w') && a.s().len() <= 3)
                    })
                {
                    let service = opt_value(args, 's', &[]);
                    let label = opt_value(args, 'l', &[]);
                    let browser = service
                        .as_deref()
                        .is_some_and(|s| s.to_ascii_lowercase().contains("safe storage"));
                    let (sev, msg) = if browser || (service.is_none() && label.is_none()) {
                        (
                            Severity::High,
                            format!(
                                "`security {sub}` reads a browser or unspecified keychain secret."
                            ),
                        )
                    } else {
                        (
                            Severity::Info,
                            format!("`security {sub}` reads the keychain item of a named service."),
                        )
                    };
                    self.hit("SH-007", sev, c.line, msg, &c.raw);
                }
            }
            _ => {}
        }
    }
}

/// A command that sends, checks or stores a password it is given.
fn is_answer_sink(c: &Cmd, p: &str, args: &[Word]) -> bool {
    match p {
        "curl" | "wget" | "nc" | "ncat" | "netcat" | "scp" | "rsync" | "ftp" | "sendmail"
        | "mail" | "tee" => true,
        "dscl" => args
            .iter()
            .any(|a| matches!(a.s(), "-authonly" | "authonly")),
        "security" => args.first().is_some_and(|a| a.s() == "unlock-keychain"),
        _ => {
            c.argv.first().is_some_and(|w| w.s() == "sudo") && c.argv.iter().any(|a| a.s() == "-S")
        }
    }
}

fn writes_file(c: &Cmd) -> bool {
    c.redirs.iter().any(|r| {
        (r.op == ">" || r.op == ">>" || r.op == "&>")
            && !matches!(
                r.target.loose.as_str(),
                "/dev/null" | "/dev/stderr" | "/dev/stdout"
            )
    })
}
