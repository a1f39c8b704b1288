//! What stage 5 knows about one dependency, and the rules that judge it (SPEC §8.3 SUP-002, SUP-003,
//! SUP-004, SUP-006): version classes of PEP 440 / Poetry / npm ranges, untrusted sources, typosquats.

use super::data::{self, Eco, Entry};
use super::{Origin, Out};
use crate::scan::report::Severity;
use crate::scan::vocab;

/// How tightly a version requirement is pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerClass {
    /// No specifier, `*`, `latest` (SUP-002 medium).
    Unpinned,
    /// Only lower bounds (SUP-002 low).
    LowerOnly,
    /// Has an upper bound (or is a tag we do not judge).
    Bounded,
    /// Pinned to exactly this version (SUP-006 looks it up).
    Exact(String),
}

/// Where a dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Req {
    Version(VerClass),
    /// A source other than the default registry (SUP-004): what it is, and the URL when there is one
    /// (a suspicious URL makes an installer-line finding high).
    Untrusted {
        what: String,
        url: Option<String>,
    },
    /// A local path inside the package, a workspace reference: nothing to judge.
    Local,
}

#[derive(Debug, Clone)]
pub struct Dep {
    pub eco: Eco,
    pub name: String,
    pub req: Req,
    pub line: Option<u32>,
    pub evidence: String,
}

/// PEP 440 specifier set (`>=1,<2`, `==1.0.*`, `~=1.2`), also `*` and `latest`.
pub fn classify_pep440(spec: &str) -> VerClass {
    let s = spec
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    if s.is_empty() || s == "*" || s.eq_ignore_ascii_case("latest") {
        return VerClass::Unpinned;
    }
    let mut lower = false;
    let mut upper = false;
    for clause in s.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (op, v) = split_op(clause);
        let v = v.trim();
        // `==*`, `==latest`: no version at all (SPEC §8.3 SUP-002 "`*` or `latest`").
        if v == "*" || v.eq_ignore_ascii_case("latest") {
            continue;
        }
        match op {
            "===" => return VerClass::Exact(v.to_string()),
            "==" if !v.contains('*') => return VerClass::Exact(v.to_string()),
            "==" | "~=" | "<" | "<=" => upper = true,
            ">=" | ">" => lower = true,
            "!=" => {}
            // A bare version (Poetry-style) is exact.
            _ => return VerClass::Exact(v.to_string()),
        }
    }
    if upper {
        VerClass::Bounded
    } else if lower {
        VerClass::LowerOnly
    } else {
        // Only `!=` clauses constrain nothing (chosen: as unpinned).
        VerClass::Unpinned
    }
}

fn split_op(clause: &str) -> (&str, &str) {
    for op in ["===", "==", "~=", "!=", "<=", ">=", "<", ">", "="] {
        if let Some(rest) = clause.strip_prefix(op) {
            return (if op == "=" { "==" } else { op }, rest);
        }
    }
    ("", clause)
}

/// Poetry constraints: `^1.2`, `~1.2` (bounded), `1.2.3` (exact), `*`, PEP 440 operators, `||`.
pub fn classify_poetry(spec: &str) -> VerClass {
    combine(spec.split("||").map(|alt| {
        let a = alt.trim();
        if (a.starts_with('^') || a.starts_with('~')) && !a.starts_with("~=") {
            VerClass::Bounded
        } else {
            classify_pep440(a)
        }
    }))
}

/// Alternatives: any unpinned one makes the whole unpinned, then lower-only; a single exact stays exact.
fn combine(alts: impl Iterator<Item = VerClass>) -> VerClass {
    let alts: Vec<VerClass> = alts.collect();
    if alts.contains(&VerClass::Unpinned) {
        VerClass::Unpinned
    } else if alts.contains(&VerClass::LowerOnly) {
        VerClass::LowerOnly
    } else if alts.len() == 1 {
        alts.into_iter().next().unwrap_or(VerClass::Bounded)
    } else {
        VerClass::Bounded
    }
}

/// npm semver ranges (SPEC §8.3 SUP-002: `*`, `latest`, `""`, `x` → unpinned; `>=` without an upper
/// bound → lower-only). Dist-tags other than `latest` are not judged (chosen).
pub fn classify_npm_range(range: &str) -> VerClass {
    let r = range.trim();
    if matches!(r, "" | "*" | "latest" | "x" | "X") {
        return VerClass::Unpinned;
    }
    combine(r.split("||").map(classify_npm_alt))
}

