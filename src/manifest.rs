//! Schema validation of the publish-start body and of the skill manifest (SPEC §3.4), also used for seed manifests
//! (SPEC §11.6). Pure: JSON in, a typed request or every issue (SPEC §2.7) out.
//!
//! Not here: namespace, conflict and escalation checks (they need the store; escalation itself is in
//! `permissions.rs`), and the lenient manifest reading of the scanner (SPEC §3.15 does not validate).
//!
//! Issue order: SPEC §2.7 asks for document order. This crate's serde_json is built without `preserve_order`, so a
//! parsed object is a `BTreeMap` and the original key order is lost; within an object issues therefore follow the
//! alphabetical (byte-wise) order of its keys, a missing required key taking the place its name would sort to.
//! An issue about a container (e.g. too many entries) precedes the issues about its children.

use crate::domain::{Issue, PathSeg, Visibility, is_valid_skill_name};
use crate::permissions::Permissions;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// `readme` limit: 1 MiB of UTF-8, in bytes (SPEC §3.4).
pub const MAX_README_BYTES: usize = 1_048_576;
/// `files`: at most 1,000 entries, the real CLI's own maximum (SPEC §3.4).
pub const MAX_FILES: usize = 1_000;
/// Each `files` and `includes` entry and each permission path: at most 1,024 characters (SPEC §3.4).
pub const MAX_PATH_CHARS: usize = 1_024;
pub const MAX_VERSION_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_PERMISSION_ENTRIES: usize = 100;
/// A DNS name is at most 253 characters.
pub const MAX_HOST_CHARS: usize = 253;
pub const MAX_REPOSITORY_CHARS: usize = 2_048;
pub const MAX_DEPENDENCIES: usize = 200;
pub const MAX_DEPENDENCY_RANGE_CHARS: usize = 256;
pub const MAX_ATOMS: usize = 200;
pub const MAX_INCLUDES: usize = 1_000;
/// Safety cap on the number of issues collected for one body (not in the SPEC): an 8 MiB body of unknown keys
/// would otherwise turn into a response many times its size. Validation stops collecting once it is reached.
pub const MAX_ISSUES: usize = 1_000;

const REPOSITORY_SCHEMES: &[&str] = &["http", "https", "git", "git+https", "git+ssh", "ssh"];

/// The validated body of `POST /api/v1/skills`.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishRequest {
    pub manifest: Manifest,
    /// `None` when absent or `null`.
    pub readme: Option<String>,
    /// Informational file list, stored with the version; empty when absent.
    pub files: Vec<String>,
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub version: semver::Version,
    /// The version exactly as sent.
    pub version_str: String,
    pub description: Option<String>,
    pub visibility: Option<Visibility>,
    /// Parsed from the declared `permissions` (none when absent).
    pub permissions: Permissions,
    pub repository: Option<String>,
    /// The manifest object as sent minus its `publish` key (stored with the version and returned later:
    /// `permissions` exactly as declared, `skills` as `dependencies`).
    pub raw: Value,
}

/// Validates the whole body of POST /api/v1/skills. Ok, or every issue in document order (SPEC §2.7).
/// A body that is not a JSON object -> one issue with path [] ; missing manifest -> ["manifest"] "Required".
pub fn validate_publish_body(body: &Value) -> Result<PublishRequest, Vec<Issue>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![Issue::new(
            vec![],
            "The request body must be a JSON object.",
        )]);
    };
    let mut cx = Cx::default();
    let mut manifest = None;
    let mut readme = None;
    let mut files = Vec::new();
    for key in keys_with_required(obj, &["manifest"]) {
        let path = vec![PathSeg::from(key)];
        let Some(value) = obj.get(key) else {
            cx.push(path, "Required");
            continue;
        };
        match key {
            "manifest" => manifest = check_manifest(&mut cx, value, &path),
            "readme" => match value {
                Value::Null => {}
                Value::String(s) if s.len() > MAX_README_BYTES => cx.push(
                    path,
                    format!("The readme must be at most {MAX_README_BYTES} bytes."),
                ),
                Value::String(s) => readme = Some(s.clone()),
                _ => cx.push(path, "Expected a string or null."),
            },
            "files" => files = check_files(&mut cx, value, &path),
            // Other top-level keys are ignored (SPEC §3.4).
            _ => {}
        }
    }
    match (cx.into_result(), manifest) {
        (Ok(()), Some(manifest)) => Ok(PublishRequest {
            manifest,
            readme,
            files,
        }),
        (Err(issues), _) => Err(issues),
        // Unreachable: a missing or invalid manifest always leaves an issue.
        (Ok(()), None) => Err(vec![Issue::new(vec!["manifest".into()], "Required")]),
    }
}

