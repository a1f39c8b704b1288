//! The directories and files of an ephemeral instance (SPEC §11.2–§11.4, §11.7): creating its data directory,
//! the ready file written atomically, clean-up at exit, and sweeping the stale directories of killed
//! instances. Not here: flags, start-up order and the ready line's content (`mod.rs`).

use super::{DIR_PREFIX, Failure, MARKER};
use fs4::fs_std::FileExt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What is removed at exit (SPEC §11.7); dropped only through [`Cleanup::finish`].
pub(super) struct Cleanup {
    pub(super) data_dir: Option<PathBuf>,
    pub(super) keep_data: bool,
    pub(super) ready_file: Option<PathBuf>,
}

impl Cleanup {
    pub(super) fn finish(&mut self) {
        if let Some(f) = self.ready_file.take()
            && let Err(e) = fs::remove_file(&f)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, "cannot delete the ready file");
        }
        if let Some(dir) = self.data_dir.take() {
            let r = if self.keep_data {
                // A kept directory is an ordinary data directory (SPEC §11.7).
                fs::remove_file(dir.join(MARKER))
            } else {
                fs::remove_dir_all(&dir)
            };
            if let Err(e) = r
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, dir = %dir.display(), "cannot clean up the data directory");
            }
        }
    }
}

/// The absolute form of `p` (relative to the working directory).
pub(super) fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `$TMPDIR`, else `/tmp` (SPEC §11.2), made absolute.
pub(super) fn temp_root() -> PathBuf {
    absolute(&std::env::temp_dir())
}

#[cfg(unix)]
pub(super) fn mkdir_0700(p: &Path, recursive: bool) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(recursive)
        .mode(0o700)
        .create(p)
}

#[cfg(not(unix))]
pub(super) fn mkdir_0700(p: &Path, recursive: bool) -> io::Result<()> {
    if recursive {
        fs::create_dir_all(p)
    } else {
        fs::create_dir(p)
    }
}

/// SPEC §11.3 step 2: deletes a stale ready file and checks that its directory takes a new file.
pub(super) fn prepare_ready_file(file: &Path) -> Result<(), Failure> {
    let fail = |e: &dyn std::fmt::Display| {
        Failure::op(format!("cannot write ready file {}: {e}", file.display()))
    };
    match fs::symlink_metadata(file) {
        Ok(m) if m.is_dir() => return Err(fail(&"it is a directory")),
        Ok(_) => fs::remove_file(file).map_err(|e| fail(&e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(&e)),
    }
    // Writable: create and remove a probe named like the real temporary file.
    let probe = temp_name(file);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| fail(&e))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// `<FILE>.<16 random hex>.tmp` beside FILE (SPEC §11.4).
pub(super) fn temp_name(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(format!(".{}.tmp", crate::blobs::random_hex(8)));
    PathBuf::from(name)
}

/// Writes `bytes` to FILE atomically: a 0600 temporary file in the same directory, renamed onto FILE.
pub(super) fn write_ready_file(file: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_name(file);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut f| f.write_all(bytes));
    if let Err(e) = written.and_then(|_| fs::rename(&tmp, file)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// The effective user id, for the ownership test of stale directories.
#[cfg(unix)]
pub(super) fn current_uid(tmp: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
        && let Some(euid) = line.split_whitespace().nth(2)
        && let Ok(uid) = euid.parse()
    {
        return Some(uid);
    }
    // Without /proc: the owner of a file we create.
    let f = tempfile::tempfile_in(tmp).ok()?;
    f.metadata().ok().map(|m| m.uid())
}

/// SPEC §11.7 "Stale directories": removes every `tank-ephemeral-*` directory in `tmp` that the current user
/// owns, that holds the marker and whose `serve.lock` no process holds. The pid in the name is not used (pid
/// reuse could otherwise protect a dead directory or expose a live one). Errors are logged at debug level.
#[cfg(unix)]
pub(super) fn sweep_stale(tmp: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir(tmp) else {
        tracing::debug!(dir = %tmp.display(), "cannot list the temporary directory");
        return;
    };
    let Some(uid) = current_uid(tmp) else {
        tracing::debug!("cannot determine the current user id; not sweeping");
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Ok(meta) = fs::symlink_metadata(&dir) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        if !fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let lock = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join("serve.lock"))
        {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot open serve.lock");
                continue;
            }
        };
        if let Some(f) = &lock
            && !FileExt::try_lock_exclusive(f).unwrap_or(false)
        {
            continue;
        }
        // Removed while we hold its lock, so no instance can start on it meanwhile.
        match fs::remove_dir_all(&dir) {
            Ok(()) => tracing::debug!(dir = %dir.display(), "removed a stale ephemeral directory"),
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot remove a stale ephemeral directory")
            }
        }
        drop(lock);
    }
}

#[cfg(not(unix))]
pub(super) fn sweep_stale(_tmp: &Path) {}

/// SPEC §11.3 step 4 (the directory): a new `tank-ephemeral-<pid>-<8 hex>` under the temporary directory, or
/// the explicit `--data-dir`, which must be absent or empty (and is then left untouched on refusal).
pub(super) fn create_data_dir(explicit: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(dir) = explicit {
        match fs::symlink_metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                mkdir_0700(dir, true).map_err(|e| {
                    Failure::op(format!(
                        "cannot create ephemeral data dir {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            Ok(m) if m.is_dir() => {
                let empty = fs::read_dir(dir)
                    .map(|mut r| r.next().is_none())
                    .unwrap_or(false);
                if !empty {
                    return Err(Failure::op(format!(
                        "ephemeral data dir {} is not empty",
                        dir.display()
                    )));
                }
            }
            _ => {
                return Err(Failure::op(format!(
                    "ephemeral data dir {} is not empty",
                    dir.display()
                )));
            }
        }
        return Ok(dir.to_path_buf());
    }
    let root = temp_root();
    let dir = root.join(format!(
        "{DIR_PREFIX}{}-{}",
        std::process::id(),
        crate::blobs::random_hex(4)
    ));
    mkdir_0700(&dir, false).map_err(|e| {
        Failure::op(format!(
            "cannot create an ephemeral data dir in {}: {e}",
            root.display()
        ))
    })?;
    Ok(dir)
}
