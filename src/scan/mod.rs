//! The security scanner (SPEC §8): pure, bytes in and report out; no I/O, no network, never executes
//! package code. This module owns the stage runner: stage 0 (`ingest`) builds the shared `FileSet`, the
//! other stages read it, each under `catch_unwind` and the shared wall-clock deadline (§8.1). It does not
//! own the worker pool and queue of §8.1 (the HTTP / CLI layer runs `scan` on its threads).
//!
//! All six stages are in this build: 0 `ingest`, 1 `structure`, 2 `static` (`code`, `shell`), 3
//! `injection`, 4 `secrets`, 5 `supply_chain` (`supply`). A stage is `fn run(&StageCtx) -> Result<Vec<Finding>,
//! StageError>` in its own module, listed in `LATER_STAGES`; an entry of `None` would report the stage as
//! `not_run` with SCN-003 (§8.6), so a build without a stage can never look clean.

pub mod agent;
pub mod code;
pub mod files;
pub mod format;
pub mod frontmatter;
pub mod ingest;
pub mod injection;
pub mod kinds;
pub mod offline;
pub mod packed;
pub mod par;
pub mod report;
pub mod score;
pub mod secrets;
pub mod shell;
pub mod structure;
pub mod supply;
pub mod syntax;
pub mod vocab;

pub use files::{FileSet, PackedContent, ScanFile};
pub use report::{
    Blocking, Finding, MAX_ITEMS, STAGES, ScanReport, Severity, StageResult, StageStatus, Verdict,
};

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// Everything a scan reads (SPEC §8.1).
pub struct ScanInput<'a> {
    pub tarball: &'a [u8],
    /// The request manifest (publish manifest / the scan's `manifest` part / `--manifest`).
    pub manifest: Option<&'a serde_json::Value>,
    /// Publish: the version readme (§3.6); None for `POST /scan` (then SKILL.md, else README.md, §8.5 check 7).
    pub readme: Option<&'a str>,
    /// Protected skill names for SUP-007 (stage 5; unused by stages 0–1).
    pub protected_names: &'a [String],
    /// Wall-clock budget counted from the start of stage 0 (§8.1).
    pub timeout: Duration,
}

/// A stage stopped before finishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageError {
    /// The shared deadline passed (§8.1).
    Timeout,
}

/// What stages 1–5 receive.
pub struct StageCtx<'a> {
    pub files: &'a FileSet,
    pub input: &'a ScanInput<'a>,
    pub deadline: Instant,
}

impl StageCtx<'_> {
    /// Stages call this between files (§8.1: "checks the deadline between files and at least every 10 ms").
    pub fn check_deadline(&self) -> Result<(), StageError> {
        if Instant::now() >= self.deadline {
            Err(StageError::Timeout)
        } else {
            Ok(())
        }
    }
}

pub type StageFn = fn(&StageCtx) -> Result<Vec<Finding>, StageError>;

/// Stages 1–5 in order; `None` = not in this build (`not_run`).
const LATER_STAGES: [(&str, &str, Option<StageFn>); 5] = [
    ("stage1", "structure", Some(structure::run)),
    ("stage2", "static", Some(code::run)),
    ("stage3", "injection", Some(injection::run)),
    ("stage4", "secrets", Some(secrets::run)),
    ("stage5", "supply_chain", Some(supply::run)),
];

/// The index in `LATER_STAGES` of the stage run on its own thread (stage 2).
const PARALLEL_STAGE: usize = 1;

/// A later stage's findings (None: it errored) and how long it took.
type StageOutcome = (Option<Vec<Finding>>, Duration);

