//! Domain types shared by every layer: skill names, versions, validation issues, ids and timestamps.
//! Knows nothing about HTTP or SQL.

use serde::{Serialize, Serializer};
use std::fmt;

/// Maximum length of a skill name (SPEC §1).
pub const MAX_NAME_LEN: usize = 214;

/// One element of a validation issue path: an object key or an array index (SPEC §2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

impl Serialize for PathSeg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PathSeg::Key(k) => s.serialize_str(k),
            PathSeg::Index(i) => s.serialize_u64(*i as u64),
        }
    }
}

impl From<&str> for PathSeg {
    fn from(s: &str) -> Self {
        PathSeg::Key(s.to_string())
    }
}

impl From<usize> for PathSeg {
    fn from(i: usize) -> Self {
        PathSeg::Index(i)
    }
}

/// A 422 validation issue: where (path) and what (one human sentence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub path: Vec<PathSeg>,
    pub message: String,
}

impl Issue {
    pub fn new(path: Vec<PathSeg>, message: impl Into<String>) -> Self {
        Issue {
            path,
            message: message.into(),
        }
    }
}

/// Builds an issue path from a list of keys and indexes: `issue_path!["manifest", "version"]`.
#[macro_export]
macro_rules! issue_path {
    ($($seg:expr),* $(,)?) => { vec![$($crate::domain::PathSeg::from($seg)),*] };
}

/// `^(@[a-z0-9-]+\/)?[a-z0-9-]+$`, at most 214 characters (SPEC §1). Exact: no trimming, no case folding.
pub fn is_valid_skill_name(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match name.strip_prefix('@') {
        Some(rest) => match rest.split_once('/') {
            Some((scope, bare)) => part_ok(scope) && part_ok(bare),
            None => false,
        },
        None => part_ok(name),
    }
}

/// Splits a valid name into (scope without `@`, bare name).
pub fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.strip_prefix('@').and_then(|r| r.split_once('/')) {
        Some((scope, bare)) => (Some(scope), bare),
        None => (None, name),
    }
}

/// Strict SemVer 2.0.0 as the `semver` crate parses it (no leading `v`, no leading zeros).
pub fn parse_version(s: &str) -> Option<semver::Version> {
    semver::Version::parse(s).ok()
}

/// The (major, minor, patch, prerelease) key: two versions that differ only in build metadata are the same
/// version for uniqueness (SPEC §2.3, §4.1).
pub fn version_key(v: &semver::Version) -> String {
    let mut k = format!("{}.{}.{}", v.major, v.minor, v.patch);
    if !v.pre.is_empty() {
        k.push('-');
        k.push_str(v.pre.as_str());
    }
    k
}

/// Compares by SemVer precedence only (build metadata ignored), unlike `semver::Version::cmp`.
pub fn precedence(a: &semver::Version, b: &semver::Version) -> std::cmp::Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| a.pre.cmp(&b.pre))
}

/// Skill visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Visibility::Public),
            "private" => Some(Visibility::Private),
            _ => None,
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new identifier: prefix + 26-character ULID (SPEC §2.6).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// ISO-8601 UTC with exactly three fractional digits and `Z` (SPEC §2.6).
pub fn format_ts(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `sha512-` + standard base64 of a SHA-512 digest: the `integrity` of a tarball (SPEC §3.6).
pub fn integrity_of(digest: &[u8]) -> String {
    use base64::Engine;
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_skill_name("@acme/hello-world"));
        assert!(is_valid_skill_name("pdf-tools"));
        assert!(!is_valid_skill_name("@acme"));
        assert!(!is_valid_skill_name("@acme/"));
        assert!(!is_valid_skill_name("Hello"));
        assert!(!is_valid_skill_name("@a/b/c"));
        assert!(!is_valid_skill_name(" x"));
        assert!(!is_valid_skill_name(&"a".repeat(215)));
        assert!(is_valid_skill_name(&"a".repeat(214)));
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ts(1_772_362_800_123), "2026-03-01T11:00:00.123Z");
    }

    #[test]
    fn version_keys_ignore_build() {
        let a = parse_version("1.0.0-rc.1+b1").unwrap();
        assert_eq!(version_key(&a), "1.0.0-rc.1");
        assert!(parse_version("v1.0.0").is_none());
        assert!(parse_version("01.0.0").is_none());
        assert!(parse_version("1.0").is_none());
    }
}
