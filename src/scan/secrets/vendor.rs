//! CRD-001–CRD-007 (SPEC §8.3 stage 4): vendor key formats, the AWS secret-key pair, PEM private keys,
//! JWTs and connection strings with a password. Vendor matches claim their spans so the generic
//! heuristics (CRD-008, CRD-010) never report the same value again.
//!
//! Placeholders that a strict format cannot match (`"sk-" + 40 × "x"`, `ghp_<your-token>`) are found by a
//! *loose* prefix pattern per vendor family and become notes of that rule; a loose match that is not a
//! placeholder is left to the generic rules (chosen).

use super::{
    CRD001, CRD002, CRD003, CRD004, CRD005, CRD006, CRD007, Check, FULL, Rule, Scan,
    VENDOR_CONFIDENCE, is_placeholder,
};
use crate::scan::StageError;
use crate::scan::report::Severity;
use base64::Engine;
use regex::Regex;
use std::sync::LazyLock;

/// Compiles a constant pattern; `\b` is the ASCII word boundary (the SPEC's patterns are ASCII, and the
/// ASCII form keeps the fast regex engines usable on non-ASCII text).
fn re(p: &str) -> Regex {
    Regex::new(&p.replace(r"\b", r"(?-u:\b)")).expect("constant regex")
}

struct Pattern {
    rule: Rule,
    label: &'static str,
    severity: Severity,
    /// The body (group `b`) is the random part after the vendor prefix.
    re: Regex,
    check: Check,
}

fn pat(rule: Rule, label: &'static str, severity: Severity, p: &str) -> Pattern {
    Pattern {
        rule,
        label,
        severity,
        re: re(p),
        check: super::FULL,
    }
}

/// Formats that are upper case by design skip the environment-variable-name test (module docs of
/// `secrets`); AWS key ids also skip the `example` word (CRD-001's own EXAMPLE rule).
const UPPER: Check = Check {
    example_word: true,
    env_name: false,
};
const AWS: Check = Check {
    example_word: false,
    env_name: false,
};

static STRICT: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    use Severity::{Critical, High};
    let mut aws = pat(
        CRD001,
        "AWS access key ID",
        Critical,
        r"\b(?:AKIA|ASIA|ABIA|ACCA)(?P<b>[A-Z2-7]{16})\b",
    );
    aws.check = AWS;
    let mut twilio = pat(
        CRD004,
        "Twilio API key",
        Critical,
        r"\bSK(?P<b>[0-9a-fA-F]{32})\b",
    );
    twilio.check = UPPER;
    vec![
        aws,
        pat(
            CRD002,
            "GitHub token",
            Critical,
            r"\bgh[pousr]_(?P<b>[A-Za-z0-9]{36})\b",
        ),
        pat(
            CRD002,
            "GitHub fine-grained token",
            Critical,
            r"\bgithub_pat_(?P<b>[A-Za-z0-9_]{82})\b",
        ),
        pat(
            CRD003,
            "OpenAI API key",
            Critical,
            r"\bsk-(?:proj|svcacct|admin)-(?P<b>[A-Za-z0-9_-]{20,})",
        ),
        pat(
            CRD003,
            "OpenAI API key",
            Critical,
            r"\bsk-(?P<b>[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})\b",
        ),
        pat(
            CRD003,
            "Anthropic API key",
            Critical,
            r"\bsk-ant-(?:api03|admin01|oat01|ort01)-(?P<b>[A-Za-z0-9_-]{80,})",
        ),
        pat(
            CRD003,
            "Groq API key",
            Critical,
            r"\bgsk_(?P<b>[A-Za-z0-9]{52})\b",
        ),
        pat(
            CRD003,
            "Hugging Face token",
            Critical,
            r"\bhf_(?P<b>[A-Za-z]{34})\b",
        ),
        pat(
            CRD003,
            "Google API key",
            Critical,
            r"\bAIza(?P<b>[0-9A-Za-z_-]{35})\b",
        ),
        pat(
            CRD004,
            "Slack token",
            Critical,
            r"\bxox[abposr]-(?P<b>[A-Za-z0-9-]{10,})",
        ),
        pat(
            CRD004,
            "Slack app token",
            Critical,
            r"\bxapp-[0-9]-(?P<b>[A-Z0-9]+-[0-9]+-[a-z0-9]+)",
        ),
        pat(
            CRD004,
            "Slack webhook URL",
            Critical,
            r"https://hooks\.slack\.com/services/(?P<b>T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)",
        ),
        pat(
            CRD004,
            "Discord webhook URL",
            Critical,
            r"https://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/(?P<b>[0-9]+/[A-Za-z0-9_-]+)",
        ),
        pat(
            CRD004,
            "Telegram bot token",
            Critical,
            r"\b[0-9]{8,10}:(?P<b>AA[0-9A-Za-z_-]{33})\b",
        ),
        pat(
            CRD004,
            "Stripe live key",
            Critical,
            r"\b(?:sk|rk)_live_(?P<b>[0-9a-zA-Z]{24,})",
        ),
        pat(
            CRD004,
            "Stripe test-mode key",
            High,
            r"\b(?:sk|rk)_test_(?P<b>[0-9a-zA-Z]{24,})",
        ),
        twilio,
        pat(
            CRD004,
            "SendGrid API key",
            Critical,
            r"\bSG\.(?P<b>[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})\b",
        ),
        pat(
            CRD004,
            "npm access token",
            Critical,
            r"\bnpm_(?P<b>[A-Za-z0-9]{36})\b",
        ),
        pat(
            CRD004,
            "PyPI API token",
            Critical,
            r"\bpypi-AgEIcHlwaS5vcmc(?P<b>[A-Za-z0-9_-]{50,})",
        ),
        pat(
            CRD004,
            "GitLab personal access token",
            Critical,
            r"\bglpat-(?P<b>[A-Za-z0-9_-]{20})\b",
        ),
        pat(
            CRD004,
            "Tank API token",
            Critical,
            r"\btank_(?P<b>[0-9A-Za-z]{43})\b",
        ),
    ]
});

