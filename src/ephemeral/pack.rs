//! Deterministic packing of a seed's skill directory (SPEC §11.6 steps 1, 2 and 4): which files go in
//! (`.tankignore`, else `.gitignore`, else the defaults; or the manifest's `publish.files` allow-list) and the
//! byte-exact tarball (sorted ustar entries, fixed metadata, gzip with a fixed header).
//!
//! Not here: manifest validation and publication (`seed.rs`). The gitignore dialect is the common subset:
//! `#` comments, `!` negation, trailing `/` for directories, leading or inner `/` for anchored patterns,
//! `*`, `?`, `[…]` and `**`; only the ignore file at the skill's root is read.

use flate2::{Compression, GzBuilder};
use std::io::Write;
use std::path::Path;

/// At most 1,000 files per skill, the real CLI's own maximum (SPEC §3.4, §11.6 step 1).
pub const MAX_FILES: usize = crate::manifest::MAX_FILES;
/// Compressed size limit, the upload limit (SPEC §2.5, §11.6 step 4).
pub const MAX_TARBALL: u64 = 52_428_800;
/// Uncompressed bytes read from a skill directory before giving up: the scanner's own decompressed limit
/// (ARC-004) would refuse more anyway, and this keeps a stray large file from filling memory.
const MAX_RAW_BYTES: u64 = crate::archive::MAX_DECOMPRESSED;
/// Used when there is neither a `.tankignore` nor a `.gitignore` (SPEC §11.6 step 1).
const DEFAULT_IGNORES: &[&str] = &[
    "node_modules",
    ".git",
    ".env*",
    "*.log",
    ".tank",
    ".DS_Store",
];
/// Always included, whatever the rules say (SPEC §11.6 step 1).
const ALWAYS: &[&str] = &["tank.json", "SKILL.md", "README.md"];

/// A packed skill: the tarball and its file paths in archive order.
#[derive(Debug)]
pub struct Packed {
    pub tarball: Vec<u8>,
    pub files: Vec<String>,
}

/// One rule of an ignore file.
#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    negated: bool,
    dir_only: bool,
    /// Matched against the whole relative path; otherwise against the last component.
    anchored: bool,
}

fn parse_rules(text: &str) -> Vec<Rule> {
    let mut rules = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let line = line.trim_end_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, rest) = match line.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, line.strip_prefix('\\').unwrap_or(line)),
        };
        let (dir_only, rest) = match rest.strip_suffix('/') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let anchored = rest.contains('/');
        let pattern = rest.strip_prefix('/').unwrap_or(rest).to_string();
        if pattern.is_empty() {
            continue;
        }
        rules.push(Rule {
            pattern,
            negated,
            dir_only,
            anchored,
        });
    }
    rules
}

/// Glob match on bytes: `*` and `?` never match `/`, `**` matches across directories and `**/` also matches
/// nothing, `[…]` is a class (`!` or `^` negates, `a-z` ranges).
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some(b'*') if pattern.get(1) == Some(&b'*') => {
            let rest = &pattern[2..];
            if let Some(after_slash) = rest.strip_prefix(b"/")
                && glob_match(after_slash, text)
            {
                return true;
            }
            (0..=text.len()).any(|i| glob_match(rest, &text[i..]))
        }
        Some(b'*') => {
            let rest = &pattern[1..];
            for i in 0..=text.len() {
                if glob_match(rest, &text[i..]) {
                    return true;
                }
                if i < text.len() && text[i] == b'/' {
                    break;
                }
            }
            false
        }
        Some(b'?') => !text.is_empty() && text[0] != b'/' && glob_match(&pattern[1..], &text[1..]),
        Some(b'[') => match class_match(&pattern[1..], text.first().copied()) {
            Some((true, used)) => glob_match(&pattern[1 + used..], &text[1..]),
            Some((false, _)) => false,
            // An unterminated class is a literal `[`.
            None => text.first() == Some(&b'[') && glob_match(&pattern[1..], &text[1..]),
        },
        Some(b'\\') if pattern.len() > 1 => {
            text.first() == Some(&pattern[1]) && glob_match(&pattern[2..], &text[1..])
        }
        Some(c) => text.first() == Some(c) && glob_match(&pattern[1..], &text[1..]),
    }
}

