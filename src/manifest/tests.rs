//! Unit tests of `manifest` (kept beside it so the module stays readable).

use super::*;
use crate::issue_path;
use serde_json::json;

/// Permissions, repository, dependencies, atoms, includes, audit and MCP server fields.
mod fields;

fn base() -> Value {
    json!({"name": "@acme/hello-world", "version": "1.0.0"})
}

/// The base manifest with `key` set to `value`, validated inside a body.
fn with(key: &str, value: Value) -> Result<PublishRequest, Vec<Issue>> {
    let mut m = base();
    m[key] = value;
    validate_publish_body(&json!({ "manifest": m }))
}

fn ok(key: &str, value: Value) {
    if let Err(e) = with(key, value.clone()) {
        panic!("{key} = {value} should be valid: {e:?}");
    }
}

/// Asserts exactly one issue, at `path` (relative to the body).
fn bad(key: &str, value: Value, path: Vec<PathSeg>) -> String {
    let issues = with(key, value.clone()).expect_err(&format!("{key} = {value} should be invalid"));
    assert_eq!(issues.len(), 1, "{key} = {value}: {issues:?}");
    assert_eq!(issues[0].path, path, "{key} = {value}");
    issues[0].message.clone()
}

#[test]
fn minimal_body_is_valid() {
    let r = validate_publish_body(&json!({"manifest": base()})).unwrap();
    assert_eq!(r.manifest.name, "@acme/hello-world");
    assert_eq!(r.manifest.version, semver::Version::new(1, 0, 0));
    assert_eq!(r.manifest.version_str, "1.0.0");
    assert_eq!(r.manifest.description, None);
    assert_eq!(r.manifest.visibility, None);
    assert_eq!(r.manifest.permissions, Permissions::default());
    assert_eq!(r.manifest.repository, None);
    assert_eq!(r.manifest.raw, base());
    assert_eq!(r.readme, None);
    assert!(r.files.is_empty());
}

#[test]
fn full_real_cli_manifest_is_valid() {
    let m = json!({
        "name": "@acme/hello-world",
        "version": "1.2.3-rc.1+build.7",
        "description": "Says hello.",
        "visibility": "private",
        "permissions": {
            "network": {"outbound": ["api.acme.com", "*.github.com"]},
            "filesystem": {"read": ["./data/**"], "write": ["./out/**"]},
            "subprocess": false
        },
        "repository": "git+ssh://git@github.com/acme/hello.git",
        "skills": {"@acme/greeter-core": "^2.0.0", "pdf-tools": "1.x"},
        "atoms": [{"kind": "instruction", "anything": [1, 2]}],
        "includes": ["docs/extra.md"],
        "audit": {"min_score": 7.5},
        "mcp_server": {"command": "node", "args": ["server.js"], "env": {"X": "1"}, "requires_auth": true},
        "publish": {"files": ["SKILL.md"]}
    });
    let r = validate_publish_body(&json!({
        "manifest": m, "readme": "# Hi", "files": ["SKILL.md", "src/a.py"], "extra": 1
    }))
    .unwrap();
    let mf = &r.manifest;
    assert_eq!(mf.version_str, "1.2.3-rc.1+build.7");
    assert_eq!(mf.visibility, Some(Visibility::Private));
    assert_eq!(mf.description.as_deref(), Some("Says hello."));
    assert_eq!(
        mf.repository.as_deref(),
        Some("git+ssh://git@github.com/acme/hello.git")
    );
    assert_eq!(
        mf.permissions.outbound,
        vec!["api.acme.com", "*.github.com"]
    );
    assert_eq!(mf.permissions.fs_read, vec!["./data/**"]);
    assert_eq!(mf.permissions.fs_write, vec!["./out/**"]);
    assert!(!mf.permissions.subprocess);
    assert_eq!(r.readme.as_deref(), Some("# Hi"));
    assert_eq!(r.files, vec!["SKILL.md", "src/a.py"]);
    // `publish` is ignored and not stored; everything else is kept as sent.
    assert!(mf.raw.get("publish").is_none());
    assert_eq!(mf.raw["permissions"], m["permissions"]);
    assert_eq!(mf.raw["skills"], m["skills"]);
    assert_eq!(mf.raw["atoms"], m["atoms"]);
}

#[test]
fn body_must_be_an_object() {
    for body in [json!([]), json!("x"), json!(null), json!(1)] {
        let issues = validate_publish_body(&body).unwrap_err();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, Vec::<PathSeg>::new());
    }
}

