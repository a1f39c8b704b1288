//! Scan results: findings, severities, the verdict (SPEC §8.4), per-stage results, the §8.6 ordering and
//! merging, and the §3.15 JSON body. Computing the audit score lives in `score.rs`.

use serde_json::{Value, json};
use std::cmp::Ordering;

/// At most this many findings and this many notes are kept (SPEC §8.1, SCN-002).
pub const MAX_ITEMS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    /// Notes only; never in `findings` (the real CLI crashes on it, SPEC §8.6).
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    PassWithNotes,
    Flagged,
    Fail,
}

impl Verdict {
    pub fn as_upper(&self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::PassWithNotes => "PASS_WITH_NOTES",
            Verdict::Flagged => "FLAGGED",
            Verdict::Fail => "FAIL",
        }
    }
    pub fn as_lower(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::PassWithNotes => "pass_with_notes",
            Verdict::Flagged => "flagged",
            Verdict::Fail => "fail",
        }
    }

    /// SPEC §8.4, over findings only (notes never count).
    pub fn from_findings(findings: &[Finding]) -> Verdict {
        let count = |s| findings.iter().filter(|f| f.severity == s).count();
        let (critical, high) = (count(Severity::Critical), count(Severity::High));
        if critical > 0 || high >= 4 {
            Verdict::Fail
        } else if high > 0 {
            Verdict::Flagged
        } else if findings.iter().any(|f| f.severity != Severity::Info) {
            Verdict::PassWithNotes
        } else {
            Verdict::Pass
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `stage0` … `stage5`.
    pub stage_id: &'static str,
    pub severity: Severity,
    pub rule_id: &'static str,
    /// The Tank-compatible type string (`rule` and `type` in JSON).
    pub rule_type: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub confidence: f64,
    pub evidence: Option<String>,
}

impl Finding {
    /// A finding with confidence 1.0 (archive and structure facts, SPEC §8.6) and no line or evidence.
    pub fn fact(
        stage_id: &'static str,
        severity: Severity,
        rule_id: &'static str,
        rule_type: &'static str,
        message: impl Into<String>,
        file: Option<String>,
    ) -> Finding {
        Finding {
            stage_id,
            severity,
            rule_id,
            rule_type,
            message: message.into(),
            file,
            line: None,
            confidence: 1.0,
            evidence: None,
        }
    }

    pub fn with_evidence(mut self, evidence: impl Into<String>) -> Finding {
        self.evidence = Some(truncate_chars(&evidence.into(), 200));
        self
    }

    pub fn with_confidence(mut self, c: f64) -> Finding {
        self.confidence = c;
        self
    }

    /// The §8.6 object.
    pub fn to_json(&self) -> Value {
        let location = self.file.as_ref().map(|f| match self.line {
            Some(l) => format!("{f}:{l}"),
            None => f.clone(),
        });
        json!({
            "stage": stage_name(self.stage_id),
            "stageId": self.stage_id,
            "severity": self.severity.as_str(),
            "rule": self.rule_type,
            "ruleId": self.rule_id,
            "type": self.rule_type,
            "message": self.message,
            "description": self.message,
            "file": self.file,
            "line": self.line,
            "location": location,
            "confidence": self.confidence,
            "evidence": self.evidence,
        })
    }
}

/// At most `max` characters (evidence is ≤ 200 characters, SPEC §8.6).
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// The ids and seed names of the six stages, in order (SPEC §8.6).
pub const STAGES: [(&str, &str); 6] = [
    ("stage0", "ingest"),
    ("stage1", "structure"),
    ("stage2", "static"),
    ("stage3", "injection"),
    ("stage4", "secrets"),
    ("stage5", "supply_chain"),
];

pub fn stage_name(stage_id: &str) -> &'static str {
    STAGES
        .iter()
        .find(|(id, _)| *id == stage_id)
        .map(|(_, n)| *n)
        .unwrap_or("ingest")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    Passed,
    Failed,
    Error,
    NotRun,
}

impl StageStatus {
    /// `stage_results[].status`.
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Passed => "passed",
            StageStatus::Failed => "failed",
            StageStatus::Error => "error",
            StageStatus::NotRun => "not_run",
        }
    }
    /// The `stages` map value: `ok`, `error` or `not_run`.
    pub fn short(self) -> &'static str {
        match self {
            StageStatus::Passed | StageStatus::Failed => "ok",
            StageStatus::Error => "error",
            StageStatus::NotRun => "not_run",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StageResult {
    pub stage_id: &'static str,
    pub name: &'static str,
    pub status: StageStatus,
    pub duration_ms: u64,
}

/// Why confirm must refuse the archive (SPEC §3.6 step 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocking {
    pub rule_id: &'static str,
    /// The exact client message.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanReport {
    pub verdict: Verdict,
    pub audit_score: u8,
    /// Severities critical..low only, §8.6 order, merged, capped at 500.
    pub findings: Vec<Finding>,
    /// Severity info only, same order, merged, capped at 500.
    pub notes: Vec<Finding>,
    /// Always six, stage0..stage5.
    pub stages: Vec<StageResult>,
    pub duration_ms: u64,
    /// Regular files in the file set (§8.2).
    pub file_count: u64,
    pub blocking: Option<Blocking>,
}