/// Runs the six stages and builds the report. Never panics: a stage that panics or passes the deadline
/// gets status `error`, its findings are dropped and SCN-001 is added (§8.1).
pub fn scan(input: &ScanInput) -> ScanReport {
    let start = Instant::now();
    let deadline = start + input.timeout;
    let mut all: Vec<Finding> = Vec::new();
    let mut stages: Vec<StageResult> = Vec::with_capacity(6);

    // Stage 0. It fills `ing` as it goes, so after a panic or timeout the later stages still get the
    // entries enumerated so far (§8.1). A blocking condition found before such an error is kept; a stage 0
    // that did not finish blocks nothing by itself (chosen: §3.6 step 6 lists the only blocking conditions).
    let t0 = Instant::now();
    let mut ing = ingest::Ingest::new(input.tarball.len() as u64);
    let r0 = catch_unwind(AssertUnwindSafe(|| ingest::run(input, deadline, &mut ing)));
    let ok0 = matches!(r0, Ok(Ok(())));
    let ingest::Ingest {
        files,
        findings: f0,
        blocking,
    } = ing;
    record(
        &mut all,
        &mut stages,
        "stage0",
        "ingest",
        ok0.then_some(f0),
        t0.elapsed(),
    );

    let ctx = StageCtx {
        files: &files,
        input,
        deadline,
    };
    // §8.1: stages 1–5 "run, in any order or in parallel". Stage 2 (code analysis, the longest) runs on
    // a second thread while this one runs the others; each is recorded in stage order, so the report
    // does not depend on which finishes first (issue #4).
    let run_one = &|run: StageFn| {
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            ctx.check_deadline()?;
            run(&ctx)
        }));
        (r.ok().and_then(Result::ok), t.elapsed())
    };
    let parallel = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let mut results: Vec<Option<StageOutcome>> = Vec::with_capacity(LATER_STAGES.len());
    std::thread::scope(|s| {
        let mut side = None;
        if parallel && let Some(run) = LATER_STAGES[PARALLEL_STAGE].2 {
            side = std::thread::Builder::new()
                .name("scan-stage2".into())
                .spawn_scoped(s, move || run_one(run))
                .ok();
        }
        for (i, &(_, _, run)) in LATER_STAGES.iter().enumerate() {
            let here = i != PARALLEL_STAGE || side.is_none();
            results.push(run.filter(|_| here).map(run_one));
        }
        if let Some(h) = side {
            // A panic is caught inside `run_one`; a failed join counts as an errored stage.
            results[PARALLEL_STAGE] = Some(h.join().unwrap_or((None, Duration::ZERO)));
        }
    });
    let mut not_run = Vec::new();
    for ((id, name, _), outcome) in LATER_STAGES.into_iter().zip(results) {
        let Some((findings, took)) = outcome else {
            not_run.push((id, name));
            stages.push(StageResult {
                stage_id: id,
                name,
                status: StageStatus::NotRun,
                duration_ms: 0,
            });
            continue;
        };
        record(&mut all, &mut stages, id, name, findings, took);
    }

    if let Some(f) = scanner_error(&stages, Instant::now() >= deadline) {
        all.push(f);
    }
    if !not_run.is_empty() {
        // SCN-003 is attributed to stage0 (chosen): it is a fact about the whole scan, a finding must
        // carry one of stage0..stage5, and stage 0 always runs; putting it under a `not_run` stage would
        // give that stage findings it never produced.
        let names: Vec<String> = not_run
            .iter()
            .map(|(id, name)| format!("{id} ({name})"))
            .collect();
        all.push(
            Finding::fact(
                "stage0",
                Severity::Low,
                "SCN-003",
                "incomplete_scan",
                format!(
                    "This scanner build does not run {}, so the scan is incomplete.",
                    names.join(", ")
                ),
                None,
            )
            .with_evidence(
                not_run
                    .iter()
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        );
    }

    let (mut findings, mut notes): (Vec<Finding>, Vec<Finding>) =
        all.into_iter().partition(|f| f.severity != Severity::Info);
    report::sort_and_merge(&mut findings);
    report::sort_and_merge(&mut notes);
    if findings.len() > MAX_ITEMS || notes.len() > MAX_ITEMS {
        let msg = format!(
            "The scan produced {} findings and {} notes; only the first {MAX_ITEMS} of each are kept.",
            findings.len(),
            notes.len()
        );
        findings.truncate(MAX_ITEMS);
        notes.truncate(MAX_ITEMS - 1);
        notes.push(Finding::fact(
            "stage0",
            Severity::Info,
            "SCN-002",
            "findings_truncated",
            msg,
            None,
        ));
        report::sort_and_merge(&mut notes);
    }

    for s in stages.iter_mut() {
        if s.status == StageStatus::Passed
            && findings.iter().any(|f| {
                f.stage_id == s.stage_id
                    && matches!(f.severity, Severity::Critical | Severity::High)
            })
        {
            s.status = StageStatus::Failed;
        }
    }

    let verdict = Verdict::from_findings(&findings);
    let audit_score = score::audit_score(&files, input, &findings);
    ScanReport {
        verdict,
        audit_score,
        findings,
        notes,
        stages,
        duration_ms: start.elapsed().as_millis() as u64,
        file_count: files.files.len() as u64,
        blocking,
    }
}

/// Records one stage's outcome: its findings when it finished, else status `error` (SCN-001 is added
/// once for all errored stages by `scan`).
fn record(
    all: &mut Vec<Finding>,
    stages: &mut Vec<StageResult>,
    id: &'static str,
    name: &'static str,
    findings: Option<Vec<Finding>>,
    took: Duration,
) {
    let status = match findings {
        Some(f) => {
            all.extend(f);
            StageStatus::Passed
        }
        None => StageStatus::Error,
    };
    stages.push(StageResult {
        stage_id: id,
        name,
        status,
        duration_ms: took.as_millis() as u64,
    });
}