#[test]
fn manifest_required_and_object() {
    let issues = validate_publish_body(&json!({"readme": "x"})).unwrap_err();
    assert_eq!(
        issues,
        vec![Issue::new(issue_path!["manifest"], "Required")]
    );
    let issues = validate_publish_body(&json!({"manifest": [1]})).unwrap_err();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].path, issue_path!["manifest"]);
    let issues = validate_publish_body(&json!({"manifest": null})).unwrap_err();
    assert_eq!(issues[0].path, issue_path!["manifest"]);
}

#[test]
fn name_and_version_required() {
    let issues = validate_publish_body(&json!({"manifest": {}})).unwrap_err();
    assert_eq!(
        issues,
        vec![
            Issue::new(issue_path!["manifest", "name"], "Required"),
            Issue::new(issue_path!["manifest", "version"], "Required"),
        ]
    );
}

#[test]
fn unknown_keys_top_level_and_nested() {
    let m = bad("homepage", json!("x"), issue_path!["manifest", "homepage"]);
    assert_eq!(m, "Unrecognized key: homepage");
    let m = bad(
        "permissions",
        json!({"network": {"outbound": [], "inbound": []}}),
        issue_path!["manifest", "permissions", "network", "inbound"],
    );
    assert_eq!(m, "Unrecognized key: inbound");
    bad(
        "permissions",
        json!({"filesystem": {"exec": []}}),
        issue_path!["manifest", "permissions", "filesystem", "exec"],
    );
    bad(
        "permissions",
        json!({"shell": true}),
        issue_path!["manifest", "permissions", "shell"],
    );
    bad(
        "audit",
        json!({"min_score": 5, "max_score": 9}),
        issue_path!["manifest", "audit", "max_score"],
    );
    bad(
        "mcp_server",
        json!({"command": "x", "cwd": "/"}),
        issue_path!["manifest", "mcp_server", "cwd"],
    );
    // Unknown keys of the body itself are ignored.
    assert!(validate_publish_body(&json!({"manifest": base(), "whatever": 1})).is_ok());
}

#[test]
fn version_strict_semver() {
    ok("version", json!("0.0.1"));
    ok("version", json!("1.0.0-alpha.1+sha.abc"));
    let m = bad("version", json!("1.0"), issue_path!["manifest", "version"]);
    assert_eq!(m, "Invalid SemVer version: 1.0");
    bad(
        "version",
        json!("v1.0.0"),
        issue_path!["manifest", "version"],
    );
    bad(
        "version",
        json!("01.0.0"),
        issue_path!["manifest", "version"],
    );
    bad("version", json!(1), issue_path!["manifest", "version"]);
    // ≤ 64 characters.
    let v64 = format!("1.0.0-{}", "a".repeat(58));
    ok("version", json!(v64));
    let v65 = format!("1.0.0-{}", "a".repeat(59));
    bad("version", json!(v65), issue_path!["manifest", "version"]);
}

#[test]
fn name_rules() {
    ok("name", json!("pdf-tools"));
    ok("name", json!("@a-1/b-2"));
    ok("name", json!("a".repeat(214)));
    for n in [
        "Hello", " hello", "hello ", "@acme", "@acme/", "@a/b/c", "a_b", "",
    ] {
        bad("name", json!(n), issue_path!["manifest", "name"]);
    }
    bad(
        "name",
        json!("a".repeat(215)),
        issue_path!["manifest", "name"],
    );
    bad("name", json!(null), issue_path!["manifest", "name"]);
}

#[test]
fn description_rules() {
    ok("description", json!("é".repeat(500)));
    ok("description", json!(""));
    bad(
        "description",
        json!("é".repeat(501)),
        issue_path!["manifest", "description"],
    );
    bad(
        "description",
        json!(null),
        issue_path!["manifest", "description"],
    );
    bad(
        "description",
        json!(3),
        issue_path!["manifest", "description"],
    );
}

#[test]
fn visibility_values() {
    ok("visibility", json!("public"));
    ok("visibility", json!("private"));
    for v in [json!("Public"), json!("internal"), json!(null), json!(true)] {
        bad("visibility", v, issue_path!["manifest", "visibility"]);
    }
}

#[test]
fn publish_key_ignored_and_not_stored() {
    for p in [
        json!({"files": ["**"]}),
        json!(null),
        json!("anything"),
        json!([1, {"x": 2}]),
    ] {
        let r = with("publish", p).unwrap();
        assert_eq!(r.manifest.raw, base());
    }
}

