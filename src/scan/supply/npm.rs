//! npm dependency files (SPEC §8.3 stage 5): `package.json` (`dependencies`, `optionalDependencies`,
//! `peerDependencies`; `devDependencies` are ignored because consumers never install them, chosen) and the
//! registry settings of `.npmrc`, `.yarnrc` and `.yarnrc.yml`. Install scripts are `scripts.rs`.

use super::data::Eco;
use super::deps::{self, Dep, Req};
use super::{Origin, Out};
use serde_json::Value;

/// The line of `"key":` after the first occurrence of `"section"` (1-based), for JSON without spans.
pub fn json_key_line(text: &str, section: Option<&str>, key: &str) -> Option<u32> {
    let from = match section {
        Some(s) => text.find(&format!("\"{s}\""))?,
        None => 0,
    };
    let needle = format!("\"{key}\"");
    let mut at = from;
    while let Some(i) = text.get(at..)?.find(&needle) {
        let pos = at + i;
        let after = text.get(pos + needle.len()..)?.trim_start();
        if after.starts_with(':') {
            return Some(text[..pos].matches('\n').count() as u32 + 1);
        }
        at = pos + needle.len();
    }
    None
}

/// Classifies an npm dependency spec; returns the package name actually installed (aliases) and the
/// requirement. `dir` is the directory of the `package.json` (for `file:`/`link:` paths).
pub fn classify_spec(name: &str, spec: &str, dir: &str) -> (String, Req) {
    let s = spec.trim();
    if let Some(alias) = s.strip_prefix("npm:") {
        // `npm:real-name@range`: judge the real package.
        let at = alias.get(1..).and_then(|r| r.rfind('@')).map(|i| i + 1);
        let (real, range) = match at {
            Some(i) => (&alias[..i], &alias[i + 1..]),
            None => (alias, ""),
        };
        return (
            real.to_string(),
            Req::Version(deps::classify_npm_range(range)),
        );
    }
    if let Some((what, url)) = deps::url_source(s) {
        return (name.to_string(), Req::Untrusted { what, url });
    }
    for p in ["file:", "link:", "portal:"] {
        if let Some(path) = s.strip_prefix(p) {
            return (name.to_string(), local(dir, path));
        }
    }
    if s.starts_with("./") || s.starts_with("../") || s.starts_with('/') || s.starts_with("~/") {
        return (name.to_string(), local(dir, s));
    }
    if ["workspace:", "catalog:", "patch:"]
        .iter()
        .any(|p| s.starts_with(p))
    {
        return (name.to_string(), Req::Local);
    }
    if is_github_shorthand(s) {
        return (
            name.to_string(),
            Req::Untrusted {
                what: "a GitHub repository (user/repo shorthand)".into(),
                url: None,
            },
        );
    }
    (name.to_string(), Req::Version(deps::classify_npm_range(s)))
}

fn local(dir: &str, path: &str) -> Req {
    match deps::resolve_inside(dir, path) {
        Some(_) => Req::Local,
        None => Req::Untrusted {
            what: "a local path outside the package".into(),
            url: None,
        },
    }
}

/// `user/repo` or `user/repo#ref` (npm's GitHub shorthand).
pub fn is_github_shorthand(s: &str) -> bool {
    let base = s.split('#').next().unwrap_or(s);
    let Some((u, r)) = base.split_once('/') else {
        return false;
    };
    let ok = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    !s.starts_with('@') && ok(u) && ok(r)
}

/// `package.json` dependency sections.
pub fn package_json(path: &str, text: &str, v: &Value, out: &mut Out) {
    out.set_file(Some(path));
    let dir = deps::dir_of(path);
    for section in ["dependencies", "optionalDependencies", "peerDependencies"] {
        let Some(obj) = v.get(section).and_then(Value::as_object) else {
            continue;
        };
        for (name, spec) in obj {
            let Some(spec_s) = spec.as_str() else {
                continue;
            };
            let line = json_key_line(text, Some(section), name);
            let (real, req) = classify_spec(name, spec_s, dir);
            deps::check(
                &Dep {
                    eco: Eco::Npm,
                    name: real,
                    req,
                    line,
                    evidence: format!("\"{name}\": {spec}"),
                },
                Origin::Manifest,
                out,
            );
        }
    }
}

/// `.npmrc` (`registry=`, `@scope:registry=`) and `.yarnrc` (`registry "…"`, `"@scope:registry" "…"`).
pub fn npmrc(path: &str, text: &str, yarn_v1: bool, out: &mut Out) {
    out.set_file(Some(path));
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let (k, v) = if yarn_v1 {
            match t.split_once(char::is_whitespace) {
                Some((k, v)) => (k.trim_matches('"'), v.trim().trim_matches('"')),
                None => continue,
            }
        } else {
            match t.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim().trim_matches(['"', '\''])),
                None => continue,
            }
        };
        let is_registry = k == "registry" || (k.starts_with('@') && k.ends_with(":registry"));
        // `${VAR}`: set by the environment at install time, not by the package (chosen: not judged).
        if is_registry && !v.contains("${") && !deps::is_default_registry(Eco::Npm, v) {
            registry_finding(k, v, i, t, out);
        }
    }
}

/// `.yarnrc.yml`: `npmRegistryServer` at any level (also under `npmScopes`).
pub fn yarnrc_yml(path: &str, text: &str, out: &mut Out) {
    out.set_file(Some(path));
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        let Some(v) = t.strip_prefix("npmRegistryServer:") else {
            continue;
        };
        let v = v
            .split(" #")
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        if !v.is_empty() && !deps::is_default_registry(Eco::Npm, v) {
            registry_finding("npmRegistryServer", v, i, t, out);
        }
    }
}

fn registry_finding(key: &str, v: &str, i: usize, t: &str, out: &mut Out) {
    deps::untrusted(
        Origin::Manifest,
        Some(v),
        false,
        format!("{key} points npm at a non-default registry ({v})."),
        Some(i as u32 + 1),
        t,
        out,
    );
}
