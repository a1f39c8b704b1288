//! ARC-008 `packed_payload` (SPEC §8.3 stage 0): compressed streams and zip archives inside package
//! files. A file that *is* a gzip stream or a zip archive is unpacked (stored/deflate zip entries ≤ 1,000,
//! 5 MiB each, 32 MiB per scan, depth ≤ 2) into `FileSet::packed` and gets a note; xz, bzip2 and zstd
//! cannot be unpacked in this build (no decoder crate), and encrypted or otherwise unsupported zip entries
//! cannot be read, so those are medium ("an encrypted or unsupported entry"). A gzip, xz, bzip2 or zstd
//! stream hidden at an offset > 0 of a file that is not a known container is medium, high when the
//! unpacked stream starts with a shebang.
//!
//! Not yet in this build: re-scanning the unpacked content with stages 2–4 (they do not exist yet; they
//! will read `FileSet::packed`), and the high cases that need stage 2's knowledge (a container sliced by a
//! package slice or an offset read, or run by an interpreter in the package).

use super::files::{PackedContent, ScanFile};
use super::report::{Finding, Severity};
use flate2::read::{DeflateDecoder, GzDecoder};
use std::io::Read;

/// Decompressed bytes allowed per scan (ARC-008, chosen).
pub const SCAN_BUDGET: u64 = 32 * 1024 * 1024;
/// Decompressed bytes allowed per stream or zip entry (ARC-008, chosen).
const PER_STREAM: u64 = 5 * 1024 * 1024;
const MAX_ZIP_ENTRIES: usize = 1_000;
const MAX_DEPTH: u8 = 2;
/// Signature matches tried per file when looking for a hidden stream.
const MAX_ATTEMPTS: usize = 256;

const STAGE: &str = "stage0";

fn finding(sev: Severity, file: &ScanFile, msg: String) -> Finding {
    Finding::fact(
        STAGE,
        sev,
        "ARC-008",
        "packed_payload",
        msg,
        Some(file.path.clone()),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Gzip,
    Xz,
    Bzip2,
    Zstd,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Gzip => "gzip",
            Stream::Xz => "xz",
            Stream::Bzip2 => "bzip2",
            Stream::Zstd => "zstd",
        }
    }
}

fn stream_at(b: &[u8]) -> Option<Stream> {
    if b.len() >= 10 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8 && b[3] & 0xe0 == 0 {
        Some(Stream::Gzip)
    } else if b.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0]) {
        Some(Stream::Xz)
    } else if b.len() >= 10
        && b.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&b[3])
        && &b[4..10] == b"\x31\x41\x59\x26\x53\x59"
    {
        Some(Stream::Bzip2)
    } else if b.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        Some(Stream::Zstd)
    } else {
        None
    }
}

fn is_zip(b: &[u8]) -> bool {
    b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06")
}