#[test]
fn files_rules() {
    let r = validate_publish_body(&json!({"manifest": base(), "files": ["a", "é".repeat(1024)]}))
        .unwrap();
    assert_eq!(r.files.len(), 2);
    let many = vec![json!("f"); 1000];
    assert!(validate_publish_body(&json!({"manifest": base(), "files": many})).is_ok());
    let too_many = vec![json!("f"); 1001];
    let issues =
        validate_publish_body(&json!({"manifest": base(), "files": too_many})).unwrap_err();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].path, issue_path!["files"]);
    let issues = validate_publish_body(
        &json!({"manifest": base(), "files": ["ok", "", "é".repeat(1025), 3]}),
    )
    .unwrap_err();
    let paths: Vec<_> = issues.iter().map(|i| i.path.clone()).collect();
    assert_eq!(
        paths,
        vec![
            issue_path!["files", 1],
            issue_path!["files", 2],
            issue_path!["files", 3]
        ]
    );
    let issues =
        validate_publish_body(&json!({"manifest": base(), "files": "SKILL.md"})).unwrap_err();
    assert_eq!(issues[0].path, issue_path!["files"]);
}

#[test]
fn readme_limit_in_bytes() {
    let r = validate_publish_body(&json!({"manifest": base(), "readme": null})).unwrap();
    assert_eq!(r.readme, None);
    let exact = "a".repeat(MAX_README_BYTES);
    assert!(validate_publish_body(&json!({"manifest": base(), "readme": exact})).is_ok());
    // 524,289 two-byte characters: under the limit in characters, over it in bytes.
    let over = "é".repeat(MAX_README_BYTES / 2 + 1);
    let issues = validate_publish_body(&json!({"manifest": base(), "readme": over})).unwrap_err();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].path, issue_path!["readme"]);
    let issues = validate_publish_body(&json!({"manifest": base(), "readme": 5})).unwrap_err();
    assert_eq!(issues[0].path, issue_path!["readme"]);
}

#[test]
fn all_issues_in_key_order() {
    let body = json!({
        "readme": 1,
        "files": [""],
        "manifest": {
            "zzz": 1,
            "version": "1.0",
            "description": null,
            "permissions": {"subprocess": 1, "network": {"x": 1}},
            "aaa": 2
        }
    });
    let issues = validate_publish_body(&body).unwrap_err();
    let paths: Vec<_> = issues.iter().map(|i| i.path.clone()).collect();
    assert_eq!(
        paths,
        vec![
            issue_path!["files", 0],
            issue_path!["manifest", "aaa"],
            issue_path!["manifest", "description"],
            issue_path!["manifest", "name"],
            issue_path!["manifest", "permissions", "network", "x"],
            issue_path!["manifest", "permissions", "subprocess"],
            issue_path!["manifest", "version"],
            issue_path!["manifest", "zzz"],
            issue_path!["readme"],
        ]
    );
    assert_eq!(issues[3].message, "Required");
    assert_eq!(issues[6].message, "Invalid SemVer version: 1.0");
}

#[test]
fn issue_count_is_capped() {
    let junk: Map<String, Value> = (0..5000).map(|i| (format!("k{i}"), json!(1))).collect();
    let mut m = base();
    m.as_object_mut().unwrap().extend(junk);
    let issues = validate_publish_body(&json!({ "manifest": m })).unwrap_err();
    assert_eq!(issues.len(), MAX_ISSUES);
}

#[test]
fn seed_manifest_with_prefix() {
    let m = validate_manifest(
        &json!({"name": "@acme/x", "version": "1.0.0", "publish": {"files": []}}),
        &[PathSeg::from("manifest")],
    )
    .unwrap();
    assert_eq!(m.raw, json!({"name": "@acme/x", "version": "1.0.0"}));
    let issues = validate_manifest(
        &json!({"name": "@acme/x", "version": "1.0"}),
        &[PathSeg::from("manifest")],
    )
    .unwrap_err();
    assert_eq!(
        issues,
        vec![Issue::new(
            issue_path!["manifest", "version"],
            "Invalid SemVer version: 1.0"
        )]
    );
    let issues = validate_manifest(&json!({"version": "1.0.0"}), &[]).unwrap_err();
    assert_eq!(issues, vec![Issue::new(issue_path!["name"], "Required")]);
    let issues = validate_manifest(&json!([]), &[]).unwrap_err();
    assert_eq!(issues.len(), 1);
    assert!(issues[0].path.is_empty());
}
