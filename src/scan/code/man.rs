//! MAN-001 – MAN-003 (SPEC §8.3): capabilities of the package's runtime code against its declared
//! permissions, each at most once per package (§8.9 "an undeclared network capability is one high per
//! package"). The finding points at the first use; the evidence lists what is not covered.

use super::{Capabilities, STAGE};
use crate::permissions::{Permissions, host_covered, path_covered};
use crate::scan::report::{Finding, Severity};
use crate::scan::vocab::is_loopback_host;

/// Evidence placeholder for a URL whose host is not constant (§8.3 MAN-001).
const DYNAMIC: &str = "<dynamic>";

fn at(f: Finding, file: &str, line: u32) -> Finding {
    let mut f = f;
    f.file = Some(file.to_string());
    f.line = Some(line);
    f.with_confidence(0.9)
}

/// A constant write target MAN-003 judges: absolute, `~`-based or escaping the package with `..`.
pub fn is_outside_write(path: &str) -> bool {
    if path.starts_with('/') || path.starts_with('~') {
        return true;
    }
    let mut depth: i32 = 0;
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn dedup_push(list: &mut Vec<String>, s: String) {
    if !list.contains(&s) {
        list.push(s);
    }
}

pub fn man_findings(caps: &Capabilities, declared: &Permissions) -> Vec<Finding> {
    let mut out = Vec::new();
    // MAN-001. Loopback hosts count as declared (§8.3 CODE-001), so a package that only talks to
    // localhost has nothing undeclared (chosen).
    let mut uncovered: Vec<String> = Vec::new();
    let mut first = None;
    for n in &caps.net {
        let miss = match &n.host {
            Some(h) if is_loopback_host(h) => None,
            Some(h) if !host_covered(&declared.outbound, h) => Some(h.clone()),
            Some(_) => None,
            None if declared.outbound.is_empty() => Some(DYNAMIC.to_string()),
            None => None,
        };
        if let Some(m) = miss {
            first.get_or_insert(n);
            dedup_push(&mut uncovered, m);
        }
    }
    if let Some(n) = first {
        let f = Finding::fact(
            STAGE,
            Severity::High,
            "MAN-001",
            "undeclared_network",
            format!(
                "Runtime code uses the network to {} without a matching network.outbound permission.",
                uncovered.join(", ")
            ),
            None,
        )
        .with_evidence(uncovered.join(", "));
        out.push(at(f, &n.file, n.line));
    }
    // MAN-002.
    if !declared.subprocess
        && let Some((file, line)) = caps.subprocess.first()
    {
        let mut sites: Vec<String> = Vec::new();
        for (f, l) in &caps.subprocess {
            dedup_push(&mut sites, format!("{f}:{l}"));
        }
        let f = Finding::fact(
            STAGE,
            Severity::High,
            "MAN-002",
            "undeclared_subprocess",
            "Runtime code runs processes but the package does not declare subprocess: true.",
            None,
        )
        .with_evidence(sites.join(", "));
        out.push(at(f, file, *line));
    }
    // MAN-003.
    let mut paths: Vec<String> = Vec::new();
    let mut first = None;
    for w in &caps.fs_writes {
        if is_outside_write(&w.path) && !path_covered(&declared.fs_write, &w.path) {
            first.get_or_insert(w);
            dedup_push(&mut paths, w.path.clone());
        }
    }
    if let Some(w) = first {
        let f = Finding::fact(
            STAGE,
            Severity::Medium,
            "MAN-003",
            "undeclared_filesystem_write",
            format!(
                "Runtime code writes to {} outside the declared filesystem.write permission.",
                paths.join(", ")
            ),
            None,
        )
        .with_evidence(paths.join(", "));
        out.push(at(f, &w.file, w.line));
    }
    out
}
