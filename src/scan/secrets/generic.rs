//! The generic heuristics of SPEC §8.3 stage 4: CRD-008 (a credential-named assignment or key/value with
//! a strong constant value) and CRD-010 (a high-entropy literal in code). Both run after the vendor rules
//! and skip every span those claimed.

use super::{
    CRD008, CRD010, FULL, Scan, decodes_to_text, entropy, envfile, has_placeholder_word, is_hex,
    looks_like_env_name,
};
use crate::scan::StageError;
use crate::scan::kinds::{self, Kind};
use crate::scan::report::Severity;
use regex::Regex;
use std::sync::LazyLock;

/// §8.6: heuristics are 0.5–0.6; CRD-008 names what it holds, CRD-010 only looks random.
const CRD008_CONFIDENCE: f64 = 0.6;
const CRD010_CONFIDENCE: f64 = 0.5;

/// `name = "v"`, `name: "v"`, `"name": "v"`, `name := "v"`, `name => "v"`, `name: str = "v"`,
/// `obj["name"] = "v"`, with a Python string prefix allowed (an `f` prefix makes it non-constant).
static ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        (?P<id>[A-Za-z_$@][A-Za-z0-9_.$-]*)
        ["'`]?\]?
        [\ \t]*(?::[\ \t]*[A-Za-z_][A-Za-z0-9_.|\[\]]*[\ \t]*)?
        (?:=|:=|:|=>|\?\?=|\|\|=)
        [\ \t]*
        (?P<pre>[rRbBuUfF]{0,2})
        (?:"(?P<dq>[^"\\\r\n]*)"|'(?P<sq>[^'\\\r\n]*)'|`(?P<bq>[^`\\\r\n]*)`)
        "#,
    )
    .expect("constant regex")
});

/// `.env` / shell style: `[export ]NAME=value` with an unquoted value.
static ENV_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^[ \t]*(?:export[ \t]+)?(?P<id>[A-Za-z_][A-Za-z0-9_.]*)=(?P<v>[^\s"'`#$][^\s#]*)[ \t]*(?:#.*)?$"#)
        .expect("constant regex")
});

/// YAML plain scalar: `key: value` with an unquoted value.
static YAML_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^[ \t]*(?:-[ \t]+)?(?P<id>[A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:[ \t]+(?P<v>[^\s"'#|>&*!{\[%@`$][^\s#]*)[ \t]*(?:#.*)?$"#)
        .expect("constant regex")
});

/// A quoted literal of the base64/base64url alphabet, ≥ 32 characters (CRD-010).
static B64_LITERAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""(?P<dq>[A-Za-z0-9+/_=-]{32,})"|'(?P<sq>[A-Za-z0-9+/_=-]{32,})'|`(?P<bq>[A-Za-z0-9+/_=-]{32,})`"#)
        .expect("constant regex")
});

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        .expect("constant regex")
});
static ULID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$").expect("constant regex"));

const CRED_WORDS: [&str; 10] = [
    "key",
    "api",
    "token",
    "secret",
    "passwd",
    "password",
    "pwd",
    "auth",
    "credential",
    "private",
];
const DIGEST_WORDS: [&str; 5] = ["hash", "digest", "checksum", "integrity", "etag"];
const DIGEST_CONTEXT: [&str; 6] = ["integrity", "sha", "hash", "checksum", "digest", "etag"];

/// Last identifier words that name something *about* a credential rather than the credential itself
/// (`auth_type`, `secretName`, `token_url`, `api_key_id`; chosen).
const METADATA_WORDS: [&str; 24] = [
    "type", "mode", "method", "url", "uri", "endpoint", "host", "name", "version", "format", "env",
    "var", "path", "file", "dir", "field", "prefix", "kind", "scope", "scopes", "id", "label",
    "header", "provider",
];

