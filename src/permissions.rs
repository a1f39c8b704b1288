//! Declared skill permissions: the `Permissions` type, host and path coverage (SPEC §5 "Coverage") and the
//! permission-escalation check between a new version and its baseline (SPEC §5).
//!
//! Pure: no I/O. Schema validation of a declared `permissions` object lives in `manifest.rs`; this module reads
//! a value leniently and assumes the caller already validated it where validation matters.

use crate::domain::{Issue, PathSeg};
use crate::issue_path;
use serde_json::Value;
use std::cmp::Ordering;

/// The permissions a version declares. Absent means none (SPEC §5: `{}`, `subprocess` absent = false).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub outbound: Vec<String>,
    pub fs_read: Vec<String>,
    pub fs_write: Vec<String>,
    pub subprocess: bool,
}

impl Permissions {
    /// Lenient reading of a stored/declared `permissions` JSON value (absent or malformed parts = none).
    ///
    /// Non-string array entries are skipped; anything but `subprocess: true` is `false`.
    pub fn from_json(v: Option<&Value>) -> Permissions {
        let Some(obj) = v.and_then(Value::as_object) else {
            return Permissions::default();
        };
        let strings = |parent: &str, key: &str| -> Vec<String> {
            obj.get(parent)
                .and_then(|p| p.get(key))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Permissions {
            outbound: strings("network", "outbound"),
            fs_read: strings("filesystem", "read"),
            fs_write: strings("filesystem", "write"),
            subprocess: obj.get("subprocess") == Some(&Value::Bool(true)),
        }
    }

    /// True when nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.outbound.is_empty()
            && self.fs_read.is_empty()
            && self.fs_write.is_empty()
            && !self.subprocess
    }
}

/// Normalises a host entry (SPEC §5 Coverage): reduce `scheme://[user@]host[:port]/path` to the host, lower-case,
/// strip one trailing `.`. Entries without `://` are otherwise taken as they are (a bare `host:port` is not
/// reduced: the SPEC only names the URL form).
fn normalize_host(entry: &str) -> String {
    let host = match entry.split_once("://") {
        Some((_, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if hostport.starts_with('[') {
                // IPv6 literal: keep the brackets, drop a port after them.
                match hostport.find(']') {
                    Some(end) => &hostport[..=end],
                    None => hostport,
                }
            } else {
                hostport.split(':').next().unwrap_or("")
            }
        }
        None => entry,
    };
    let host = host.to_lowercase();
    match host.strip_suffix('.') {
        Some(h) => h.to_string(),
        None => host,
    }
}

/// Whether `host` is covered by one of the declared host entries (SPEC §5 Coverage; both sides normalised):
/// `*` covers everything; `*.d` covers every host ending in `.d` at any depth but not `d`; otherwise equality.
pub fn host_covered(list: &[String], host: &str) -> bool {
    let host = normalize_host(host);
    list.iter().any(|entry| {
        let entry = normalize_host(entry);
        if entry == "*" {
            return true;
        }
        // `*.d`: the suffix keeps its leading dot, so `d` itself is not covered.
        if let Some(suffix) = entry.strip_prefix("*").filter(|s| s.starts_with('.')) {
            return host.len() > suffix.len() && host.ends_with(suffix);
        }
        entry == host
    })
}

/// Strips one leading `./` (SPEC §5 Coverage).
fn normalize_path(p: &str) -> &str {
    p.strip_prefix("./").unwrap_or(p)
}

/// Whether `path` is covered by one of the declared path entries (SPEC §5 Coverage): after stripping a leading
/// `./`, `**` or `/**` covers everything; `p/**` covers `p` and every path starting with `p/`; otherwise equality.
pub fn path_covered(list: &[String], path: &str) -> bool {
    let path = normalize_path(path);
    list.iter().any(|entry| {
        let entry = normalize_path(entry);
        if entry == "**" || entry == "/**" {
            return true;
        }
        if let Some(base) = entry.strip_suffix("/**") {
            return path == base
                || path
                    .strip_prefix(base)
                    .is_some_and(|rest| rest.starts_with('/'));
        }
        entry == path
    })
}

/// How far apart two versions are (SPEC §5 "Bump level").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bump {
    Patch,
    Minor,
    Major,
}

/// Major numbers differ → major; else minor numbers differ → minor; else patch (this includes a prerelease →
/// release of the same `x.y`). No special case for `0.x` (SPEC §5, chosen).
fn bump_level(baseline: &semver::Version, new: &semver::Version) -> Bump {
    if baseline.major != new.major {
        Bump::Major
    } else if baseline.minor != new.minor {
        Bump::Minor
    } else {
        Bump::Patch
    }
}

/// SPEC §5 escalation: new version vs its baseline (the caller picks the baseline with [`pick_baseline`]).
///
/// Returns one issue per violation, in the order outbound (new list order), subprocess, read, write. Removals never
/// matter. *patch* rejects every addition; *minor* rejects outbound additions and subprocess enabling; *major*
/// allows everything. Entries are quoted in messages as declared (not normalised).
pub fn check_escalation(
    baseline_version: &semver::Version,
    baseline: &Permissions,
    new_version: &semver::Version,
    new: &Permissions,
) -> Vec<Issue> {
    let bump = bump_level(baseline_version, new_version);
    let mut issues = Vec::new();
    if bump == Bump::Major {
        return issues;
    }
    let base = |tail: Vec<PathSeg>| {
        let mut p = issue_path!["manifest", "permissions"];
        p.extend(tail);
        p
    };

    // Outbound additions and subprocess enabling need a major bump, so a minor or patch bump rejects both.
    for (i, host) in new.outbound.iter().enumerate() {
        if !host_covered(&baseline.outbound, host) {
            issues.push(Issue::new(
                base(issue_path!["network", "outbound", i]),
                format!(
                    "New outbound host {host} requires a major version bump (baseline {baseline_version})."
                ),
            ));
        }
    }
    if new.subprocess && !baseline.subprocess {
        issues.push(Issue::new(
            base(issue_path!["subprocess"]),
            format!(
                "Enabling subprocess requires a major version bump (baseline {baseline_version})."
            ),
        ));
    }

    // Filesystem additions need at least a minor bump.
    if bump == Bump::Patch {
        for (kind, new_list, base_list) in [
            ("read", &new.fs_read, &baseline.fs_read),
            ("write", &new.fs_write, &baseline.fs_write),
        ] {
            for (i, path) in new_list.iter().enumerate() {
                if !path_covered(base_list, path) {
                    issues.push(Issue::new(
                        base(issue_path!["filesystem", kind, i]),
                        format!(
                            "New filesystem {kind} path {path} requires a minor version bump \
                             (baseline {baseline_version})."
                        ),
                    ));
                }
            }
        }
    }
    issues
}

/// Picks the baseline from the published versions of a skill: the highest by SemVer precedence (build metadata
/// ignored) that is lower than `new_version`. `None` → no baseline, so any permissions are allowed (SPEC §5).
pub fn pick_baseline<'a, T>(
    published: &'a [(semver::Version, T)],
    new_version: &semver::Version,
) -> Option<&'a (semver::Version, T)> {
    published
        .iter()
        .filter(|(v, _)| crate::domain::precedence(v, new_version) == Ordering::Less)
        .max_by(|(a, _), (b, _)| crate::domain::precedence(a, b))
}

#[cfg(test)]
mod tests;
