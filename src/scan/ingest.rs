//! Stage 0 — ingest (SPEC §8.3): streams the gzip/tar in memory (nothing is extracted), judges every entry
//! (ARC-001 … ARC-007), builds the shared file set of §8.2 and inspects packed content (ARC-008, see
//! `packed.rs`). It also decides whether confirm must refuse the archive (§3.6 step 6).
//! The SHA-512 of the bytes is computed by the publish path (§3.6 step 5), not here.

use super::files::{CONTENT_LIMIT, FileSet, HEAD_KEEP, ScanFile};
use super::report::{Blocking, Finding, Severity};
use super::{ScanInput, StageError, packed};
use crate::archive::{self, EntryKind, Flow, WalkError};
use std::collections::HashMap;
use std::io::Read;
use std::time::Instant;

const STAGE: &str = "stage0";
/// ARC-004 per file: more than 10 MiB **and** more than 100 × the whole `.tgz`.
const BOMB_FILE_BYTES: u64 = 10 * 1024 * 1024;
const BOMB_RATIO: u64 = 100;
/// Client message for an unreadable archive (SPEC §3.6 step 6).
pub const UNREADABLE: &str = "The uploaded file is not a readable .tar.gz archive.";

/// Stage 0's output, filled as it goes so that a crash or timeout still leaves the entries read so far.
pub struct Ingest {
    pub files: FileSet,
    pub findings: Vec<Finding>,
    pub blocking: Option<Blocking>,
}

impl Ingest {
    pub fn new(tarball_len: u64) -> Ingest {
        Ingest {
            files: FileSet {
                tarball_len,
                ..FileSet::default()
            },
            findings: Vec::new(),
            blocking: None,
        }
    }

    fn add(&mut self, f: Finding, blocking: bool) {
        if blocking && self.blocking.is_none() {
            self.blocking = Some(Blocking {
                rule_id: f.rule_id,
                message: f.message.clone(),
            });
        }
        self.findings.push(f);
    }
}

