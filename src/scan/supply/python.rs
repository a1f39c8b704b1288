//! Python dependency files (SPEC §8.3 stage 5): `requirements*.txt` (PEP 508 lines, option lines, `-r`/`-c`
//! followed inside the package), `pyproject.toml` (`[project]`, `[tool.poetry]`), `Pipfile` (`[packages]`)
//! and `pip.conf`.

use super::data::Eco;
use super::deps::{self, Dep, Req};
use super::{Origin, Out, line_containing};
use crate::scan::files::FileSet;
use toml::{Table, Value};

/// How deep `-r`/`-c` includes are followed (chosen; pip itself has no limit, but cycles and deep chains
/// must not cost unbounded work).
pub const MAX_INCLUDE_DEPTH: usize = 5;

/// A `requirements*.txt` file, or a `.txt` file in a `requirements/` directory (chosen).
pub fn is_requirements(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    (name.starts_with("requirements") && name.ends_with(".txt"))
        || (name.ends_with(".txt")
            && path
                .split('/')
                .rev()
                .nth(1)
                .is_some_and(|d| d.eq_ignore_ascii_case("requirements")))
}

/// One parsed PEP 508 requirement.
#[derive(Debug, PartialEq)]
pub struct Pep508 {
    pub name: String,
    pub spec: String,
    pub url: Option<String>,
}

/// Parses `name[extras] specifiers ; markers` or `name[extras] @ url ; markers`.
pub fn parse_pep508(s: &str) -> Option<Pep508> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        .unwrap_or(s.len());
    let name = &s[..end];
    if name.is_empty() || !super::data::valid_pypi_name(name) {
        return None;
    }
    let mut rest = s[end..].trim_start();
    if let Some(r) = rest.strip_prefix('[') {
        rest = r
            .split_once(']')
            .map_or("", |(_, after)| after)
            .trim_start();
    }
    if let Some(url) = rest.strip_prefix('@') {
        let url = url.split(" ;").next().unwrap_or("").trim();
        let url = url.split_whitespace().next().unwrap_or("");
        return Some(Pep508 {
            name: name.to_string(),
            spec: String::new(),
            url: Some(url.to_string()),
        });
    }
    let spec = rest.split(';').next().unwrap_or("").trim();
    Some(Pep508 {
        name: name.to_string(),
        spec: spec.to_string(),
        url: None,
    })
}

/// A PEP 508 string as a dependency of a dependency file in directory `dir`.
pub fn pep508_dep(s: &str, dir: &str, line: Option<u32>) -> Option<Dep> {
    let r = parse_pep508(s)?;
    let req = match &r.url {
        Some(u) => url_req(u, dir),
        None => Req::Version(deps::classify_pep440(&r.spec)),
    };
    Some(Dep {
        eco: Eco::Pypi,
        name: r.name,
        req,
        line,
        evidence: s.trim().to_string(),
    })
}

/// A URL or path requirement: VCS and remote archives are untrusted; `file:` and local paths only when
/// they leave the package.
fn url_req(u: &str, dir: &str) -> Req {
    if let Some((what, url)) = deps::url_source(u) {
        return Req::Untrusted { what, url };
    }
    let path = u
        .strip_prefix("file://")
        .or_else(|| u.strip_prefix("file:"))
        .unwrap_or(u);
    match deps::resolve_inside(dir, path) {
        Some(_) => Req::Local,
        None => Req::Untrusted {
            what: "a local path outside the package".into(),
            url: None,
        },
    }
}

/// Removes a `#` comment (at the start or after whitespace, as pip does).
fn strip_comment(l: &str) -> &str {
    let b = l.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            return &l[..i];
        }
    }
    l
}

/// Logical lines: continuation lines (`\` at the end) joined, with the 1-based line of their start.
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0u32;
    for (i, raw) in text.lines().enumerate() {
        if cur.is_empty() {
            start = i as u32 + 1;
        }
        let l = strip_comment(raw);
        if let Some(body) = l.trim_end().strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            continue;
        }
        cur.push_str(l);
        out.push((start, std::mem::take(&mut cur)));
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