/// Loose prefix patterns: notes for placeholders the strict formats cannot match (module docs).
static LOOSE: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    const BODY: &str = r"(?P<b>[A-Za-z0-9*<>{}$_.-]{4,})";
    let sev = Severity::Info;
    vec![
        pat(
            CRD001,
            "AWS access key ID",
            sev,
            &format!(r"\b(?:AKIA|ASIA|ABIA|ACCA){BODY}"),
        ),
        pat(
            CRD002,
            "GitHub token",
            sev,
            &format!(r"\b(?:gh[pousr]_|github_pat_){BODY}"),
        ),
        pat(
            CRD003,
            "OpenAI API key",
            sev,
            &format!(r"\bsk-(?:proj-|svcacct-|admin-)?{BODY}"),
        ),
        pat(
            CRD003,
            "Anthropic API key",
            sev,
            &format!(r"\bsk-ant-(?:api03-|admin01-|oat01-|ort01-)?{BODY}"),
        ),
        pat(
            CRD003,
            "LLM provider key",
            sev,
            &format!(r"\b(?:gsk_|hf_|AIza){BODY}"),
        ),
        pat(
            CRD004,
            "SaaS token",
            sev,
            &format!(r"\b(?:xox[abposr]-|[sr]k_(?:live|test)_|npm_|glpat-|tank_|pypi-){BODY}"),
        ),
    ]
});

static AWS_WORD: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)aws|secret"));
static AWS_SECRET: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9/+]{40,}"));
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

/// Runs CRD-001–CRD-007 over the text.
pub(super) fn scan(s: &mut Scan) -> Result<(), StageError> {
    for p in STRICT.iter() {
        s.check()?;
        strict(s, p);
    }
    s.check()?;
    private_keys(s);
    s.check()?;
    jwts(s);
    s.check()?;
    connection_strings(s);
    s.seal();
    for p in LOOSE.iter() {
        s.check()?;
        loose(s, p);
    }
    s.seal();
    s.check()?;
    aws_secret_keys(s)?;
    s.seal();
    Ok(())
}

fn strict(s: &mut Scan, p: &Pattern) {
    let src = s.src;
    for c in p.re.captures_iter(src) {
        let Some(m) = c.get(0) else { continue };
        let value = m.as_str();
        let body = c.name("b").map_or(value, |b| b.as_str());
        s.claim(m.start(), m.end());
        let (severity, message) = if p.rule == CRD001 && value.ends_with("EXAMPLE") {
            (
                Severity::High,
                "The AWS documentation example access key ID (ending in EXAMPLE) is hardcoded; it is the documentation pair, not necessarily a live key.".to_string(),
            )
        } else if is_placeholder(value, body, p.check) {
            (
                Severity::Info,
                format!("A {} placeholder is not a live credential.", p.label),
            )
        } else {
            (p.severity, format!("A {} is hardcoded.", p.label))
        };
        s.hit(
            p.rule,
            severity,
            m.start(),
            value,
            message,
            VENDOR_CONFIDENCE,
        );
    }
}

fn loose(s: &mut Scan, p: &Pattern) {
    let src = s.src;
    for c in p.re.captures_iter(src) {
        let Some(m) = c.get(0) else { continue };
        let body = c.name("b").map_or(m.as_str(), |b| b.as_str());
        if s.claimed(m.start(), m.end()) || !is_placeholder(m.as_str(), body, FULL) {
            continue;
        }
        s.claim(m.start(), m.end());
        let message = format!("A {} placeholder is not a live credential.", p.label);
        s.hit(
            p.rule,
            Severity::Info,
            m.start(),
            m.as_str(),
            message,
            VENDOR_CONFIDENCE,
        );
    }
}