/// Matches one character against the class starting after `[`: (matched, bytes of the class including `]`),
/// or None when the class is not terminated.
fn class_match(class: &[u8], c: Option<u8>) -> Option<(bool, usize)> {
    let (negated, mut i) = match class.first() {
        Some(b'!' | b'^') => (true, 1),
        _ => (false, 0),
    };
    let start = i;
    let mut hit = false;
    loop {
        let b = *class.get(i)?;
        if b == b']' && i > start {
            break;
        }
        if class.get(i + 1) == Some(&b'-') && class.get(i + 2).is_some_and(|e| *e != b']') {
            let hi = class[i + 2];
            if let Some(c) = c {
                hit |= (b..=hi).contains(&c);
            }
            i += 3;
        } else {
            hit |= c == Some(b);
            i += 1;
        }
    }
    let c = c?;
    Some((hit != negated && c != b'/', i + 1))
}

impl Rule {
    fn matches(&self, rel: &str, is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        let target = if self.anchored {
            rel
        } else {
            rel.rsplit('/').next().unwrap_or(rel)
        };
        glob_match(self.pattern.as_bytes(), target.as_bytes())
    }
}

/// The last matching rule decides (gitignore semantics).
fn ignored(rules: &[Rule], rel: &str, is_dir: bool) -> bool {
    let mut out = false;
    for r in rules {
        if r.matches(rel, is_dir) {
            out = !r.negated;
        }
    }
    out
}

/// How files are selected.
enum Selection {
    Ignore {
        rules: Vec<Rule>,
        /// `.tankignore` present: it and `.gitignore` are left out (SPEC §11.6 step 1).
        skip_ignore_files: bool,
    },
    /// `publish.files` globs: a file is included when a glob matches it or one of its parent directories.
    Allow(Vec<String>),
}

impl Selection {
    fn for_dir(dir: &Path, publish_files: Option<&[String]>) -> Result<Selection, String> {
        if let Some(globs) = publish_files {
            return Ok(Selection::Allow(
                globs
                    .iter()
                    .map(|g| {
                        let g = g.strip_prefix("./").unwrap_or(g);
                        let g = g.strip_prefix('/').unwrap_or(g);
                        g.trim_end_matches('/').to_string()
                    })
                    .filter(|g| !g.is_empty())
                    .collect(),
            ));
        }
        for (name, skip) in [(".tankignore", true), (".gitignore", false)] {
            let p = dir.join(name);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_file() => {
                    let text = std::fs::read_to_string(&p)
                        .map_err(|e| format!("cannot read {name}: {e}"))?;
                    return Ok(Selection::Ignore {
                        rules: parse_rules(&text),
                        skip_ignore_files: skip,
                    });
                }
                _ => {}
            }
        }
        Ok(Selection::Ignore {
            rules: parse_rules(&DEFAULT_IGNORES.join("\n")),
            skip_ignore_files: false,
        })
    }

    /// Whether the walk descends into a directory.
    fn enter_dir(&self, rel: &str) -> bool {
        match self {
            Selection::Ignore { rules, .. } => !ignored(rules, rel, true),
            Selection::Allow(_) => true,
        }
    }

    fn include_file(&self, rel: &str) -> bool {
        if ALWAYS.contains(&rel) {
            return true;
        }
        match self {
            Selection::Ignore {
                rules,
                skip_ignore_files,
            } => {
                let base = rel.rsplit('/').next().unwrap_or(rel);
                if *skip_ignore_files && (base == ".tankignore" || base == ".gitignore") {
                    return false;
                }
                !ignored(rules, rel, false)
            }
            Selection::Allow(globs) => {
                // The path itself or any of its parent directories.
                let mut candidates = vec![rel];
                let mut end = rel.len();
                while let Some(i) = rel[..end].rfind('/') {
                    candidates.push(&rel[..i]);
                    end = i;
                }
                globs.iter().any(|g| {
                    candidates
                        .iter()
                        .any(|c| glob_match(g.as_bytes(), c.as_bytes()))
                })
            }
        }
    }
}

/// One selected file.
struct Source {
    rel: String,
    executable: bool,
    data: Vec<u8>,
}

