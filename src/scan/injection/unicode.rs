//! UNI-001 – UNI-006 (SPEC §8.3): bidi overrides, Tag-block smuggling, zero-width characters, homoglyph
//! words, NFKC-changing identifiers and variation-selector runs, on every text file (code and JSON
//! included). Hidden text that decodes (Tag characters, selector bytes) is re-read by the PI rules and
//! reported with the prefix `In decoded data: `.

use super::doc::{Block, Region};
use super::engine::{Env, Hit, analyze};
use super::normalize::{is_cyrillic_or_greek, sentences, skeleton};
use super::rules_pi::{self, cred_paths, urls};
use crate::scan::report::Severity;
use unicode_normalization::UnicodeNormalization;

/// At most 200 characters (evidence).
pub fn short(s: &str) -> String {
    crate::scan::report::truncate_chars(s.trim(), 200)
}

/// The line with invisible characters spelled as `<U+XXXX>` (evidence a reader can see).
fn visible(line: &str) -> String {
    let mut out = String::new();
    for c in line.chars() {
        if super::normalize::is_invisible(c) {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
        if out.len() > 400 {
            break;
        }
    }
    short(&out)
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF | 0x00A9 | 0x00AE
        | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x2190..=0x21FF | 0x25A0..=0x25FF | 0x3030 | 0x303D
        | 0x3297 | 0x3299 | 0x2934 | 0x2935 | 0x20E3)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

fn is_vs(c: char) -> bool {
    matches!(c as u32, 0xFE00..=0xFE0F | 0xE0100..=0xE01EF)
}

fn is_zw(c: char) -> bool {
    matches!(c as u32,
        0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF | 0x00AD | 0x180E | 0x034F | 0x115F | 0x1160 | 0x3164)
}

fn is_latin_like(c: char) -> bool {
    (c as u32) < 0x0250 || is_cyrillic_or_greek(c)
}

/// What the UNI rules need to know about the file.
pub struct UniOpts {
    /// Code or JSON (UNI-001 critical; UNI-003 high: identifiers and commands).
    pub code: bool,
    /// Identifiers and hosts are checked under NFKC (UNI-005): code files and manifests.
    pub identifiers: bool,
    /// Markdown lines holding code (blocks or inline): commands for UNI-003.
    pub command_lines: std::collections::HashSet<u32>,
}

pub fn uni_rules(text: &str, o: &UniOpts, env: &Env) -> Vec<Hit> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    for (n, line) in text.split('\n').enumerate() {
        let ln = n as u32 + 1;
        let start = offset;
        offset += line.len() + 1;
        if line.is_ascii() {
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        // UNI-001.
        let bidi = chars
            .iter()
            .filter(|c| matches!(**c as u32, 0x202A..=0x202E | 0x2066..=0x2069))
            .count();
        if bidi > 0 {
            let sev = if o.code {
                Severity::Critical
            } else {
                Severity::High
            };
            out.push(Hit::new(
                "UNI-001",
                sev,
                ln,
                format!("The line holds {bidi} bidirectional override character(s)."),
                &visible(line),
            ));
        }
        // UNI-002: Tag characters outside an emoji tag sequence (U+1F3F4, tags, U+E007F).
        let mut i = 0;
        while i < chars.len() {
            if !matches!(chars[i] as u32, 0xE0000..=0xE007F) {
                i += 1;
                continue;
            }
            let s = i;
            while i < chars.len() && matches!(chars[i] as u32, 0xE0000..=0xE007F) {
                i += 1;
            }
            let run = &chars[s..i];
            let flag = s > 0 && chars[s - 1] == '\u{1F3F4}' && run.last() == Some(&'\u{E007F}');
            if flag {
                continue;
            }
            let decoded: String = run
                .iter()
                .filter_map(|c| {
                    char::from_u32(*c as u32 - 0xE0000).filter(|d| !d.is_control() || *d == '\n')
                })
                .collect();
            out.push(Hit::new(
                "UNI-002",
                Severity::Critical,
                ln,
                "The line hides text in Unicode Tag characters.",
                &short(&decoded),
            ));
            out.extend(decoded_pi(&decoded, ln, env));
        }
        // UNI-006 and single selectors.
        let mut i = 0;
        let mut zw_line = false;
        while i < chars.len() {
            if !is_vs(chars[i]) {
                i += 1;
                continue;
            }
            let s = i;
            while i < chars.len() && is_vs(chars[i]) {
                i += 1;
            }
            let base = s.checked_sub(1).map(|k| chars[k]);
            let run = &chars[s..i];
            let n = run.len();
            if n == 1 {
                let c = run[0] as u32;
                let b = base.unwrap_or(' ');
                if c >= 0xE0100 {
                    if !is_cjk(b) {
                        out.push(Hit::new("UNI-006", Severity::High, ln, "An ideographic variation selector follows a character that is not a CJK ideograph.", &visible(line)));
                    }
                } else if !(is_emoji(b) || b.is_ascii_digit() || b == '#' || b == '*') {
                    zw_line |=
                        b.is_alphanumeric() && chars.get(i).is_some_and(|x| x.is_alphanumeric());
                }
                continue;
            }
            let bytes: Vec<u8> = run
                .iter()
                .map(|c| {
                    let c = *c as u32;
                    if c >= 0xE0100 {
                        (c - 0xE0100 + 16) as u8
                    } else {
                        (c - 0xFE00) as u8
                    }
                })
                .collect();
            let decoded = String::from_utf8_lossy(&bytes).into_owned();
            let printable = bytes
                .iter()
                .filter(|b| (0x20..0x7f).contains(*b) || **b == b'\n')
                .count() as f64
                / bytes.len() as f64;
            let pi = decoded_pi(&decoded, ln, env);
            let sev = if n >= 4
                && (printable >= 0.9
                    || pi.iter().any(|h| h.sev != Severity::Info)
                    || !cred_paths(&decoded.to_lowercase()).is_empty()
                    || !urls(&decoded.to_lowercase()).is_empty())
            {
                Severity::Critical
            } else if n >= 3 {
                Severity::High
            } else {
                Severity::Medium
            };
            out.push(Hit::new(
                "UNI-006",
                sev,
                ln,
                format!("{n} variation selectors follow one character and carry hidden data."),
                &short(&decoded),
            ));
            out.extend(pi);
        }
        // UNI-003: zero-width characters between letters/digits.
        for (k, c) in chars.iter().enumerate() {
            if !is_zw(*c) || (*c == '\u{FEFF}' && start == 0 && k == 0) {
                continue;
            }
            let prev = chars[..k].iter().rev().find(|x| !is_zw(**x));
            let next = chars[k + 1..].iter().find(|x| !is_zw(**x));
            let between = prev.is_some_and(|p| p.is_alphanumeric())
                && next.is_some_and(|x| x.is_alphanumeric());
            let script_joiner = matches!(*c, '\u{200C}' | '\u{200D}')
                && prev.is_some_and(|p| p.is_alphabetic() && !is_latin_like(*p));
            if between && !script_joiner {
                zw_line = true;
            }
        }
        if zw_line {
            let word_has_url = line
                .split_whitespace()
                .any(|w| w.contains("://") && w.chars().any(|c| is_zw(c) || is_vs(c)));
            let command = o.code || o.command_lines.contains(&ln);
            let sev = if command || word_has_url || creates_pi_match(line) {
                Severity::High
            } else {
                Severity::Medium
            };
            out.push(Hit::new(
                "UNI-003",
                sev,
                ln,
                "The line hides zero-width characters inside words.",
                &visible(line),
            ));
        }
        // UNI-004: a word mixing Latin with Cyrillic or Greek whose skeleton is ASCII.
        let mixed = line.split(|c: char| !c.is_alphanumeric()).find(|w| {
            w.chars().any(|c| c.is_ascii_alphabetic())
                && w.chars().any(is_cyrillic_or_greek)
                && w.chars().all(|c| skeleton(c).is_ascii())
        });
        if let Some(w) = mixed {
            out.push(Hit::new(
                "UNI-004",
                Severity::High,
                ln,
                format!("The word \"{w}\" mixes Latin with Cyrillic or Greek look-alike letters."),
                &visible(line),
            ));
        }
        // UNI-005: identifiers that change under NFKC.
        if o.identifiers {
            let ident = line
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .find(|w| {
                    !w.is_ascii()
                        && w.nfkc().collect::<String>() != *w
                        && w.nfkc().all(|c| c.is_ascii())
                });
            if let Some(w) = ident {
                out.push(Hit::new(
                    "UNI-005",
                    Severity::Medium,
                    ln,
                    format!("The identifier \"{w}\" changes under NFKC normalisation."),
                    &visible(line),
                ));
            }
        }
    }
    out
}

/// True when removing the invisible characters creates a PI-001 – PI-004 match the spaced text lacks.
fn creates_pi_match(line: &str) -> bool {
    let spaced: String = line
        .chars()
        .map(|c| if is_zw(c) || is_vs(c) { ' ' } else { c })
        .collect();
    // Which PI rules match; "creates a match" = a rule matches once the characters are removed (as the
    // normalised text does) but not when they split the word (the same line read with a space there).
    let matched = |t: &str| -> [bool; 4] {
        let ss = sentences(t);
        [
            ss.iter().any(|s| rules_pi::pi001(s).is_some()),
            ss.iter()
                .any(|s| rules_pi::pi002(s, t).is_some_and(|x| x.1)),
            ss.iter().any(|s| rules_pi::pi003(s).is_some()),
            ss.iter().any(|s| rules_pi::pi004(s, None).is_some()),
        ]
    };
    let (joined, split) = (matched(line), matched(&spaced));
    joined.iter().zip(split.iter()).any(|(j, s)| *j && !*s)
}

/// PI rules over decoded hidden text, reported at `line` with the `In decoded data: ` prefix.
fn decoded_pi(decoded: &str, line: u32, env: &Env) -> Vec<Hit> {
    if env.depth >= 2 || decoded.trim().is_empty() {
        return Vec::new();
    }
    analyze(
        &[Block::from_text(Region::Prose, decoded, line)],
        &env.sub(),
    )
    .into_iter()
    .map(|mut h| {
        h.line = line;
        h.msg = format!("In decoded data: {}", h.msg);
        h.evidence = short(decoded);
        h
    })
    .collect()
}