/// CRD-001, second half: a 40-character `[A-Za-z0-9/+]` value within 5 lines of `aws` or `secret`.
/// Exactly 40 characters between non-token characters; chosen filters against ordinary data: it mixes
/// upper case, lower case and digits, is not hex, is not a path and does not decode to printable text
/// (an AWS secret key is 30 random bytes).
fn aws_secret_keys(s: &mut Scan) -> Result<(), StageError> {
    let src = s.src;
    let bytes = src.as_bytes();
    let mut marked: Vec<u32> = Vec::new();
    for m in AWS_WORD.find_iter(src) {
        let l = s.line_of(m.start());
        if marked.last() != Some(&l) {
            marked.push(l);
        }
    }
    if marked.is_empty() {
        return Ok(());
    }
    for (n, m) in AWS_SECRET.find_iter(src).enumerate() {
        if n % 4096 == 0 {
            s.check()?;
        }
        let v = m.as_str();
        if v.len() != 40 || s.claimed(m.start(), m.end()) {
            continue;
        }
        let before = m.start().checked_sub(1).and_then(|i| bytes.get(i));
        if before.is_some_and(|b| matches!(b, b'_' | b'-' | b'.')) {
            continue;
        }
        let after = bytes.get(m.end());
        let next = bytes.get(m.end() + 1);
        if after.is_some_and(|b| matches!(b, b'=' | b'_' | b'-'))
            || (after == Some(&b'.') && next.is_some_and(|b| b.is_ascii_alphanumeric()))
        {
            continue;
        }
        let line = s.line_of(m.start());
        let i = marked.partition_point(|&l| l + 5 < line);
        if !marked.get(i).is_some_and(|&l| l <= line + 5) {
            continue;
        }
        let mixed = v.bytes().any(|b| b.is_ascii_uppercase())
            && v.bytes().any(|b| b.is_ascii_lowercase())
            && v.bytes().any(|b| b.is_ascii_digit());
        if !mixed || is_hex(v) || v.starts_with('/') || v.contains("//") || decodes_to_text(v) {
            continue;
        }
        s.claim(m.start(), m.end());
        let (severity, message) = if v.ends_with("EXAMPLEKEY") || v.ends_with("EXAMPLE") {
            (
                Severity::High,
                "The AWS documentation example secret access key (ending in EXAMPLEKEY) is hardcoded; it is the documentation pair, not necessarily a live key.".to_string(),
            )
        } else if is_placeholder(v, v, AWS) {
            (
                Severity::Info,
                "An AWS secret access key placeholder is not a live credential.".to_string(),
            )
        } else {
            (
                Severity::Critical,
                "An AWS secret access key is hardcoded near an AWS or secret reference."
                    .to_string(),
            )
        };
        s.hit(CRD001, severity, m.start(), v, message, VENDOR_CONFIDENCE);
    }
    Ok(())
}

pub(super) fn is_hex(v: &str) -> bool {
    v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// True when `v` decodes as standard or URL-safe base64 (padding optional) to ≥ 90 % printable text
/// (printable ASCII, tab, line breaks). Such literals are encoded data for the obfuscation re-scan, not
/// secrets (§8.3 CRD-010).
pub(super) fn decodes_to_text(v: &str) -> bool {
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

/// CRD-005: a PEM private-key header followed within 3 lines by a line of ≥ 40 base64 characters. RFC
/// 1421 header lines (`Proc-Type:`, `DEK-Info:`, `Version:`) and blank lines are not counted, and a key
/// written as one string with `\n` escapes is split at them (chosen).
fn private_keys(s: &mut Scan) {
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
                s.claim(m.start(), m.end());
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

/// CRD-006: a JWT whose header decodes (base64url) to a JSON object with `alg`.
fn jwts(s: &mut Scan) {
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

/// Passwords that are documentation words, not secrets (§8.3 CRD-007).
const WORD_PASSWORDS: [&str; 5] = ["pass", "passwd", "password", "secret", "pwd"];

/// CRD-007: a URL with `user:password@`; only the password is judged. Besides §8.3's list, a password
/// that is a format field (`{password}`, `%(pw)s`) is a template, not a secret (chosen).
fn connection_strings(s: &mut Scan) {
    let src = s.src;
    for c in CONN.captures_iter(src) {
        let (Some(m), Some(pw), Some(host), Some(scheme)) =
            (c.get(0), c.name("pw"), c.name("host"), c.name("scheme"))
        else {
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