/// A raw path for messages: lossy UTF-8 with quotes, backslashes and control characters escaped.
pub fn display_path(raw: &[u8]) -> String {
    let mut out = String::new();
    for c in String::from_utf8_lossy(raw).chars() {
        match c {
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// True when a link target (relative to the link's directory for symlinks, to the root for hard links)
/// is absolute or climbs above the package root.
fn link_escapes(entry_path: &[u8], target: &[u8], symlink: bool) -> bool {
    if target.is_empty() {
        return false;
    }
    if target[0] == b'/' || target[0] == b'\\' || target.contains(&0) {
        return true;
    }
    if target.len() >= 2 && target[0].is_ascii_alphabetic() && target[1] == b':' {
        return true;
    }
    let mut depth: i64 = 0;
    if symlink {
        let dir_components = entry_path
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .count();
        depth = dir_components.saturating_sub(1) as i64;
    }
    for c in target.split(|b| *b == b'/' || *b == b'\\') {
        match c {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// One regular file as read, before `package/` stripping and last-duplicate-wins.
struct RawFile {
    path: String,
    size: u64,
    bytes: Vec<u8>,
}

pub fn run(input: &ScanInput, deadline: Instant, out: &mut Ingest) -> Result<(), StageError> {
    let tgz = input.tarball;
    let tgz_len = tgz.len() as u64;
    let mut raw_files: Vec<RawFile> = Vec::new();
    // Normalised path → first raw path, and case-folded path → first normalised path (ARC-007).
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut folded: HashMap<String, String> = HashMap::new();
    let mut timed_out = false;

    let walked = archive::walk(tgz, |e, content| {
        if Instant::now() >= deadline {
            timed_out = true;
            return Ok(Flow::Stop);
        }
        let shown = display_path(&e.path);
        if archive::is_traversal(&e.path) {
            out.add(
                Finding::fact(
                    STAGE,
                    Severity::Critical,
                    "ARC-001",
                    "path_traversal",
                    format!("Archive entry \"{shown}\" escapes the package root (ARC-001)."),
                    Some(shown.clone()),
                )
                .with_evidence(shown.clone()),
                true,
            );
        }
        let norm = archive::normalize_path(&e.path);
        match e.kind {
            EntryKind::Dir => {}
            EntryKind::Symlink | EntryKind::Hardlink => {
                let target = e.link.clone().unwrap_or_default();
                let sym = e.kind == EntryKind::Symlink;
                let escapes = link_escapes(&e.path, &target, sym);
                let what = if sym {
                    "a symbolic link"
                } else {
                    "a hard link"
                };
                let t = display_path(&target);
                out.add(
                    Finding::fact(
                        STAGE,
                        if escapes {
                            Severity::Critical
                        } else {
                            Severity::High
                        },
                        "ARC-002",
                        "archive_link",
                        format!("Archive entry \"{shown}\" is {what} to \"{t}\" (ARC-002)."),
                        Some(norm.clone().unwrap_or_else(|| shown.clone())),
                    )
                    .with_evidence(format!("{shown} -> {t}")),
                    true,
                );
            }
            EntryKind::CharDevice
            | EntryKind::BlockDevice
            | EntryKind::Fifo
            | EntryKind::Other(_) => {
                let what = match e.kind {
                    EntryKind::CharDevice => "a character device".to_string(),
                    EntryKind::BlockDevice => "a block device".to_string(),
                    EntryKind::Fifo => "a FIFO".to_string(),
                    EntryKind::Other(b) => format!("of unknown type {:?}", b as char),
                    _ => unreachable!(),
                };
                out.add(
                    Finding::fact(
                        STAGE,
                        Severity::High,
                        "ARC-003",
                        "special_file",
                        format!("Archive entry \"{shown}\" is {what} (ARC-003)."),
                        Some(norm.clone().unwrap_or_else(|| shown.clone())),
                    ),
                    true,
                );
            }
            EntryKind::File => {
                if e.size > BOMB_FILE_BYTES && e.size > BOMB_RATIO.saturating_mul(tgz_len) {
                    out.add(
                        Finding::fact(
                            STAGE,
                            Severity::Critical,
                            "ARC-004",
                            "zip_bomb",
                            format!(
                                "Archive entry \"{shown}\" inflates to {} bytes from a {tgz_len}-byte archive (ARC-004).",
                                e.size
                            ),
                            Some(norm.clone().unwrap_or_else(|| shown.clone())),
                        ),
                        true,
                    );
                    return Ok(Flow::Stop);
                }
                let mut bytes = Vec::new();
                let keep = if e.size <= CONTENT_LIMIT {
                    e.size
                } else {
                    HEAD_KEEP as u64
                };
                content
                    .take(keep)
                    .read_to_end(&mut bytes)
                    .map_err(|err| WalkError::Corrupt(err.to_string()))?;
                if let Some(p) = &norm {
                    raw_files.push(RawFile {
                        path: p.clone(),
                        size: e.size,
                        bytes,
                    });
                }
            }
        }
        // ARC-007: same normalised path, or equal after case folding. Directory entries repeat harmlessly.
        if e.kind != EntryKind::Dir
            && let Some(p) = norm
        {
            let dup = if seen.contains_key(&p) {
                Some(format!(
                    "Archive entry \"{p}\" appears more than once (ARC-007)."
                ))
            } else {
                folded.get(&p.to_lowercase()).map(|other| {
                    format!(
                        "Archive entry \"{p}\" differs only in case from \"{other}\" (ARC-007)."
                    )
                })
            };
            if let Some(msg) = dup {
                out.add(
                    Finding::fact(
                        STAGE,
                        Severity::High,
                        "ARC-007",
                        "duplicate_entry",
                        msg,
                        Some(p.clone()),
                    ),
                    true,
                );
            }
            folded.entry(p.to_lowercase()).or_insert_with(|| p.clone());
            seen.entry(p).or_insert(shown);
        }
        Ok(Flow::Continue)
    });

    match walked {
        Ok(()) => {}
        Err(WalkError::NotGzip) => {
            let what = match tgz {
                [] => "the file is empty".to_string(),
                [b'P', b'K', ..] => "it is a zip archive, not gzip".to_string(),
                _ if tgz.len() > 262 && &tgz[257..262] == b"ustar" => {
                    "it is an uncompressed tar, not gzip".to_string()
                }
                _ => "it does not start with the gzip signature".to_string(),
            };
            out.blocking = None;
            out.add(arc005(what), true);
        }
        Err(WalkError::Corrupt(m)) => {
            // An unreadable archive is refused as such, whatever was found before the damage (§3.6
            // step 6 checks readability first).
            out.blocking = None;
            out.add(arc005(m), true);
        }
        Err(WalkError::TooManyEntries) => out.add(
            Finding::fact(
                STAGE,
                Severity::Critical,
                "ARC-004",
                "zip_bomb",
                format!(
                    "The archive has more than {} entries (ARC-004).",
                    archive::MAX_ENTRIES
                ),
                None,
            ),
            true,
        ),
        Err(WalkError::TooLarge { path }) => {
            let (msg, file) = match path {
                Some(p) => {
                    let shown = display_path(&p);
                    (
                        format!(
                            "Archive entry \"{shown}\" passes the 200 MiB decompressed size limit (ARC-004)."
                        ),
                        Some(archive::normalize_path(&p).unwrap_or(shown)),
                    )
                }
                None => (
                    "The archive passes the 200 MiB decompressed size limit (ARC-004).".to_string(),
                    None,
                ),
            };
            out.add(
                Finding::fact(STAGE, Severity::Critical, "ARC-004", "zip_bomb", msg, file),
                true,
            );
        }
    }

    // The file set: `package/` stripped when every file has it, last duplicate wins, sorted (§8.2).
    let mut paths: Vec<String> = raw_files.iter().map(|f| f.path.clone()).collect();
    archive::strip_package_prefix(&mut paths);
    let mut by_path: std::collections::BTreeMap<String, RawFile> = Default::default();
    for (p, f) in paths.into_iter().zip(raw_files) {
        if !p.is_empty() {
            by_path.insert(p, f);
        }
    }
    out.files.files = by_path
        .into_iter()
        .map(|(p, f)| ScanFile::new(p, f.size, f.bytes))
        .collect();
    if timed_out {
        return Err(StageError::Timeout);
    }

    // Per-file content checks on the final set.
    let mut budget = packed::SCAN_BUDGET;
    for i in 0..out.files.files.len() {
        if Instant::now() >= deadline {
            return Err(StageError::Timeout);
        }
        let file = &out.files.files[i];
        if let Some(f) = blocked_type(file) {
            out.findings.push(f);
        }
        let (findings, contents) = packed::inspect(file, &mut budget);
        out.findings.extend(findings);
        out.files.packed.extend(contents);
    }
    Ok(())
}

fn arc005(detail: String) -> Finding {
    Finding::fact(
        STAGE,
        Severity::Critical,
        "ARC-005",
        "archive_error",
        UNREADABLE,
        None,
    )
    .with_evidence(detail)
}

/// ARC-006: executables and compiled code, by magic number or by name.
fn blocked_type(file: &ScanFile) -> Option<Finding> {
    let b = &file.bytes;
    let magic = if b.starts_with(b"\x7fELF") {
        Some("an ELF executable")
    } else if is_pe(b) {
        Some("a Windows PE executable")
    } else if b.starts_with(&[0xFE, 0xED, 0xFA, 0xCE])
        || b.starts_with(&[0xFE, 0xED, 0xFA, 0xCF])
        || b.starts_with(&[0xCE, 0xFA, 0xED, 0xFE])
        || b.starts_with(&[0xCF, 0xFA, 0xED, 0xFE])
        || b.starts_with(&[0xCA, 0xFE, 0xBA, 0xBE])
    {
        // CAFEBABE is also a Java class file; both are blocked.
        Some("a Mach-O binary or Java class file")
    } else if b.starts_with(b"\0asm") {
        Some("a WebAssembly module")
    } else {
        None
    };
    let name = file.name().to_ascii_lowercase();
    const EXTS: [&str; 12] = [
        ".exe", ".dll", ".so", ".dylib", ".node", ".pyd", ".wasm", ".class", ".jar", ".war",
        ".pyc", ".pyo",
    ];
    let by_name = EXTS.iter().any(|e| name.ends_with(e)) || is_versioned_so(&name);
    let what = match (magic, by_name) {
        (Some(m), _) => m.to_string(),
        (None, true) => "a compiled binary by its name".to_string(),
        (None, false) => return None,
    };
    Some(Finding::fact(
        STAGE,
        Severity::Critical,
        "ARC-006",
        "blocked_file_type",
        format!(
            "\"{}\" is {what}; packages may not ship executables or compiled code.",
            file.path
        ),
        Some(file.path.clone()),
    ))
}

/// `libx.so.1`, `libx.so.1.2.3`.
fn is_versioned_so(name: &str) -> bool {
    name.find(".so.").is_some_and(|i| {
        let rest = &name[i + 4..];
        !rest.is_empty()
            && rest
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
    })
}

/// `MZ` with `PE\0\0` at the offset stored at 0x3C.
fn is_pe(b: &[u8]) -> bool {
    if !b.starts_with(b"MZ") || b.len() < 0x40 {
        return false;
    }
    let off = u32::from_le_bytes([b[0x3c], b[0x3d], b[0x3e], b[0x3f]]) as usize;
    b.get(off..off.saturating_add(4)) == Some(b"PE\0\0")
}

#[cfg(test)]
mod tests;