/// PNG, JPEG, GIF, WebP, PDF, WOFF/WOFF2/OTF/TTF, SQLite: formats whose own compressed chunks are not
/// hidden payloads (zip is handled as an archive).
fn is_known_container(b: &[u8]) -> bool {
    b.starts_with(b"\x89PNG")
        || b.starts_with(&[0xFF, 0xD8, 0xFF])
        || b.starts_with(b"GIF8")
        || (b.len() >= 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP")
        || b.starts_with(b"%PDF")
        || b.starts_with(b"wOFF")
        || b.starts_with(b"wOF2")
        || b.starts_with(b"OTTO")
        || b.starts_with(&[0, 1, 0, 0])
        || b.starts_with(b"true")
        || b.starts_with(b"SQLite format 3\0")
}

enum Unpacked {
    Done(Vec<u8>),
    /// The per-stream or per-scan limit cut it short.
    Limited(Vec<u8>),
    Failed,
}

fn gunzip(b: &[u8], budget: &mut u64) -> Unpacked {
    inflate(GzDecoder::new(b), budget)
}

fn inflate<R: Read>(r: R, budget: &mut u64) -> Unpacked {
    let cap = PER_STREAM.min(*budget);
    let mut out = Vec::new();
    match r.take(cap + 1).read_to_end(&mut out) {
        Ok(_) => {
            let limited = out.len() as u64 > cap;
            out.truncate(cap as usize);
            *budget -= out.len() as u64;
            if limited {
                Unpacked::Limited(out)
            } else {
                Unpacked::Done(out)
            }
        }
        Err(_) => Unpacked::Failed,
    }
}

/// ARC-008 for one file of the set: findings plus the content unpacked for later stages.
pub fn inspect(file: &ScanFile, budget: &mut u64) -> (Vec<Finding>, Vec<PackedContent>) {
    let mut findings = Vec::new();
    let mut out = Vec::new();
    let b = &file.bytes;
    let p = &file.path;
    if let Some(kind) = stream_at(b) {
        match kind {
            Stream::Gzip if file.complete => match gunzip(b, budget) {
                Unpacked::Done(data) => {
                    findings.push(
                        finding(
                            Severity::Info,
                            file,
                            format!("\"{p}\" is a gzip stream; its content was unpacked for scanning."),
                        )
                        .with_confidence(1.0),
                    );
                    let inner = inner_gzip_name(b).unwrap_or_else(|| {
                        p.strip_suffix(".gz").unwrap_or(p).rsplit('/').next().unwrap_or(p).to_string()
                    });
                    nested(p, &inner, data, 1, budget, &mut out);
                }
                Unpacked::Limited(data) => {
                    findings.push(finding(
                        Severity::Medium,
                        file,
                        format!("\"{p}\" is a gzip stream larger than the unpacking limits; part of it was not scanned."),
                    ));
                    nested(p, &inner_gzip_name(b).unwrap_or_default(), data, 1, budget, &mut out);
                }
                Unpacked::Failed => findings.push(finding(
                    Severity::Medium,
                    file,
                    format!("\"{p}\" looks like a gzip stream but cannot be unpacked."),
                )),
            },
            Stream::Gzip => findings.push(finding(
                Severity::Medium,
                file,
                format!("\"{p}\" is a gzip stream too large to unpack; its content was not scanned."),
            )),
            _ => findings.push(finding(
                Severity::Medium,
                file,
                format!(
                    "\"{p}\" is a {} stream that this scanner cannot unpack, so its content was not scanned.",
                    kind.name()
                ),
            )),
        }
        return (findings, out);
    }
    if is_zip(b) {
        if !file.complete {
            findings.push(finding(
                Severity::Medium,
                file,
                format!(
                    "\"{p}\" is a zip archive too large to unpack; its entries were not scanned."
                ),
            ));
            return (findings, out);
        }
        let z = unzip(b, budget);
        let sev = if z.problems.is_empty() {
            Severity::Info
        } else {
            Severity::Medium
        };
        let msg = if z.problems.is_empty() {
            format!(
                "\"{p}\" is a zip archive; its {} entries were unpacked for scanning.",
                z.entries.len()
            )
        } else {
            format!(
                "\"{p}\" is a zip archive with content that could not be scanned ({}).",
                z.problems.join("; ")
            )
        };
        findings.push(finding(sev, file, msg));
        for (name, data) in z.entries {
            nested(p, &name, data, 1, budget, &mut out);
        }
        return (findings, out);
    }
    if is_known_container(b) {
        return (findings, out);
    }
    // Hidden streams at an offset > 0: the first plausible one is reported. Signature matches that do
    // not decode are skipped; after MAX_ATTEMPTS of them the file is left alone (bounded work).
    let mut attempts = 0;
    for off in 1..b.len() {
        let Some(kind) = stream_at(&b[off..]) else {
            continue;
        };
        attempts += 1;
        if attempts > MAX_ATTEMPTS {
            break;
        }
        if kind == Stream::Gzip {
            let mut local = PER_STREAM.min(*budget);
            let data = match gunzip(&b[off..], &mut local) {
                Unpacked::Done(d) | Unpacked::Limited(d) if !d.is_empty() => d,
                // A false signature match: not a real stream.
                _ => continue,
            };
            *budget -= (data.len() as u64).min(*budget);
            let (sev, extra) = if data.starts_with(b"#!") {
                (Severity::High, " that holds a script (shebang)")
            } else {
                (Severity::Medium, "")
            };
            findings.push(
                finding(
                    sev,
                    file,
                    format!("\"{p}\" hides a gzip stream at byte offset {off}{extra}."),
                )
                .with_evidence(super::report::truncate_chars(
                    &String::from_utf8_lossy(&data[..data.len().min(200)]),
                    200,
                )),
            );
            out.push(PackedContent {
                container: p.clone(),
                inner_path: format!("@{off}"),
                bytes: data,
                depth: 1,
            });
        } else {
            findings.push(finding(
                Severity::Medium,
                file,
                format!(
                    "\"{p}\" hides a {} stream at byte offset {off} that this scanner cannot unpack.",
                    kind.name()
                ),
            ));
        }
        break;
    }
    (findings, out)
}

/// Adds unpacked content, unpacking one more level of gzip or zip when depth allows (silently: inner
/// paths are never judged by the archive rules, §8.3 ARC-008).
fn nested(
    container: &str,
    inner: &str,
    data: Vec<u8>,
    depth: u8,
    budget: &mut u64,
    out: &mut Vec<PackedContent>,
) {
    if depth < MAX_DEPTH {
        if stream_at(&data) == Some(Stream::Gzip)
            && let Unpacked::Done(d) | Unpacked::Limited(d) = gunzip(&data, budget)
        {
            out.push(PackedContent {
                container: container.to_string(),
                inner_path: format!("{inner}/-"),
                bytes: d,
                depth: depth + 1,
            });
        } else if is_zip(&data) {
            for (name, d) in unzip(&data, budget).entries {
                out.push(PackedContent {
                    container: container.to_string(),
                    inner_path: format!("{inner}/{name}"),
                    bytes: d,
                    depth: depth + 1,
                });
            }
        }
    }
    out.push(PackedContent {
        container: container.to_string(),
        inner_path: inner.to_string(),
        bytes: data,
        depth,
    });
}

/// The FNAME field of a gzip header, if any.
fn inner_gzip_name(b: &[u8]) -> Option<String> {
    if b.len() < 10 || b[3] & 0x08 == 0 {
        return None;
    }
    let mut i = 10;
    if b[3] & 0x04 != 0 {
        let xlen = u16::from_le_bytes([*b.get(10)?, *b.get(11)?]) as usize;
        i += 2 + xlen;
    }
    let rest = b.get(i..)?;
    let end = rest.iter().position(|c| *c == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

struct Zip {
    entries: Vec<(String, Vec<u8>)>,
    problems: Vec<String>,
}

fn u16le(b: &[u8], i: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?) as usize)
}
fn u32le(b: &[u8], i: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?) as usize)
}

