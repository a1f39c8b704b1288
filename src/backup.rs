//! `tank-registry backup DEST_DIR` (SPEC §9.5): a consistent snapshot of a data directory, safe while a server
//! runs. The database is copied with SQLite's online backup in one step (one read transaction, so the
//! snapshot is a single point in time even with concurrent writers); then every blob the *snapshot*
//! references is copied and verified, and `secret.key` is copied. The index is not copied (rebuilt on start).
//! Restoring is starting the server with `--data-dir DEST_DIR`.

use crate::admin::{AdminError, open_store};
use crate::blobs::{BlobStore, LocalBlobs};
use crate::config::Config;
use rusqlite::Connection;
use sha2::{Digest, Sha512};
use std::path::Path;
use std::time::Duration;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub versions: u64,
    pub blobs: u64,
    pub bytes: u64,
}

fn op(what: &str, e: impl std::fmt::Display) -> AdminError {
    AdminError::op(format!("{what}: {e}"))
}

/// DEST must be absent or an empty directory (§9.5); it is created with mode 0700.
fn prepare_dest(dest: &Path) -> Result<(), AdminError> {
    match std::fs::read_dir(dest) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Err(AdminError::op(format!(
                    "{} is not empty; a backup needs an absent or empty directory",
                    dest.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(op(&format!("cannot use {}", dest.display()), e)),
    }
    std::fs::create_dir_all(dest)
        .map_err(|e| op(&format!("cannot create {}", dest.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| op("cannot set permissions", e))?;
    }
    Ok(())
}

/// Runs the backup and returns the summary line's numbers.
pub fn backup(config: &Config, dest: &Path) -> Result<BackupSummary, AdminError> {
    if !config.db_path().exists() {
        return Err(AdminError::op(format!(
            "no database in {}",
            config.data_dir.display()
        )));
    }
    prepare_dest(dest)?;
    let store = open_store(config)?;
    let dest_db = dest.join("registry.db");
    store.read(|src| -> Result<(), AdminError> {
        let mut dst =
            Connection::open(&dest_db).map_err(|e| op("cannot create the backup database", e))?;
        let b = rusqlite::backup::Backup::new(src, &mut dst).map_err(|e| op("backup failed", e))?;
        // -1 pages per step: the whole database in one step, under one read lock (a consistent snapshot).
        // A busy or locked source is retried for up to 10 s.
        for _ in 0..200 {
            match b.step(-1).map_err(|e| op("backup failed", e))? {
                rusqlite::backup::StepResult::Done => return Ok(()),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        Err(AdminError::op(
            "backup failed: the database stayed busy for 10 s",
        ))
    })?;

    // Blobs referenced by the snapshot, not by the live database (which may have moved on).
    let snap = Connection::open(&dest_db).map_err(|e| op("cannot read the snapshot", e))?;
    let versions: u64 = snap
        .query_row(
            "SELECT COUNT(*) FROM versions WHERE state = 'published'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| op("cannot read the snapshot", e))?;
    let hexes: Vec<String> = {
        let mut st = snap
            .prepare(
                "SELECT DISTINCT sha512_hex FROM versions WHERE state = 'published' ORDER BY 1",
            )
            .map_err(|e| op("cannot read the snapshot", e))?;
        st.query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| op("cannot read the snapshot", e))?
    };
    drop(snap);
    let src_blobs = LocalBlobs::new(config.blobs_dir(), false);
    let dst_blobs = LocalBlobs::new(dest.join("blobs"), true);
    let mut bytes = std::fs::metadata(&dest_db).map(|m| m.len()).unwrap_or(0);
    for hex in &hexes {
        let data = src_blobs
            .read(hex)
            .map_err(|e| op(&format!("cannot read blob {hex}"), e))?;
        // A backup must not carry a damaged blob forward silently.
        if hex::encode(Sha512::digest(&data)) != *hex {
            return Err(AdminError::op(format!(
                "blob {hex} does not match its name; run check"
            )));
        }
        dst_blobs
            .put_bytes(&data, hex)
            .map_err(|e| op(&format!("cannot write blob {hex}"), e))?;
        bytes += data.len() as u64;
    }
    if config.secret_path().exists() {
        let to = dest.join("secret.key");
        bytes += std::fs::copy(config.secret_path(), &to)
            .map_err(|e| op("cannot copy secret.key", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| op("cannot set permissions", e))?;
        }
    }
    Ok(BackupSummary {
        versions,
        blobs: hexes.len() as u64,
        bytes,
    })
}

/// The CLI command: the §9.5 summary line.
pub fn run(config: &Config, dest: &Path) -> Result<String, AdminError> {
    let s = backup(config, dest)?;
    Ok(format!(
        "backup written to {}: {} versions, {} blobs, {} bytes\n",
        dest.display(),
        s.versions,
        s.blobs,
        s.bytes
    ))
}