/// Walks `dir` and selects its files (SPEC §11.6 step 1), sorted by byte-wise path.
fn collect(dir: &Path, publish_files: Option<&[String]>) -> Result<Vec<Source>, String> {
    let selection = Selection::for_dir(dir, publish_files)?;
    let mut out = Vec::new();
    let mut raw_bytes = 0u64;
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel_dir)) = stack.pop() {
        let entries = std::fs::read_dir(&abs).map_err(|e| {
            format!(
                "cannot read {}: {e}",
                if rel_dir.is_empty() { "." } else { &rel_dir }
            )
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {rel_dir}: {e}"))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                tracing::warn!(dir = %abs.display(), "seed: skipping a file name that is not UTF-8");
                continue;
            };
            let rel = if rel_dir.is_empty() {
                name.to_string()
            } else {
                format!("{rel_dir}/{name}")
            };
            let ft = entry
                .file_type()
                .map_err(|e| format!("cannot read {rel}: {e}"))?;
            if ft.is_symlink() {
                tracing::warn!(path = %rel, "seed: skipping a symbolic link");
                continue;
            }
            if ft.is_dir() {
                // Never packed, whatever the rules say (SPEC §11.6 step 1).
                if name == "node_modules" || name == ".git" {
                    continue;
                }
                if selection.enter_dir(&rel) {
                    stack.push((entry.path(), rel));
                }
                continue;
            }
            if !ft.is_file() {
                tracing::warn!(path = %rel, "seed: skipping a file that is not a regular file");
                continue;
            }
            if !selection.include_file(&rel) {
                continue;
            }
            if out.len() == MAX_FILES {
                return Err(format!("more than {MAX_FILES} files"));
            }
            let meta = entry
                .metadata()
                .map_err(|e| format!("cannot read {rel}: {e}"))?;
            raw_bytes += meta.len();
            if raw_bytes > MAX_RAW_BYTES {
                return Err(format!("the files are larger than {MAX_RAW_BYTES} bytes"));
            }
            #[cfg(unix)]
            let executable = {
                use std::os::unix::fs::PermissionsExt;
                meta.permissions().mode() & 0o100 != 0
            };
            #[cfg(not(unix))]
            let executable = false;
            let data =
                std::fs::read(entry.path()).map_err(|e| format!("cannot read {rel}: {e}"))?;
            out.push(Source {
                rel,
                executable,
                data,
            });
        }
    }
    out.sort_by(|a, b| a.rel.as_bytes().cmp(b.rel.as_bytes()));
    Ok(out)
}

/// Writes `value` as zero-padded octal of `field.len() - 1` digits followed by NUL.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

/// A ustar header with the fixed metadata of SPEC §11.6 step 2.
fn header(name: &[u8], size: u64, mode: u32, kind: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    octal(&mut h[100..108], mode as u64);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // uname and gname stay empty; devmajor and devminor are zero.
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|b| *b as u64).sum();
    let s = format!("{sum:06o}");
    h[148..154].copy_from_slice(s.as_bytes());
    h[154] = 0;
    h[155] = b' ';
    h
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

/// A pax record `"<len> path=<value>\n"`, where `<len>` counts the whole record including itself.
fn pax_path_record(path: &str) -> Vec<u8> {
    let body = format!(" path={path}\n");
    let mut len = body.len() + 1;
    loop {
        let total = len.to_string().len() + body.len();
        if total == len {
            break;
        }
        len = total;
    }
    format!("{len}{body}").into_bytes()
}

/// The tar stream of SPEC §11.6 step 2 for `files` (already sorted).
fn tar_bytes(files: &[Source]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in files {
        let path = f.rel.as_bytes();
        if path.len() > 100 {
            let record = pax_path_record(&f.rel);
            out.extend_from_slice(&header(b"././@PaxHeader", record.len() as u64, 0o644, b'x'));
            out.extend_from_slice(&record);
            pad(&mut out);
        }
        let mode = if f.executable { 0o755 } else { 0o644 };
        out.extend_from_slice(&header(path, f.data.len() as u64, mode, b'0'));
        out.extend_from_slice(&f.data);
        pad(&mut out);
    }
    // Exactly two zero blocks end the archive.
    out.resize(out.len() + 1024, 0);
    out
}