/// Reads a requirements file and, depth-limited, the files it includes. `visited` prevents cycles and
/// double reads. Dependencies go through `deps::check` at the including file's path.
pub fn requirements(
    files: &FileSet,
    path: &str,
    depth: usize,
    visited: &mut Vec<String>,
    out: &mut Out,
) {
    if visited.iter().any(|v| v == path) || depth > MAX_INCLUDE_DEPTH {
        return;
    }
    visited.push(path.to_string());
    let Some(text) = files.get(path).and_then(|f| f.text()) else {
        return;
    };
    let dir = deps::dir_of(path).to_string();
    let mut includes = Vec::new();
    out.set_file(Some(path));
    for (line, l) in logical_lines(&text) {
        let t = l.trim();
        if t.is_empty() {
            continue;
        }
        if t.starts_with('-') {
            option_line(t, &dir, line, &mut includes, out);
            continue;
        }
        // Per-requirement options (`--hash=…`) follow the requirement.
        let req = t.split(" --").next().unwrap_or(t).trim();
        requirement(req, &dir, line, t, out);
    }
    for inc in includes {
        requirements(files, &inc, depth + 1, visited, out);
    }
    out.set_file(Some(path));
}

fn requirement(req: &str, dir: &str, line: u32, evidence: &str, out: &mut Out) {
    if let Some((what, url)) = deps::url_source(req) {
        let name = egg_name(req).unwrap_or_else(|| req.to_string());
        deps::check(
            &Dep {
                eco: Eco::Pypi,
                name,
                req: Req::Untrusted { what, url },
                line: Some(line),
                evidence: evidence.to_string(),
            },
            Origin::Manifest,
            out,
        );
        return;
    }
    let looks_like_path = req.starts_with('.')
        || req.starts_with('/')
        || req.starts_with("file:")
        || req.ends_with(".whl")
        || req.ends_with(".tar.gz")
        || req.ends_with(".zip");
    if looks_like_path {
        if let Req::Untrusted { what, url } = url_req(req, dir) {
            deps::untrusted(
                Origin::Manifest,
                url.as_deref(),
                false,
                format!("Requirement \"{req}\" comes from {what}."),
                Some(line),
                evidence,
                out,
            );
        }
        return;
    }
    if let Some(d) = pep508_dep(req, dir, Some(line)) {
        deps::check(
            &Dep {
                evidence: evidence.to_string(),
                ..d
            },
            Origin::Manifest,
            out,
        );
    }
}

fn egg_name(url: &str) -> Option<String> {
    let frag = url.split_once("#egg=")?.1;
    let name = frag.split(['&', '[', ' ']).next()?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// An option line of a requirements file (SPEC §8.3 SUP-004 requirement options).
fn option_line(t: &str, dir: &str, line: u32, includes: &mut Vec<String>, out: &mut Out) {
    let (opt, val) = match t.split_once(|c: char| c == '=' || c.is_whitespace()) {
        Some((o, v)) => (o.trim(), v.trim()),
        None => (t, ""),
    };
    let val = val.trim_start_matches('=').trim();
    let first = val.split_whitespace().next().unwrap_or("");
    match opt {
        "-r" | "--requirement" | "-c" | "--constraint" => {
            if deps::url_source(first).is_some() {
                deps::untrusted(
                    Origin::Manifest,
                    Some(first),
                    false,
                    format!("Requirements are read from the remote file {first}."),
                    Some(line),
                    t,
                    out,
                );
            } else if let Some(p) = deps::resolve_inside(dir, first) {
                includes.push(p);
            }
        }
        "-i" | "--index-url" | "--extra-index-url"
            if !deps::is_default_registry(Eco::Pypi, first) =>
        {
            deps::untrusted(
                Origin::Manifest,
                Some(first),
                false,
                format!("{opt} points pip at a non-default package index ({first})."),
                Some(line),
                t,
                out,
            );
        }
        "--trusted-host" => deps::untrusted(
            Origin::Manifest,
            None,
            true,
            format!("--trusted-host turns off TLS verification for {first}."),
            Some(line),
            t,
            out,
        ),
        "-f" | "--find-links" => {
            let lower = first.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                deps::untrusted(
                    Origin::Manifest,
                    Some(first),
                    false,
                    format!("{opt} makes pip take packages from {first}."),
                    Some(line),
                    t,
                    out,
                );
            }
        }
        "-e" | "--editable" => requirement(first, dir, line, t, out),
        _ => {}
    }
}

