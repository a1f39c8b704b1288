//! Unit tests of stage 4. Key bodies are generated from a fixed pseudo-random sequence and prefixes are
//! split in the source, so no secret scanner mistakes this file for a leak.

mod generic;
mod scan;
mod vendor;

use super::{redact, scan_text};
use crate::scan::{Finding, Severity};

pub(super) const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub(super) const UPPER32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub(super) const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub(super) const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `n` characters of `alphabet` from a fixed xorshift sequence seeded by `seed`.
pub(super) fn rnd(seed: u64, alphabet: &str, n: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chars[(x % chars.len() as u64) as usize]
        })
        .collect()
}

/// `(severity, line)` of every finding or note of `rule`.
pub(super) fn of(findings: &[Finding], rule: &str) -> Vec<(Severity, Option<u32>)> {
    findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .map(|f| (f.severity, f.line))
        .collect()
}

/// Scans `text` as the file `path` and checks the invariants every stage-4 finding keeps: stage id,
/// the redaction format, and that no field holds any of `secrets` whole.
pub(super) fn scan(path: &str, text: &str, code: bool, secrets: &[&str]) -> Vec<Finding> {
    let found = scan_text(path, text, code);
    for f in &found {
        assert_eq!(f.stage_id, "stage4");
        assert_eq!(f.file.as_deref(), Some(path));
        assert!(f.line.is_some());
        let ev = f.evidence.as_deref().unwrap_or("");
        assert!(ev.contains("…(sha256:") && ev.ends_with(')'), "{ev}");
        let json = f.to_json().to_string();
        for s in secrets {
            assert!(!json.contains(s), "secret leaked in {json}");
        }
    }
    found
}

#[test]
fn redaction_format() {
    use sha2::{Digest, Sha256};
    let v = format!("AKIA{}", rnd(1, UPPER32, 16));
    let digest = hex::encode(Sha256::digest(v.as_bytes()));
    assert_eq!(redact(&v), format!("AKIA…(sha256:{})", &digest[..12]));
    // Short values never show whole: at most half of their characters.
    let d = hex::encode(Sha256::digest(b"abc"));
    assert_eq!(redact("abc"), format!("a…(sha256:{})", &d[..12]));
    assert!(redact("").starts_with("…(sha256:e3b0c44298fc"));
    // Characters, not bytes.
    assert!(redact("ключ-секрет").starts_with("ключ…"));
}

#[test]
fn placeholder_test() {
    use super::{Check, FULL, is_placeholder, is_weak};
    let body = rnd(2, ALNUM, 36);
    assert!(!is_placeholder(&body, &body, FULL));
    for p in [
        "your-key-here",
        "sk-REPLACE_ME_123",
        "<token>",
        "${TOKEN}",
        "{{ secret }}",
        "abc%sdef",
        "xxxxxxxxxxxxxx",
        "****",
        "Sample0000",
        "todo-fill-in",
    ] {
        assert!(is_placeholder(p, p, FULL), "{p}");
    }
    assert!(is_placeholder("OPENAI_API_KEY", "OPENAI_API_KEY", FULL));
    let aws = Check {
        example_word: false,
        env_name: false,
    };
    assert!(!is_placeholder("IOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE", aws));
    assert!(is_placeholder("IOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE", FULL));
    // Length-adjusted entropy (module docs): short real passwords are not weak, short repeats are.
    assert!(!is_weak("s3cr3t!"));
    assert!(!is_weak("hunter22"));
    assert!(is_weak("aaaaaaa"));
    assert!(is_weak("2023-06-01"));
    assert!(is_weak("abababababababab"));
}
