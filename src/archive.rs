//! Reading `.tgz` package archives in memory: one streaming entry walker (gzip + tar, nothing is ever
//! extracted to disk), the path normalisation of SPEC §3.11 / §8.2, and the file API helpers of §3.11 and §3.12.
//! Judging entries (ARC-* rules) is the scanner's business (`scan::ingest`), not this module's.

use flate2::bufread::GzDecoder;
use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// Stop after this many tar entries (SPEC §8.3 stage 0, ARC-004).
pub const MAX_ENTRIES: u64 = 10_000;
/// Stop after this many decompressed bytes (SPEC §8.3 stage 0, ARC-004).
pub const MAX_DECOMPRESSED: u64 = 200 * 1024 * 1024;

/// One file of a published archive, as listed by `GET …/files` (SPEC §3.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a gzip stream")]
    NotGzip,
    #[error("unreadable archive: {0}")]
    Corrupt(String),
    #[error("archive has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error("archive exceeds {MAX_DECOMPRESSED} decompressed bytes")]
    TooLarge,
}

/// The kind of a tar entry, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// `0`, NUL (old tar), `7` (contiguous) and `S` (GNU sparse, expanded by the reader).
    File,
    Dir,
    Symlink,
    Hardlink,
    CharDevice,
    BlockDevice,
    Fifo,
    /// Any other type byte (volume headers, vendor extensions …).
    Other(u8),
}

/// One entry as the walker hands it out. `path` and `link` are the raw bytes after pax / GNU long-name
/// processing (so they may be anything: absolute, `..`, non-UTF-8).
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub path: Vec<u8>,
    pub kind: EntryKind,
    pub size: u64,
    pub link: Option<Vec<u8>>,
    /// 0-based position among the yielded entries.
    pub index: u64,
}

/// What the walker's callback wants next.
pub enum Flow {
    Continue,
    Stop,
}

/// Why a walk ended early. `path` is the raw path of the entry being read when the limit was hit.
#[derive(Debug)]
pub enum WalkError {
    NotGzip,
    Corrupt(String),
    TooManyEntries,
    TooLarge { path: Option<Vec<u8>> },
}

impl From<WalkError> for ArchiveError {
    fn from(e: WalkError) -> Self {
        match e {
            WalkError::NotGzip => ArchiveError::NotGzip,
            WalkError::Corrupt(m) => ArchiveError::Corrupt(m),
            WalkError::TooManyEntries => ArchiveError::TooManyEntries,
            WalkError::TooLarge { .. } => ArchiveError::TooLarge,
        }
    }
}

/// Gzip members one after another (as `gzip -d` and Node's zlib read them); bytes after a member that do
/// not start another member are ignored (chosen: `gzip -d` also ignores trailing zeros and garbage, and a
/// tape-blocked `.tgz` ends in zeros).
struct Members<'a> {
    cur: Option<GzDecoder<&'a [u8]>>,
}

impl Read for Members<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.cur.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let rest = self
                .cur
                .take()
                .map(GzDecoder::into_inner)
                .unwrap_or_default();
            if rest.starts_with(&[0x1f, 0x8b]) {
                self.cur = Some(GzDecoder::new(rest));
            }
        }
    }
}

/// Counts decompressed bytes and fails the read once `MAX_DECOMPRESSED` is passed, so that a bomb is never
/// inflated further than the limit (SPEC §8.3: "reading stops at the limit").
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
    over: Rc<Cell<bool>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.over.get() {
            return Err(io::Error::other("decompressed size limit"));
        }
        let n = self.inner.read(buf)?;
        let total = self.count.get() + n as u64;
        self.count.set(total);
        if total > MAX_DECOMPRESSED {
            self.over.set(true);
            return Err(io::Error::other("decompressed size limit"));
        }
        Ok(n)
    }
}

fn kind_of(byte: u8) -> Option<EntryKind> {
    Some(match byte {
        b'0' | 0 | b'7' | b'S' => EntryKind::File,
        b'1' => EntryKind::Hardlink,
        b'2' => EntryKind::Symlink,
        b'3' => EntryKind::CharDevice,
        b'4' => EntryKind::BlockDevice,
        b'5' => EntryKind::Dir,
        b'6' => EntryKind::Fifo,
        // Metadata headers the tar crate did not fold into the next entry (global pax headers, or long-name
        // headers in a non-GNU/ustar header): never extracted, so not entries for anyone.
        b'g' | b'x' | b'L' | b'K' => return None,
        other => EntryKind::Other(other),
    })
}