/// `pyproject.toml`: `[project]` dependencies and optional-dependencies, `[tool.poetry]` dependencies
/// (main, `dev-dependencies` and groups), plus extra package indexes (chosen: Poetry sources, uv indexes).
pub fn pyproject(path: &str, text: &str, out: &mut Out) {
    if !super::toml_nesting_ok(text) {
        return;
    }
    let Ok(t) = text.parse::<Table>() else {
        return;
    };
    out.set_file(Some(path));
    let dir = deps::dir_of(path);
    if let Some(p) = t.get("project").and_then(Value::as_table) {
        let mut reqs: Vec<&str> = Vec::new();
        if let Some(a) = p.get("dependencies").and_then(Value::as_array) {
            reqs.extend(a.iter().filter_map(Value::as_str));
        }
        if let Some(o) = p.get("optional-dependencies").and_then(Value::as_table) {
            for a in o.values().filter_map(Value::as_array) {
                reqs.extend(a.iter().filter_map(Value::as_str));
            }
        }
        for r in reqs {
            let line =
                line_containing(text, &format!("\"{r}")).or_else(|| line_containing(text, r));
            if let Some(d) = pep508_dep(r, dir, line) {
                deps::check(&d, Origin::Manifest, out);
            }
        }
    }
    let tool = t.get("tool").and_then(Value::as_table);
    if let Some(poetry) = tool.and_then(|t| t.get("poetry")).and_then(Value::as_table) {
        let mut tables: Vec<&Table> = Vec::new();
        for k in ["dependencies", "dev-dependencies"] {
            if let Some(d) = poetry.get(k).and_then(Value::as_table) {
                tables.push(d);
            }
        }
        if let Some(groups) = poetry.get("group").and_then(Value::as_table) {
            for g in groups.values() {
                if let Some(d) = g.get("dependencies").and_then(Value::as_table) {
                    tables.push(d);
                }
            }
        }
        for table in tables {
            for (name, v) in table {
                if name.eq_ignore_ascii_case("python") {
                    continue;
                }
                toml_dep(name, v, dir, text, Constraint::Poetry, out);
            }
        }
        sources(poetry.get("source"), text, out);
    }
    if let Some(uv) = tool.and_then(|t| t.get("uv")).and_then(Value::as_table) {
        sources(uv.get("index"), text, out);
        for k in ["index-url", "extra-index-url"] {
            match uv.get(k) {
                Some(Value::String(s)) => index_url(k, s, text, out),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .for_each(|s| index_url(k, s, text, out)),
                _ => {}
            }
        }
    }
}

/// `Pipfile`: `[packages]` (dev-packages ignored like devDependencies) and `[[source]]` URLs.
pub fn pipfile(path: &str, text: &str, out: &mut Out) {
    if !super::toml_nesting_ok(text) {
        return;
    }
    let Ok(t) = text.parse::<Table>() else {
        return;
    };
    out.set_file(Some(path));
    let dir = deps::dir_of(path);
    if let Some(p) = t.get("packages").and_then(Value::as_table) {
        for (name, v) in p {
            toml_dep(name, v, dir, text, Constraint::Pep440, out);
        }
    }
    sources(t.get("source"), text, out);
}

#[derive(Clone, Copy)]
enum Constraint {
    Poetry,
    Pep440,
}

