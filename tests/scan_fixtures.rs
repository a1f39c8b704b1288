//! Scanner acceptance corpus (SPEC §8.8): every sample directory under `fixtures/scan/{malicious,benign}/`
//! is packed into a `.tgz` in memory, scanned, and checked against its row of the table in
//! `fixtures/scan/README.md` (verdict class and rules that must / must not appear in `findings`).
//! All mismatches are collected and reported together (`SCAN_FIXTURES_ONLY=<substring>` narrows the run,
//! `SCAN_FIXTURES_VERBOSE=1` prints every sample's findings). It does not check scores, messages or evidence:
//! stage unit tests own those.

use flate2::Compression;
use flate2::write::GzEncoder;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tank_registry::scan::{Finding, ScanInput, Severity, Verdict, scan};

const MIN_PER_KIND: usize = 30;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scan")
}

/// The verdict classes of the README's `expect` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Fail,
    Flagged,
    FlaggedOrFail,
    Pass,
    PassWithNotes,
    AnyPass,
}

impl Expect {
    fn parse(s: &str) -> Option<Expect> {
        Some(match s {
            "FAIL" => Expect::Fail,
            "FLAGGED" => Expect::Flagged,
            "FLAGGED+" => Expect::FlaggedOrFail,
            "PASS" => Expect::Pass,
            "PASS_WITH_NOTES" => Expect::PassWithNotes,
            "PASS*" => Expect::AnyPass,
            _ => return None,
        })
    }

    fn admits(self, v: Verdict) -> bool {
        match self {
            Expect::Fail => v == Verdict::Fail,
            Expect::Flagged => v == Verdict::Flagged,
            Expect::FlaggedOrFail => matches!(v, Verdict::Flagged | Verdict::Fail),
            Expect::Pass => v == Verdict::Pass,
            Expect::PassWithNotes => v == Verdict::PassWithNotes,
            Expect::AnyPass => matches!(v, Verdict::Pass | Verdict::PassWithNotes),
        }
    }

    fn is_malicious_class(self) -> bool {
        matches!(self, Expect::Fail | Expect::Flagged | Expect::FlaggedOrFail)
    }
}

/// One `rules` token: `[!]RULE[:severity][@line]`. With a severity, only findings at least that severe
/// count (`PI-008:critical` must be critical; `!PI-008:high` allows medium and low).
#[derive(Debug, Clone)]
struct RuleExpect {
    negated: bool,
    rule_id: String,
    min_severity: Option<Severity>,
    line: Option<u32>,
}

impl RuleExpect {
    fn parse(tok: &str) -> Result<RuleExpect, String> {
        let (negated, rest) = match tok.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, tok),
        };
        let (rule_id, line) = match rest.split_once('@') {
            Some((r, l)) => (
                r,
                Some(
                    l.parse::<u32>()
                        .map_err(|_| format!("bad line in rule token {tok:?}"))?,
                ),
            ),
            None => (rest, None),
        };
        let (rule_id, min_severity) = match rule_id.split_once(':') {
            Some((r, sev)) => (
                r,
                Some(match sev {
                    "critical" => Severity::Critical,
                    "high" => Severity::High,
                    "medium" => Severity::Medium,
                    "low" => Severity::Low,
                    _ => return Err(format!("bad severity in rule token {tok:?}")),
                }),
            ),
            None => (rule_id, None),
        };
        let valid = rule_id.split_once('-').is_some_and(|(p, n)| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_uppercase())
                && n.len() == 3
                && n.chars().all(|c| c.is_ascii_digit())
        });
        if !valid {
            return Err(format!("bad rule id in token {tok:?}"));
        }
        Ok(RuleExpect {
            negated,
            rule_id: rule_id.to_string(),
            min_severity,
            line,
        })
    }

    fn matches(&self, f: &Finding) -> bool {
        // `Severity` orders critical first, so "at least as severe" is `<=`.
        f.rule_id == self.rule_id
            && self.line.is_none_or(|l| f.line == Some(l))
            && self.min_severity.is_none_or(|m| f.severity <= m)
    }

    fn show(&self) -> String {
        let mut s = format!("{}{}", if self.negated { "!" } else { "" }, self.rule_id);
        if let Some(sev) = self.min_severity {
            let _ = write!(s, ":{}", sev.as_str());
        }
        if let Some(l) = self.line {
            let _ = write!(s, "@{l}");
        }
        s
    }
}

