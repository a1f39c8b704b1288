//! File kinds of SPEC §8.2 ("File kinds", lock files): which stage reads a file as what. Kind by use
//! (a file run by an interpreter somewhere in the package) is resolved by the stages that see the run.

use super::files::ScanFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Python,
    /// JavaScript or TypeScript; `js_dialect` tells which grammar parses it.
    Js,
    Shell,
    Markdown,
    /// `.txt .rst .prompt`, `.cursorrules`, `.windsurfrules`, `.clinerules`.
    Text,
    Yaml,
    Json,
    Toml,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsDialect {
    Js,
    Ts,
    Tsx,
}

const LOCK_FILES: [&str; 17] = [
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
    "deno.lock",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "Cargo.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
    "packages.lock.json",
    "mix.lock",
    "flake.lock",
];

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A lock file by name (§8.2); stage 4 skips them, stage 3 does not read their JSON strings.
pub fn is_lock_file(path: &str) -> bool {
    LOCK_FILES.contains(&file_name(path))
}

/// The kind by name, else by shebang (§8.2). Binary files are `Other`.
pub fn kind_of(file: &ScanFile) -> Kind {
    if file.binary {
        return Kind::Other;
    }
    match kind_by_name(&file.path) {
        Kind::Other => kind_by_shebang(&file.bytes),
        k => k,
    }
}

/// The kind from the file name alone.
pub fn kind_by_name(path: &str) -> Kind {
    let name = file_name(path);
    if matches!(name, ".cursorrules" | ".windsurfrules" | ".clinerules") {
        return Kind::Text;
    }
    let ext = match name.rfind('.') {
        Some(i) if i > 0 => name[i + 1..].to_ascii_lowercase(),
        _ => return Kind::Other,
    };
    match ext.as_str() {
        "py" | "pyw" => Kind::Python,
        "js" | "mjs" | "cjs" | "jsx" | "ts" | "tsx" | "mts" | "cts" => Kind::Js,
        "sh" | "bash" | "zsh" => Kind::Shell,
        "md" | "mdx" | "markdown" | "mdc" => Kind::Markdown,
        "txt" | "rst" | "prompt" => Kind::Text,
        "yaml" | "yml" => Kind::Yaml,
        "json" => Kind::Json,
        "toml" => Kind::Toml,
        _ => Kind::Other,
    }
}

/// The kind named by a `#!` line: python, node/deno/bun, sh/bash/zsh/dash/ksh (also through `env`).
pub fn kind_by_shebang(bytes: &[u8]) -> Kind {
    let Some(rest) = bytes.strip_prefix(b"#!") else {
        return Kind::Other;
    };
    let line = &rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())];
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let mut prog = words.next().unwrap_or("");
    if prog.ends_with("/env") {
        prog = words.find(|w| !w.starts_with('-')).unwrap_or("");
    }
    kind_of_program(prog.rsplit('/').next().unwrap_or(prog))
}

/// The kind of an interpreter program name (`python3.11`, `node`, `bash`, …), for shebangs and kind by use.
pub fn kind_of_program(prog: &str) -> Kind {
    if prog.starts_with("python") || prog.starts_with("pypy") {
        Kind::Python
    } else if matches!(prog, "node" | "nodejs" | "deno" | "bun" | "tsx" | "ts-node") {
        Kind::Js
    } else if matches!(prog, "sh" | "bash" | "zsh" | "dash" | "ksh") {
        Kind::Shell
    } else {
        Kind::Other
    }
}

/// Which tree-sitter grammar reads a JS/TS file.
pub fn js_dialect(path: &str) -> JsDialect {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".tsx") {
        JsDialect::Tsx
    } else if lower.ends_with(".ts") || lower.ends_with(".mts") || lower.ends_with(".cts") {
        JsDialect::Ts
    } else {
        // .js .mjs .cjs .jsx and shebang files: the JavaScript grammar includes JSX.
        JsDialect::Js
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, bytes: &[u8]) -> ScanFile {
        ScanFile::new(path.to_string(), bytes.len() as u64, bytes.to_vec())
    }

    #[test]
    fn kinds_by_name_and_shebang() {
        assert_eq!(kind_of(&f("a/b.PY", b"x")), Kind::Python);
        assert_eq!(kind_of(&f("x.mts", b"x")), Kind::Js);
        assert_eq!(
            kind_of(&f("run", b"#!/usr/bin/env python3\nprint(1)")),
            Kind::Python
        );
        assert_eq!(
            kind_of(&f("run", b"#!/usr/bin/env -S node --flag\n")),
            Kind::Js
        );
        assert_eq!(kind_of(&f("run", b"#!/bin/bash\n")), Kind::Shell);
        assert_eq!(kind_of(&f("run", b"#!/usr/bin/perl\n")), Kind::Other);
        assert_eq!(kind_of(&f(".cursorrules", b"x")), Kind::Text);
        assert_eq!(kind_of(&f("notes.mdx", b"x")), Kind::Markdown);
        assert_eq!(kind_of(&f("a.py", b"\0\0")), Kind::Other);
        assert_eq!(kind_of(&f(".env", b"A=1")), Kind::Other);
    }

    #[test]
    fn locks_and_dialects() {
        assert!(is_lock_file("web/package-lock.json"));
        assert!(!is_lock_file("package.json"));
        assert_eq!(js_dialect("a/b.tsx"), JsDialect::Tsx);
        assert_eq!(js_dialect("a/b.cts"), JsDialect::Ts);
        assert_eq!(js_dialect("a/b.jsx"), JsDialect::Js);
    }
}
