//! CRD-005–CRD-007 (SPEC §8.3 stage 4): secrets recognised by their structure rather than by a vendor
//! prefix — PEM private keys, JWTs and URLs with `user:password@`.

use super::{CRD005, CRD006, CRD007, FULL, Scan, VENDOR_CONFIDENCE, is_placeholder, re};
use crate::scan::report::Severity;
use base64::Engine;
use regex::Regex;
use std::sync::LazyLock;

static PEM: LazyLock<Regex> =
    LazyLock::new(|| re(r"-----BEGIN (?P<k>[A-Z0-9 ]*)PRIVATE KEY(?: BLOCK)?-----"));
static BASE64_RUN: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9+/=]{40,}"));
static PEM_HEADER_LINE: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z][A-Za-z-]*: "));
static JWT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"));
static CONN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?P<scheme>postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|s?ftp|smtps?|ldaps?|https?)://(?P<user>[^\s:@/]+):(?P<pw>[^\s@/]+)@(?P<host>[^\s/]+)",
    )
});

/// The signature of the jwt.io sample token (§8.3 CRD-006: a known documentation sample).
pub(super) const JWT_IO_SIGNATURE: &str = "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

/// CRD-005: a PEM private-key header followed within 3 lines by a line of ≥ 40 base64 characters. RFC
/// 1421 header lines (`Proc-Type:`, `DEK-Info:`, `Version:`) and blank lines are not counted, and a key
/// written as one string with `\n` escapes is split at them (chosen).
pub(super) fn private_keys(s: &mut Scan) {
    let src = s.src;
    for c in PEM.captures_iter(src) {
        let Some(m) = c.get(0) else { continue };
        let kind = c.name("k").map_or("", |k| k.as_str()).trim();
        let line = s.line_of(m.start());
        let rest = src.get(m.end()..).unwrap_or("");
        let rest_of_line = rest.split('\n').next().unwrap_or("");
        let mut candidates: Vec<&str> = Vec::new();
        if rest_of_line.contains("\\n") {
            candidates.extend(rest_of_line.split("\\n").skip(1));
        }
        let mut l = line + 1;
        while candidates.len() < 8 && l <= s.line_count() && l <= line + 8 {
            candidates.push(s.line(l));
            l += 1;
        }
        let body = candidates
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty() && !PEM_HEADER_LINE.is_match(c))
            .take(3)
            .find_map(|c| BASE64_RUN.find(c).map(|r| r.as_str()));
        let what = if kind.is_empty() {
            "PEM private key".to_string()
        } else {
            format!("PEM {kind} private key")
        };
        match body {
            Some(b) => {
                // The whole block is the key: its body lines are not CRD-001/008/010 candidates.
                let window = floor_boundary(rest, 64 * 1024);
                let block_end = window
                    .find("-----END ")
                    .map_or(m.end() + window.len(), |i| m.end() + i);
                s.claim(m.start(), block_end);
                let (severity, message) = if is_placeholder(b, b, FULL) {
                    (
                        Severity::Info,
                        format!("A {what} placeholder is not a live credential."),
                    )
                } else {
                    (Severity::Critical, format!("A {what} is embedded."))
                };
                s.hit(CRD005, severity, m.start(), b, message, VENDOR_CONFIDENCE);
            }
            None => {
                s.claim(m.start(), m.end());
                s.hit(
                    CRD005,
                    Severity::Info,
                    m.start(),
                    m.as_str(),
                    format!("A {what} header without key material is not a credential."),
                    VENDOR_CONFIDENCE,
                );
            }
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn floor_boundary(s: &str, max: usize) -> &str {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    s.get(..i).unwrap_or("")
}

/// CRD-006: a JWT whose header decodes (base64url) to a JSON object with `alg`.
pub(super) fn jwts(s: &mut Scan) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let src = s.src;
    for m in JWT.find_iter(src) {
        let token = m.as_str();
        let header = token.split('.').next().unwrap_or("");
        let Ok(raw) = URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')) else {
            continue;
        };
        let Ok(serde_json::Value::Object(h)) = serde_json::from_slice(&raw) else {
            continue;
        };
        let Some(alg) = h.get("alg") else { continue };
        let alg = alg.as_str().unwrap_or("");
        s.claim(m.start(), m.end());
        let body = token.get(3..).unwrap_or("");
        let (severity, message) = if alg.eq_ignore_ascii_case("none") {
            (
                Severity::Info,
                "An unsigned JWT (alg none) carries no signature and is not a credential.".into(),
            )
        } else if token.ends_with(JWT_IO_SIGNATURE) {
            (
                Severity::Info,
                "The jwt.io sample token is a documentation sample, not a credential.".into(),
            )
        } else if is_placeholder(token, body, FULL) {
            (
                Severity::Info,
                "A JWT placeholder is not a live credential.".into(),
            )
        } else if !alg.is_empty()
            && alg.len() <= 10
            && alg.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            (
                Severity::High,
                format!("A signed JWT ({alg}) is hardcoded."),
            )
        } else {
            (Severity::High, "A signed JWT is hardcoded.".to_string())
        };
        s.hit(
            CRD006,
            severity,
            m.start(),
            token,
            message,
            VENDOR_CONFIDENCE,
        );
    }
}

