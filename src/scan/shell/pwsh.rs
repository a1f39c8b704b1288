//! Token fallback for PowerShell, which tree-sitter-bash does not parse: line-wise token tests for
//! `iex`/`Invoke-Expression` of downloads or decoded bytes (SH-001), socket shells (SH-002), `-OutFile`
//! downloads later started (SH-005), Defender / Mark-of-the-Web changes (SH-006) and credential prompts
//! (SH-007). Hits that the syntax-tree analysis also found on the same line are dropped by the caller.

use super::ShellHit;
use super::rules::rule_type;
use crate::scan::report::{Severity, truncate_chars};

fn has_token(line: &str, tok: &str) -> bool {
    line.match_indices(tok).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + tok.len()..].chars().next();
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

const DOWNLOADS: [&str; 9] = [
    "iwr",
    "irm",
    "invoke-webrequest",
    "invoke-restmethod",
    "downloadstring",
    "downloaddata",
    "downloadfile",
    "frombase64string",
    "start-bitstransfer",
];

pub(crate) fn scan(text: &str) -> Vec<ShellHit> {
    let mut hits = Vec::new();
    let mut outfiles: Vec<(String, u32, usize)> = Vec::new();
    let push =
        |hits: &mut Vec<ShellHit>, id: &'static str, sev, line: u32, msg: String, raw: &str| {
            hits.push(ShellHit {
                rule_id: id,
                rule_type: rule_type(id),
                severity: sev,
                line,
                message: msg,
                evidence: truncate_chars(raw.trim(), 200),
                decoded: false,
            });
        };
    for (i, raw) in text.lines().enumerate().take(200_000) {
        let n = i as u32 + 1;
        let t = raw.trim();
        if t.starts_with('#') || t.is_empty() {
            continue;
        }
        let l = t.to_ascii_lowercase();
        let iex = has_token(&l, "iex") || has_token(&l, "invoke-expression");
        if iex && DOWNLOADS.iter().any(|d| l.contains(d)) {
            push(
                &mut hits,
                "SH-001",
                Severity::Critical,
                n,
                "PowerShell `Invoke-Expression` runs downloaded or decoded code (remote code execution).".into(),
                raw,
            );
        }
        if l.contains("net.sockets.tcpclient") && iex {
            push(
                &mut hits,
                "SH-002",
                Severity::Critical,
                n,
                "Reverse shell: a PowerShell TCP client runs the commands it receives.".into(),
                raw,
            );
        }
        if let Some(at) = l.find("-outfile") {
            let rest = t.get(at + 8..).unwrap_or("").trim_start();
            let f = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(|c| c == '"' || c == '\'' || c == ';' || c == ')');
            if !f.is_empty() && outfiles.len() < 256 {
                let name = f
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or(f)
                    .to_ascii_lowercase();
                outfiles.push((name, n, at));
            }
        }
        let run_at = ["start-process", "& ", ".\\", "msiexec", "invoke-item"]
            .iter()
            .filter_map(|k| l.find(k))
            .min();
        if let Some(run_at) = run_at
            && let Some((name, at, _)) = outfiles.iter().find(|(name, at, pos)| {
                l.get(run_at..).is_some_and(|r| r.contains(name.as_str()))
                    && (*at < n || *pos < run_at)
            })
        {
            let msg = format!(
                "Runs `{name}`, downloaded at line {at}, without verifying it (download and execute)."
            );
            push(&mut hits, "SH-005", Severity::Critical, n, msg, raw);
        }
        if l.contains("set-mppreference") && l.contains("-disable") {
            push(
                &mut hits,
                "SH-006",
                Severity::High,
                n,
                "`Set-MpPreference` disables Microsoft Defender protection.".into(),
                raw,
            );
        }
        if l.contains("add-mppreference") && l.contains("-exclusion") {
            push(
                &mut hits,
                "SH-006",
                Severity::High,
                n,
                "`Add-MpPreference` adds a Microsoft Defender exclusion.".into(),
                raw,
            );
        }
        if has_token(&l, "unblock-file") {
            push(
                &mut hits,
                "SH-006",
                Severity::High,
                n,
                "`Unblock-File` removes the Mark of the Web from a file.".into(),
                raw,
            );
        }
        if has_token(&l, "get-credential") || l.contains("promptforcredential") {
            push(
                &mut hits,
                "SH-007",
                Severity::Medium,
                n,
                "A PowerShell credential prompt asks for the user's password.".into(),
                raw,
            );
        }
    }
    hits
}
