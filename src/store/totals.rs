//! Stored all-time downloads per skill, kept in memory (SPEC §3.3, §7: the stored count a search ranks
//! and shows, before unflushed increments are added): `SUM(downloads)` over the skill's published
//! versions. Loaded once with [`Store::load_download_totals`] and then kept current by the only writes
//! that change the sums, both in this module's `Store`: [`Store::add_downloads`] (the download flush) and
//! [`Store::publish_version`] (a version becoming published). Other writes (pending rows, dead skills,
//! stars, visibility) leave the sums as they are, and no admin command changes downloads.
//!
//! Commits of other connections (an admin command, another process editing the database) are not seen
//! that way. They are detected with `PRAGMA data_version`, which changes on a connection whenever another
//! connection committed: on the store's `watch` connection (every commit, ours included) and on the
//! writer connection (only commits that are not the writer's). After each of this process's writes (still
//! under the writer lock) both are recorded; a reader whose `watch` version still equals the recorded one
//! knows nothing committed since. Otherwise it takes the writer lock and compares the writer's version: a
//! change there is a foreign commit, and the totals are dropped (searches read SQLite again, as before
//! they were loaded) until [`Store::load_download_totals`] runs again (the server's flush task does).
//!
//! Every change happens under the writer connection's lock, after its commit, and bumps [`Store::download_epoch`].
//! A reader that adds unflushed increments to these totals reads the epoch, then the increments, then the
//! totals with their epoch: equal epochs mean no flush fell in between (the flush holds the increments'
//! lock across its commit and this update), so nothing is counted twice or missed.

use super::{Result, Store};
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

#[derive(Default)]
pub(crate) struct DownloadTotals {
    /// Skill id → stored total; None until loaded. A skill not in the map has no stored downloads.
    by_skill: RwLock<Option<HashMap<Box<str>, i64>>>,
    epoch: AtomicU64,
    /// `data_version` of (the watch connection, the writer connection) recorded after this process's
    /// last write while the totals were loaded.
    seen: Mutex<Option<(i64, i64)>>,
}

fn data_version(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("PRAGMA data_version", [], |r| r.get(0))
}