/// Passwords that are documentation words, not secrets: §8.3 CRD-007's list, then (chosen) other words
/// that name the field instead of filling it and publicly known defaults, whose "leak" reveals nothing.
const WORD_PASSWORDS: [&str; 19] = [
    "pass",
    "passwd",
    "password",
    "secret",
    "pwd",
    "pw",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "key",
    "access_token",
    "guest",
    "postgres",
    "root",
    "admin",
    "test",
    "changeit",
    "mypassword",
];

/// CRD-007: a URL with `user:password@`; only the password is judged. Besides §8.3's list (and the
/// words above), a password equal to the user name and a format field (`{password}`, `%(pw)s`) are not
/// secrets (chosen).
pub(super) fn connection_strings(s: &mut Scan) {
    let src = s.src;
    for c in CONN.captures_iter(src) {
        let (Some(m), Some(user), Some(pw), Some(host), Some(scheme)) = (
            c.get(0),
            c.name("user"),
            c.name("pw"),
            c.name("host"),
            c.name("scheme"),
        ) else {
            continue;
        };
        let pw = pw.as_str();
        // The host ends at the first quote or closing delimiter (the pattern runs to whitespace or `/`).
        let host_len = host
            .as_str()
            .find(['"', '\'', '`', '<', '>', ')', ']', '}', ';', ',', '\\'])
            .unwrap_or(host.as_str().len());
        let host_str = host.as_str().get(..host_len).unwrap_or("");
        let value = src.get(m.start()..host.start() + host_len).unwrap_or("");
        s.claim(m.start(), m.end());
        let template = (pw.starts_with('{') && pw.ends_with('}')) || pw.contains("%(");
        let placeholder = is_placeholder(pw, pw, FULL)
            || template
            || WORD_PASSWORDS.iter().any(|w| pw.eq_ignore_ascii_case(w))
            || pw == user.as_str()
            || pw.starts_with('$')
            || pw.starts_with(':');
        let scheme = scheme.as_str();
        let host_shown: String = host_str
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
            .take(80)
            .collect();
        let (severity, message) = if placeholder {
            (
                Severity::Info,
                format!(
                    "A {scheme} connection string for {host_shown} has a placeholder password, not a live credential."
                ),
            )
        } else {
            (
                Severity::Critical,
                format!("A {scheme} connection string for {host_shown} embeds a password."),
            )
        };
        s.hit(
            CRD007,
            severity,
            m.start(),
            value,
            message,
            VENDOR_CONFIDENCE,
        );
    }
}