/// One SCN-001 for all errored stages, at the first of them: findings merge on (`ruleId`, `file`, `line`)
/// (§8.6), so one per stage would collapse into one anyway; this way the message names every stage.
fn scanner_error(stages: &[StageResult], timed_out: bool) -> Option<Finding> {
    let errored: Vec<&StageResult> = stages
        .iter()
        .filter(|s| s.status == StageStatus::Error)
        .collect();
    let first = errored.first()?;
    let names: Vec<String> = errored
        .iter()
        .map(|s| format!("{} ({})", s.stage_id, s.name))
        .collect();
    let why = if timed_out {
        "crashed or ran out of time"
    } else {
        "crashed"
    };
    Some(Finding::fact(
        first.stage_id,
        Severity::Medium,
        "SCN-001",
        "scanner_error",
        format!(
            "Scanner stage {} {why}; its findings are missing.",
            names.join(", ")
        ),
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testutil::*;

    pub(crate) fn run_scan(tgz: &[u8]) -> ScanReport {
        run_with(tgz, None, None)
    }

    pub(crate) fn run_with(
        tgz: &[u8],
        manifest: Option<&serde_json::Value>,
        readme: Option<&str>,
    ) -> ScanReport {
        scan(&ScanInput {
            tarball: tgz,
            manifest,
            readme,
            protected_names: &[],
            timeout: Duration::from_secs(20),
        })
    }

    const GOOD_SKILL: &[u8] = b"---\nname: hello\ndescription: Says hello to the user politely.\n---\n# Hello\n\nThis skill greets the user and explains what it does in detail.\n";

    #[test]
    fn clean_package_passes_every_stage() {
        let t = build_tgz(&[
            ("SKILL.md", GOOD_SKILL),
            (
                "tank.json",
                br#"{"name":"hello","version":"1.0.0","description":"d","permissions":{}}"#,
            ),
        ]);
        let r = run_scan(&t);
        assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.audit_score, 10);
        assert_eq!(r.file_count, 2);
        assert!(r.blocking.is_none());
        assert_eq!(r.stages.len(), 6);
        assert!(
            r.stages.iter().all(|s| s.status == StageStatus::Passed),
            "{:?}",
            r.stages
        );
    }

    #[test]
    fn json_body_shape() {
        let t = build_tgz(&[("skill.py", b"print(1)\n")]);
        let r = run_scan(&t);
        let j = r.to_json(Some("scan_X"));
        for k in [
            "verdict",
            "scanVerdict",
            "auditScore",
            "audit_score",
            "summary",
            "findings",
            "notes",
            "stages",
            "scan_id",
            "stage_results",
            "duration_ms",
        ] {
            assert!(j.get(k).is_some(), "missing {k}");
        }
        assert_eq!(j["verdict"], "PASS_WITH_NOTES");
        assert_eq!(j["scanVerdict"], "pass_with_notes");
        assert_eq!(j["summary"]["medium"], 1);
        assert_eq!(j["summary"]["low"], 0);
        assert_eq!(j["stages"]["stage0"], "ok");
        assert_eq!(j["stages"]["stage2"], "ok");
        assert_eq!(j["stage_results"].as_array().unwrap().len(), 6);
        assert_eq!(j["stage_results"][1]["name"], "structure");
        assert_eq!(j["stage_results"][1]["findings"][0]["ruleId"], "STR-001");
        assert_eq!(j["stage_results"][2]["status"], "passed");
        assert_eq!(j["findings"][0]["ruleId"], "STR-001");
        assert_eq!(j["scan_id"], "scan_X");
        assert!(r.to_json(None)["scan_id"].is_null());
    }

    #[test]
    fn timeout_marks_stages_error() {
        let t = build_tgz(&[("SKILL.md", GOOD_SKILL)]);
        let r = scan(&ScanInput {
            tarball: &t,
            manifest: None,
            readme: None,
            protected_names: &[],
            timeout: Duration::ZERO,
        });
        assert_eq!(r.stages[0].status, StageStatus::Error);
        assert_eq!(r.stages[1].status, StageStatus::Error);
        let e: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.rule_id == "SCN-001")
            .collect();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].stage_id, "stage0");
        assert!(e[0].message.contains("stage0 (ingest), stage1 (structure)"));
        assert_ne!(r.verdict, Verdict::Pass);
    }

    #[test]
    fn hostile_inputs_never_panic() {
        let mut inputs: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x1f],
            vec![0x1f, 0x8b],
            b"PK\x03\x04 this is a zip".to_vec(),
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
                .collect(),
        ];
        let good = build_tgz(&[("SKILL.md", GOOD_SKILL), ("a.py", &[b'x'; 3000])]);
        for cut in [1, 10, 20, good.len() / 2, good.len() - 4] {
            inputs.push(good[..cut].to_vec());
        }
        let mut b = TarBuilder::new();
        b.raw_file(b"caf\xe9/\xff\xfe.md", b"non-utf8 name");
        inputs.push(b.tgz());
        for inp in &inputs {
            let r = run_scan(inp);
            assert_eq!(r.stages.len(), 6);
            let _ = r.to_json(None);
        }
        let r = run_scan(&inputs[inputs.len() - 1]);
        assert_eq!(r.file_count, 1);
        assert!(r.blocking.is_none());
    }

    #[test]
    fn cap_at_500_with_scn_002() {
        let mut b = TarBuilder::new();
        for i in 0..1100 {
            b.file(&format!(".h{i}/f"), b"x");
        }
        let r = run_scan(&b.tgz());
        assert_eq!(r.findings.len(), MAX_ITEMS);
        assert!(r.notes.iter().any(|n| n.rule_id == "SCN-002"));
        // The most severe are kept first.
        assert_eq!(r.findings[0].rule_id, "STR-006");
        assert_eq!(r.findings[0].severity, Severity::High);
    }
}