/// CRD-008's identifier test. `author` does not count as `auth` (`authorization` does; chosen); `sha` counts as a word part
/// (`sha`, `sha1`, `fileSha256`), not inside `shared_secret` (chosen); metadata names are skipped.
fn credential_identifier(id: &str) -> bool {
    let lower = id
        .to_lowercase()
        .replace("authoriz", "auth")
        .replace("authoris", "auth")
        .replace("author", "");
    if !CRED_WORDS.iter().any(|w| lower.contains(w)) {
        return false;
    }
    if DIGEST_WORDS.iter().any(|w| lower.contains(w)) {
        return false;
    }
    let words = words(id);
    if words
        .last()
        .is_some_and(|w| METADATA_WORDS.contains(&w.as_str()))
    {
        return false;
    }
    !words.iter().any(|w| {
        w.strip_prefix("sha")
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// True when `v` holds 8 consecutive ascending characters (`abcdefgh`, `01234567`): an alphabet or
/// charset constant, which random secrets practically never contain (CRD-010, chosen).
fn has_alphabet_run(v: &str) -> bool {
    let b = v.as_bytes();
    let mut run = 1;
    for w in b.windows(2) {
        run = if w[1] == w[0].wrapping_add(1) {
            run + 1
        } else {
            1
        };
        if run >= 8 {
            return true;
        }
    }
    false
}

/// Splits an identifier into lower-case words at `_ - . $ @` and camelCase boundaries.
fn words(id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in id.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_url(v: &str) -> bool {
    let Some((scheme, _)) = v.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
}

/// A file-system path: absolute, relative, home or drive prefix, backslashes, or slashes with a file
/// extension at the end.
fn is_path(v: &str) -> bool {
    let b = v.as_bytes();
    let ext = v.rsplit_once('.').is_some_and(|(_, e)| {
        (1..=5).contains(&e.len()) && e.bytes().all(|c| c.is_ascii_alphanumeric())
    });
    v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("../")
        || v.starts_with("~/")
        || v.contains('\\')
        || (b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\')
        || (v.contains('/') && ext)
}

fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
}

/// CRD-008 over quoted values everywhere, plus unquoted `.env`/shell scalars (env and shell files,
/// Markdown, text) and YAML scalars.
pub(super) fn assignments(s: &mut Scan) -> Result<(), StageError> {
    let src = s.src;
    let mut seen = 0usize;
    for c in ASSIGN.captures_iter(src) {
        seen += 1;
        if seen % 4096 == 0 {
            s.check()?;
        }
        let (Some(id), Some(v)) = (c.name("id"), c.name("dq").or(c.name("sq")).or(c.name("bq")))
        else {
            continue;
        };
        let pre = c.name("pre").map_or("", |p| p.as_str());
        if pre.contains(['f', 'F']) || (c.name("bq").is_some() && v.as_str().contains("${")) {
            // f-strings and JS template literals with substitutions are not constants.
            continue;
        }
        judge(s, id.as_str(), v.as_str(), v.start(), v.end());
    }
    // Whole-line `NAME=value` also in Markdown and text files (chosen): shell fences and pasted `.env`
    // blocks are how credentials end up in READMEs.
    let style = match kinds::kind_by_name(s.path) {
        Kind::Yaml => Some(&*YAML_LINE),
        Kind::Shell | Kind::Markdown | Kind::Text => Some(&*ENV_LINE),
        _ if envfile::is_env_style(s.path) => Some(&*ENV_LINE),
        _ => None,
    };
    if let Some(re) = style {
        s.check()?;
        for n in 1..=s.line_count() {
            if n % 4096 == 0 {
                s.check()?;
            }
            let line = s.line(n);
            let Some(c) = re.captures(line) else { continue };
            let (Some(id), Some(v)) = (c.name("id"), c.name("v")) else {
                continue;
            };
            let base = s.line_start(n);
            judge(s, id.as_str(), v.as_str(), base + v.start(), base + v.end());
        }
    }
    s.seal();
    Ok(())
}

/// `Bearer <token>`, `Basic <base64>`, `token <t>`, `Bot <t>`: the credential after an HTTP auth
/// scheme is judged on its own (chosen; the value as a whole has whitespace).
static AUTH_SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i:bearer|basic|token|bot)[ \t]+(?P<t>[^\s]+)$").expect("constant regex")
});

fn judge(s: &mut Scan, id: &str, v: &str, start: usize, end: usize) {
    if let Some(t) = AUTH_SCHEME.captures(v).and_then(|c| c.name("t")) {
        return judge(s, id, t.as_str(), start + t.start(), end);
    }
    let len = v.chars().count();
    if !(10..=150).contains(&len)
        || v.chars().any(char::is_whitespace)
        || !credential_identifier(id)
        || is_url(v)
        || is_path(v)
        || is_email(v)
        || s.claimed(start, end)
    {
        return;
    }
    let (severity, message) = if has_placeholder_word(v, FULL) || looks_like_env_name(v) {
        (
            Severity::Info,
            format!(
                "The value of {} is a placeholder, not a live credential.",
                shown(id)
            ),
        )
    } else if entropy(v) >= 3.5 {
        (
            Severity::High,
            format!("{} is set to a hardcoded credential-like value.", shown(id)),
        )
    } else {
        return;
    };
    s.claim(start, end);
    s.hit(CRD008, severity, start, v, message, CRD008_CONFIDENCE);
}

/// An identifier as shown in a message: at most 60 characters of the name itself.
fn shown(id: &str) -> String {
    let t: String = id.chars().take(60).collect();
    format!("`{t}`")
}

/// CRD-010: code files only (the caller decides).
pub(super) fn high_entropy(s: &mut Scan) -> Result<(), StageError> {
    let src = s.src;
    let mut seen = 0usize;
    for c in B64_LITERAL.captures_iter(src) {
        seen += 1;
        if seen % 4096 == 0 {
            s.check()?;
        }
        let Some(m) = c.name("dq").or(c.name("sq")).or(c.name("bq")) else {
            continue;
        };
        let v = m.as_str();
        let core = v.trim_end_matches('=');
        if core.contains('=') || v.len() - core.len() > 2 || s.claimed(m.start(), m.end()) {
            continue;
        }
        let mixed = v.bytes().any(|b| b.is_ascii_uppercase())
            && v.bytes().any(|b| b.is_ascii_lowercase())
            && v.bytes().any(|b| b.is_ascii_digit());
        let hexish = v.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if !mixed || hexish || is_hex(v) || UUID.is_match(v) || ULID.is_match(v) {
            continue;
        }
        let line = s.line(s.line_of(m.start())).to_lowercase();
        if DIGEST_CONTEXT.iter().any(|w| line.contains(w)) {
            continue;
        }
        if entropy(v) < 4.5 || decodes_to_text(v) || has_alphabet_run(v) {
            continue;
        }
        let (severity, message) = if has_placeholder_word(v, FULL) {
            (
                Severity::Info,
                "A high-entropy literal holds a placeholder word, not a live credential."
                    .to_string(),
            )
        } else {
            (
                Severity::Low,
                "A high-entropy string literal may be a hardcoded secret.".to_string(),
            )
        };
        s.claim(m.start(), m.end());
        s.hit(CRD010, severity, m.start(), v, message, CRD010_CONFIDENCE);
    }
    s.seal();
    Ok(())
}
