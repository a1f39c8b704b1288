//! Stage-3 rules that read more than one sentence (SPEC §8.3): PI-008(a) on the shell text of a section
//! (inline code, code blocks and fetcher spans of prose, read in order; the built-in forms of `shellpi`
//! merged with the full shell analyser's hits), and PI-012 over a paragraph or a whole list.

use super::doc::{Block, Region};
use super::engine::{BlockCx, Env, Hit, analyze, cap, structural};
use super::gates::{self, install_heading};
use super::normalize::{Sentence, norm_string};
use super::rules_pi::{self, has_suspicious_url, urls};
use super::shellpi::{self, ShHit};
use crate::scan::report::Severity;
use crate::scan::shell::{self, ShellOpts};
use std::collections::{HashMap, HashSet};

/// A piece of shell text for PI-008(a).
struct Piece {
    text: String,
    line: u32,
    block: usize,
    code: bool,
    prose: bool,
}

fn prose_span(raw: &str) -> Option<String> {
    static START: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b(curl|wget|iwr|irm|invoke-webrequest|invoke-restmethod|aria2c|certutil|bitsadmin|base64|openssl|xxd|gunzip|zcat|gzip|bash|sh|zsh|python3?|node|perl|osascript|powershell|pwsh|iex|eval|nc|ncat|socat|dscl|security|scp|rsync|echo|xattr|spctl|csrutil)\b")
            .expect("regex")
    });
    let m = START.find(raw)?;
    let span = raw.get(m.start()..)?;
    Some(
        span.replace('`', " ")
            .trim_end()
            .trim_end_matches(['.', '!', '?', ';'])
            .to_string(),
    )
}

