//! CRD-009 `env_file_with_values` (SPEC §8.3 stage 4): configuration files that exist to hold
//! credentials — `.env` files, `.npmrc`, `.pypirc`, `.netrc`, `.git-credentials`, `.docker/config.json` —
//! shipped with a real value. One finding per file (chosen), at the most severe entry: critical when a
//! value's line also holds a CRD-001–CRD-007 finding, else high; a file whose values are all placeholders
//! gets one note.

use super::{CRD009, FULL, Scan, VENDOR_CONFIDENCE, file_name, is_placeholder};
use crate::scan::report::Severity;
use crate::scan::vocab::is_credname;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CredFile {
    Env,
    Npmrc,
    Pypirc,
    Netrc,
    GitCredentials,
    DockerConfig,
}

/// Name parts that mark a template rather than a live env file (§8.3 CRD-009, §8.2 ENV files).
const TEMPLATE_PARTS: [&str; 5] = ["example", "sample", "template", "dist", "defaults"];

fn cred_file(path: &str) -> Option<CredFile> {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    let template = lower.split('.').any(|part| TEMPLATE_PARTS.contains(&part));
    let env = lower == ".env"
        || lower == ".envrc"
        || (lower.starts_with(".env.") && lower.len() > 5)
        || (lower.ends_with(".env") && lower.len() > 4);
    if env {
        return (!template).then_some(CredFile::Env);
    }
    match lower.as_str() {
        ".npmrc" => Some(CredFile::Npmrc),
        ".pypirc" => Some(CredFile::Pypirc),
        ".netrc" | "_netrc" => Some(CredFile::Netrc),
        ".git-credentials" => Some(CredFile::GitCredentials),
        "config.json"
            if path == ".docker/config.json" || path.ends_with("/.docker/config.json") =>
        {
            Some(CredFile::DockerConfig)
        }
        _ => None,
    }
}

/// A `.env`-style file whose unquoted `NAME=value` lines CRD-008 reads as values.
pub(super) fn is_env_style(path: &str) -> bool {
    cred_file(path) == Some(CredFile::Env)
}

/// One credential entry of a file.
struct Entry {
    key: String,
    value: String,
    line: u32,
}

pub(super) fn scan(s: &mut Scan) {
    let Some(kind) = cred_file(s.path) else {
        return;
    };
    let entries = match kind {
        CredFile::Env => env_entries(s),
        CredFile::Npmrc => ini_entries(s, |k| {
            let last = k.rsplit(':').next().unwrap_or(k);
            matches!(last, "_authToken" | "_auth" | "_password")
        }),
        CredFile::Pypirc => ini_entries(s, |k| k.eq_ignore_ascii_case("password")),
        CredFile::Netrc => netrc_entries(s),
        CredFile::GitCredentials => git_credential_entries(s),
        CredFile::DockerConfig => docker_entries(s),
    };
    let vendor_lines: Vec<u32> = s
        .hits
        .iter()
        .filter(|h| {
            !matches!(h.rule.id, "CRD-008" | "CRD-009" | "CRD-010") && h.severity != Severity::Info
        })
        .map(|h| h.line)
        .collect();
    let (real, placeholders): (Vec<&Entry>, Vec<&Entry>) = entries
        .iter()
        .filter(|e| !e.value.is_empty() && !is_reference(&e.value))
        .partition(|e| !is_placeholder(&e.value, &e.value, FULL));
    let name = file_name(s.path).to_string();
    if let Some(first) = real.first() {
        // Reported at the most telling entry: one with a vendor secret, else one with a credential
        // name (§8.2 CREDNAME), else the first.
        let critical = real.iter().find(|e| vendor_lines.contains(&e.line));
        let (severity, at) = match critical {
            Some(e) => (Severity::Critical, *e),
            None => (
                Severity::High,
                *real.iter().find(|e| is_credname(&e.key)).unwrap_or(first),
            ),
        };
        let keys: Vec<String> = real
            .iter()
            .take(3)
            .map(|e| e.key.chars().take(40).collect())
            .collect();
        let more = if real.len() > 3 {
            format!(" and {} more", real.len() - 3)
        } else {
            String::new()
        };
        let message = format!(
            "`{name}` ships {} value(s) ({}{more}); a packaged env or credential file leaks what it holds to every user.",
            real.len(),
            keys.join(", ")
        );
        let value = at.value.clone();
        let line = at.line;
        s.push(super::Hit {
            rule: CRD009,
            severity,
            line,
            value,
            message,
            confidence: VENDOR_CONFIDENCE,
        });
    } else if let Some(first) = placeholders.first() {
        let message = format!("`{name}` holds only placeholder values, not live credentials.");
        let (value, line) = (first.value.clone(), first.line);
        s.push(super::Hit {
            rule: CRD009,
            severity: Severity::Info,
            line,
            value,
            message,
            confidence: VENDOR_CONFIDENCE,
        });
    }
}