impl ScanReport {
    /// Counts of findings per severity.
    pub fn summary(&self) -> [usize; 4] {
        let mut s = [0usize; 4];
        for f in &self.findings {
            match f.severity {
                Severity::Critical => s[0] += 1,
                Severity::High => s[1] += 1,
                Severity::Medium => s[2] += 1,
                Severity::Low => s[3] += 1,
                Severity::Info => {}
            }
        }
        s
    }

    /// The SPEC §3.15 response body (all keys always present; `scan_id` null when None).
    pub fn to_json(&self, scan_id: Option<&str>) -> Value {
        let [c, h, m, l] = self.summary();
        let mut stages = serde_json::Map::new();
        let mut stage_results = Vec::new();
        for s in &self.stages {
            stages.insert(s.stage_id.to_string(), json!(s.status.short()));
            let findings: Vec<Value> = self
                .findings
                .iter()
                .filter(|f| f.stage_id == s.stage_id)
                .map(Finding::to_json)
                .collect();
            stage_results.push(json!({
                "stage": s.stage_id,
                "name": s.name,
                "status": s.status.as_str(),
                "findings": findings,
                "duration_ms": s.duration_ms,
            }));
        }
        json!({
            "verdict": self.verdict.as_upper(),
            "scanVerdict": self.verdict.as_lower(),
            "auditScore": self.audit_score,
            "audit_score": self.audit_score,
            "summary": {"critical": c, "high": h, "medium": m, "low": l},
            "findings": self.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
            "notes": self.notes.iter().map(Finding::to_json).collect::<Vec<_>>(),
            "stages": stages,
            "scan_id": scan_id,
            "stage_results": stage_results,
            "duration_ms": self.duration_ms,
        })
    }
}

/// §8.6 order: severity (critical first), then `stageId`, `file`, `line` (nulls first), `ruleId`.
pub fn order(a: &Finding, b: &Finding) -> Ordering {
    a.severity
        .cmp(&b.severity)
        .then_with(|| a.stage_id.cmp(b.stage_id))
        .then_with(|| a.file.cmp(&b.file))
        .then_with(|| a.line.cmp(&b.line))
        .then_with(|| a.rule_id.cmp(b.rule_id))
}

/// Sorts by §8.6 and merges identical (`ruleId`, `file`, `line`) items, keeping the first (most severe).
pub fn sort_and_merge(items: &mut Vec<Finding>) {
    items.sort_by(order);
    let mut seen = std::collections::HashSet::new();
    items.retain(|f| seen.insert((f.rule_id, f.file.clone(), f.line)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(sev: Severity, rule: &'static str, file: Option<&str>, line: Option<u32>) -> Finding {
        Finding {
            line,
            ..Finding::fact("stage1", sev, rule, "t", "m", file.map(String::from))
        }
    }

    #[test]
    fn verdicts() {
        use Severity::*;
        assert_eq!(Verdict::from_findings(&[]), Verdict::Pass);
        assert_eq!(
            Verdict::from_findings(&[f(Low, "A", None, None)]),
            Verdict::PassWithNotes
        );
        assert_eq!(
            Verdict::from_findings(&[f(High, "A", None, None)]),
            Verdict::Flagged
        );
        let three: Vec<_> = (0..3).map(|i| f(High, "A", None, Some(i))).collect();
        assert_eq!(Verdict::from_findings(&three), Verdict::Flagged);
        let four: Vec<_> = (0..4).map(|i| f(High, "A", None, Some(i))).collect();
        assert_eq!(Verdict::from_findings(&four), Verdict::Fail);
        assert_eq!(
            Verdict::from_findings(&[f(Critical, "A", None, None)]),
            Verdict::Fail
        );
        assert_eq!(Verdict::Fail.as_upper(), "FAIL");
        assert_eq!(Verdict::PassWithNotes.as_lower(), "pass_with_notes");
    }

    #[test]
    fn ordering_and_merging() {
        use Severity::*;
        let mut v = vec![
            f(Low, "B", Some("b"), Some(2)),
            f(High, "A", Some("a"), None),
            f(Low, "B", Some("b"), None),
            f(Low, "A", Some("b"), Some(2)),
            f(Medium, "B", Some("b"), Some(2)),
            f(Low, "C", None, None),
        ];
        sort_and_merge(&mut v);
        let got: Vec<_> = v
            .iter()
            .map(|x| (x.severity, x.rule_id, x.file.as_deref(), x.line))
            .collect();
        assert_eq!(
            got,
            vec![
                (High, "A", Some("a"), None),
                (Medium, "B", Some("b"), Some(2)),
                (Low, "C", None, None),
                (Low, "B", Some("b"), None),
                (Low, "A", Some("b"), Some(2)),
            ]
        );
    }

    #[test]
    fn finding_json_shape() {
        let mut x = f(Severity::Medium, "STR-001", Some("SKILL.md"), None);
        x.rule_type = "missing_skill_md";
        let j = x.to_json();
        assert_eq!(j["stage"], "structure");
        assert_eq!(j["location"], "SKILL.md");
        assert_eq!(j["rule"], j["type"]);
        assert_eq!(j["message"], j["description"]);
        assert!(j["line"].is_null());
        x.line = Some(3);
        assert_eq!(x.to_json()["location"], "SKILL.md:3");
        x.file = None;
        assert!(x.to_json()["location"].is_null());
    }
}