pub(super) fn pi008_shell(blocks: &[Block], cxs: &[BlockCx], env: &Env) -> Vec<Hit> {
    let mut pieces: Vec<Piece> = Vec::new();
    for (bi, (b, cx)) in blocks.iter().zip(cxs).enumerate() {
        if b.is_code() {
            // Shell blocks (info empty, `sh`, `bash`, … §8.2) and other blocks alike: the fallback reads
            // line by line, which is how §8.2 reads non-shell blocks.
            pieces.push(Piece {
                text: b.text.clone(),
                line: b.first_line(),
                block: bi,
                code: true,
                prose: false,
            });
            continue;
        }
        for (at, code) in &b.inline_code {
            pieces.push(Piece {
                text: code.clone(),
                line: b.line_at(*at),
                block: bi,
                code: false,
                prose: false,
            });
        }
        for s in &cx.sents {
            let raw = b.text.get(s.raw_start..s.raw_end).unwrap_or("");
            if let Some(span) = prose_span(raw) {
                pieces.push(Piece {
                    text: span,
                    line: b.line_at(s.raw_start),
                    block: bi,
                    code: false,
                    prose: true,
                });
            }
        }
    }
    let mut hits: Vec<(usize, ShHit)> = Vec::new();
    let mut decoded_pi: Vec<Hit> = Vec::new();
    for (pi, p) in pieces.iter().enumerate() {
        hits.extend(
            shellpi::fallback(&p.text, p.prose, env.depth)
                .into_iter()
                .map(|h| (pi, h)),
        );
        // Decoded constants are re-read with the PI rules too (§8.2 shell folding, stage-3 text).
        if env.depth < 2 {
            for (k, l) in p.text.lines().enumerate() {
                for dec in shellpi::decode_consts(l) {
                    let line = p.line + k as u32;
                    let block = Block::from_text(Region::Prose, &dec, line);
                    for mut h in analyze(&[block], &env.sub()) {
                        if h.rule == "PI-008" {
                            continue;
                        }
                        h.line = line;
                        h.msg = format!("In decoded data: {}", h.msg);
                        h.evidence = super::unicode::short(&dec);
                        decoded_pi.push(h);
                    }
                }
            }
        }
    }
    // One script per section, in order (SH-005 reads a download in one block and its run in another),
    // for the full analyser and the SH-005 fallback.
    let mut sections: Vec<usize> = pieces.iter().map(|p| blocks[p.block].section).collect();
    sections.dedup();
    for sec in sections {
        let mut script = String::new();
        let mut map: Vec<(usize, u32)> = Vec::new();
        for (pi, p) in pieces.iter().enumerate() {
            if blocks[p.block].section != sec || p.prose {
                continue;
            }
            for (k, l) in p.text.lines().enumerate() {
                script.push_str(l);
                script.push('\n');
                map.push((pi, k as u32 + 1));
            }
        }
        for h in shellpi::fallback(&script, false, env.depth) {
            if h.rule == "SH-005"
                && let Some(&(pi, l)) = map.get(h.line as usize - 1)
            {
                hits.push((pi, ShHit { line: l, ..h }));
            }
        }
        let opts = ShellOpts {
            files: env.files,
            declared: None,
            deadline: env.deadline,
            depth: env.depth,
        };
        for h in shell::analyze(&script, &opts) {
            let keep = matches!(
                h.rule_id,
                "SH-001" | "SH-002" | "SH-004" | "SH-005" | "SH-007"
            ) && matches!(h.severity, Severity::High | Severity::Critical);
            let Some(&(pi, l)) = map.get((h.line as usize).saturating_sub(1)) else {
                continue;
            };
            if keep {
                let decodes = shellpi::fallback(&pieces[pi].text, false, 2)
                    .iter()
                    .any(|x| x.decodes)
                    || pieces[pi].text.contains("base64");
                hits.push((
                    pi,
                    ShHit {
                        rule: h.rule_id,
                        line: l,
                        evidence: h.evidence,
                        decoded: h.decoded,
                        decodes,
                    },
                ));
            }
        }
    }
    let mut out: Vec<Hit> = Vec::new();
    for (pi, h) in hits {
        let p = &pieces[pi];
        let b = &blocks[p.block];
        let cx = &cxs[p.block];
        let line = p.line + h.line.saturating_sub(1);
        let mut sev = Severity::High;
        let strong = matches!(h.rule, "SH-002" | "SH-004" | "SH-007");
        let exception = h.decodes
            || strong
            || has_suspicious_url(&norm_string(&p.text))
            || shellpi::has_sh006(&b.text);
        if p.code && install_heading(&norm_string(&b.heading)) && !exception {
            sev = Severity::Medium;
        }
        let decoded_pattern = h.decoded && h.rule != "SH-007";
        if matches!(h.rule, "SH-002" | "SH-004") || decoded_pattern || cx.lead_pi004 {
            sev = Severity::Critical;
        }
        let prefix = if h.decoded { "In decoded data: " } else { "" };
        let mut hit = Hit::new(
            "PI-008",
            sev,
            line,
            format!(
                "{prefix}Shell text tells to run a dangerous command ({} pattern).",
                h.rule
            ),
            &h.evidence,
        );
        if b.pattern_gate && b.region != Region::Meta {
            hit.sev = Severity::Info;
        } else if cx.warn && !(cx.lift || decoded_pattern) {
            cap(&mut hit);
        }
        out.push(hit);
    }
    // Keep the most severe per line.
    out.sort_by(|a, b| a.line.cmp(&b.line).then(a.sev.cmp(&b.sev)));
    out.dedup_by(|a, b| a.line == b.line);
    out.extend(decoded_pi);
    out
}

const EXEC_EXT: [&str; 16] = [
    ".exe",
    ".msi",
    ".scr",
    ".bat",
    ".cmd",
    ".ps1",
    ".vbs",
    ".hta",
    ".dmg",
    ".pkg",
    ".app",
    ".appimage",
    ".deb",
    ".rpm",
    ".command",
    "/releases/download/",
];
const ARCH_EXT: [&str; 6] = [".zip", ".7z", ".rar", ".tar.gz", ".tgz", ".tar.xz"];