/// Streams `tgz` and calls `on_entry` for every entry with a reader over its content (empty for
/// non-files). The walker reads whatever the callback left unread, checks that every entry's content
/// was complete, and after the last entry drains the gzip stream so that truncation and CRC errors are
/// seen (SPEC §3.6 step 6: "whose entry list can be read to the end"). Zero padding after the tar
/// end-of-archive blocks is drained without complaint.
pub fn walk<F>(tgz: &[u8], mut on_entry: F) -> Result<(), WalkError>
where
    F: FnMut(&RawEntry, &mut dyn Read) -> Result<Flow, WalkError>,
{
    if tgz.len() < 2 || tgz[0] != 0x1f || tgz[1] != 0x8b {
        return Err(WalkError::NotGzip);
    }
    let count = Rc::new(Cell::new(0u64));
    let over = Rc::new(Cell::new(false));
    let reader = Counting {
        inner: Members {
            cur: Some(GzDecoder::new(tgz)),
        },
        count: count.clone(),
        over: over.clone(),
    };
    let mut archive = tar::Archive::new(reader);
    let mut current: Option<Vec<u8>> = None;
    let map_err = |e: io::Error, current: &Option<Vec<u8>>| -> WalkError {
        if over.get() {
            WalkError::TooLarge {
                path: current.clone(),
            }
        } else {
            WalkError::Corrupt(e.to_string())
        }
    };
    {
        let entries = archive.entries().map_err(|e| map_err(e, &None))?;
        let mut index = 0u64;
        let mut declared_total = 0u64;
        for entry in entries {
            let mut entry = entry.map_err(|e| map_err(e, &current))?;
            let type_byte = entry.header().entry_type().as_byte();
            let Some(kind) = kind_of(type_byte) else {
                io::copy(&mut entry, &mut io::sink()).map_err(|e| map_err(e, &current))?;
                continue;
            };
            if index >= MAX_ENTRIES {
                return Err(WalkError::TooManyEntries);
            }
            let path = entry.path_bytes().into_owned();
            current = Some(path.clone());
            let size = entry.size();
            let link = entry.link_name_bytes().map(|l| l.into_owned());
            let raw = RawEntry {
                path,
                kind,
                size,
                link,
                index,
            };
            index += 1;
            if kind == EntryKind::File {
                // Refuse before inflating: the declared sizes alone already pass the limit.
                declared_total = declared_total.saturating_add(size);
                if declared_total > MAX_DECOMPRESSED {
                    return Err(WalkError::TooLarge {
                        path: Some(raw.path),
                    });
                }
            }
            let mut counted = CountingEntry {
                inner: &mut entry,
                n: 0,
            };
            match on_entry(&raw, &mut counted)? {
                Flow::Continue => {}
                Flow::Stop => return Ok(()),
            }
            io::copy(&mut counted, &mut io::sink()).map_err(|e| map_err(e, &current))?;
            if counted.n != size {
                return Err(WalkError::Corrupt(format!(
                    "entry content truncated ({} of {} bytes)",
                    counted.n, size
                )));
            }
        }
    }
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| map_err(e, &current))?;
    Ok(())
}

struct CountingEntry<'a, R> {
    inner: &'a mut R,
    n: u64,
}

impl<R: Read> Read for CountingEntry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// True when a raw entry path may never be extracted (SPEC §3.11 "safe paths", ARC-001): absolute (`/…`),
/// a drive letter or UNC prefix, a `..` component (with `/` or `\` as separator), a NUL byte, or empty.
pub fn is_traversal(raw: &[u8]) -> bool {
    if raw.is_empty() || raw.contains(&0) {
        return true;
    }
    if raw[0] == b'/' || raw[0] == b'\\' {
        return true;
    }
    if raw.len() >= 2 && raw[0].is_ascii_alphabetic() && raw[1] == b':' {
        return true;
    }
    raw.split(|b| *b == b'/' || *b == b'\\').any(|c| c == b"..")
}