/// Validates a manifest object alone with paths relative to it prefixed by `prefix` (used for seeds, §11.6).
///
/// A `publish` key is accepted with any value and dropped from [`Manifest::raw`].
pub fn validate_manifest(m: &Value, prefix: &[PathSeg]) -> Result<Manifest, Vec<Issue>> {
    let mut cx = Cx::default();
    let manifest = check_manifest(&mut cx, m, prefix);
    match (cx.into_result(), manifest) {
        (Ok(()), Some(manifest)) => Ok(manifest),
        (Err(issues), _) => Err(issues),
        (Ok(()), None) => Err(vec![Issue::new(prefix.to_vec(), "Expected an object.")]),
    }
}

/// Issue collector with the [`MAX_ISSUES`] cap.
#[derive(Default)]
struct Cx {
    issues: Vec<Issue>,
}

impl Cx {
    fn push(&mut self, path: Vec<PathSeg>, message: impl Into<String>) {
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(Issue::new(path, message));
        }
    }

    fn into_result(self) -> Result<(), Vec<Issue>> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(self.issues)
        }
    }
}

/// `path` + one more segment.
fn child(path: &[PathSeg], seg: impl Into<PathSeg>) -> Vec<PathSeg> {
    let mut p = path.to_vec();
    p.push(seg.into());
    p
}

/// The keys present in `obj` plus the missing `required` ones, in byte-wise order (the order of serde_json's
/// `BTreeMap`, see the module comment).
fn keys_with_required<'a>(obj: &'a Map<String, Value>, required: &[&'a str]) -> BTreeSet<&'a str> {
    obj.keys()
        .map(String::as_str)
        .chain(required.iter().copied())
        .collect()
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn unrecognized(cx: &mut Cx, path: Vec<PathSeg>, key: &str) {
    cx.push(path, format!("Unrecognized key: {key}"));
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expected(cx: &mut Cx, path: Vec<PathSeg>, what: &str, got: &Value) {
    cx.push(path, format!("Expected {what}, got {}.", json_type(got)));
}

fn as_object<'a>(cx: &mut Cx, v: &'a Value, path: &[PathSeg]) -> Option<&'a Map<String, Value>> {
    let obj = v.as_object();
    if obj.is_none() {
        expected(cx, path.to_vec(), "an object", v);
    }
    obj
}

fn as_array<'a>(cx: &mut Cx, v: &'a Value, path: &[PathSeg], max: usize) -> Option<&'a [Value]> {
    match v.as_array() {
        Some(a) => {
            if a.len() > max {
                cx.push(
                    path.to_vec(),
                    format!("At most {max} entries are allowed (got {}).", a.len()),
                );
            }
            Some(a)
        }
        None => {
            expected(cx, path.to_vec(), "an array", v);
            None
        }
    }
}

fn as_str<'a>(cx: &mut Cx, v: &'a Value, path: &[PathSeg]) -> Option<&'a str> {
    let s = v.as_str();
    if s.is_none() {
        expected(cx, path.to_vec(), "a string", v);
    }
    s
}

fn check_bool(cx: &mut Cx, v: &Value, path: &[PathSeg]) {
    if !v.is_boolean() {
        expected(cx, path.to_vec(), "a boolean", v);
    }
}