fn classify_npm_alt(alt: &str) -> VerClass {
    let a = alt.trim();
    if matches!(a, "" | "*" | "x" | "X") {
        return VerClass::Unpinned;
    }
    if a.contains(" - ") {
        return VerClass::Bounded;
    }
    // Join a lone operator with the version after it (`>= 1.2`).
    let mut toks: Vec<String> = Vec::new();
    let mut pending = String::new();
    for t in a.split_whitespace() {
        if t.chars().all(|c| matches!(c, '<' | '>' | '=' | '~' | '^')) {
            pending.push_str(t);
            continue;
        }
        toks.push(format!("{pending}{t}"));
        pending.clear();
    }
    if toks.len() == 1 {
        let t = toks[0].as_str();
        let bare = t.trim_start_matches('=').trim_start_matches('v');
        if is_full_semver(bare) && !t.starts_with(['<', '>', '~', '^']) {
            return VerClass::Exact(bare.to_string());
        }
    }
    let upper = toks
        .iter()
        .any(|t| t.starts_with(['<', '^', '~']) || !t.starts_with('>'));
    let lower = toks.iter().any(|t| t.starts_with('>'));
    if upper {
        VerClass::Bounded
    } else if lower {
        VerClass::LowerOnly
    } else {
        VerClass::Bounded
    }
}

fn is_full_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// True for a URL whose host is a default registry of the ecosystem (SPEC §8.3 SUP-004 "non-default").
pub fn is_default_registry(eco: Eco, url: &str) -> bool {
    let Ok(u) = url::Url::parse(url.trim().trim_matches(['"', '\''])) else {
        return false;
    };
    let Some(host) = u.host_str() else {
        return false;
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let defaults: &[&str] = match eco {
        Eco::Pypi => &["pypi.org", "pypi.python.org", "files.pythonhosted.org"],
        Eco::Npm => &[
            "registry.npmjs.org",
            "registry.npmjs.com",
            "registry.yarnpkg.com",
        ],
    };
    u.scheme() == "https" && defaults.contains(&host.as_str())
}

/// SUP-003: the popular name `name` imitates, if any. Thresholds of SPEC §8.3 on the shorter of the
/// two names (chosen): distance 1 needs ≥ 4 characters, distance 2 needs ≥ 8; names on the list never
/// match. npm scopes are compared separately from the name part.
pub fn typosquat(eco: Eco, name: &str) -> Option<&'static str> {
    let n = data::normalise(eco, name);
    let pop = data::popular(eco);
    if n.is_empty() || pop.set.contains(&n) {
        return None;
    }
    let (scope, part) = data::split_scope(&n);
    let part_hist = data::histogram(part);
    let part_mask = data::mask(&part_hist);
    let part_len = part.chars().count();
    // (distance, entry index): the smaller distance wins, then the earlier (more popular) entry.
    let mut best: Option<(usize, usize)> = None;
    let mut consider = |i: usize, a: &str, b: &str| {
        let d = strsim::damerau_levenshtein(a, b);
        let m = a.chars().count().min(b.chars().count());
        let hit = (d == 1 && m >= 4) || (d == 2 && m >= 8);
        if hit && best.is_none_or(|b| (d, i) < b) {
            best = Some((d, i));
        }
    };
    // Same scope (or both unscoped): compare the name parts. An edit changes the length by at most one
    // and the character histogram by at most two, so both filter before the edit distance.
    for len in part_len.saturating_sub(2)..=part_len + 2 {
        for &i in pop.by_len.get(len).map(Vec::as_slice).unwrap_or(&[]) {
            let e = &pop.entries[i];
            // Buckets present in only one name each need at least one edit's share of the histogram.
            if (part_mask ^ e.part_mask).count_ones() <= 4
                && e.scope.as_deref() == scope
                && data::hist_distance(&part_hist, &e.part_hist) <= 4
            {
                consider(i, part, &e.part);
            }
        }
    }
    // Same name part in a look-alike scope.
    if let Some(sc) = scope {
        let scope_hist = data::histogram(sc);
        for &i in &pop.scoped {
            let e = &pop.entries[i];
            if e.part == part && data::hist_distance(&scope_hist, &e.scope_hist) <= 4 {
                consider(i, sc, e.scope.as_deref().unwrap_or(""));
            }
        }
    }
    best.map(|(_, i)| pop.entries[i].name.as_str())
}

fn eco_label(eco: Eco) -> &'static str {
    match eco {
        Eco::Pypi => "PyPI",
        Eco::Npm => "npm",
    }
}