/// The normalised form of a raw entry path (SPEC §3.11, §8.2), or None if the path is not safe (traversal,
/// or a `\`, which no file-API path may hold). Leading `./` are removed; empty and `.` segments are
/// dropped (chosen: `a/./b` and `a//b` extract to `a/b`, so they must collide with it for ARC-007 and
/// last-duplicate-wins); a trailing `/` is dropped. Non-UTF-8 bytes are replaced with U+FFFD (chosen: the
/// file is still listed and scanned; read_file applies the same mapping).
pub fn normalize_path(raw: &[u8]) -> Option<String> {
    if is_traversal(raw) || raw.contains(&b'\\') {
        return None;
    }
    let s = String::from_utf8_lossy(raw);
    let parts: Vec<&str> = s
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// Strips the npm-style `package/` first segment when every path has it (SPEC §3.11). Returns whether it did.
pub fn strip_package_prefix(paths: &mut [String]) -> bool {
    if paths.is_empty() || !paths.iter().all(|p| p.starts_with("package/")) {
        return false;
    }
    for p in paths.iter_mut() {
        *p = p["package/".len()..].to_string();
    }
    true
}

/// Regular-file entries with safe paths, normalised, `package/` stripped when every file has it, last
/// duplicate wins, sorted byte-wise by path (SPEC §3.11).
pub fn list_files(tgz: &[u8]) -> Result<Vec<FileEntry>, ArchiveError> {
    let mut files: Vec<(String, u64)> = Vec::new();
    walk(tgz, |e, _| {
        if e.kind == EntryKind::File
            && let Some(p) = normalize_path(&e.path)
        {
            files.push((p, e.size));
        }
        Ok(Flow::Continue)
    })?;
    let mut paths: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    strip_package_prefix(&mut paths);
    let mut map = std::collections::BTreeMap::new();
    for (p, (_, size)) in paths.into_iter().zip(files) {
        if !p.is_empty() {
            map.insert(p, size); // later entries overwrite: last duplicate wins
        }
    }
    Ok(map
        .into_iter()
        .map(|(path, size)| FileEntry { path, size })
        .collect())
}

/// The bytes of the file at the normalised `path`, with the rules of `list_files`; Ok(None) if absent.
pub fn read_file(tgz: &[u8], path: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
    // Whether `package/` is stripped depends on every entry, so collect candidates under both spellings
    // (only the last of each is kept) and decide at the end.
    let prefixed = format!("package/{path}");
    let mut all_prefixed = true;
    let mut any_file = false;
    let mut plain: Option<Vec<u8>> = None;
    let mut under_package: Option<Vec<u8>> = None;
    walk(tgz, |e, r| {
        if e.kind != EntryKind::File {
            return Ok(Flow::Continue);
        }
        let Some(p) = normalize_path(&e.path) else {
            return Ok(Flow::Continue);
        };
        any_file = true;
        if !p.starts_with("package/") {
            all_prefixed = false;
        }
        let want_plain = p == path;
        let want_pkg = p == prefixed;
        if want_plain || want_pkg {
            let mut buf = Vec::with_capacity(e.size.min(1 << 20) as usize);
            r.read_to_end(&mut buf)
                .map_err(|err| WalkError::Corrupt(err.to_string()))?;
            if want_plain {
                plain = Some(buf);
            } else {
                under_package = Some(buf);
            }
        }
        Ok(Flow::Continue)
    })?;
    if any_file && all_prefixed {
        Ok(under_package)
    } else {
        Ok(plain)
    }
}

/// A small tarball builder for tests (unit and integration): writes raw ustar headers by hand so that
/// hostile archives (`../x`, absolute paths, links, devices, FIFOs, bad checksums) can be built, which
/// the tar crate's safe API refuses.
pub mod testutil;

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn lists_sorted_normalised_last_wins() {
        let mut b = TarBuilder::new();
        b.file("./b.txt", b"one")
            .file("a/x.md", b"xx")
            .dir("a/")
            .file("b.txt", b"three")
            .symlink("l", "a/x.md")
            .raw_file(b"../evil", b"no")
            .raw_file(b"/abs", b"no")
            .raw_file(b"a\\b", b"no");
        let files = list_files(&b.tgz()).unwrap();
        assert_eq!(
            files,
            vec![
                FileEntry {
                    path: "a/x.md".into(),
                    size: 2
                },
                FileEntry {
                    path: "b.txt".into(),
                    size: 5
                },
            ]
        );
        assert_eq!(read_file(&b.tgz(), "b.txt").unwrap().unwrap(), b"three");
        assert_eq!(read_file(&b.tgz(), "missing").unwrap(), None);
        assert_eq!(read_file(&b.tgz(), "../evil").unwrap(), None);
    }

    #[test]
    fn strips_package_prefix_only_when_universal() {
        let t = build_tgz(&[("package/SKILL.md", b"s"), ("package/x/y.py", b"p")]);
        let files = list_files(&t).unwrap();
        assert_eq!(files[0].path, "SKILL.md");
        assert_eq!(files[1].path, "x/y.py");
        assert_eq!(read_file(&t, "x/y.py").unwrap().unwrap(), b"p");
        assert_eq!(read_file(&t, "package/x/y.py").unwrap(), None);
        let t = build_tgz(&[("package/SKILL.md", b"s"), ("other.md", b"o")]);
        let files = list_files(&t).unwrap();
        assert_eq!(files[0].path, "other.md");
        assert_eq!(files[1].path, "package/SKILL.md");
        assert_eq!(read_file(&t, "package/SKILL.md").unwrap().unwrap(), b"s");
    }

    #[test]
    fn long_names_work() {
        let long = format!("{}/file.txt", "d".repeat(150));
        let mut b = TarBuilder::new();
        b.file(&long, b"gnu")
            .pax_file("short", "pax/very/long/name.md", b"pax");
        let files = list_files(&b.tgz()).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec![long.as_str(), "pax/very/long/name.md"]);
    }

    #[test]
    fn errors_not_panics() {
        assert!(matches!(list_files(b""), Err(ArchiveError::NotGzip)));
        assert!(matches!(
            list_files(b"PK\x03\x04rest"),
            Err(ArchiveError::NotGzip)
        ));
        let t = build_tgz(&[("a.txt", &[b'a'; 4000])]);
        assert!(list_files(&t[..t.len() / 2]).is_err());
        let mut b = TarBuilder::new();
        b.bad_checksum_file("a", b"x");
        assert!(matches!(
            list_files(&b.tgz()),
            Err(ArchiveError::Corrupt(_))
        ));
        let mut b = TarBuilder::new();
        b.header_only("a", 5000);
        assert!(list_files(&gzip(&b.tar_unterminated())).is_err());
        // Random bytes behind a gzip magic.
        let mut junk = vec![0x1f, 0x8b];
        junk.extend((0..500u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
        assert!(list_files(&junk).is_err());
        // Bytes after the gzip member are ignored; a second member is read.
        let t = build_tgz(&[("a", b"x")]);
        for tail in [&[0u8; 100][..], b"garbage"] {
            let mut z = t.clone();
            z.extend_from_slice(tail);
            assert_eq!(list_files(&z).unwrap().len(), 1);
        }
        let mut b = TarBuilder::new();
        b.file("a", b"x").file("b", b"y");
        let tar = b.tar();
        let mut two = gzip(&tar[..1024]);
        two.extend(gzip(&tar[1024..]));
        assert_eq!(list_files(&two).unwrap().len(), 2);
        // Zero padding after the end-of-archive blocks is fine.
        let mut b = TarBuilder::new();
        b.file("a", b"x");
        let mut tar = b.tar();
        tar.extend_from_slice(&[0u8; 10240]);
        assert_eq!(list_files(&gzip(&tar)).unwrap().len(), 1);
    }

    #[test]
    fn entry_limit() {
        let mut b = TarBuilder::new();
        for i in 0..=MAX_ENTRIES {
            b.dir(&format!("d{i}/"));
        }
        assert!(matches!(
            list_files(&b.tgz()),
            Err(ArchiveError::TooManyEntries)
        ));
    }

    #[test]
    fn traversal_detection() {
        assert!(is_traversal(b"../../.bashrc"));
        assert!(is_traversal(b"/etc/passwd"));
        assert!(is_traversal(b"C:/x"));
        assert!(is_traversal(b"\\\\server\\share"));
        assert!(is_traversal(b"a/\0b"));
        assert!(is_traversal(b"a\\..\\b"));
        assert!(!is_traversal(b"docs/v1..2/notes.md"));
        assert_eq!(normalize_path(b"././a//./b/").as_deref(), Some("a/b"));
        assert_eq!(
            normalize_path(b"docs/v1..2/n.md").as_deref(),
            Some("docs/v1..2/n.md")
        );
    }
}
