//! Lock files for SUP-006 only (chosen addition to SPEC §8.3's parse list): a lock pins every transitive
//! dependency exactly, so a blocklisted release there is as certain as in a manifest. Typosquat and
//! pinning rules are not applied to locks (transitive names are not the author's choice).
//! `package-lock.json` / `npm-shrinkwrap.json` (v1 `dependencies`, v2/v3 `packages`), `Pipfile.lock`,
//! `poetry.lock` and `uv.lock`.

use super::data::{self, Entry};
use super::{Out, line_containing, toml_nesting_ok};
use crate::scan::report::Severity;
use serde_json::Value;

fn blocked(entry: Entry, shown: &str, text: &str, needle: &str, out: &mut Out) {
    if out.expired() || !data::is_blocked(&entry) {
        return;
    }
    out.push(
        Severity::Critical,
        "SUP-006",
        "known_malicious",
        format!("The lock file pins {shown}, a known malicious release."),
        line_containing(text, needle),
        shown.to_string(),
    );
}

/// `package-lock.json` and `npm-shrinkwrap.json`.
pub fn npm_lock(path: &str, text: &str, out: &mut Out) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return;
    };
    out.set_file(Some(path));
    if let Some(p) = v.get("packages").and_then(Value::as_object) {
        for (key, e) in p {
            let Some(name) = key.rsplit_once("node_modules/").map(|(_, n)| n) else {
                continue;
            };
            let real = e.get("name").and_then(Value::as_str).unwrap_or(name);
            if let Some(ver) = e.get("version").and_then(Value::as_str) {
                let entry = Entry::Npm(data::npm_norm(real), ver.to_string());
                blocked(
                    entry,
                    &format!("{real}@{ver}"),
                    text,
                    &format!("\"{key}\""),
                    out,
                );
            }
        }
    }
    if let Some(d) = v.get("dependencies") {
        npm_lock_v1(d, text, out, 0);
    }
}

fn npm_lock_v1(deps: &Value, text: &str, out: &mut Out, depth: u8) {
    let Some(o) = deps.as_object() else { return };
    if depth > 32 {
        return;
    }
    for (name, e) in o {
        if let Some(ver) = e.get("version").and_then(Value::as_str) {
            let entry = Entry::Npm(data::npm_norm(name), ver.to_string());
            blocked(
                entry,
                &format!("{name}@{ver}"),
                text,
                &format!("\"{name}\""),
                out,
            );
        }
        if let Some(nested) = e.get("dependencies") {
            npm_lock_v1(nested, text, out, depth + 1);
        }
    }
}

/// `Pipfile.lock`: `default` (and `develop`) maps of name → `{"version": "==x"}`.
pub fn pipfile_lock(path: &str, text: &str, out: &mut Out) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return;
    };
    out.set_file(Some(path));
    for section in ["default", "develop"] {
        for (name, e) in v
            .get(section)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(ver) = e
                .get("version")
                .and_then(Value::as_str)
                .and_then(|s| s.strip_prefix("=="))
            {
                let entry = Entry::Pypi(data::pep503(name), ver.to_string());
                blocked(
                    entry,
                    &format!("{name}=={ver}"),
                    text,
                    &format!("\"{name}\""),
                    out,
                );
            }
        }
    }
}

/// `poetry.lock` and `uv.lock`: `[[package]]` tables with `name` and `version`.
pub fn toml_lock(path: &str, text: &str, out: &mut Out) {
    if !toml_nesting_ok(text) {
        return;
    }
    let Ok(t) = text.parse::<toml::Table>() else {
        return;
    };
    out.set_file(Some(path));
    for p in t
        .get("package")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(ver)) = (
            p.get("name").and_then(toml::Value::as_str),
            p.get("version").and_then(toml::Value::as_str),
        ) else {
            continue;
        };
        let entry = Entry::Pypi(data::pep503(name), ver.to_string());
        blocked(
            entry,
            &format!("{name}=={ver}"),
            text,
            &format!("name = \"{name}\""),
            out,
        );
    }
}
