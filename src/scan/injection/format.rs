//! PI-005 (chat-format tokens, one finding per line) and PI-007(a)/(c) (Markdown exfiltration through
//! templated image/link URLs and per-character image dictionaries) — SPEC §8.3.

use super::doc::{Block, Region};
use super::engine::Hit;
use super::markdown::{Dest, MdDoc};
use super::normalize::sentences;
use super::rules_pi;
use crate::scan::report::Severity;
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

fn re(p: &str) -> Regex {
    Regex::new(p).expect("valid regex")
}

static TOKENS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i:</?(system|system-reminder|assistant|human|tool_use|tool_result|function_calls|function_call)(\s[^>]*)?>|</?invoke\b|</?antml:[a-z_]+)|<parameter name=|<\|(im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|<<SYS>>|\[SYSTEM\]|^(Human|Assistant):",
    )
});
static META_TAGS: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)</?(important|instructions|critical)(\s[^>]*)?>"));

/// The byte offset of a PI-005 token in `line`, and whether it is only a tool-metadata tag.
pub fn pi005_token(line: &str, meta: bool) -> Option<(usize, bool)> {
    if let Some(m) = TOKENS.find(line) {
        return Some((m.start(), false));
    }
    if meta && let Some(m) = META_TAGS.find(line) {
        return Some((m.start(), true));
    }
    None
}

const MSG5: &str =
    "The text holds a chat-format control token that can fake a system or assistant turn.";

/// PI-005 over a Markdown file's raw lines: low inside closed code blocks and inline code.
pub fn pi005_markdown(src: &str, md: &MdDoc) -> Vec<Hit> {
    let mut out = Vec::new();
    let mut off = 0;
    for (n, line) in src.split('\n').enumerate() {
        if let Some((at, _)) = pi005_token(line, false) {
            let abs = off + at;
            let sev = if md.in_code(abs) || md.in_inline(abs) {
                Severity::Low
            } else {
                Severity::Critical
            };
            out.push(Hit::new("PI-005", sev, n as u32 + 1, MSG5, line));
        }
        off += line.len() + 1;
    }
    out
}

/// PI-005 over blocks (text files, string values, tool metadata): critical; medium for the
/// tool-metadata tags; a note under the pattern-table gate.
pub fn pi005_blocks(blocks: &[Block]) -> Vec<Hit> {
    let mut out = Vec::new();
    for b in blocks {
        let meta = b.region == Region::Meta;
        let mut off = 0;
        for line in b.text.split('\n') {
            if let Some((_, meta_only)) = pi005_token(line, meta) {
                let sev = if b.pattern_gate && !meta {
                    Severity::Info
                } else if b.region == Region::Code {
                    Severity::Low
                } else if meta_only {
                    Severity::Medium
                } else {
                    Severity::Critical
                };
                out.push(Hit::new("PI-005", sev, b.line_at(off), MSG5, line));
            }
            off += line.len() + 1;
        }
    }
    out
}

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\{\{[^}]*\}\}|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%")
});
static HTML_SRC: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)<(?:img|iframe|script|source|video|audio)\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)|url\(\s*["']?([^"')\s]+)"#,
    )
});

fn pct_decode(s: &str) -> String {
    s.replace("%7B", "{")
        .replace("%7b", "{")
        .replace("%7D", "}")
        .replace("%7d", "}")
        .replace("%24", "$")
        .replace("%25", "%")
}

/// PI-007(a) and (c) over a Markdown file.
pub fn pi007(src: &str, md: &MdDoc) -> Vec<Hit> {
    let mut out = Vec::new();
    let mut dests: Vec<Dest> = md.dests.clone();
    let lines = super::doc::LineIndex::new(src);
    for c in HTML_SRC.captures_iter(src) {
        if let Some(m) = c.get(1).or(c.get(2))
            && !md.in_code(m.start())
            && !md.in_inline(m.start())
        {
            dests.push(Dest {
                url: m.as_str().to_string(),
                line: lines.line(m.start()),
                label: String::new(),
            });
        }
    }
    for d in &dests {
        let u = pct_decode(&d.url);
        if u.contains("://") && PLACEHOLDER.is_match(&u) {
            out.push(Hit::new(
                "PI-007",
                Severity::Critical,
                d.line,
                "An image or link URL holds a template placeholder that would carry data out when rendered.",
                &d.url,
            ));
        }
    }
    if let Some((line, host, n)) = per_char_dictionary(&dests) {
        let asks = md.blocks.iter().any(|b| {
            sentences(&b.text)
                .iter()
                .any(|s| rules_pi::pi007_perchar(s).is_some())
        });
        let sev = if asks {
            Severity::Critical
        } else {
            Severity::High
        };
        out.push(Hit::new(
            "PI-007",
            sev,
            line,
            format!("The file holds a per-character image or link dictionary on {host} ({n} characters) that can spell out a secret."),
            &host,
        ));
    }
    out
}

/// PI-007(c): ≥ 16 destinations on one host equal except one path segment or query value that is one
/// character (after percent-decoding and removing a shared suffix), or labelled by one character.
fn per_char_dictionary(dests: &[Dest]) -> Option<(u32, String, usize)> {
    let mut groups: HashMap<(String, String), (u32, HashSet<String>)> = HashMap::new();
    for d in dests {
        let Ok(u) = url::Url::parse(&d.url) else {
            continue;
        };
        let Some(host) = u.host_str() else {
            continue;
        };
        let path = u.path().to_string();
        let (dir, last) = path.rsplit_once('/').unwrap_or(("", &path));
        let last = pct_decode(last);
        let (stem, ext) = match last.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s.to_string(), e.to_string()),
            _ => (last.clone(), String::new()),
        };
        let mut add = |template: String, ch: String, line: u32| {
            let e = groups
                .entry((host.to_string(), template))
                .or_insert((line, HashSet::new()));
            e.1.insert(ch);
        };
        if stem.chars().count() == 1 {
            add(
                format!("{dir}/*.{ext}?{}", u.query().unwrap_or("")),
                stem,
                d.line,
            );
        } else if let Some(q) = u.query()
            && let Some((k, v)) = q.split_once('=')
            && !q.contains('&')
            && v.chars().count() == 1
        {
            add(format!("{path}?{k}="), v.to_string(), d.line);
        } else if d.label.trim().chars().count() == 1 {
            add(format!("{dir}/label"), d.label.trim().to_string(), d.line);
        }
    }
    groups
        .into_iter()
        .filter(|(_, (_, set))| set.len() >= 16)
        .map(|((host, _), (line, set))| (line, host, set.len()))
        .min()
}
