//! Stage 4 — secrets (SPEC §8.3 "Stage 4", CRD-001–CRD-010). Every complete non-binary file except lock
//! files is read as plain text (Markdown code fences included), and so is text that stage 0 unpacked
//! (ARC-008). Vendor formats live in `vendor.rs`, private keys, JWTs and connection strings in
//! `embedded.rs`, the generic assignment and entropy heuristics in `generic.rs`, credential-bearing
//! config files (CRD-009) in `envfile.rs`. Findings are judged on the captured value only and never
//! lowered by path (§8.2); their evidence is always redacted, so no finding field ever holds a whole
//! secret. `scan_text` is the entry point for other stages' decoded content.
//!
//! Chosen points (SPEC §8.3 leaves them open or contradicts itself):
//! * The "entropy < 3.0" placeholder test is length-adjusted: a value of n characters is weak below
//!   `min(3.0, log2(n) − 0.5)` bits per character, because n characters cannot exceed log2(n) bits; with
//!   the plain 3.0 every password of ≤ 7 characters would be a "placeholder". Values of ≥ 12 characters
//!   (all vendor bodies) get exactly the 3.0 of the SPEC.
//! * The environment-variable-name test (`^[A-Z][A-Z0-9_]{2,}$`) is not applied to formats that are
//!   upper case by design (AWS key ids, Twilio keys): the SPEC's own CRD-001 true positive matches it.
//! * The redacted prefix keeps at most half of a value's characters, so a short value never shows whole.
//! * Kind by use (§8.2) does not reach CRD-010 here: it reads a file's kind by name and shebang.
//! * Further value filters, each documented where it lives: placeholder notes for vendor prefixes the
//!   strict formats cannot match (`vendor.rs`), default and field-name passwords in URLs (`embedded.rs`),
//!   metadata identifiers, e-mail values and alphabet constants (`generic.rs`), `$` expansions in env
//!   files (`envfile.rs`).

mod embedded;
mod envfile;
mod generic;
mod vendor;

#[cfg(test)]
mod tests;

use super::files::{BINARY_PROBE, CONTENT_LIMIT};
use super::kinds::{self, Kind};
use super::report::{Finding, Severity};
use super::{StageCtx, StageError};
use base64::Engine;
use regex::Regex;
use sha2::{Digest, Sha256};
use std::time::Instant;

const STAGE: &str = "stage4";
/// §8.6: vendor secrets.
const VENDOR_CONFIDENCE: f64 = 0.95;
/// Bound on the findings, and separately on the notes, kept for one text (chosen): the report keeps 500
/// of each anyway (§8.1), and counting them apart keeps a flood of placeholders from hiding a finding.
const MAX_HITS_PER_TEXT: usize = 1_000;

/// A rule's stable id and Tank-compatible type string (§8.3 stage-4 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    id: &'static str,
    ty: &'static str,
}

const CRD001: Rule = Rule {
    id: "CRD-001",
    ty: "secret_aws",
};
const CRD002: Rule = Rule {
    id: "CRD-002",
    ty: "secret_github",
};
const CRD003: Rule = Rule {
    id: "CRD-003",
    ty: "secret_llm_provider",
};
const CRD004: Rule = Rule {
    id: "CRD-004",
    ty: "secret_saas",
};
const CRD005: Rule = Rule {
    id: "CRD-005",
    ty: "secret_private_key",
};
const CRD006: Rule = Rule {
    id: "CRD-006",
    ty: "secret_jwt",
};
const CRD007: Rule = Rule {
    id: "CRD-007",
    ty: "secret_connection_string",
};
const CRD008: Rule = Rule {
    id: "CRD-008",
    ty: "secret_generic",
};
const CRD009: Rule = Rule {
    id: "CRD-009",
    ty: "env_file_with_values",
};
const CRD010: Rule = Rule {
    id: "CRD-010",
    ty: "high_entropy_string",
};

/// One detection before it becomes a `Finding`. `value` is the captured secret; it only ever leaves
/// this module redacted.
struct Hit {
    rule: Rule,
    severity: Severity,
    line: u32,
    value: String,
    message: String,
    confidence: f64,
}

impl Hit {
    fn into_finding(self, file: &str) -> Finding {
        let mut f = Finding::fact(
            STAGE,
            self.severity,
            self.rule.id,
            self.rule.ty,
            self.message,
            Some(file.to_string()),
        )
        .with_evidence(redact(&self.value))
        .with_confidence(self.confidence);
        f.line = Some(self.line);
        f
    }
}

