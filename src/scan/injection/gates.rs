//! The §8.2 stage-3 gates that depend on wording: negation, example, warning terms and the imperative
//! opening that lifts the warning-context cap. The code-block and pattern-table gates are structural and
//! applied where hits are turned into findings (`engine.rs`).

use super::normalize::Sentence;
use regex::Regex;
use std::sync::LazyLock;

const SKIP: [&str; 6] = [
    "ever",
    "blindly",
    "simply",
    "just",
    "automatically",
    "accidentally",
];
const NEG: [&str; 10] = [
    "not",
    "never",
    "don't",
    "dont",
    "cannot",
    "can't",
    "won't",
    "shouldn't",
    "mustn't",
    "no",
];

/// Negation gate: the token at `i` is immediately preceded (skipping `ever`, `blindly`, …) by a negation
/// or by `refuse(s) to`.
pub fn negated(s: &Sentence, i: usize) -> bool {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = s.toks[j].s.as_str();
        if SKIP.contains(&t) {
            continue;
        }
        if NEG.contains(&t) {
            return true;
        }
        return t == "to" && j > 0 && matches!(s.toks[j - 1].s.as_str(), "refuse" | "refuses");
    }
    false
}

/// Example gate: earlier in the sentence stands `such as`, `e.g.`, `for example`, `like`, `detect(s)` …
pub fn example(s: &Sentence, i: usize) -> bool {
    let toks = &s.toks[..i.min(s.toks.len())];
    toks.iter().enumerate().any(|(k, t)| {
        let next = toks.get(k + 1).map(|n| n.s.as_str());
        matches!(
            t.s.as_str(),
            "like"
                | "detect"
                | "detects"
                | "flag"
                | "flags"
                | "block"
                | "blocks"
                | "reject"
                | "rejects"
                | "refuse"
                | "refuses"
                | "phrase"
                | "phrases"
                | "pattern"
                | "patterns"
                | "attack"
                | "attacks"
                | "attempt"
                | "attempts"
        ) || (t.s == "such" && next == Some("as"))
            || (t.s == "for" && matches!(next, Some("example" | "instance")))
            || (t.s == "e" && next == Some("g"))
    })
}

static WARNING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(warnings?|red flags?|danger|dangerous|malicious|malware|attacks?|attackers?|suspicious|",
        r"scams?|phishing|indicators? of compromise|iocs?|threats?|unsafe)\b|",
        r"\b(never|do not|don't|dont|avoid)( \S+){0,2} (run|running|execute|executing|paste|pasting|",
        r"install|installing|pipe|piping|trust|trusting|follow|following|type|typing)\b"
    ))
    .expect("regex")
});

/// A warning term (§8.2 warning-context gate) in a token string.
pub fn has_warning_term(tstr: &str) -> bool {
    WARNING.is_match(tstr)
}

static SELF_WARNING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(warning signs?|red flags?|attacks?|scams?|reasons? for suspicion)\b")
        .expect("regex")
});

/// A sentence that calls what it describes a warning sign, red flag, attack, scam or reason for suspicion.
pub fn self_warning(s: &Sentence) -> bool {
    SELF_WARNING.is_match(&s.tstr)
}

const IMPERATIVES: [&str; 24] = [
    "run", "execute", "paste", "type", "enter", "install", "download", "fetch", "open", "launch",
    "add", "append", "write", "read", "send", "upload", "copy", "start", "pipe", "curl", "wget",
    "save", "post", "email",
];
const OPENERS: [&str; 11] = [
    "please", "first", "then", "now", "next", "also", "just", "quietly", "silently", "secretly",
    "and",
];

/// The block starts, outside quotation marks and inline code, with an imperative (lifts the cap).
pub fn starts_imperative(raw: &str) -> bool {
    let t = raw.trim_start_matches(|c: char| c.is_whitespace() || "-*+>#0123456789.)".contains(c));
    if t.starts_with(['`', '"', '\'', '\u{201C}', '\u{2018}']) {
        return false;
    }
    let words = t
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase());
    for w in words {
        if OPENERS.contains(&w.as_str()) {
            continue;
        }
        return IMPERATIVES[..18].contains(&w.as_str());
    }
    false
}

/// Install-like headings that lower a closed code block's PI-008 to medium (§8.3 PI-008(a)).
pub fn install_heading(heading_norm: &str) -> bool {
    [
        "install",
        "setup",
        "set up",
        "getting started",
        "prerequisite",
        "requirement",
    ]
    .iter()
    .any(|w| heading_norm.contains(w))
}
