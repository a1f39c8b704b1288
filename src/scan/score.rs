//! The 0–10 audit score of SPEC §8.5.

use super::files::FileSet;
use super::frontmatter;
use super::{Finding, ScanInput, Severity};

/// Tarballs smaller than this earn check 8 (the chosen reading of "5 MB", §8.5).
const SMALL_TARBALL: usize = 5_242_880;

pub fn audit_score(files: &FileSet, input: &ScanInput, findings: &[Finding]) -> u8 {
    let mut score = 0u8;
    let skill_md = files.skill_md();
    // 1. A root SKILL.md (case-insensitive).
    if skill_md.is_some() {
        score += 1;
    }
    // 2. A description: the effective manifest's, else the SKILL.md frontmatter's.
    let non_empty = |s: Option<&str>| s.is_some_and(|s| !s.trim().is_empty());
    let eff = files.effective_manifest(input.manifest);
    let manifest_desc = eff
        .as_deref()
        .and_then(|m| m.get("description"))
        .and_then(|d| d.as_str());
    let fm_desc = || {
        skill_md
            .and_then(|f| f.text())
            .and_then(|t| frontmatter::parse(&t))
            .and_then(|fm| {
                fm.get("description")
                    .and_then(|d| d.as_str().map(String::from))
            })
    };
    if non_empty(manifest_desc) || non_empty(fm_desc().as_deref()) {
        score += 1;
    }
    // 3. The declared-permissions source has a `permissions` object (`{}` counts).
    if files
        .declared_permissions(input.manifest)
        .is_some_and(|(_, p)| p.is_object())
    {
        score += 1;
    }
    // 4. No critical and no high findings.
    if !findings
        .iter()
        .any(|f| matches!(f.severity, Severity::Critical | Severity::High))
    {
        score += 2;
    }
    // 5. Capabilities within declarations: none of MAN-001..003 (stage 2 rules, not in this build yet).
    if !findings
        .iter()
        .any(|f| matches!(f.rule_id, "MAN-001" | "MAN-002" | "MAN-003"))
    {
        score += 2;
    }
    // 6. Fewer than 100 regular files.
    if files.files.len() < 100 {
        score += 1;
    }
    // 7. A readme of ≥ 50 characters: the version readme at publish, else SKILL.md, else README.md.
    let readme_len = match input.readme {
        Some(r) => r.trim().chars().count(),
        None => skill_md
            .or_else(|| files.root_ci("README.md"))
            .and_then(|f| f.text())
            .map(|t| t.trim().chars().count())
            .unwrap_or(0),
    };
    if readme_len >= 50 {
        score += 1;
    }
    // 8. A compressed tarball under 5 MiB.
    if input.tarball.len() < SMALL_TARBALL {
        score += 1;
    }
    score
}

#[cfg(test)]
mod tests {
    use crate::archive::testutil::build_tgz;
    use crate::scan::tests::{run_scan, run_with};
    use serde_json::json;

    #[test]
    fn simple_tool_scores_8() {
        // SPEC §8.8 benign/simple_tool: SKILL.md without frontmatter + skill.py → 8.
        let t = build_tgz(&[
            (
                "SKILL.md",
                b"# Simple Tool\n\nReads and writes files at paths the caller supplies, nothing more.\n",
            ),
            ("skill.py", b"def read(p):\n    return open(p).read()\n"),
        ]);
        assert_eq!(run_scan(&t).audit_score, 8);
    }

    #[test]
    fn manifest_description_and_permissions() {
        let t = build_tgz(&[("x.py", b"1")]);
        // No SKILL.md (−1), no description (−1), no permissions (−1), readme empty (−1).
        assert_eq!(run_scan(&t).audit_score, 6);
        let m = json!({"description": "  d ", "permissions": {}});
        assert_eq!(run_with(&t, Some(&m), None).audit_score, 8);
        let long = "x".repeat(60);
        assert_eq!(run_with(&t, Some(&m), Some(&long)).audit_score, 9);
        let m = json!({"description": "   ", "permissions": []});
        assert_eq!(run_with(&t, Some(&m), None).audit_score, 6);
    }

    #[test]
    fn frontmatter_description_and_root_manifest_permissions() {
        let t = build_tgz(&[
            ("SKILL.md", b"---\nname: a\ndescription: d\n---\n"),
            (
                "SKILL.json",
                br#"{"permissions": {"network": {"outbound": []}}}"#,
            ),
        ]);
        // 1 + 1 + 1 + 2 + 2 + 1 + 0 (short readme) + 1.
        assert_eq!(run_scan(&t).audit_score, 9);
    }
}