impl DownloadTotals {
    /// Applies `deltas` (skill id, change) after a commit; the caller holds the writer lock.
    pub(crate) fn apply(&self, deltas: &[(String, i64)]) {
        let mut g = self.by_skill.write().unwrap_or_else(|e| e.into_inner());
        let Some(map) = g.as_mut() else {
            return;
        };
        for (skill, n) in deltas {
            if *n != 0 {
                *map.entry(Box::from(skill.as_str())).or_insert(0) += n;
            }
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn drop_totals(&self) {
        let mut g = self.by_skill.write().unwrap_or_else(|e| e.into_inner());
        if g.take().is_some() {
            tracing::info!(
                "download totals dropped: the database was changed by another connection"
            );
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Sets the total of one skill after a commit; the caller holds the writer lock.
    pub(crate) fn set(&self, skill: &str, total: i64) {
        let mut g = self.by_skill.write().unwrap_or_else(|e| e.into_inner());
        let Some(map) = g.as_mut() else {
            return;
        };
        let old = map.get(skill).copied().unwrap_or(0);
        if old != total {
            map.insert(Box::from(skill), total);
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The stored total of one skill, read on the connection of the transaction that changed it.
pub(crate) fn skill_total(c: &Connection, skill_id: &str) -> rusqlite::Result<i64> {
    c.query_row(
        "SELECT COALESCE(SUM(downloads), 0) FROM versions WHERE skill_id = ?1 AND state = 'published'",
        [skill_id],
        |r| r.get(0),
    )
}

impl Store {
    /// Reads every skill's stored total into memory (blocking; ~1 s at 100k skills). Runs on the writer
    /// connection so that no flush or publication of this process falls between the read and the install.
    /// Does nothing when already loaded.
    pub fn load_download_totals(&self) -> Result<()> {
        if self.download_totals_loaded() {
            return Ok(());
        }
        self.write(|c| {
            // Recorded before the read: a foreign commit after it changes the writer's version, which the
            // check after this write (in `Store::write`) or the next reader then sees.
            let x = data_version(&self.watch.lock().unwrap_or_else(|e| e.into_inner()))?;
            let w = data_version(c)?;
            *self.totals.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some((x, w));
            let mut st = c.prepare(
                "SELECT skill_id, SUM(downloads) FROM versions WHERE state = 'published'
                 GROUP BY skill_id HAVING SUM(downloads) <> 0",
            )?;
            let map = st
                .query_map([], |r| {
                    Ok((
                        Box::<str>::from(r.get::<_, String>(0)?),
                        r.get::<_, i64>(1)?,
                    ))
                })?
                .collect::<rusqlite::Result<HashMap<_, _>>>()?;
            let mut g = self
                .totals
                .by_skill
                .write()
                .unwrap_or_else(|e| e.into_inner());
            *g = Some(map);
            self.totals.epoch.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }

    fn download_totals_loaded(&self) -> bool {
        self.with_totals(|_| ()).is_some()
    }

    /// Whether the in-memory totals are loaded and no other connection committed since this process's last
    /// write (else they are dropped here). Call before reading them for a request.
    pub fn download_totals_current(&self) -> Result<bool> {
        if !self.download_totals_loaded() {
            return Ok(false);
        }
        let x = data_version(&self.watch.lock().unwrap_or_else(|e| e.into_inner()))?;
        let seen = *self.totals.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.is_some_and(|(sx, _)| sx == x) {
            return Ok(true);
        }
        // Something committed since: waits for a write of this process in progress, then tells.
        let conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.after_write(&conn)?;
        Ok(self.download_totals_loaded())
    }

    /// Records the data versions after a write of this process (the caller holds the writer lock), and
    /// drops the totals when another connection committed since the last record.
    pub(crate) fn after_write(&self, writer: &Connection) -> Result<()> {
        if !self.download_totals_loaded() {
            return Ok(());
        }
        // The watch version first: a foreign commit between the two reads shows in the writer's version.
        let x = data_version(&self.watch.lock().unwrap_or_else(|e| e.into_inner()))?;
        let w = data_version(writer)?;
        let mut seen = self.totals.seen.lock().unwrap_or_else(|e| e.into_inner());
        match *seen {
            Some((_, sw)) if sw == w => *seen = Some((x, w)),
            _ => {
                drop(seen);
                self.totals.drop_totals();
            }
        }
        Ok(())
    }

    /// Changes whenever an in-memory total changes (see the module documentation).
    pub fn download_epoch(&self) -> u64 {
        self.totals.epoch.load(Ordering::SeqCst)
    }

    /// `f` of the loaded totals, under their read lock; None when they are not loaded.
    fn with_totals<T>(&self, f: impl FnOnce(&HashMap<Box<str>, i64>) -> T) -> Option<T> {
        let g = self
            .totals
            .by_skill
            .read()
            .unwrap_or_else(|e| e.into_inner());
        g.as_ref().map(f)
    }

    /// Skills whose stored total is at least `min`, in no order; None when the totals are not loaded. Skills
    /// without downloads are not in the totals: for `min <= 0` this is not every such skill.
    pub fn skills_with_downloads_at_least(&self, min: i64) -> Option<Vec<String>> {
        self.with_totals(|map| {
            map.iter()
                .filter(|(_, n)| **n >= min)
                .map(|(id, _)| id.to_string())
                .collect()
        })
    }

    /// Stored totals of `skill_ids` in their order, with the epoch they belong to; None when not loaded.
    pub fn download_totals_of(&self, skill_ids: &[&str]) -> Option<(Vec<i64>, u64)> {
        self.with_totals(|map| {
            // Read under the map's lock: updates bump the epoch under the write lock.
            let epoch = self.totals.epoch.load(Ordering::SeqCst);
            let totals = skill_ids
                .iter()
                .map(|id| map.get(*id).copied().unwrap_or(0))
                .collect();
            (totals, epoch)
        })
    }
}