/// Reads a zip through its central directory: stored and deflate entries are unpacked; encrypted
/// entries, other methods, zip64 and more than 1,000 entries are reported as problems.
fn unzip(b: &[u8], budget: &mut u64) -> Zip {
    let mut z = Zip {
        entries: Vec::new(),
        problems: Vec::new(),
    };
    // End of central directory: 22 bytes plus a comment of up to 65,535 bytes.
    let lo = b.len().saturating_sub(22 + 65_535);
    let Some(eocd) = (lo..b.len().saturating_sub(21))
        .rev()
        .find(|&i| b[i..].starts_with(b"PK\x05\x06"))
    else {
        z.problems.push("no central directory".into());
        return z;
    };
    let (Some(count), Some(cd_off)) = (u16le(b, eocd + 10), u32le(b, eocd + 16)) else {
        z.problems.push("bad central directory".into());
        return z;
    };
    if count == 0xFFFF || cd_off == 0xFFFF_FFFF {
        z.problems.push("zip64 is not supported".into());
        return z;
    }
    if count > MAX_ZIP_ENTRIES {
        z.problems
            .push(format!("more than {MAX_ZIP_ENTRIES} entries"));
    }
    let mut encrypted = 0;
    let mut pos = cd_off;
    for _ in 0..count.min(MAX_ZIP_ENTRIES) {
        if !b.get(pos..).is_some_and(|r| r.starts_with(b"PK\x01\x02")) {
            z.problems.push("bad central directory entry".into());
            break;
        }
        let parsed = (|| {
            let flags = u16le(b, pos + 8)?;
            let method = u16le(b, pos + 10)?;
            let csize = u32le(b, pos + 20)?;
            let nlen = u16le(b, pos + 28)?;
            let elen = u16le(b, pos + 30)?;
            let clen = u16le(b, pos + 32)?;
            let local = u32le(b, pos + 42)?;
            let name = String::from_utf8_lossy(b.get(pos + 46..pos + 46 + nlen)?).into_owned();
            Some((flags, method, csize, nlen + elen + clen, local, name))
        })();
        let Some((flags, method, csize, var, local, name)) = parsed else {
            z.problems.push("truncated central directory".into());
            break;
        };
        pos += 46 + var;
        if name.ends_with('/') {
            continue;
        }
        if flags & 1 != 0 {
            encrypted += 1;
            continue;
        }
        let data_at = (|| {
            if !b.get(local..)?.starts_with(b"PK\x03\x04") {
                return None;
            }
            let start = local + 30 + u16le(b, local + 26)? + u16le(b, local + 28)?;
            b.get(start..start.checked_add(csize)?)
        })();
        let Some(raw) = data_at else {
            z.problems.push(format!("entry {name:?} is unreadable"));
            continue;
        };
        let res = match method {
            0 => inflate(raw, budget),
            8 => inflate(DeflateDecoder::new(raw), budget),
            m => {
                z.problems
                    .push(format!("entry {name:?} uses compression method {m}"));
                continue;
            }
        };
        match res {
            Unpacked::Done(d) => z.entries.push((name, d)),
            Unpacked::Limited(d) => {
                z.problems
                    .push(format!("entry {name:?} exceeds the unpacking limits"));
                z.entries.push((name, d));
            }
            Unpacked::Failed => z.problems.push(format!("entry {name:?} is corrupt")),
        }
    }
    if encrypted > 0 {
        z.problems
            .insert(0, format!("{encrypted} encrypted entries"));
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testutil::{build_tgz, gzip};
    use crate::scan::tests::run_scan;

    /// A minimal zip with one stored entry (`encrypted` sets general-purpose bit 0).
    pub(crate) fn zip_one(name: &str, data: &[u8], encrypted: bool) -> Vec<u8> {
        let flags: u16 = if encrypted { 1 } else { 0 };
        let mut z = Vec::new();
        z.extend_from_slice(b"PK\x03\x04\x14\x00");
        z.extend_from_slice(&flags.to_le_bytes());
        z.extend_from_slice(&[0u8; 10]); // method, time, date, crc
        z.extend_from_slice(&(data.len() as u32).to_le_bytes());
        z.extend_from_slice(&(data.len() as u32).to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&[0, 0]);
        z.extend_from_slice(name.as_bytes());
        z.extend_from_slice(data);
        let cd = z.len();
        z.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00");
        z.extend_from_slice(&flags.to_le_bytes());
        z.extend_from_slice(&[0u8; 10]); // method, time, date, crc
        z.extend_from_slice(&(data.len() as u32).to_le_bytes());
        z.extend_from_slice(&(data.len() as u32).to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&[0u8; 12]); // extra, comment, disk, internal attr, external attr (lo)
        z.extend_from_slice(&0u32.to_le_bytes()); // local header offset
        z.extend_from_slice(name.as_bytes());
        let cd_len = z.len() - cd;
        z.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\x00\x01\x00");
        z.extend_from_slice(&(cd_len as u32).to_le_bytes());
        z.extend_from_slice(&(cd as u32).to_le_bytes());
        z.extend_from_slice(&[0, 0]);
        z
    }

    fn arc008(r: &crate::scan::ScanReport) -> Vec<Severity> {
        r.findings
            .iter()
            .chain(&r.notes)
            .filter(|f| f.rule_id == "ARC-008")
            .map(|f| f.severity)
            .collect()
    }

    #[test]
    fn gzip_file_is_a_note_and_unpacked() {
        let words = "alpha beta gamma\n".repeat(15_000);
        let gz = gzip(words.as_bytes());
        let r = run_scan(&build_tgz(&[("data/words.txt.gz", &gz)]));
        assert_eq!(arc008(&r), vec![Severity::Info]);
        let mut budget = SCAN_BUDGET;
        let f = ScanFile::new("data/words.txt.gz".into(), gz.len() as u64, gz);
        let (_, packed) = inspect(&f, &mut budget);
        assert_eq!(packed.len(), 1);
        assert_eq!(packed[0].inner_path, "words.txt");
        assert_eq!(packed[0].bytes, words.as_bytes());
    }

    #[test]
    fn zip_note_encrypted_medium() {
        let z = zip_one("word/document.xml", b"<xml/>", false);
        let r = run_scan(&build_tgz(&[("tests/fixtures/invoice.docx", &z)]));
        assert_eq!(arc008(&r), vec![Severity::Info]);
        let e = zip_one("secret.txt", b"xxxxxx", true);
        let r = run_scan(&build_tgz(&[("tests/fixtures/locked.zip", &e)]));
        assert_eq!(arc008(&r), vec![Severity::Medium]);
        let mut budget = SCAN_BUDGET;
        let zz = unzip(&z, &mut budget);
        assert_eq!(
            zz.entries,
            vec![("word/document.xml".to_string(), b"<xml/>".to_vec())]
        );
    }

    #[test]
    fn hidden_stream_medium_and_shebang_high() {
        let mut weights = vec![7u8; 4096];
        weights.extend(gzip(b"import socket,os\nprint('x')\n"));
        let r = run_scan(&build_tgz(&[("models/weights.bin", &weights)]));
        assert_eq!(arc008(&r), vec![Severity::Medium]);
        let mut weights = vec![7u8; 4096];
        weights.extend(gzip(b"#!/usr/bin/env python3\nimport socket\n"));
        let r = run_scan(&build_tgz(&[("models/weights.bin", &weights)]));
        assert_eq!(arc008(&r), vec![Severity::High]);
    }

    #[test]
    fn near_misses_png_and_xz() {
        // A PNG whose chunks hold a (zlib-like) gzip signature is a known container.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(gzip(b"chunk data"));
        let r = run_scan(&build_tgz(&[("icon.png", &png)]));
        assert!(arc008(&r).is_empty());
        let r = run_scan(&build_tgz(&[("notes.md", b"plain text, no streams\n")]));
        assert!(arc008(&r).is_empty());
        let r = run_scan(&build_tgz(&[("d.xz", b"\xFD7zXZ\0rest")]));
        assert_eq!(arc008(&r), vec![Severity::Medium]);
    }
}