/// `${NAME}`, `$NAME`, `$(cmd)`, `$PATH:bin`: an expansion, not a value (§8.3 "not `${…}`"; any
/// leading `$` counts, chosen, since `.envrc` and many `.env` loaders expand it).
fn is_reference(v: &str) -> bool {
    v.starts_with('$')
}

/// Strips one pair of matching quotes, or an inline ` #` comment from an unquoted value.
fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\'', '`'] {
        if let Some(inner) = v.strip_prefix(q) {
            return match inner.find(q) {
                Some(i) => inner.get(..i).unwrap_or("").to_string(),
                None => inner.to_string(),
            };
        }
    }
    let cut = v.find(" #").or_else(|| v.find("\t#")).unwrap_or(v.len());
    v.get(..cut).unwrap_or("").trim().to_string()
}

/// `[export ]NAME=value` lines (`.env`, `.env.*`, `*.env`, `.envrc`).
fn env_entries(s: &Scan) -> Vec<Entry> {
    let mut out = Vec::new();
    for n in 1..=s.line_count() {
        let l = s.line(n).trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").map_or(l, str::trim_start);
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let k = k.trim();
        let valid = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if valid {
            out.push(Entry {
                key: k.to_string(),
                value: unquote(v),
                line: n,
            });
        }
    }
    out
}

/// `key = value` / `key: value` lines whose key passes `wanted` (`.npmrc`, `.pypirc`).
fn ini_entries(s: &Scan, wanted: impl Fn(&str) -> bool) -> Vec<Entry> {
    let mut out = Vec::new();
    for n in 1..=s.line_count() {
        let l = s.line(n).trim();
        if l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        let split = match (l.find('='), l.find(": ")) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(i) = split else { continue };
        let (k, v) = (
            l.get(..i).unwrap_or("").trim(),
            l.get(i + 1..).unwrap_or(""),
        );
        if wanted(k) {
            out.push(Entry {
                key: k.to_string(),
                value: unquote(v),
                line: n,
            });
        }
    }
    out
}

/// `.netrc`: the token after each `password` token, across lines.
fn netrc_entries(s: &Scan) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut want = false;
    let mut machine = String::from("default");
    let mut next_is_machine = false;
    for n in 1..=s.line_count() {
        for tok in s.line(n).split_whitespace() {
            if want {
                out.push(Entry {
                    key: format!("password for {machine}"),
                    value: tok.to_string(),
                    line: n,
                });
                want = false;
            } else if next_is_machine {
                machine = tok.chars().take(60).collect();
                next_is_machine = false;
            } else if tok == "password" {
                want = true;
            } else if tok == "machine" {
                next_is_machine = true;
            }
        }
    }
    out
}

/// `.git-credentials`: one `scheme://user:password@host` per line; the password (or a lone user part,
/// which is then a token) is the value.
fn git_credential_entries(s: &Scan) -> Vec<Entry> {
    let mut out = Vec::new();
    for n in 1..=s.line_count() {
        let l = s.line(n).trim();
        let Some((_, rest)) = l.split_once("://") else {
            continue;
        };
        let Some((userinfo, host)) = rest.rsplit_once('@') else {
            continue;
        };
        let value = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
        let host: String = host
            .split('/')
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        out.push(Entry {
            key: format!("credentials for {host}"),
            value: value.to_string(),
            line: n,
        });
    }
    out
}

/// `.docker/config.json`: `auths.<registry>.auth`.
fn docker_entries(s: &Scan) -> Vec<Entry> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(s.src) else {
        return Vec::new();
    };
    let Some(auths) = v.get("auths").and_then(|a| a.as_object()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (registry, entry) in auths {
        let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) else {
            continue;
        };
        let line = if auth.is_empty() {
            1
        } else {
            s.src
                .find(&format!("\"{auth}\""))
                .map_or(1, |i| s.line_of(i))
        };
        out.push(Entry {
            key: format!("auth for {}", registry.chars().take(60).collect::<String>()),
            value: auth.to_string(),
            line,
        });
    }
    out
}