/// An array of strings; `entry` checks each string and returns an error message.
fn check_string_array(
    cx: &mut Cx,
    v: &Value,
    path: &[PathSeg],
    max: usize,
    entry: impl Fn(&str) -> Option<String>,
) {
    let Some(items) = as_array(cx, v, path, max) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let p = child(path, i);
        if let Some(msg) = as_str(cx, item, &p).and_then(&entry) {
            cx.push(p, msg);
        }
    }
}

/// `{string: string}`.
fn check_string_map(cx: &mut Cx, v: &Value, path: &[PathSeg]) {
    if let Some(obj) = as_object(cx, v, path) {
        for (k, val) in obj {
            as_str(cx, val, &child(path, k.as_str()));
        }
    }
}

/// `files`: ≤ 1,000 strings of 1–1024 characters; returned only when entirely valid.
fn check_files(cx: &mut Cx, v: &Value, path: &[PathSeg]) -> Vec<String> {
    let before = cx.issues.len();
    check_string_array(cx, v, path, MAX_FILES, |s| {
        let n = chars(s);
        (n == 0 || n > MAX_PATH_CHARS)
            .then(|| format!("File paths must be 1 to {MAX_PATH_CHARS} characters."))
    });
    if cx.issues.len() != before {
        return Vec::new();
    }
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// An absolute URL with a host and one of `schemes`.
fn url_with_scheme(s: &str, schemes: &[&str]) -> bool {
    match url::Url::parse(s) {
        Ok(u) => schemes.contains(&u.scheme()) && u.host_str().is_some_and(|h| !h.is_empty()),
        Err(_) => false,
    }
}

/// The manifest schema (SPEC §3.4). Returns the typed manifest only when the manifest itself produced no issue.
fn check_manifest(cx: &mut Cx, m: &Value, path: &[PathSeg]) -> Option<Manifest> {
    let obj = as_object(cx, m, path)?;
    let before = cx.issues.len();
    let mut name = None;
    let mut version = None;
    let mut description = None;
    let mut visibility = None;
    let mut repository = None;

    for key in keys_with_required(obj, &["name", "version"]) {
        let p = child(path, key);
        let Some(value) = obj.get(key) else {
            cx.push(p, "Required");
            continue;
        };
        match key {
            "name" => {
                if let Some(s) = as_str(cx, value, &p) {
                    // Exact: no trimming, no case folding (SPEC §1).
                    if is_valid_skill_name(s) {
                        name = Some(s.to_string());
                    } else {
                        cx.push(
                            p,
                            "Invalid skill name: use lower-case letters, digits and hyphens, optionally \
                             scoped as @scope/name, at most 214 characters.",
                        );
                    }
                }
            }
            "version" => {
                if let Some(s) = as_str(cx, value, &p) {
                    if chars(s) > MAX_VERSION_CHARS {
                        cx.push(
                            p,
                            format!("The version must be at most {MAX_VERSION_CHARS} characters."),
                        );
                    } else {
                        match crate::domain::parse_version(s) {
                            Some(ver) => version = Some((ver, s.to_string())),
                            None => cx.push(p, format!("Invalid SemVer version: {s}")),
                        }
                    }
                }
            }
            "description" => {
                // `null` is invalid (SPEC §3.4): only a string is accepted.
                if let Some(s) = as_str(cx, value, &p) {
                    if chars(s) > MAX_DESCRIPTION_CHARS {
                        cx.push(
                            p,
                            format!(
                                "The description must be at most {MAX_DESCRIPTION_CHARS} characters."
                            ),
                        );
                    } else {
                        description = Some(s.to_string());
                    }
                }
            }
            "visibility" => match value.as_str().and_then(Visibility::parse) {
                Some(vis) => visibility = Some(vis),
                None => cx.push(p, "Visibility must be \"public\" or \"private\"."),
            },
            "permissions" => check_permissions(cx, value, &p),
            "repository" => {
                if let Some(s) = as_str(cx, value, &p) {
                    if chars(s) > MAX_REPOSITORY_CHARS {
                        cx.push(
                            p,
                            format!(
                                "The repository URL must be at most {MAX_REPOSITORY_CHARS} characters."
                            ),
                        );
                    } else if !url_with_scheme(s, REPOSITORY_SCHEMES) {
                        cx.push(
                            p,
                            "The repository must be an absolute URL with scheme http, https, git, \
                             git+https, git+ssh or ssh.",
                        );
                    } else {
                        repository = Some(s.to_string());
                    }
                }
            }
            "skills" => check_skills(cx, value, &p),
            "atoms" => {
                if let Some(items) = as_array(cx, value, &p, MAX_ATOMS) {
                    for (i, item) in items.iter().enumerate() {
                        if !item.is_object() {
                            expected(cx, child(&p, i), "an object", item);
                        }
                    }
                }
            }
            "includes" => check_string_array(cx, value, &p, MAX_INCLUDES, |s| {
                (chars(s) > MAX_PATH_CHARS)
                    .then(|| format!("Includes must be at most {MAX_PATH_CHARS} characters."))
            }),
            "audit" => check_audit(cx, value, &p),
            "mcp_server" => check_mcp_server(cx, value, &p),
            // Any value; ignored and not stored (SPEC §3.4).
            "publish" => {}
            _ => unrecognized(cx, p, key),
        }
    }

    if cx.issues.len() != before {
        return None;
    }
    let (version, version_str) = version?;
    let mut raw = obj.clone();
    raw.remove("publish");
    Some(Manifest {
        name: name?,
        version,
        version_str,
        description,
        visibility,
        permissions: Permissions::from_json(obj.get("permissions")),
        repository,
        raw: Value::Object(raw),
    })
}

/// `permissions`: strict at every level (SPEC §3.4).
fn check_permissions(cx: &mut Cx, v: &Value, path: &[PathSeg]) {
    let Some(obj) = as_object(cx, v, path) else {
        return;
    };
    let host_entry = |s: &str| {
        let n = chars(s);
        if n == 0 || n > MAX_HOST_CHARS {
            Some(format!(
                "Outbound hosts must be 1 to {MAX_HOST_CHARS} characters."
            ))
        } else if s.chars().any(char::is_whitespace) {
            Some("Outbound hosts must not contain whitespace.".to_string())
        } else {
            None
        }
    };
    let path_entry = |s: &str| {
        let n = chars(s);
        if n == 0 || n > MAX_PATH_CHARS {
            Some(format!("Paths must be 1 to {MAX_PATH_CHARS} characters."))
        } else if s.contains('\0') {
            Some("Paths must not contain NUL characters.".to_string())
        } else {
            None
        }
    };
    for (key, value) in obj {
        let p = child(path, key.as_str());
        match key.as_str() {
            "network" => {
                if let Some(net) = as_object(cx, value, &p) {
                    for (k, val) in net {
                        let pp = child(&p, k.as_str());
                        match k.as_str() {
                            "outbound" => {
                                check_string_array(cx, val, &pp, MAX_PERMISSION_ENTRIES, host_entry)
                            }
                            _ => unrecognized(cx, pp, k),
                        }
                    }
                }
            }
            "filesystem" => {
                if let Some(fs) = as_object(cx, value, &p) {
                    for (k, val) in fs {
                        let pp = child(&p, k.as_str());
                        match k.as_str() {
                            "read" | "write" => {
                                check_string_array(cx, val, &pp, MAX_PERMISSION_ENTRIES, path_entry)
                            }
                            _ => unrecognized(cx, pp, k),
                        }
                    }
                }
            }
            "subprocess" => check_bool(cx, value, &p),
            _ => unrecognized(cx, p, key),
        }
    }
}

/// `skills` (dependencies): ≤ 200 entries; keys are skill names; values non-empty strings ≤ 256 characters
/// (ranges are not interpreted).
fn check_skills(cx: &mut Cx, v: &Value, path: &[PathSeg]) {
    let Some(obj) = as_object(cx, v, path) else {
        return;
    };
    if obj.len() > MAX_DEPENDENCIES {
        cx.push(
            path.to_vec(),
            format!(
                "At most {MAX_DEPENDENCIES} dependencies are allowed (got {}).",
                obj.len()
            ),
        );
    }
    for (k, val) in obj {
        let p = child(path, k.as_str());
        if !is_valid_skill_name(k) {
            cx.push(p.clone(), format!("Invalid dependency name: {k}"));
        }
        if let Some(s) = as_str(cx, val, &p) {
            let n = chars(s);
            if n == 0 || n > MAX_DEPENDENCY_RANGE_CHARS {
                cx.push(
                    p,
                    format!(
                        "Dependency versions must be 1 to {MAX_DEPENDENCY_RANGE_CHARS} characters."
                    ),
                );
            }
        }
    }
}

/// `audit`: an object whose only key, `min_score`, is a number from 0 to 10 (required inside `audit`, as in the
/// real CLI's schema).
fn check_audit(cx: &mut Cx, v: &Value, path: &[PathSeg]) {
    let Some(obj) = as_object(cx, v, path) else {
        return;
    };
    for key in keys_with_required(obj, &["min_score"]) {
        let p = child(path, key);
        match (key, obj.get(key)) {
            ("min_score", None) => cx.push(p, "Required"),
            ("min_score", Some(val)) => {
                if !val.as_f64().is_some_and(|n| (0.0..=10.0).contains(&n)) {
                    cx.push(p, "min_score must be a number from 0 to 10.");
                }
            }
            _ => unrecognized(cx, p, key),
        }
    }
}

/// `mcp_server`: exactly one of the `command` form `{command, args?, env?, requires_auth?}` or the `remote` form
/// `{remote, requires_auth?, env?}`.
fn check_mcp_server(cx: &mut Cx, v: &Value, path: &[PathSeg]) {
    let Some(obj) = as_object(cx, v, path) else {
        return;
    };
    let has_command = obj.contains_key("command");
    let has_remote = obj.contains_key("remote");
    if has_command == has_remote {
        cx.push(
            path.to_vec(),
            "Exactly one of command or remote is required.",
        );
    }
    for (key, value) in obj {
        let p = child(path, key.as_str());
        match key.as_str() {
            "command" => {
                if as_str(cx, value, &p).is_some_and(str::is_empty) {
                    cx.push(p, "The command must not be empty.");
                }
            }
            "remote" => {
                if as_str(cx, value, &p).is_some_and(|s| !url_with_scheme(s, &["http", "https"])) {
                    cx.push(p, "The remote must be an absolute http or https URL.");
                }
            }
            // `args` belongs to the command form only.
            "args" if has_remote && !has_command => unrecognized(cx, p, key),
            "args" => check_string_array(cx, value, &p, usize::MAX, |_| None),
            "env" => check_string_map(cx, value, &p),
            "requires_auth" => check_bool(cx, value, &p),
            _ => unrecognized(cx, p, key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue_path;
    use serde_json::json;

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
        let issues =
            with(key, value.clone()).expect_err(&format!("{key} = {value} should be invalid"));
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
    fn permissions_shapes() {
        ok("permissions", json!({}));
        ok(
            "permissions",
            json!({"network": {}, "filesystem": {}, "subprocess": true}),
        );
        bad(
            "permissions",
            json!([]),
            issue_path!["manifest", "permissions"],
        );
        bad(
            "permissions",
            json!({"subprocess": "yes"}),
            issue_path!["manifest", "permissions", "subprocess"],
        );
        bad(
            "permissions",
            json!({"network": {"outbound": "a.com"}}),
            issue_path!["manifest", "permissions", "network", "outbound"],
        );
        bad(
            "permissions",
            json!({"network": {"outbound": null}}),
            issue_path!["manifest", "permissions", "network", "outbound"],
        );
        bad(
            "permissions",
            json!({"filesystem": {"read": [1]}}),
            issue_path!["manifest", "permissions", "filesystem", "read", 0],
        );
    }

    #[test]
    fn permissions_entry_limits() {
        let hosts: Vec<String> = (0..100).map(|i| format!("h{i}.com")).collect();
        ok("permissions", json!({"network": {"outbound": hosts}}));
        let hosts: Vec<String> = (0..101).map(|i| format!("h{i}.com")).collect();
        bad(
            "permissions",
            json!({"network": {"outbound": hosts}}),
            issue_path!["manifest", "permissions", "network", "outbound"],
        );
        let paths: Vec<String> = (0..101).map(|i| format!("./p{i}")).collect();
        bad(
            "permissions",
            json!({"filesystem": {"write": paths}}),
            issue_path!["manifest", "permissions", "filesystem", "write"],
        );
        // Host entries: 1–253 characters, no whitespace.
        ok(
            "permissions",
            json!({"network": {"outbound": ["a".repeat(253)]}}),
        );
        for h in [
            String::new(),
            "a".repeat(254),
            "a .com".into(),
            "a.com\t".into(),
            "a\u{a0}b".into(),
        ] {
            bad(
                "permissions",
                json!({"network": {"outbound": ["ok.com", h]}}),
                issue_path!["manifest", "permissions", "network", "outbound", 1],
            );
        }
        // Path entries: 1–1024 characters, no NUL; whitespace is fine.
        ok(
            "permissions",
            json!({"filesystem": {"read": ["./my docs/**", "é".repeat(1024)]}}),
        );
        for p in [String::new(), "é".repeat(1025), "a\0b".into()] {
            bad(
                "permissions",
                json!({"filesystem": {"read": [p]}}),
                issue_path!["manifest", "permissions", "filesystem", "read", 0],
            );
        }
    }

    #[test]
    fn repository_schemes() {
        for u in [
            "https://github.com/acme/hello",
            "http://example.com/x",
            "git://example.com/x.git",
            "git+https://github.com/acme/hello.git",
            "git+ssh://git@github.com/acme/hello.git",
            "ssh://git@example.com:2222/x.git",
        ] {
            ok("repository", json!(u));
        }
        for u in [
            "ftp://example.com/x",
            "github.com/acme/hello",
            "/acme/hello",
            "git@github.com:acme/hello.git",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "",
        ] {
            bad(
                "repository",
                json!(u),
                issue_path!["manifest", "repository"],
            );
        }
        bad(
            "repository",
            json!(null),
            issue_path!["manifest", "repository"],
        );
        let long = format!("https://example.com/{}", "a".repeat(2048 - 20));
        ok("repository", json!(long));
        let long = format!("https://example.com/{}", "a".repeat(2049 - 20));
        bad(
            "repository",
            json!(long),
            issue_path!["manifest", "repository"],
        );
    }

    #[test]
    fn skills_dependencies() {
        ok("skills", json!({}));
        ok("skills", json!({"@acme/x": "^1.0.0", "y": "x".repeat(256)}));
        let m = bad(
            "skills",
            json!({"Bad Name": "1.0.0"}),
            issue_path!["manifest", "skills", "Bad Name"],
        );
        assert!(m.contains("Bad Name"));
        bad(
            "skills",
            json!({"x": ""}),
            issue_path!["manifest", "skills", "x"],
        );
        bad(
            "skills",
            json!({"x": "x".repeat(257)}),
            issue_path!["manifest", "skills", "x"],
        );
        bad(
            "skills",
            json!({"x": 1}),
            issue_path!["manifest", "skills", "x"],
        );
        bad("skills", json!(["x"]), issue_path!["manifest", "skills"]);
        let deps: Map<String, Value> = (0..200).map(|i| (format!("d{i}"), json!("1"))).collect();
        ok("skills", Value::Object(deps));
        let deps: Map<String, Value> = (0..201).map(|i| (format!("d{i}"), json!("1"))).collect();
        bad(
            "skills",
            Value::Object(deps),
            issue_path!["manifest", "skills"],
        );
    }

    #[test]
    fn atoms_rules() {
        ok("atoms", json!([]));
        ok("atoms", Value::Array(vec![json!({}); 200]));
        bad(
            "atoms",
            Value::Array(vec![json!({}); 201]),
            issue_path!["manifest", "atoms"],
        );
        bad(
            "atoms",
            json!([{}, "x"]),
            issue_path!["manifest", "atoms", 1],
        );
        bad("atoms", json!({}), issue_path!["manifest", "atoms"]);
    }

    #[test]
    fn includes_rules() {
        ok("includes", json!(["a.md", "é".repeat(1024)]));
        ok("includes", Value::Array(vec![json!("a"); 1000]));
        bad(
            "includes",
            Value::Array(vec![json!("a"); 1001]),
            issue_path!["manifest", "includes"],
        );
        bad(
            "includes",
            json!(["a", "é".repeat(1025)]),
            issue_path!["manifest", "includes", 1],
        );
        bad(
            "includes",
            json!([1]),
            issue_path!["manifest", "includes", 0],
        );
        bad(
            "includes",
            json!("a.md"),
            issue_path!["manifest", "includes"],
        );
    }

    #[test]
    fn audit_min_score() {
        ok("audit", json!({"min_score": 0}));
        ok("audit", json!({"min_score": 10}));
        ok("audit", json!({"min_score": 6.5}));
        for s in [json!(-1), json!(10.01), json!(11), json!("7"), json!(null)] {
            bad(
                "audit",
                json!({"min_score": s}),
                issue_path!["manifest", "audit", "min_score"],
            );
        }
        let m = bad(
            "audit",
            json!({}),
            issue_path!["manifest", "audit", "min_score"],
        );
        assert_eq!(m, "Required");
        bad("audit", json!(5), issue_path!["manifest", "audit"]);
    }

    #[test]
    fn mcp_server_forms() {
        ok(
            "mcp_server",
            json!({"command": "npx", "args": ["-y", "srv"], "env": {"A": "b"}, "requires_auth": false}),
        );
        ok(
            "mcp_server",
            json!({"remote": "https://mcp.example.com/sse", "env": {}, "requires_auth": true}),
        );
        ok("mcp_server", json!({"remote": "http://localhost:3000/mcp"}));
        bad(
            "mcp_server",
            json!({}),
            issue_path!["manifest", "mcp_server"],
        );
        bad(
            "mcp_server",
            json!({"env": {}}),
            issue_path!["manifest", "mcp_server"],
        );
        let m = bad(
            "mcp_server",
            json!({"command": "x", "remote": "https://a.com"}),
            issue_path!["manifest", "mcp_server"],
        );
        assert_eq!(m, "Exactly one of command or remote is required.");
        bad(
            "mcp_server",
            json!({"command": ""}),
            issue_path!["manifest", "mcp_server", "command"],
        );
        bad(
            "mcp_server",
            json!({"command": 1}),
            issue_path!["manifest", "mcp_server", "command"],
        );
        bad(
            "mcp_server",
            json!({"remote": "ws://a.com"}),
            issue_path!["manifest", "mcp_server", "remote"],
        );
        bad(
            "mcp_server",
            json!({"remote": "a.com/x"}),
            issue_path!["manifest", "mcp_server", "remote"],
        );
        let m = bad(
            "mcp_server",
            json!({"remote": "https://a.com", "args": []}),
            issue_path!["manifest", "mcp_server", "args"],
        );
        assert_eq!(m, "Unrecognized key: args");
        bad(
            "mcp_server",
            json!({"command": "x", "args": [1]}),
            issue_path!["manifest", "mcp_server", "args", 0],
        );
        bad(
            "mcp_server",
            json!({"command": "x", "env": {"A": 1}}),
            issue_path!["manifest", "mcp_server", "env", "A"],
        );
        bad(
            "mcp_server",
            json!({"command": "x", "requires_auth": "no"}),
            issue_path!["manifest", "mcp_server", "requires_auth"],
        );
        bad(
            "mcp_server",
            json!("npx srv"),
            issue_path!["manifest", "mcp_server"],
        );
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
        let r =
            validate_publish_body(&json!({"manifest": base(), "files": ["a", "é".repeat(1024)]}))
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
        let issues =
            validate_publish_body(&json!({"manifest": base(), "readme": over})).unwrap_err();
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
}
