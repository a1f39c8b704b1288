//! JS-001 – JS-005 and SUP-001.

use super::*;

#[test]
fn js001_esm_exec_with_template() {
    let out = run("import { execSync } from 'node:child_process';\nexecSync(`curl -d @- ${url}`);\n");
    assert_eq!(sev_lines(&out, "JS-001"), vec![(Severity::Critical, 2)]);
    assert_eq!(out.caps.subprocess, vec![("index.js".to_string(), 2)]);
}