/// The text being scanned, with its line index, the byte spans already claimed by a rule (so that a
/// value is judged by one rule family: CRD-001 pair, CRD-008 and CRD-010 skip what CRD-001–007 matched)
/// and the hits so far. Claims become visible to `claimed` at the next `seal` (each rule pass seals
/// first), which keeps the lookup a binary search over sorted, merged spans.
struct Scan<'a> {
    /// The path that decides the file type (the inner path for packed content).
    path: &'a str,
    src: &'a str,
    starts: Vec<usize>,
    deadline: Option<Instant>,
    /// Sorted, disjoint claimed spans.
    sealed: Vec<(usize, usize)>,
    /// Spans claimed since the last `seal`.
    pending: Vec<(usize, usize)>,
    hits: Vec<Hit>,
    /// Findings and notes in `hits`.
    kept: (usize, usize),
}

impl<'a> Scan<'a> {
    fn new(path: &'a str, src: &'a str, deadline: Option<Instant>) -> Scan<'a> {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        Scan {
            path,
            src,
            starts,
            deadline,
            sealed: Vec::new(),
            pending: Vec::new(),
            hits: Vec::new(),
            kept: (0, 0),
        }
    }

    fn check(&self) -> Result<(), StageError> {
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(StageError::Timeout),
            _ => Ok(()),
        }
    }

    /// 1-based line of a byte offset.
    fn line_of(&self, offset: usize) -> u32 {
        self.starts.partition_point(|&s| s <= offset) as u32
    }

    fn line_count(&self) -> u32 {
        self.starts.len() as u32
    }

    /// The text of 1-based line `n` without its line break ("" outside the text).
    fn line(&self, n: u32) -> &'a str {
        let i = (n as usize).wrapping_sub(1);
        let Some(&start) = self.starts.get(i) else {
            return "";
        };
        let end = self.starts.get(i + 1).map_or(self.src.len(), |&e| e - 1);
        let l = self.src.get(start..end).unwrap_or("");
        l.strip_suffix('\r').unwrap_or(l)
    }

    /// Byte offset where 1-based line `n` starts.
    fn line_start(&self, n: u32) -> usize {
        let i = (n as usize).wrapping_sub(1);
        self.starts.get(i).copied().unwrap_or(self.src.len())
    }

    /// True when `start..end` overlaps a span claimed before the last `seal`.
    fn claimed(&self, start: usize, end: usize) -> bool {
        let i = self.sealed.partition_point(|&(_, e)| e <= start);
        self.sealed.get(i).is_some_and(|&(s, _)| s < end)
    }

    fn claim(&mut self, start: usize, end: usize) {
        self.pending.push((start, end));
    }

    /// Makes the pending claims visible to `claimed`.
    fn seal(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut all = std::mem::take(&mut self.sealed);
        all.append(&mut self.pending);
        all.sort_unstable();
        for (s, e) in all {
            match self.sealed.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => self.sealed.push((s, e)),
            }
        }
    }

    fn push(&mut self, hit: Hit) {
        let count = if hit.severity == Severity::Info {
            &mut self.kept.1
        } else {
            &mut self.kept.0
        };
        if *count < MAX_HITS_PER_TEXT {
            *count += 1;
            self.hits.push(hit);
        }
    }

    /// A hit at the line of `offset`.
    fn hit(
        &mut self,
        rule: Rule,
        severity: Severity,
        offset: usize,
        value: &str,
        message: String,
        confidence: f64,
    ) {
        let line = self.line_of(offset);
        self.push(Hit {
            rule,
            severity,
            line,
            value: value.to_string(),
            message,
            confidence,
        });
    }
}

/// Stage 4.
pub fn run(ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    let mut out = Vec::new();
    for f in &ctx.files.files {
        ctx.check_deadline()?;
        if kinds::is_lock_file(&f.path) {
            continue;
        }
        let Some(text) = f.text() else { continue };
        let code = is_code(kinds::kind_of(f));
        let hits = scan_hits(&f.path, &text, code, Some(ctx.deadline))?;
        out.extend(hits.into_iter().map(|h| h.into_finding(&f.path)));
    }
    // ARC-008: unpacked content is scanned at the container's path, `line` null, message prefixed.
    for p in &ctx.files.packed {
        ctx.check_deadline()?;
        let probe = p
            .bytes
            .get(..p.bytes.len().min(BINARY_PROBE))
            .unwrap_or(&[]);
        if kinds::is_lock_file(&p.inner_path)
            || probe.contains(&0)
            || p.bytes.len() as u64 > CONTENT_LIMIT
        {
            continue;
        }
        let text = String::from_utf8_lossy(&p.bytes);
        let kind = match kinds::kind_by_name(&p.inner_path) {
            Kind::Other => kinds::kind_by_shebang(&p.bytes),
            k => k,
        };
        let hits = scan_hits(&p.inner_path, &text, is_code(kind), Some(ctx.deadline))?;
        out.extend(hits.into_iter().map(|h| {
            let mut f = h.into_finding(&p.container);
            f.line = None;
            f.message = format!("In packed data ({}): {}", p.inner_path, f.message);
            f
        }));
    }
    Ok(out)
}

