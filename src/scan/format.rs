//! Output formats of the offline `scan` command (SPEC §9.3): the text report and SARIF 2.1.0 (§8.7). The
//! JSON format is `ScanReport::to_json(None)`.

use super::report::{Finding, ScanReport, Severity};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The §9.3 text report. `label` is the scanned file's name (`-` for stdin).
pub fn text(report: &ScanReport, label: &str) -> String {
    let [c, h, m, l] = report.summary();
    let mut out = String::new();
    let _ = writeln!(out, "Scan of {label}");
    let _ = writeln!(out, "Verdict: {}", report.verdict.as_upper());
    let _ = writeln!(out, "Score: {}/10", report.audit_score);
    let _ = writeln!(out, "Findings: {c} critical, {h} high, {m} medium, {l} low");
    let _ = writeln!(out, "Notes: {}", report.notes.len());
    let _ = writeln!(out);
    for f in &report.findings {
        let location = match (&f.file, f.line) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            (Some(file), None) => file.clone(),
            (None, _) => String::new(),
        };
        let line = format!(
            "{:<9} {:<9} {:<19} {location}",
            f.severity.as_str().to_ascii_uppercase(),
            f.rule_id,
            f.rule_type
        );
        let _ = writeln!(out, "{}", line.trim_end());
        let _ = writeln!(out, "          {}", one_line(&f.message));
    }
    if !report.findings.is_empty() {
        let _ = writeln!(out);
    }
    let stages: Vec<String> = report
        .stages
        .iter()
        .map(|s| format!("{} {}", s.stage_id, s.status.short()))
        .collect();
    let _ = writeln!(out, "Stages: {}", stages.join(", "));
    out
}

/// Messages are one sentence; a package-controlled newline must not forge report lines.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn level(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn security_severity(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "9.5",
        Severity::High => "7.5",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    }
}

/// `partialFingerprints["tankFinding/v1"]`: the first 32 hex of SHA-256 of `ruleId|file|line|evidence` (§8.7).
fn fingerprint(f: &Finding) -> String {
    let line = f.line.map(|l| l.to_string()).unwrap_or_default();
    let input = format!(
        "{}|{}|{}|{}",
        f.rule_id,
        f.file.as_deref().unwrap_or(""),
        line,
        f.evidence.as_deref().unwrap_or("")
    );
    hex::encode(Sha256::digest(input.as_bytes()))[..32].to_string()
}

/// The §8.7 SARIF log. `label` is the archive's file name, used as `uri` for findings without a file.
pub fn sarif(report: &ScanReport, label: &str) -> Value {
    let items: Vec<&Finding> = report.findings.iter().chain(report.notes.iter()).collect();
    // One rule per ruleId that occurs, in first-occurrence order; its default level is the most severe
    // occurrence (findings come before notes and are sorted most severe first).
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut rules: Vec<Value> = Vec::new();
    for f in &items {
        if rule_ids.contains(&f.rule_id) {
            continue;
        }
        rule_ids.push(f.rule_id);
        rules.push(json!({
            "id": f.rule_id,
            "name": f.rule_type,
            "shortDescription": {"text": f.rule_type.replace('_', " ")},
            "defaultConfiguration": {"level": level(f.severity)},
            "properties": {
                "stage": f.stage_id,
                "security-severity": security_severity(f.severity),
                "tags": ["security"],
            },
        }));
    }
    let results: Vec<Value> = items
        .iter()
        .map(|f| {
            let uri = f.file.clone().unwrap_or_else(|| label.to_string());
            let mut physical = json!({"artifactLocation": {"uri": uri}});
            if let Some(line) = f.line {
                physical["region"] = json!({"startLine": line});
            }
            json!({
                "ruleId": f.rule_id,
                "ruleIndex": rule_ids.iter().position(|r| *r == f.rule_id).unwrap_or(0),
                "level": level(f.severity),
                "message": {"text": f.message},
                "locations": [{"physicalLocation": physical}],
                "partialFingerprints": {"tankFinding/v1": fingerprint(f)},
                "properties": {
                    "severity": f.severity.as_str(),
                    "confidence": f.confidence,
                    "stage": f.stage_id,
                },
            })
        })
        .collect();
    let [c, h, m, l] = report.summary();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tank-registry",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://tankpkg.dev",
                "rules": rules,
            }},
            "results": results,
            "properties": {
                "verdict": report.verdict.as_upper(),
                "scanVerdict": report.verdict.as_lower(),
                "auditScore": report.audit_score,
                "summary": {"critical": c, "high": h, "medium": m, "low": l},
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testutil::build_tgz;
    use crate::scan::tests::run_scan;

    #[test]
    fn text_report_has_the_exact_header_lines() {
        let r = run_scan(&build_tgz(&[("skill.py", b"print(1)\n")]));
        let t = text(&r, "my-skill-1.0.0.tgz");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "Scan of my-skill-1.0.0.tgz");
        assert_eq!(lines[1], format!("Verdict: {}", r.verdict.as_upper()));
        assert_eq!(lines[2], format!("Score: {}/10", r.audit_score));
        assert!(lines[3].starts_with("Findings: 0 critical, 0 high, 1 medium"));
        assert!(t.contains("MEDIUM    STR-001   missing_skill_md    SKILL.md\n"));
        assert!(t.contains("          The package has no SKILL.md at its root.\n"));
        assert!(
            t.trim_end()
                .lines()
                .last()
                .unwrap()
                .starts_with("Stages: stage0 ok, stage1 ok")
        );
    }

    #[test]
    fn sarif_shape_levels_and_fingerprints() {
        let r = run_scan(&build_tgz(&[("skill.py", b"print(1)\n")]));
        let s = sarif(&r, "x.tgz");
        assert_eq!(s["version"], "2.1.0");
        let run = &s["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "tank-registry");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), r.findings.len() + r.notes.len());
        let str1 = results.iter().find(|x| x["ruleId"] == "STR-001").unwrap();
        assert_eq!(str1["level"], "warning");
        assert_eq!(
            str1["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "SKILL.md"
        );
        assert!(
            str1["locations"][0]["physicalLocation"]
                .get("region")
                .is_none()
        );
        let fp = str1["partialFingerprints"]["tankFinding/v1"]
            .as_str()
            .unwrap();
        assert_eq!(fp.len(), 32);
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()));
        let idx = str1["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][idx]["id"], "STR-001");
        assert_eq!(
            run["tool"]["driver"]["rules"][idx]["properties"]["security-severity"],
            "5.0"
        );
        assert_eq!(run["properties"]["verdict"], r.verdict.as_upper());
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        assert_eq!(one_line("a\nVerdict: PASS\r"), "a Verdict: PASS ");
    }
}