/// PI-012, one paragraph or one whole list at a time.
pub(super) fn pi012(blocks: &[Block], cxs: &[BlockCx]) -> Vec<Hit> {
    let mut groups: Vec<usize> = Vec::new();
    let mut members_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, b) in blocks.iter().enumerate() {
        if b.is_code() || b.region == Region::Hidden {
            continue;
        }
        let m = members_of.entry(b.group).or_default();
        if m.is_empty() {
            groups.push(b.group);
        }
        m.push(i);
    }
    // Sections that tell to verify a checksum or signature (PI-012 note).
    let verified: HashSet<usize> = blocks
        .iter()
        .zip(cxs)
        .filter(|(_, c)| {
            c.sents.iter().any(|s| {
                s.has(&[
                    "checksum",
                    "sha256",
                    "sha",
                    "signature",
                    "sha256sum",
                    "shasum",
                    "gpg",
                ]) || s.tstr.contains("sha 256")
            })
        })
        .map(|(b, _)| b.section)
        .collect();
    let mut out = Vec::new();
    for g in groups {
        let members = members_of.remove(&g).unwrap_or_default();
        let Some(&first) = members.first() else {
            continue;
        };
        let sents: Vec<&Sentence> = members.iter().flat_map(|&i| cxs[i].sents.iter()).collect();
        let norm: String = sents
            .iter()
            .map(|s| s.norm.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let tstr: String = sents
            .iter()
            .map(|s| s.tstr.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let words: HashSet<&str> = sents
            .iter()
            .flat_map(|s| s.toks.iter().map(|t| t.s.as_str()))
            .collect();
        let has = |ws: &[&str]| ws.iter().any(|w| words.contains(w));
        let fetch_from = has(&["download", "fetch", "get", "grab", "save"]) && has(&["from"]);
        let downloads = !urls(&norm).is_empty() || fetch_from || has(&["download"]);
        let exec = EXEC_EXT.iter().any(|e| contains_ext(&norm, e)) || has(&["installer"]);
        let arch = ARCH_EXT.iter().any(|e| contains_ext(&norm, e));
        let runs = has(&[
            "run", "open", "execute", "launch", "install", "double", "start",
        ]);
        let extracts = has(&["extract", "unzip", "unpack", "decompress"]);
        if !(downloads && ((exec && runs) || (arch && extracts && runs))) {
            continue;
        }
        let b = &blocks[first];
        let section_verify = verified.contains(&b.section);
        let mut sev = Severity::Medium;
        if has_suspicious_url(&norm)
            || norm.contains("com.apple.quarantine")
            || tstr.contains("unblock file")
            || tstr.contains("run anyway")
            || tstr.contains("open anyway")
            || tstr.contains("allow apps from anywhere")
        {
            sev = Severity::High;
        }
        if (arch && has(&["password"])) || rules_pi::DEFENDER.is_match(&tstr) {
            sev = Severity::Critical;
        }
        let trigger = sents.iter().find_map(|s| {
            s.toks
                .iter()
                .position(|t| {
                    matches!(t.s.as_str(), "download" | "fetch" | "get" | "grab" | "save")
                })
                .map(|i| gates::negated(s, i) || gates::example(s, i))
        });
        // A checksum or signature check in the section makes it a note (not the critical lures).
        if trigger == Some(true) || (section_verify && sev != Severity::Critical) {
            sev = Severity::Info;
        }
        let raw: String = members
            .iter()
            .map(|&i| blocks[i].text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut h = Hit::new(
            "PI-012",
            sev,
            b.first_line(),
            "Text tells to download and run an executable.",
            &raw,
        );
        let warn = members.iter().any(|&i| cxs[i].warn);
        let lift = cxs[first].lift;
        structural(&mut h, b, warn, lift);
        out.push(h);
    }
    out
}

fn contains_ext(norm: &str, ext: &str) -> bool {
    norm.match_indices(ext).any(|(i, _)| {
        let after = norm[i + ext.len()..].chars().next();
        ext.ends_with('/') || !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}
