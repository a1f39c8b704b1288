//! The SQLite store: the source of truth for users, tokens, skills, versions, stars and grants.
//! Synchronous (rusqlite): callers on the async side use `spawn_blocking`. One writer connection and a small
//! pool of readers (WAL). All SQL of the project lives under this module; the rest sees domain types only.

mod accounts;
mod expiry;
mod login;
mod publish;
mod reads;
mod scans;
mod search;
mod sessions;
mod totals;

pub use accounts::*;
pub use login::*;
pub use publish::*;
pub use reads::*;
pub use scans::*;
pub use search::*;
pub use sessions::*;

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Embedded, append-only migrations keyed on `PRAGMA user_version` (SPEC §9.2 step 2).
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_sessions_login.sql"),
    include_str!("migrations/0003_scan_reports.sql"),
    include_str!("migrations/0004_versions_by_skill.sql"),
];

/// How long an unpublished version row lives (SPEC §4.2).
pub const PENDING_TTL_MS: i64 = 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database schema {found} is newer than supported {supported}")]
    TooNew { found: i64, supported: i64 },
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A named thing does not exist (admin commands report the message).
    #[error("{0}")]
    NotFound(String),
    /// A named thing already exists or the change is not allowed.
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Durability of the database: FULL for a real server, OFF for ephemeral instances (SPEC §11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Off,
}

pub struct Store {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    totals: totals::DownloadTotals,
    /// Read-only; only for `PRAGMA data_version` (see `totals`).
    watch: Mutex<Connection>,
}

fn configure(conn: &Connection, durability: Durability) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_millis(5000))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Off => "OFF",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database, switches it to WAL and applies pending migrations.
    pub fn open(path: &Path, durability: Durability) -> Result<Store> {
        let mut writer = Connection::open(path)?;
        // Write transactions take the write lock at BEGIN: a deferred one that reads first and then writes
        // fails at once with "database is locked" (no busy wait) when another process (the server, an admin
        // command) committed in between.
        writer.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        writer.pragma_update(None, "journal_mode", "WAL")?;
        configure(&writer, durability)?;
        migrate(&writer)?;
        let mut readers = Vec::new();
        for _ in 0..4 {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&r, durability)?;
            readers.push(Mutex::new(r));
        }
        let watch = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        watch.busy_timeout(std::time::Duration::from_millis(5000))?;
        Ok(Store {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            totals: Default::default(),
            watch: Mutex::new(watch),
        })
    }

    /// Runs `f` with the single writer connection.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut Connection) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut conn);
        // Keeps the in-memory download totals' record of commits current (see `totals`).
        if let Err(e) = self.after_write(&conn) {
            tracing::warn!(error = %e, "cannot read the data version");
            self.totals.drop_totals();
        }
        out
    }

    /// Runs `f` with one of the reader connections.
    pub fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return f(&conn);
            }
        }
        let conn = self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        f(&conn)
    }

    /// `SELECT 1` for the health check.
    pub fn ping(&self) -> Result<()> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if current > supported {
        return Err(StoreError::TooNew {
            found: current,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        // Each migration in its own transaction: a crash leaves the previous schema (SPEC §4.4 item 7).
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {};\nCOMMIT;",
            i + 1
        ))
        .inspect_err(|_| {
            let _ = conn.execute_batch("ROLLBACK");
        })?;
    }
    Ok(())
}

pub(crate) fn bool_of(v: i64) -> bool {
    v != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan for `sql`, one detail line per step.
    fn plan(store: &Store, sql: &str) -> String {
        store
            .read(|c| -> Result<String> {
                let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = st.query_map([], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.join("\n"))
            })
            .unwrap()
    }

    /// The per-skill reads of versions go through an index that starts with `skill_id`, never through
    /// `versions_state` (every published version of every skill) or a table scan: their cost must not grow
    /// with the registry.
    #[test]
    fn per_skill_version_reads_use_a_skill_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("registry.db"), Durability::Off).unwrap();
        let shapes = [
            "SELECT version, manifest FROM versions WHERE skill_id = 'x' AND state = 'published'",
            "SELECT COALESCE(SUM(downloads), 0) FROM versions WHERE skill_id = 'x' AND state = 'published'",
            "SELECT id FROM versions v WHERE v.skill_id = 'x' AND v.state = 'published'",
            "SELECT id FROM versions WHERE skill_id = 'x' AND version_key = '1.0.0' AND state = 'published'",
            "SELECT 1 FROM versions v WHERE v.skill_id = 'x' AND v.state <> 'published' AND v.created_at > 5",
        ];
        for sql in shapes {
            let p = plan(&store, sql);
            assert!(
                p.contains("USING INDEX versions_skill_state (skill_id=?")
                    || p.contains("USING INDEX sqlite_autoindex_versions_2 (skill_id=?"),
                "{sql}\n{p}"
            );
        }
    }
}
