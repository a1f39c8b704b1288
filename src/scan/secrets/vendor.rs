//! CRD-001–CRD-004 (SPEC §8.3 stage 4): vendor key formats and the AWS secret-key pair; this module also
//! runs the structural rules of `embedded.rs` (CRD-005–CRD-007). Vendor matches claim their spans so the
//! generic heuristics (CRD-008, CRD-010) never report the same value again.
//!
//! Placeholders that a strict format cannot match (`"sk-" + 40 × "x"`, `ghp_<your-token>`) are found by a
//! *loose* prefix pattern per vendor family and become notes of that rule; a loose match that is not a
//! placeholder is left to the generic rules (chosen).

use super::embedded;
use super::{
    CRD001, CRD002, CRD003, CRD004, Check, Rule, Scan, VENDOR_CONFIDENCE, decodes_to_text, is_hex,
    is_placeholder, re,
};
use crate::scan::StageError;
use crate::scan::report::Severity;
use regex::Regex;
use std::sync::LazyLock;

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
    // `ASIAN_MARKETS` is a word, not an AWS placeholder: no environment-variable-name test here.
    let mut aws = pat(
        CRD001,
        "AWS access key ID",
        sev,
        &format!(r"\b(?:AKIA|ASIA|ABIA|ACCA){BODY}"),
    );
    aws.check = UPPER;
    vec![
        aws,
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

/// Runs CRD-001–CRD-007 over the text.
pub(super) fn scan(s: &mut Scan) -> Result<(), StageError> {
    for p in STRICT.iter() {
        s.check()?;
        strict(s, p);
    }
    s.check()?;
    embedded::private_keys(s);
    s.check()?;
    embedded::jwts(s);
    s.check()?;
    embedded::connection_strings(s);
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
        if s.claimed(m.start(), m.end()) || !is_placeholder(m.as_str(), body, p.check) {
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
        if marked.get(i).is_none_or(|&l| l > line + 5) {
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