/// A dependency written as a TOML key: a version string, a table (`version`, `git`, `url`, `path`,
/// `file`) or an array of tables (Poetry multiple constraints).
fn toml_dep(name: &str, v: &Value, dir: &str, text: &str, c: Constraint, out: &mut Out) {
    let line = toml_key_line(text, name);
    let classify = |s: &str| match c {
        Constraint::Poetry => deps::classify_poetry(s),
        Constraint::Pep440 => deps::classify_pep440(s),
    };
    let req = match v {
        Value::String(s) => Req::Version(classify(s)),
        Value::Table(tb) => {
            if let Some(g) = tb.get("git").and_then(Value::as_str) {
                Req::Untrusted {
                    what: "a git repository".into(),
                    url: Some(g.to_string()),
                }
            } else if let Some(u) = tb.get("url").and_then(Value::as_str) {
                Req::Untrusted {
                    what: "a URL download".into(),
                    url: Some(u.to_string()),
                }
            } else if let Some(p) = tb
                .get("path")
                .or_else(|| tb.get("file"))
                .and_then(Value::as_str)
            {
                url_req(p, dir)
            } else {
                let ver = tb.get("version").and_then(Value::as_str).unwrap_or("*");
                Req::Version(classify(ver))
            }
        }
        Value::Array(a) => {
            for x in a {
                toml_dep(name, x, dir, text, c, out);
            }
            return;
        }
        _ => return,
    };
    let evidence = line
        .and_then(|l| text.lines().nth(l as usize - 1))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| format!("{name} = {v}"));
    deps::check(
        &Dep {
            eco: Eco::Pypi,
            name: name.to_string(),
            req,
            line,
            evidence,
        },
        Origin::Manifest,
        out,
    );
}

fn toml_key_line(text: &str, key: &str) -> Option<u32> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            let t = t.strip_prefix('"').unwrap_or(t);
            t.strip_prefix(key)
                .is_some_and(|r| r.trim_start_matches('"').trim_start().starts_with('='))
        })
        .map(|i| i as u32 + 1)
}

/// `[[source]]`-style arrays of tables with a `url`.
fn sources(v: Option<&Value>, text: &str, out: &mut Out) {
    let Some(a) = v.and_then(Value::as_array) else {
        return;
    };
    for s in a {
        if let Some(u) = s.get("url").and_then(Value::as_str) {
            index_url("source", u, text, out);
        }
    }
}

fn index_url(what: &str, u: &str, text: &str, out: &mut Out) {
    if deps::is_default_registry(Eco::Pypi, u) {
        return;
    }
    let line = line_containing(text, u);
    deps::untrusted(
        Origin::Manifest,
        Some(u),
        false,
        format!("A package {what} points at a non-default Python index ({u})."),
        line,
        u,
        out,
    );
}

/// `pip.conf` / `pip.ini`: `index-url`, `extra-index-url` (and `trusted-host`, chosen) in any section;
/// values may continue on indented lines.
pub fn pip_conf(path: &str, text: &str, out: &mut Out) {
    out.set_file(Some(path));
    let mut key: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = Some(i as u32 + 1);
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') || t.starts_with('[') {
            key = None;
            continue;
        }
        let (k, vals) = if raw.starts_with([' ', '\t']) && key.is_some() {
            (key.clone().unwrap_or_default(), t)
        } else if let Some((k, v)) = t.split_once(['=', ':']) {
            let k = k.trim().to_ascii_lowercase().replace('_', "-");
            key = Some(k.clone());
            (k, v.trim())
        } else {
            continue;
        };
        for v in vals.split_whitespace() {
            match k.as_str() {
                "index-url" | "extra-index-url" if !deps::is_default_registry(Eco::Pypi, v) => {
                    deps::untrusted(
                        Origin::Manifest,
                        Some(v),
                        false,
                        format!("pip configuration sets {k} to a non-default index ({v})."),
                        line,
                        t,
                        out,
                    )
                }
                "trusted-host" => deps::untrusted(
                    Origin::Manifest,
                    None,
                    true,
                    format!("pip configuration trusts {v} without TLS verification."),
                    line,
                    t,
                    out,
                ),
                _ => {}
            }
        }
    }
}
