//! The data files compiled into the binary (SPEC §8.3 "Data files"): popular-name lists for SUP-003, the
//! blocklist for SUP-006 (plus the operator's `--scanner-blocklist` entries, process-wide), and the
//! protected skill names for SUP-007. Parsing is strict for the blocklist: a bad line is an error.

use std::collections::{BTreeSet, HashSet};
use std::sync::{OnceLock, RwLock};

const POPULAR_PYPI: &str = include_str!("../../../data/popular-pypi.txt");
const POPULAR_NPM: &str = include_str!("../../../data/popular-npm.txt");
const BLOCKLIST: &str = include_str!("../../../data/blocklist.txt");
const PROTECTED: &str = include_str!("../../../data/protected-skills.txt");

/// The package ecosystems stage 5 knows names for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eco {
    Pypi,
    Npm,
}

/// Lines of a name list without comments and blanks.
fn names(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
}

/// PEP 503 normalisation: lower-case, runs of `-`, `_`, `.` become one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// npm normalisation: lower-case (npm names are case-insensitive for squatting purposes).
pub fn npm_norm(name: &str) -> String {
    name.trim().to_lowercase()
}

pub fn normalise(eco: Eco, name: &str) -> String {
    match eco {
        Eco::Pypi => pep503(name),
        Eco::Npm => npm_norm(name),
    }
}

/// The popular names of an ecosystem, normalised, in file order (the order breaks distance ties).
pub struct Popular {
    pub set: HashSet<String>,
    pub entries: Vec<PopEntry>,
    /// Entry indices by the character length of the name part (typosquat candidates differ by ≤ 2).
    pub by_len: Vec<Vec<usize>>,
    /// Indices of scoped entries (for the scope-only comparison).
    pub scoped: Vec<usize>,
}

/// One popular name split for the typosquat search, with precomputed filters.
pub struct PopEntry {
    pub name: String,
    pub scope: Option<String>,
    pub part: String,
    pub part_len: usize,
    /// Which histogram buckets are non-zero (one-instruction prefilter).
    pub part_mask: u64,
    pub part_hist: Hist,
    pub scope_hist: Hist,
}

/// A character histogram (64 buckets) for a cheap lower bound on the edit distance.
pub type Hist = [u16; 64];

pub fn histogram(s: &str) -> Hist {
    let mut h = [0u16; 64];
    for c in s.chars() {
        let i = (c as u32 % 64) as usize;
        h[i] = h[i].saturating_add(1);
    }
    h
}

pub fn mask(h: &Hist) -> u64 {
    h.iter()
        .enumerate()
        .fold(0u64, |m, (i, c)| if *c > 0 { m | (1 << i) } else { m })
}

/// An edit changes the histogram by at most two, so `hist_distance / 2` bounds the edit distance.
pub fn hist_distance(a: &Hist, b: &Hist) -> u32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| u32::from(x.abs_diff(*y)))
        .sum()
}

/// `@scope/name` → (Some(scope), name).
pub fn split_scope(n: &str) -> (Option<&str>, &str) {
    match n.strip_prefix('@').and_then(|s| s.split_once('/')) {
        Some((s, p)) => (Some(s), p),
        None => (None, n),
    }
}

pub fn popular(eco: Eco) -> &'static Popular {
    static PYPI: OnceLock<Popular> = OnceLock::new();
    static NPM: OnceLock<Popular> = OnceLock::new();
    let (cell, text) = match eco {
        Eco::Pypi => (&PYPI, POPULAR_PYPI),
        Eco::Npm => (&NPM, POPULAR_NPM),
    };
    cell.get_or_init(|| {
        let list: Vec<String> = names(text).map(|n| normalise(eco, n)).collect();
        let entries = list
            .iter()
            .map(|n| {
                let (scope, part) = split_scope(n);
                PopEntry {
                    name: n.clone(),
                    scope: scope.map(String::from),
                    part: part.to_string(),
                    part_len: part.chars().count(),
                    part_mask: mask(&histogram(part)),
                    part_hist: histogram(part),
                    scope_hist: histogram(scope.unwrap_or("")),
                }
            })
            .collect::<Vec<PopEntry>>();
        let mut by_len: Vec<Vec<usize>> = Vec::new();
        let mut scoped = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if by_len.len() <= e.part_len {
                by_len.resize(e.part_len + 1, Vec::new());
            }
            by_len[e.part_len].push(i);
            if e.scope.is_some() {
                scoped.push(i);
            }
        }
        Popular {
            set: list.into_iter().collect(),
            entries,
            by_len,
            scoped,
        }
    })
}

