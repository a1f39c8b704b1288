//! Data-flow sentence rules of stage 3 (SPEC §8.3): PI-007(b) (secrets into URLs or per-character
//! images), PI-008(b) (CRED paths and ENV files read and sent) and PI-008(c) (a constant recipient on
//! every message), plus the URL and CRED-path finders the other rules share.

use super::normalize::{Sentence, inflects};
use super::rules_pi::SentCx;
use crate::scan::report::Severity;
use crate::scan::vocab;
use regex::Regex;
use std::sync::LazyLock;

fn re(p: &str) -> Regex {
    Regex::new(p).expect("valid regex")
}

static PI7_EMBED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(append|encode|embed|include|add|put|insert)( \S+){0,8} (secrets?|tokens?|keys?|passwords?|credentials?|env|environment|conversation|history|file contents|data)\b( \S+){0,6} (in|into|to|as)( \S+){0,4} (urls?|query|queries|links?|images?|parameters?)\b",
    )
});
static PI7_PERCHAR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(render|output|show|draw|spell|emit)( \S+){0,5} (images?|links?|urls?)( \S+){0,4} (for each|for every|per|each) (character|letter|digit|byte|char)s?\b",
    )
});
static SECRET_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(secrets?|tokens?|keys?|passwords?|credentials?|env|environment|conversation|history|file contents|data)\b",
    )
});

/// PI-007(b): embedding secrets into a URL/image, or one image per character of one.
pub fn pi007b(s: &Sentence) -> Option<usize> {
    if let Some(m) = PI7_EMBED.find(&s.tstr) {
        return Some(s.tok_at_tstr(m.start()));
    }
    pi007_perchar(s)
}

/// The per-character rendering request of PI-007(b) (also lifts PI-007(c) to critical).
pub fn pi007_perchar(s: &Sentence) -> Option<usize> {
    let m = PI7_PERCHAR.find(&s.tstr)?;
    SECRET_WORD
        .is_match(&s.tstr)
        .then(|| s.tok_at_tstr(m.start()))
}

static PATH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:~|\$home|\$\{home\}|%userprofile%|%appdata%|%localappdata%|\$env:userprofile)?[/\\][^\s'"`,;()<>|]+"#,
    )
});
static ENVF: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?:^|[\s`'"(])((?:[\w.~-]*/)*\.env(?:\.[a-z0-9_-]+)?)(?:$|[\s`'"),.;:])"#)
});
static URL: LazyLock<Regex> = LazyLock::new(|| re(r#"https?://[^\s<>"'`)\]]+"#));

/// URLs in normalised text.
pub fn urls(norm: &str) -> Vec<&str> {
    URL.find_iter(norm)
        .map(|m| m.as_str().trim_end_matches(['.', ',', ';', ':']))
        .collect()
}

/// CRED paths named in normalised text, with their byte offsets.
pub fn cred_paths(norm: &str) -> Vec<(usize, String)> {
    PATH.find_iter(norm)
        .filter_map(|m| {
            let p = m.as_str().trim_end_matches(['.', ':', '!', '?']);
            (p.starts_with(['~', '$', '%', '/']) && vocab::is_cred_path(p))
                .then(|| (m.start(), p.to_string()))
        })
        .collect()
}

const READ: [&str; 9] = [
    "read", "cat", "open", "copy", "load", "print", "base64", "include", "attach",
];
const SEND: [&str; 11] = [
    "send",
    "upload",
    "post",
    "curl",
    "wget",
    "transmit",
    "share",
    "paste",
    "forward",
    "email",
    "exfiltrate",
];

/// A send verb of PI-008(b) in a sentence (the index of its token).
pub fn send_verb(s: &Sentence) -> Option<usize> {
    let t = &s.toks;
    (0..t.len()).find(|&i| {
        let w = t[i].s.as_str();
        SEND.iter().any(|v| inflects(w, v))
            || (["pass", "supply", "provide", "put", "fill"]
                .iter()
                .any(|v| inflects(w, v))
                && t[i + 1..t.len().min(i + 7)]
                    .iter()
                    .any(|x| matches!(x.s.as_str(), "as" | "in" | "into")))
    })
}

fn read_verb(s: &Sentence) -> Option<usize> {
    s.toks
        .iter()
        .position(|t| READ.iter().any(|v| inflects(&t.s, v)))
}

/// PI-008(b).
pub fn pi008b(s: &Sentence, cx: &SentCx) -> Option<(Severity, usize)> {
    let r = read_verb(s);
    if !cred_paths(&s.norm).is_empty()
        && let Some(i) = r
    {
        let sev = if cx.group_sends {
            Severity::Critical
        } else {
            Severity::High
        };
        return Some((sev, i));
    }
    // ENV files: only as the object of the read verb, and only when sent on (chosen, §8.3 PI-008(b)).
    let i = r?;
    let env_tok = ENVF.captures_iter(&s.norm).find_map(|c| {
        let m = c.get(1)?;
        let k = s.tok_at_norm(m.start());
        // The file itself is the object: "read the project's .env", not "load it from .env".
        let object = s.toks.get(i + 1..k).is_some_and(|between| {
            !between.iter().any(|t| {
                matches!(
                    t.s.as_str(),
                    "from" | "in" | "into" | "to" | "with" | "using" | "via"
                )
            })
        });
        (vocab::is_env_file(m.as_str()) && k > i && k <= i + 3 && object).then_some(k)
    })?;
    let sent_on = |x: &Sentence, from: usize| {
        (from..x.toks.len()).any(|j| {
            let w = x.toks[j].s.as_str();
            (SEND.iter().any(|v| inflects(w, v)))
                && x.toks[j + 1..x.toks.len().min(j + 4)].iter().any(|o| {
                    matches!(
                        o.s.as_str(),
                        "it" | "them" | "its" | "contents" | "file" | "values" | "everything"
                    )
                })
        })
    };
    (sent_on(s, env_tok) || cx.next.is_some_and(|n| sent_on(n, 0)))
        .then_some((Severity::Critical, i))
}

static RECIP_VERB: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(bcc|cc|forward|copy)( \S+){0,3} (every|all|each|any) (messages?|e ?mails?|conversations?|results?|tool calls?)\b|\badd( \S+){0,6} (to|on) (every|all|each|any) (messages?|e ?mails?|tool calls?)\b",
    )
});
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"[a-z0-9._%+{}<>-]+@([a-z0-9.{}<>_-]+\.[a-z]{2,})"));
static OTHER_RECIP: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"https?://\S*(webhook|hooks)\S*|\+\d[\d -]{7,}\d|chat[_ ]?id:? ?-?\d{5,}"#)
});

/// PI-008(c): (severity, token, placeholder note).
pub fn pi008c(s: &Sentence, cx: &SentCx) -> Option<(Severity, usize, bool)> {
    let m = RECIP_VERB.find(&s.tstr)?;
    let i = s.tok_at_tstr(m.start());
    if let Some(c) = EMAIL.captures(&s.norm) {
        let addr = c.get(0).map_or("", |g| g.as_str());
        let domain = c.get(1).map_or("", |g| g.as_str());
        let placeholder = addr.contains(['<', '{'])
            || addr.contains("your_")
            || addr.contains("your-")
            || ["example.com", "example.org", "example.net"]
                .iter()
                .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
            || domain.ends_with(".invalid")
            || domain == "localhost";
        let covered = crate::permissions::host_covered(cx.outbound, domain);
        let sev = if covered {
            Severity::Medium
        } else {
            Severity::High
        };
        return Some((sev, i, placeholder));
    }
    OTHER_RECIP
        .is_match(&s.norm)
        .then_some((Severity::High, i, false))
}