/// Applies SUP-002, SUP-003, SUP-004 and SUP-006 to one dependency. SUP-002 applies to dependency files
/// and MCP launch commands, never to installer lines (SPEC §8.3 stage 5 paragraph).
pub fn check(dep: &Dep, origin: Origin, out: &mut Out) {
    // Past the deadline the stage is reported as errored (§8.1); stop doing work.
    if out.expired() {
        return;
    }
    let label = eco_label(dep.eco);
    if let Some(p) = typosquat(dep.eco, &dep.name) {
        out.push(
            Severity::High,
            "SUP-003",
            "typosquatting",
            format!(
                "{label} package \"{}\" is a near-miss of the popular package \"{p}\" (possible typosquat).",
                dep.name
            ),
            dep.line,
            p.to_string(),
        );
        out.last_confidence(0.6);
    }
    match &dep.req {
        Req::Version(VerClass::Unpinned) if origin != Origin::Installer => out.push(
            Severity::Medium,
            "SUP-002",
            "unpinned_dependency",
            format!(
                "{label} dependency \"{}\" has no version pin, so any future release is installed.",
                dep.name
            ),
            dep.line,
            dep.evidence.clone(),
        ),
        Req::Version(VerClass::LowerOnly) if origin == Origin::Manifest => out.push(
            Severity::Low,
            "SUP-002",
            "loose_version_range",
            format!(
                "{label} dependency \"{}\" has only a lower version bound.",
                dep.name
            ),
            dep.line,
            dep.evidence.clone(),
        ),
        Req::Version(VerClass::Exact(v)) => {
            let entry = match dep.eco {
                Eco::Npm => Entry::Npm(data::npm_norm(&dep.name), v.clone()),
                Eco::Pypi => Entry::Pypi(data::pep503(&dep.name), v.clone()),
            };
            if data::is_blocked(&entry) {
                out.push(
                    Severity::Critical,
                    "SUP-006",
                    "known_malicious",
                    format!(
                        "{label} dependency \"{}\" is pinned to {v}, a known malicious release.",
                        dep.name
                    ),
                    dep.line,
                    dep.evidence.clone(),
                );
            }
        }
        Req::Untrusted { what, url } => {
            untrusted(
                origin,
                url.as_deref(),
                false,
                format!(
                    "{label} dependency \"{}\" comes from {what}, not from the registry.",
                    dep.name
                ),
                dep.line,
                &dep.evidence,
                out,
            );
        }
        _ => {}
    }
}

/// One SUP-004 finding. Dependency and configuration files: high. Installer lines and command strings:
/// medium, high for a suspicious host or `--trusted-host` (SPEC §8.3 SUP-004, chosen).
#[allow(clippy::too_many_arguments)]
pub fn untrusted(
    origin: Origin,
    url: Option<&str>,
    trusted_host: bool,
    message: String,
    line: Option<u32>,
    evidence: &str,
    out: &mut Out,
) {
    let sev = match origin {
        Origin::Manifest => Severity::High,
        Origin::Installer | Origin::Mcp => {
            if trusted_host || url.is_some_and(suspicious) {
                Severity::High
            } else {
                Severity::Medium
            }
        }
    };
    out.push(
        sev,
        "SUP-004",
        "untrusted_source",
        message,
        line,
        evidence.to_string(),
    );
}

/// §8.2 suspicious host, also for `git+http://…` and scp-like forms.
fn suspicious(url: &str) -> bool {
    let u = url.trim();
    let u = u
        .split_once('+')
        .filter(|(vcs, rest)| matches!(*vcs, "git" | "hg" | "svn" | "bzr") && rest.contains("://"))
        .map_or(u, |(_, rest)| rest);
    vocab::is_suspicious_url(u)
}

/// A VCS or archive URL form (PEP 508 direct references, pip VCS lines, npm git/tarball specs).
pub fn url_source(spec: &str) -> Option<(String, Option<String>)> {
    let s = spec.trim();
    let lower = s.to_ascii_lowercase();
    for vcs in ["git+", "hg+", "svn+", "bzr+"] {
        if lower.starts_with(vcs) {
            return Some(("a version-control URL".into(), Some(s.to_string())));
        }
    }
    if lower.starts_with("git://") || lower.starts_with("git@") || lower.starts_with("ssh://") {
        return Some(("a git repository".into(), Some(s.to_string())));
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(("a URL download".into(), Some(s.to_string())));
    }
    for host in ["github:", "gitlab:", "bitbucket:", "gist:"] {
        if lower.starts_with(host) {
            return Some((format!("a {} repository", &host[..host.len() - 1]), None));
        }
    }
    None
}

/// Resolves `rel` against the directory `dir` ("" for the root) inside the package; None when it is
/// absolute or leaves the package.
pub fn resolve_inside(dir: &str, rel: &str) -> Option<String> {
    let rel = rel.trim();
    if rel.starts_with('/') || rel.starts_with('~') || rel.starts_with('\\') || rel.contains(':') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for seg in rel.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// The directory part of a package path ("" at the root).
pub fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}