/// One blocklist entry (SPEC §8.3: `sha256:<64 hex>`, `npm:<name>@<version>`, `pypi:<name>==<version>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    Sha256(String),
    /// (normalised name, version).
    Npm(String, String),
    Pypi(String, String),
}

/// Parses one non-comment line strictly.
pub fn parse_entry(line: &str) -> Result<Entry, String> {
    let bad = |why: &str| Err(format!("{why}: {line}"));
    if let Some(h) = line.strip_prefix("sha256:") {
        if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Entry::Sha256(h.to_ascii_lowercase()));
        }
        return bad("expected 64 hexadecimal digits after sha256:");
    }
    if let Some(rest) = line.strip_prefix("npm:") {
        // The version follows the last `@` that is not the scope's leading one.
        let Some(at) = rest.get(1..).and_then(|r| r.rfind('@')).map(|i| i + 1) else {
            return bad("expected npm:<name>@<version>");
        };
        let (name, ver) = (&rest[..at], &rest[at + 1..]);
        if valid_npm_name(name) && valid_version(ver) {
            return Ok(Entry::Npm(npm_norm(name), ver.to_string()));
        }
        return bad("expected npm:<name>@<version>");
    }
    if let Some(rest) = line.strip_prefix("pypi:") {
        let Some((name, ver)) = rest.split_once("==") else {
            return bad("expected pypi:<name>==<version>");
        };
        if valid_pypi_name(name) && valid_version(ver) {
            return Ok(Entry::Pypi(pep503(name), ver.to_string()));
        }
        return bad("expected pypi:<name>==<version>");
    }
    bad("unknown entry (expected sha256:, npm: or pypi:)")
}

fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_' | '!'))
}

pub fn valid_pypi_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

pub fn valid_npm_name(n: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 214
            && !p.starts_with('.')
            && p.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~' | '!' | '*' | '\'')
            })
    };
    match n.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(s, p)| part(s) && part(p)),
        None => part(n),
    }
}

/// Parses a whole blocklist text; every bad line is reported as `line N: why`.
pub fn parse_blocklist(text: &str) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        match parse_entry(l) {
            Ok(e) => out.push(e),
            Err(e) => errors.push(format!("line {}: {e}", i + 1)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("; "))
    }
}

fn bundled() -> &'static BTreeSet<Entry> {
    static B: OnceLock<BTreeSet<Entry>> = OnceLock::new();
    // The bundled file is checked by a unit test; a bad line there would only drop that line.
    B.get_or_init(|| {
        BLOCKLIST
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| parse_entry(l).ok())
            .collect()
    })
}

/// Operator entries (`--scanner-blocklist FILE` / `TANK_SCANNER_BLOCKLIST`, SPEC §8.3, chosen format).
static EXTRA: RwLock<BTreeSet<Entry>> = RwLock::new(BTreeSet::new());

/// Adds the entries of an operator blocklist (same format as `data/blocklist.txt`) to the process-wide
/// list. Strict: if any line is bad, nothing is added and the error names every bad line. Returns the
/// number of entries read.
pub fn load_extra_blocklist(text: &str) -> Result<usize, String> {
    let entries = parse_blocklist(text)?;
    let n = entries.len();
    let mut g = EXTRA.write().unwrap_or_else(|p| p.into_inner());
    g.extend(entries);
    Ok(n)
}

/// True when the entry is on the bundled or the operator blocklist.
pub fn is_blocked(e: &Entry) -> bool {
    bundled().contains(e) || EXTRA.read().unwrap_or_else(|p| p.into_inner()).contains(e)
}

/// True when there is any `sha256:` entry (saves hashing when there is none).
pub fn has_hash_entries() -> bool {
    let any = |s: &BTreeSet<Entry>| s.iter().any(|e| matches!(e, Entry::Sha256(_)));
    any(bundled()) || any(&EXTRA.read().unwrap_or_else(|p| p.into_inner()))
}

/// Protected skill names from the data file, lower-cased.
pub fn protected_skills() -> &'static Vec<String> {
    static P: OnceLock<Vec<String>> = OnceLock::new();
    P.get_or_init(|| names(PROTECTED).map(npm_norm).collect())
}

#[cfg(test)]
pub fn bundled_text() -> &'static str {
    BLOCKLIST
}