/// Packs a skill directory. `publish_files` is the manifest's `publish.files`, when present.
pub fn pack(dir: &Path, publish_files: Option<&[String]>) -> Result<Packed, String> {
    let files = collect(dir, publish_files)?;
    let tar = tar_bytes(&files);
    // Gzip: deflate level 6, header mtime 0, no file name, OS byte 255 ("unknown").
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(6));
    gz.write_all(&tar)
        .and_then(|_| gz.try_finish())
        .map_err(|e| format!("cannot compress: {e}"))?;
    let tarball = gz.finish().map_err(|e| format!("cannot compress: {e}"))?;
    if tarball.len() as u64 > MAX_TARBALL {
        return Err(format!(
            "the packed tarball is {} bytes, more than the limit of {MAX_TARBALL}",
            tarball.len()
        ));
    }
    Ok(Packed {
        tarball,
        files: files.into_iter().map(|f| f.rel).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"*.log", b"a.log"));
        assert!(!glob_match(b"*.log", b"d/a.log"));
        assert!(glob_match(b"**/a.log", b"a.log"));
        assert!(glob_match(b"**/a.log", b"x/y/a.log"));
        assert!(glob_match(b"a/**/b", b"a/b"));
        assert!(glob_match(b"a/**/b", b"a/x/y/b"));
        assert!(glob_match(b"a/**", b"a/x/y"));
        assert!(glob_match(b"fil?.[ch]", b"file.c"));
        assert!(!glob_match(b"fil?.[!ch]", b"file.c"));
        assert!(glob_match(b"[a-c]x", b"bx"));
        assert!(glob_match(b".env*", b".env.local"));
        assert!(!glob_match(b"a?b", b"a/b"));
    }

    #[test]
    fn rules() {
        let rules = parse_rules("# c\n*.tmp\n!keep.tmp\nbuild/\n/top.txt\ndocs/*.md\n");
        assert!(ignored(&rules, "x.tmp", false));
        assert!(ignored(&rules, "d/x.tmp", false));
        assert!(!ignored(&rules, "d/keep.tmp", false));
        assert!(ignored(&rules, "build", true));
        assert!(!ignored(&rules, "build", false));
        assert!(ignored(&rules, "top.txt", false));
        assert!(!ignored(&rules, "d/top.txt", false));
        assert!(ignored(&rules, "docs/a.md", false));
        assert!(!ignored(&rules, "docs/sub/a.md", false));
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_path_record(&"a".repeat(120));
        let s = String::from_utf8(r.clone()).unwrap();
        let (len, _) = s.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), r.len());
        let r = pax_path_record(&"b".repeat(85));
        let s = String::from_utf8(r.clone()).unwrap();
        assert_eq!(
            s.split_once(' ').unwrap().0.parse::<usize>().unwrap(),
            r.len()
        );
    }

    #[test]
    fn deterministic_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("tank.json"), "{}").unwrap();
        std::fs::write(d.join("SKILL.md"), "# Hi\n").unwrap();
        std::fs::create_dir_all(d.join("node_modules/x")).unwrap();
        std::fs::write(d.join("node_modules/x/i.js"), "x").unwrap();
        std::fs::write(d.join("debug.log"), "x").unwrap();
        let long = format!("deep/{}/file.txt", "n".repeat(110));
        std::fs::create_dir_all(d.join(&long).parent().unwrap()).unwrap();
        std::fs::write(d.join(&long), "long").unwrap();
        let a = pack(d, None).unwrap();
        let b = pack(d, None).unwrap();
        assert_eq!(a.tarball, b.tarball);
        assert_eq!(
            a.files,
            vec!["SKILL.md".to_string(), long.clone(), "tank.json".into()]
        );
        let listed: Vec<String> = crate::archive::list_files(&a.tarball)
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(listed, a.files);
        assert_eq!(
            crate::archive::read_file(&a.tarball, &long)
                .unwrap()
                .unwrap(),
            b"long"
        );
        // gzip header: mtime 0, no name flag, OS 255.
        assert_eq!(&a.tarball[3..8], &[0, 0, 0, 0, 0]);
        assert_eq!(a.tarball[9], 255);
    }

    #[test]
    fn allow_list_keeps_required_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("tank.json"), "{}").unwrap();
        std::fs::write(d.join("README.md"), "r").unwrap();
        std::fs::create_dir_all(d.join("src/x")).unwrap();
        std::fs::write(d.join("src/x/a.py"), "a").unwrap();
        std::fs::write(d.join("other.txt"), "o").unwrap();
        let p = pack(d, Some(&["src".to_string()])).unwrap();
        assert_eq!(p.files, vec!["README.md", "src/x/a.py", "tank.json"]);
    }
}
