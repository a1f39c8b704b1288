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
mod tests;
