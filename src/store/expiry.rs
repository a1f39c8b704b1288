//! Expiry of unfinished publishes and the start-up sweep's questions (SPEC §4.2): unpublished rows past their
//! deadline, the live ones whose upload files are kept, and the blobs published versions reference.

use super::publish::live_cutoff;
use super::{Result, Store};
use rusqlite::{OptionalExtension, params};
use std::collections::HashSet;

impl Store {
    /// Unpublished rows whose deadline has passed: (version id, skill name, version key).
    pub fn expired_rows(&self, now: i64) -> Result<Vec<(String, String, String)>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT v.id, s.name, v.version_key FROM versions v JOIN skills s ON s.id = v.skill_id
                 WHERE v.state <> 'published' AND v.created_at <= ?1",
            )?;
            let rows = st.query_map([live_cutoff(now)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Deletes one expired unpublished row (if it is still expired and unpublished) and its skill row when
    /// that has nothing left (SPEC §4.2). Returns whether the row was deleted.
    pub fn delete_expired_row(&self, version_id: &str, now: i64) -> Result<bool> {
        self.write(|c| {
            let tx = c.transaction()?;
            let skill_id: Option<String> = tx
                .query_row(
                    "SELECT skill_id FROM versions WHERE id = ?1 AND state <> 'published' AND created_at <= ?2",
                    params![version_id, live_cutoff(now)],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(skill_id) = skill_id else {
                return Ok(false);
            };
            tx.execute("DELETE FROM versions WHERE id = ?1", [version_id])?;
            tx.execute(
                "DELETE FROM skills WHERE id = ?1 AND latest_version_id IS NULL
                 AND NOT EXISTS (SELECT 1 FROM versions WHERE skill_id = ?1)",
                [&skill_id],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// Ids of unpublished rows that are still alive: their upload files are kept at start-up.
    pub fn live_unpublished_ids(&self, now: i64) -> Result<HashSet<String>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id FROM versions WHERE state <> 'published' AND created_at > ?1",
            )?;
            let rows = st.query_map([live_cutoff(now)], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// SHA-512 hex of every blob a published version references.
    pub fn referenced_blobs(&self) -> Result<HashSet<String>> {
        self.read(|c| {
            let mut st =
                c.prepare("SELECT DISTINCT sha512_hex FROM versions WHERE state = 'published'")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }
}