#[derive(Debug)]
struct Row {
    sample: String,
    expect_raw: String,
    expect: Expect,
    rules: Vec<RuleExpect>,
    /// `ONLY`: no finding of a rule outside the positive `rules` may appear.
    only: bool,
}

/// Splits a Markdown table row at unescaped `|` (GFM: `\|` is a literal pipe inside a cell).
fn split_row(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    cells.push(cur);
    // A row `| a | b |` yields an empty first and last cell.
    if cells.first().is_some_and(|c| c.trim().is_empty()) {
        cells.remove(0);
    }
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// The sample rows of the README table (rows whose first cell is `malicious/…` or `benign/…`).
fn parse_readme() -> Result<Vec<Row>, Vec<String>> {
    let text = std::fs::read_to_string(corpus_dir().join("README.md")).expect("README.md");
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if !line.trim_start().starts_with('|') {
            continue;
        }
        let cells = split_row(line);
        let Some(first) = cells.first() else { continue };
        let sample = first.trim_matches('`').to_string();
        if !(sample.starts_with("malicious/") || sample.starts_with("benign/")) {
            continue;
        }
        if cells.len() != 4 {
            errors.push(format!(
                "README line {}: expected 4 cells, got {}",
                n + 1,
                cells.len()
            ));
            continue;
        }
        let expect_raw = cells[1].trim_matches('`').to_string();
        let Some(expect) = Expect::parse(&expect_raw) else {
            errors.push(format!(
                "README line {}: unknown expect {expect_raw:?}",
                n + 1
            ));
            continue;
        };
        let mut rules = Vec::new();
        let mut only = false;
        for tok in cells[2].split(',') {
            let tok = tok.trim().trim_matches('`');
            if tok.is_empty() || tok == "-" || tok == "—" {
                continue;
            }
            if tok == "ONLY" {
                only = true;
                continue;
            }
            match RuleExpect::parse(tok) {
                Ok(r) => rules.push(r),
                Err(e) => errors.push(format!("README line {}: {e}", n + 1)),
            }
        }
        let malicious = sample.starts_with("malicious/");
        if malicious != expect.is_malicious_class() {
            errors.push(format!(
                "README line {}: {sample} expects {expect_raw}, which does not fit its directory",
                n + 1
            ));
        }
        if malicious && !rules.iter().any(|r| !r.negated) {
            errors.push(format!(
                "README line {}: malicious sample {sample} names no rule that must fire",
                n + 1
            ));
        }
        rows.push(Row {
            sample,
            expect_raw,
            expect,
            rules,
            only,
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Regular files under `dir`, as sorted `/`-separated paths relative to `dir`.
fn list_files(dir: &Path) -> Vec<(String, PathBuf)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            let ft = entry.file_type().expect("file type");
            if ft.is_dir() {
                walk(root, &path, out);
            } else if ft.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, path));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A `.tgz` of the sample directory: regular files only, sorted, no directory entries, fixed metadata.
fn build_tgz(dir: &Path) -> Vec<u8> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (rel, path) in list_files(dir) {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        tar.append_data(&mut h, &rel, data.as_slice())
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
    tar.into_inner()
        .expect("tar finish")
        .finish()
        .expect("gzip finish")
}

fn show_finding(f: &Finding) -> String {
    let mut s = format!("{}({})", f.rule_id, f.severity.as_str());
    if let Some(file) = &f.file {
        let _ = write!(s, " {file}");
        if let Some(l) = f.line {
            let _ = write!(s, ":{l}");
        }
    }
    s
}

fn sample_dirs(kind: &str) -> BTreeSet<String> {
    let dir = corpus_dir().join(kind);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| format!("{kind}/{}", e.file_name().to_string_lossy()))
        .collect()
}

#[test]
fn corpus_samples_scan_as_documented() {
    let rows = parse_readme().unwrap_or_else(|errs| panic!("README table:\n{}", errs.join("\n")));
    let malicious = rows
        .iter()
        .filter(|r| r.sample.starts_with("malicious/"))
        .count();
    let benign = rows.len() - malicious;
    assert!(
        malicious >= MIN_PER_KIND && benign >= MIN_PER_KIND,
        "the corpus needs at least {MIN_PER_KIND} malicious and {MIN_PER_KIND} benign samples \
         (README lists {malicious} and {benign})"
    );

    let only = std::env::var("SCAN_FIXTURES_ONLY").ok();
    // SCAN_FIXTURES_VERBOSE=1 prints every sample's verdict and findings, matching or not.
    let verbose = std::env::var_os("SCAN_FIXTURES_VERBOSE").is_some();
    let mut failures = Vec::new();
    let (mut checked, mut ok) = (0usize, 0usize);
    for row in &rows {
        if only.as_deref().is_some_and(|o| !row.sample.contains(o)) {
            continue;
        }
        checked += 1;
        let dir = corpus_dir().join(&row.sample);
        assert!(dir.is_dir(), "{} is listed but missing", row.sample);
        let tgz = build_tgz(&dir);
        let report = scan(&ScanInput {
            tarball: &tgz,
            manifest: None,
            readme: None,
            protected_names: &[],
            timeout: Duration::from_secs(20),
        });
        let mut problems = Vec::new();
        if !row.expect.admits(report.verdict) {
            problems.push(format!(
                "verdict {} (expected {})",
                report.verdict.as_upper(),
                row.expect_raw
            ));
        }
        // Notes never count (§8.4): expectations are about `findings` only.
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .collect();
        let missing: Vec<String> = row
            .rules
            .iter()
            .filter(|r| !r.negated && !findings.iter().any(|f| r.matches(f)))
            .map(RuleExpect::show)
            .collect();
        let unwanted: Vec<String> = row
            .rules
            .iter()
            .filter(|r| r.negated)
            .flat_map(|r| {
                findings
                    .iter()
                    .filter(|f| r.matches(f))
                    .map(|f| show_finding(f))
            })
            .collect();
        let extra: Vec<String> = if row.only {
            findings
                .iter()
                .filter(|f| {
                    !row.rules
                        .iter()
                        .any(|r| !r.negated && r.rule_id == f.rule_id)
                })
                .map(|f| show_finding(f))
                .collect()
        } else {
            Vec::new()
        };
        if !missing.is_empty() {
            problems.push(format!("missing {}", missing.join(", ")));
        }
        if !extra.is_empty() {
            problems.push(format!("not in ONLY list: {}", extra.join(", ")));
        }
        if !unwanted.is_empty() {
            problems.push(format!("must not fire: {}", unwanted.join(", ")));
        }
        let got: Vec<String> = findings.iter().map(|f| show_finding(f)).collect();
        if verbose {
            eprintln!(
                "{} {}: {} [{}]",
                if problems.is_empty() { "ok  " } else { "FAIL" },
                row.sample,
                report.verdict.as_upper(),
                got.join(", ")
            );
        }
        if problems.is_empty() {
            ok += 1;
            continue;
        }
        let not_ok: Vec<String> = report
            .stages
            .iter()
            .filter(|s| s.status.short() != "ok")
            .map(|s| format!("{} ({})", s.stage_id, s.status.short()))
            .collect();
        let mut msg = format!(
            "{}: expected {} [{}]; {}\n    got {}: {}",
            row.sample,
            row.expect_raw,
            row.rules
                .iter()
                .map(RuleExpect::show)
                .chain(row.only.then(|| "ONLY".to_string()))
                .collect::<Vec<_>>()
                .join(", "),
            problems.join("; "),
            report.verdict.as_upper(),
            if got.is_empty() {
                "(no findings)".to_string()
            } else {
                got.join(", ")
            },
        );
        if !not_ok.is_empty() {
            let _ = write!(
                msg,
                "\n    stages not run or errored: {}",
                not_ok.join(", ")
            );
        }
        failures.push(msg);
    }
    eprintln!(
        "scan corpus: {ok}/{checked} samples as documented ({malicious} malicious, {benign} benign listed)"
    );
    if !failures.is_empty() {
        panic!(
            "{} of {checked} samples differ from fixtures/scan/README.md:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

#[test]
fn corpus_directories_match_readme() {
    let rows = parse_readme().unwrap_or_else(|errs| panic!("README table:\n{}", errs.join("\n")));
    let mut listed = BTreeSet::new();
    let mut dups = Vec::new();
    for r in &rows {
        if !listed.insert(r.sample.clone()) {
            dups.push(r.sample.clone());
        }
    }
    let mut on_disk = sample_dirs("malicious");
    on_disk.extend(sample_dirs("benign"));
    let unlisted: Vec<&String> = on_disk.difference(&listed).collect();
    let missing: Vec<&String> = listed.difference(&on_disk).collect();
    let empty: Vec<&String> = on_disk
        .iter()
        .filter(|s| list_files(&corpus_dir().join(s)).is_empty())
        .collect();
    assert!(
        dups.is_empty() && unlisted.is_empty() && missing.is_empty() && empty.is_empty(),
        "README and fixtures/scan disagree:\n  listed twice: {dups:?}\n  not in README: {unlisted:?}\n  \
         listed but missing: {missing:?}\n  empty sample directories: {empty:?}"
    );
}

#[test]
fn tgz_builder_packs_sorted_regular_files() {
    // The packing itself: sorted relative paths, no directory entries, content intact.
    let dir = corpus_dir().join("benign/versioned_docs_path");
    let tgz = build_tgz(&dir);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz.as_slice()));
    let mut paths = Vec::new();
    for entry in archive.entries().expect("entries") {
        let entry = entry.expect("entry");
        assert_eq!(entry.header().entry_type(), tar::EntryType::Regular);
        paths.push(entry.path().expect("path").to_string_lossy().into_owned());
    }
    assert_eq!(paths, ["SKILL.md", "docs/v1..2/notes.md", "tank.json"]);
}

/// Stage 2 spreads files over threads (issue #4): the report must not depend on which thread finishes
/// first. Every malicious sample's files, each under its sample's directory, in one package, scanned
/// repeatedly, give the same findings in the same order.
#[test]
fn the_report_does_not_depend_on_thread_timing() {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for sample in sample_dirs("malicious") {
        for (rel, path) in list_files(&corpus_dir().join(&sample)) {
            let data = std::fs::read(&path).expect("read sample file");
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            tar.append_data(&mut h, format!("{sample}/{rel}"), data.as_slice())
                .expect("append");
        }
    }
    let tgz = tar.into_inner().expect("tar").finish().expect("gzip");
    let run = || {
        scan(&ScanInput {
            tarball: &tgz,
            manifest: None,
            readme: None,
            protected_names: &[],
            timeout: Duration::from_secs(120),
        })
    };
    let first = run();
    let code_files: BTreeSet<&str> = first
        .findings
        .iter()
        .filter(|f| f.stage_id == "stage2")
        .filter_map(|f| f.file.as_deref())
        .collect();
    assert!(
        code_files.len() >= 10,
        "stage 2 should report from many files, got {code_files:?}"
    );
    for _ in 0..3 {
        let again = run();
        assert_eq!(again.verdict, first.verdict);
        assert_eq!(
            again.findings.iter().map(show_finding).collect::<Vec<_>>(),
            first.findings.iter().map(show_finding).collect::<Vec<_>>()
        );
        assert_eq!(again.findings, first.findings);
    }
}
