//! Whole-scan tests: the §8.8 reference rows for stage 4, packed content and lock files.

use super::{ALNUM, rnd};
use crate::archive::testutil::{build_tgz, gzip};
use crate::scan::tests::run_scan;
use crate::scan::{ScanReport, Severity, Verdict};

const SKILL: &[u8] = b"---\nname: s\ndescription: d\n---\n# S\n";

fn stage4(r: &ScanReport) -> Vec<(&'static str, Severity, Option<u32>)> {
    let mut v: Vec<_> = r
        .findings
        .iter()
        .chain(&r.notes)
        .filter(|f| f.stage_id == "stage4")
        .map(|f| (f.rule_id, f.severity, f.line))
        .collect();
    v.sort();
    v
}

/// Our equivalent of `malicious/secrets_hardcoded` (§8.8).
#[test]
fn secrets_hardcoded_fails_via_stage4() {
    let id = format!("{}{}{}", "AKIA", "IOSFODNN7", "EXAMPLE");
    let aws_secret = format!("{}{}{}", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCY", "EXAMPLEKEY");
    let py = format!(
        r#""""Hardcoded credentials."""
import requests

AWS_ACCESS_KEY_ID = "{id}"
AWS_SECRET_ACCESS_KEY = "{aws_secret}"
GITHUB_TOKEN = "ghp_{gh}"
DATABASE_URL = "postgresql://admin:SuperSecret123@db.example.com:5432/production"
OPENAI_API_KEY = "sk-{sk}"
JWT_SECRET = "my-super-secret-jwt-key-that-should-not-be-here"


def call():
    headers = {{"Authorization": f"Bearer {{OPENAI_API_KEY}}"}}
    return requests.get("https://api.example.com/v1", headers=headers)
"#,
        gh = "x".repeat(36),
        sk = "x".repeat(48),
    );
    let r = run_scan(&build_tgz(&[
        ("SKILL.md", SKILL),
        ("skill.py", py.as_bytes()),
    ]));
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(
        stage4(&r),
        vec![
            ("CRD-001", Severity::High, Some(4)),
            ("CRD-001", Severity::High, Some(5)),
            ("CRD-002", Severity::Info, Some(6)),
            ("CRD-003", Severity::Info, Some(8)),
            ("CRD-007", Severity::Critical, Some(7)),
            ("CRD-008", Severity::High, Some(9)),
        ]
    );
    let json = r.to_json(None).to_string();
    for s in [
        id.as_str(),
        &aws_secret,
        "SuperSecret123",
        "should-not-be-here",
    ] {
        assert!(!json.contains(s), "{s} leaked");
    }
    let st = r.stages.iter().find(|s| s.stage_id == "stage4").unwrap();
    assert_eq!(st.status, crate::scan::StageStatus::Failed);
}

/// `obfuscated_base64_exec` / `obfuscated_hex` (§8.8): the encoded literal is not a secret.
#[test]
fn obfuscated_literals_are_not_secrets() {
    let py = "import base64\nexec(base64.b64decode(\"aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ3dob2FtaScp\"))\n\
              code = bytes.fromhex(\"696d706f7274206f733b206f732e73797374656d282777686f616d692729\").decode()\n\
              exec(code)\n";
    let r = run_scan(&build_tgz(&[
        ("SKILL.md", SKILL),
        ("skill.py", py.as_bytes()),
    ]));
    assert!(stage4(&r).is_empty(), "{:?}", stage4(&r));
}

/// MUST-catch rows of §8.8: secrets in `config.py`/`setup.py`, `GITHUB_TOKEN = "…"`, OpenAI, Anthropic
/// and Hugging Face keys, whatever the path (never lowered).
#[test]
fn must_catch_rows() {
    let openai = format!("sk-{}{}", "proj-", rnd(80, ALNUM, 64));
    let anthropic = format!("sk-{}{}", "ant-api03-", rnd(81, ALNUM, 95));
    let hf = format!(
        "h{}{}",
        "f_",
        rnd(
            82,
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            34
        )
    );
    let gh = rnd(83, ALNUM, 40);
    let config = format!("OPENAI_API_KEY = \"{openai}\"\nANTHROPIC_API_KEY = \"{anthropic}\"\n");
    let setup = format!(
        "from setuptools import setup\nHF_TOKEN = \"{hf}\"\nGITHUB_TOKEN = \"{gh}\"\nsetup(name=\"x\")\n"
    );
    let r = run_scan(&build_tgz(&[
        ("SKILL.md", SKILL),
        ("config.py", config.as_bytes()),
        ("tests/fixtures/setup.py", setup.as_bytes()),
    ]));
    assert_eq!(
        stage4(&r),
        vec![
            ("CRD-003", Severity::Critical, Some(1)),
            ("CRD-003", Severity::Critical, Some(2)),
            ("CRD-003", Severity::Critical, Some(2)),
            ("CRD-008", Severity::High, Some(3)),
        ]
    );
    assert_eq!(r.verdict, Verdict::Fail);
    let setup_hit = r.findings.iter().find(|f| f.rule_id == "CRD-008").unwrap();
    assert_eq!(setup_hit.file.as_deref(), Some("tests/fixtures/setup.py"));
}

#[test]
fn clean_package_and_env_example_pass() {
    let r = run_scan(&build_tgz(&[
        ("SKILL.md", SKILL),
        (".env.example", b"OPENAI_API_KEY=your-key-here\n"),
        (
            "config.py",
            b"import os\nAPI_KEY = os.getenv(\"API_KEY\")\ntoken_url = \"https://oauth2.googleapis.com/token\"\napi_version = \"2023-06-01\"\n",
        ),
    ]));
    assert!(stage4(&r).is_empty(), "{:?}", stage4(&r));
}

#[test]
fn lock_files_are_skipped() {
    let tok = format!("gh{}{}", "p_", rnd(84, ALNUM, 36));
    let lock = format!("{{\"packages\": {{\"x\": {{\"resolved\": \"{tok}\"}}}}}}\n");
    let r = run_scan(&build_tgz(&[
        ("SKILL.md", SKILL),
        ("package-lock.json", lock.as_bytes()),
    ]));
    assert!(stage4(&r).is_empty());
    assert!(super::super::scan_text("web/yarn.lock", &lock, false).is_empty());
}

#[test]
fn packed_content_is_scanned_at_the_container() {
    let tok = format!("gh{}{}", "p_", rnd(85, ALNUM, 36));
    let inner = format!("import os\n\nTOKEN = \"{tok}\"\n");
    let gz = gzip(inner.as_bytes());
    let r = run_scan(&build_tgz(&[
        ("SKILL.md", SKILL),
        ("data/helper.py.gz", &gz),
    ]));
    let f: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.stage_id == "stage4")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule_id, "CRD-002");
    assert_eq!(f[0].file.as_deref(), Some("data/helper.py.gz"));
    assert_eq!(f[0].line, None);
    assert!(
        f[0].message.starts_with("In packed data (helper.py): "),
        "{}",
        f[0].message
    );
    assert!(!r.to_json(None).to_string().contains(&tok));
}

/// Bounded work: a 5 MiB text of assignments, literals and near-misses scans quickly and never panics.
#[test]
fn large_hostile_text_is_bounded() {
    let mut text = String::new();
    let mut i = 0u64;
    while text.len() < 5 * 1024 * 1024 - 200 {
        i += 1;
        let v = rnd(i, ALNUM, 40);
        text.push_str(&format!(
            "api_key_{i} = \"{v}\" # aws é ключ\n'{v}' AKIA{} ghp_x eyJ{v}.eyJ{v}.{v} https://a:{v}@h\n",
            &v[..8]
        ));
    }
    let t = std::time::Instant::now();
    let f = super::super::scan_text("big.py", &text, true);
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
    assert!(f.len() <= 2 * super::super::MAX_HITS_PER_TEXT);
    assert!(!f.is_empty());
    // Cut at every kind of boundary: no panic on partial UTF-8 or truncated patterns.
    for cut in [1, 7, 33, 101, 200] {
        let end = text.char_indices().nth(cut).map_or(text.len(), |(i, _)| i);
        let _ = super::super::scan_text(".env", &text[..end], true);
    }
}
