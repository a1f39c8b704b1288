//! Content-addressed tarball store on local disk: `blobs/<h0h1>/<sha512-hex>`, write-once, written with
//! temp file + fsync + rename + directory fsync (SPEC §4.4 step 1). Handlers never build blob paths.

use rand::RngCore;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// The narrow blob API a handler may use (STYLE "Room to grow": an object-store backend implements the same).
pub trait BlobStore: Send + Sync {
    /// Stores the bytes of the verified file `src` under `sha512_hex`.
    fn put_file(&self, src: &Path, sha512_hex: &str) -> io::Result<()>;
    /// Stores `bytes` (already verified to hash to `sha512_hex`).
    fn put_bytes(&self, bytes: &[u8], sha512_hex: &str) -> io::Result<()>;
    /// Reads a whole blob.
    fn read(&self, sha512_hex: &str) -> io::Result<Vec<u8>>;
    fn exists(&self, sha512_hex: &str) -> bool;
    fn delete(&self, sha512_hex: &str) -> io::Result<()>;
    /// Every stored blob's hex name.
    fn list(&self) -> io::Result<Vec<String>>;
}

pub struct LocalBlobs {
    root: PathBuf,
    fsync: bool,
}

fn valid_hex(h: &str) -> bool {
    h.len() == 128
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// fsyncs a directory so that a rename inside it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl LocalBlobs {
    pub fn new(root: PathBuf, fsync: bool) -> LocalBlobs {
        LocalBlobs { root, fsync }
    }

    fn path(&self, hex: &str) -> io::Result<PathBuf> {
        if !valid_hex(hex) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid blob name",
            ));
        }
        Ok(self.root.join(&hex[..2]).join(hex))
    }

    /// Writes a blob through `<hex>.<random>.tmp`, fsync, rename, directory fsync (SPEC §4.4 step 1).
    fn write_with(
        &self,
        sha512_hex: &str,
        fill: impl FnOnce(&Path) -> io::Result<()>,
    ) -> io::Result<()> {
        let final_path = self.path(sha512_hex)?;
        let dir = final_path
            .parent()
            .expect("blob path has a parent")
            .to_path_buf();
        fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!("{sha512_hex}.{}.tmp", random_hex(8)));
        let result = (|| {
            fill(&tmp)?;
            if self.fsync {
                File::open(&tmp)?.sync_all()?;
            }
            // An existing blob is never trusted by its name alone: the rename replaces it (SPEC §4.4 step 1).
            fs::rename(&tmp, &final_path)?;
            if self.fsync {
                sync_dir(&dir)?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Removes `*.tmp` leftovers of interrupted writes (SPEC §4.4 item 4).
    pub fn remove_temp_files(&self) -> io::Result<usize> {
        let mut n = 0;
        for dir in fs::read_dir(&self.root)? {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            for f in fs::read_dir(dir.path())? {
                let f = f?;
                if f.file_name().to_string_lossy().ends_with(".tmp") {
                    fs::remove_file(f.path())?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

impl BlobStore for LocalBlobs {
    fn put_file(&self, src: &Path, sha512_hex: &str) -> io::Result<()> {
        // A copy rather than a hard link: the blob must never share an inode with a file we later delete.
        self.write_with(sha512_hex, |tmp| fs::copy(src, tmp).map(|_| ()))
    }

    fn put_bytes(&self, bytes: &[u8], sha512_hex: &str) -> io::Result<()> {
        self.write_with(sha512_hex, |tmp| fs::write(tmp, bytes))
    }

    fn read(&self, sha512_hex: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(sha512_hex)?)
    }

    fn exists(&self, sha512_hex: &str) -> bool {
        self.path(sha512_hex).map(|p| p.is_file()).unwrap_or(false)
    }

    fn delete(&self, sha512_hex: &str) -> io::Result<()> {
        match fs::remove_file(self.path(sha512_hex)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for dir in fs::read_dir(&self.root)? {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            for f in fs::read_dir(dir.path())? {
                let name = f?.file_name().to_string_lossy().into_owned();
                if valid_hex(&name) {
                    out.push(name);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha512};

    #[test]
    fn put_read_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalBlobs::new(dir.path().join("blobs"), true);
        fs::create_dir_all(dir.path().join("blobs")).unwrap();
        let src = dir.path().join("x.tgz");
        fs::write(&src, b"hello").unwrap();
        let hex = hex::encode(Sha512::digest(b"hello"));
        blobs.put_file(&src, &hex).unwrap();
        assert!(blobs.exists(&hex));
        assert_eq!(blobs.read(&hex).unwrap(), b"hello");
        assert_eq!(blobs.list().unwrap(), vec![hex.clone()]);
        blobs.delete(&hex).unwrap();
        assert!(!blobs.exists(&hex));
        assert!(blobs.read("../etc/passwd").is_err());
    }
}