fn is_code(kind: Kind) -> bool {
    matches!(kind, Kind::Python | Kind::Js | Kind::Shell)
}

/// Stage-4 findings for one text at `path`, with 1-based lines: CRD-001–CRD-010 as for a package file
/// of that name (CRD-009 by the file name, CRD-010 only when `code`). Other stages call this for decoded
/// content. Lock files yield nothing.
pub fn scan_text(path: &str, text: &str, code: bool) -> Vec<Finding> {
    match scan_hits(path, text, code, None) {
        Ok(hits) => hits.into_iter().map(|h| h.into_finding(path)).collect(),
        Err(_) => Vec::new(),
    }
}

fn scan_hits(
    path: &str,
    text: &str,
    code: bool,
    deadline: Option<Instant>,
) -> Result<Vec<Hit>, StageError> {
    if kinds::is_lock_file(path) {
        return Ok(Vec::new());
    }
    let mut s = Scan::new(path, text, deadline);
    vendor::scan(&mut s)?;
    generic::assignments(&mut s)?;
    if code {
        generic::high_entropy(&mut s)?;
    }
    envfile::scan(&mut s);
    Ok(s.hits)
}

/// §8.3 redacted evidence: the first 4 characters (at most half of the value, chosen), `…`, and
/// `(sha256:<first 12 hex of the value's SHA-256>)`.
pub fn redact(value: &str) -> String {
    let keep = 4.min(value.chars().count() / 2);
    let head: String = value.chars().take(keep).collect();
    let digest = hex::encode(Sha256::digest(value.as_bytes()));
    format!("{head}…(sha256:{})", digest.get(..12).unwrap_or(""))
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    let mut n = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// The placeholder words of §8.3 (matched case-insensitively as substrings of the value).
const PLACEHOLDER_WORDS: [&str; 20] = [
    "example",
    "placeholder",
    "changeme",
    "change_me",
    "dummy",
    "sample",
    "your_",
    "your-",
    "yourkey",
    "redacted",
    "replace",
    "insert",
    "todo",
    "xxxx",
    "****",
    "<",
    ">",
    "${",
    "{{",
    "%s",
];

/// How the §8.3 placeholder test is applied to one value.
#[derive(Debug, Clone, Copy)]
struct Check {
    /// CRD-001 replaces the `example` word by its own EXAMPLE rule.
    example_word: bool,
    /// The environment-variable-name look (off for formats that are upper case by design, chosen).
    env_name: bool,
}

const FULL: Check = Check {
    example_word: true,
    env_name: true,
};

/// True when `value` holds a placeholder word (the word part of the test).
fn has_placeholder_word(value: &str, check: Check) -> bool {
    let lower = value.to_lowercase();
    PLACEHOLDER_WORDS
        .iter()
        .filter(|w| check.example_word || **w != "example")
        .any(|w| lower.contains(w))
}

/// `^[A-Z][A-Z0-9_]{2,}$`: a value that names an environment variable rather than holding a secret.
fn looks_like_env_name(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() >= 3
        && b[0].is_ascii_uppercase()
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// The body is one repeated character or has low entropy (length-adjusted, see the module docs).
fn is_weak(body: &str) -> bool {
    let mut chars = body.chars();
    let Some(first) = chars.next() else {
        return true;
    };
    if chars.all(|c| c == first) {
        return true;
    }
    let n = body.chars().count() as f64;
    entropy(body) < (n.log2() - 0.5).min(3.0)
}

/// The §8.3 placeholder test on a captured value whose random part (after the vendor prefix) is `body`.
fn is_placeholder(value: &str, body: &str, check: Check) -> bool {
    has_placeholder_word(value, check)
        || is_weak(body)
        || (check.env_name && looks_like_env_name(value))
}

/// Compiles a constant pattern; `\b` is the ASCII word boundary (the SPEC's patterns are ASCII, and the
/// ASCII form keeps the fast regex engines usable on non-ASCII text).
fn re(p: &str) -> Regex {
    Regex::new(&p.replace(r"\b", r"(?-u:\b)")).expect("constant regex")
}

fn is_hex(v: &str) -> bool {
    v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// True when `v` decodes as standard or URL-safe base64 (padding optional) to ≥ 90 % printable text
/// (printable ASCII, tab, line breaks). Such literals are encoded data for the obfuscation re-scan, not
/// secrets (§8.3 CRD-010).
fn decodes_to_text(v: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let t = v.trim_end_matches('=');
    let decoded = STANDARD_NO_PAD
        .decode(t)
        .or_else(|_| URL_SAFE_NO_PAD.decode(t));
    let Ok(bytes) = decoded else { return false };
    if bytes.is_empty() {
        return false;
    }
    let printable = bytes
        .iter()
        .filter(|&&b| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    printable * 10 >= bytes.len() * 9
}

/// A file name without its directories.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
