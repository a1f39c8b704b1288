//! What the search index reads from SQLite (SPEC §4.4 step 3, §7): the documents of skills whose
//! `index_seq` is above the index's N, every searchable skill for a rebuild, the private skills a viewer may
//! or may not see, live download and star counts, the rows of a result page, and reindex requests that
//! `tank-registry reindex` leaves for a running server (SPEC §9.5). It does not rank or tokenise anything.

use super::{Result, Store};
use crate::domain::Visibility;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Everything one search document is built from: the skill and its `latestVersion` (SPEC §7 corpus).
#[derive(Debug, Clone)]
pub struct IndexDoc {
    pub id: String,
    pub name: String,
    pub scope: Option<String>,
    pub description: String,
    pub publisher_username: String,
    pub publisher_display_name: Option<String>,
    pub readme: String,
    pub updated_at: i64,
    pub index_seq: i64,
}

const INDEX_DOC_SQL: &str = "SELECT s.id, s.name, s.scope, s.description, COALESCE(u.username, ''), u.display_name,
            COALESCE(v.readme, ''), COALESCE(s.updated_at, 0), s.index_seq
     FROM skills s JOIN versions v ON v.id = s.latest_version_id LEFT JOIN users u ON u.id = v.created_by
     WHERE s.latest_version_id IS NOT NULL";

fn index_doc(r: &rusqlite::Row) -> rusqlite::Result<IndexDoc> {
    Ok(IndexDoc {
        id: r.get(0)?,
        name: r.get(1)?,
        scope: r.get(2)?,
        description: r.get(3)?,
        publisher_username: r.get(4)?,
        publisher_display_name: r.get(5)?,
        readme: r.get(6)?,
        updated_at: r.get(7)?,
        index_seq: r.get(8)?,
    })
}

/// A private skill with a published version and what decides who may see it (SPEC §6).
#[derive(Debug, Clone)]
pub struct PrivateSkill {
    pub id: String,
    pub scope: Option<String>,
    pub owner_user_id: Option<String>,
}

/// One row of a search result page, read live (SPEC §3.3). `downloads` is the stored count only.
#[derive(Debug, Clone)]
pub struct SearchRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub latest_version: String,
    pub audit_score: i64,
    pub verdict: String,
    pub publisher: Option<String>,
    pub stars: i64,
    pub updated_at: i64,
}

/// The meta keys of a reindex request (SPEC §9.5): the CLI writes `reindex_request`, the server answers
/// with `reindex_done` = the same request id and `reindex_count`.
const META_REQUEST: &str = "reindex_request";
const META_DONE: &str = "reindex_done";
const META_COUNT: &str = "reindex_count";

/// A list of ids as the JSON array `json_each` reads.
pub(super) fn json_ids(ids: &[&str]) -> Result<String> {
    serde_json::to_string(ids).map_err(|e| super::StoreError::Corrupt(e.to_string()))
}

fn meta_get(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?,
    )
}

fn meta_set(c: &Connection, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

impl Store {
    /// Up to `limit` searchable skills with `index_seq > after`, in `index_seq` order (SPEC §4.4 step 3).
    pub fn skills_to_index(&self, after: i64, limit: usize) -> Result<Vec<IndexDoc>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "{INDEX_DOC_SQL} AND s.index_seq > ?1 ORDER BY s.index_seq LIMIT ?2"
            ))?;
            let rows = st.query_map(params![after, limit as i64], index_doc)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Id → name of every skill with a published version: what `check` expects the index to hold.
    pub fn searchable_ids(&self) -> Result<HashMap<String, String>> {
        self.read(|c| {
            let mut st =
                c.prepare("SELECT id, name FROM skills WHERE latest_version_id IS NOT NULL")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Number of searchable skills with `index_seq > n` (the index lag of SPEC §4.4 step 3).
    pub fn index_lag(&self, n: i64) -> Result<i64> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM skills WHERE latest_version_id IS NOT NULL AND index_seq > ?1",
                [n],
                |r| r.get(0),
            )?)
        })
    }

    /// Every searchable skill, in one read transaction, for a rebuild. Calls `total` once with the count
    /// and the highest `index_seq` (the N the rebuilt index will carry), then `each` per document.
    pub fn for_each_searchable<E>(
        &self,
        total: impl FnOnce(i64, i64) -> std::result::Result<(), E>,
        mut each: impl FnMut(IndexDoc) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        E: From<super::StoreError>,
    {
        self.read(|c| {
            // A deferred transaction: the count, N and the rows all come from one snapshot.
            c.execute_batch("BEGIN")
                .map_err(|e| E::from(super::StoreError::from(e)))?;
            let out = (|| {
                let (count, max_seq): (i64, i64) = c
                    .query_row(
                        "SELECT COUNT(*), COALESCE(MAX(index_seq), 0) FROM skills WHERE latest_version_id IS NOT NULL",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(|e| E::from(e.into()))?;
                total(count, max_seq)?;
                let mut st = c
                    .prepare(&format!("{INDEX_DOC_SQL} ORDER BY s.index_seq"))
                    .map_err(|e| E::from(e.into()))?;
                let mut rows = st.query([]).map_err(|e| E::from(e.into()))?;
                while let Some(r) = rows.next().map_err(|e| E::from(e.into()))? {
                    each(index_doc(r).map_err(|e| E::from(e.into()))?)?;
                }
                Ok(())
            })();
            let _ = c.execute_batch("COMMIT");
            out
        })
    }

    /// Every private skill with a published version (SPEC §6).
    pub fn private_skills(&self) -> Result<Vec<PrivateSkill>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, scope, owner_user_id FROM skills WHERE visibility = 'private' AND latest_version_id IS NOT NULL",
            )?;
            let rows = st.query_map([], |r| {
                Ok(PrivateSkill {
                    id: r.get(0)?,
                    scope: r.get(1)?,
                    owner_user_id: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// What makes private skills visible to a user besides ownership: the slugs of their organisations and
    /// the skill ids granted to them (SPEC §6).
    pub fn viewer_access(&self, user_id: &str) -> Result<(HashSet<String>, HashSet<String>)> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT o.slug FROM org_members m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ?1",
            )?;
            let orgs = st
                .query_map([user_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut st = c.prepare_cached("SELECT skill_id FROM grants WHERE user_id = ?1")?;
            let grants = st
                .query_map([user_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((orgs, grants))
        })
    }

    /// Stored all-time downloads of each skill (published versions; unflushed increments not included), in
    /// the order of `skill_ids`. One statement for the whole list (the ids go in as a JSON array).
    pub fn downloads_of(&self, skill_ids: &[&str]) -> Result<Vec<i64>> {
        if skill_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Asked in id order: neighbouring ids share index pages, which SQLite then reads once.
        let mut order: Vec<usize> = (0..skill_ids.len()).collect();
        order.sort_unstable_by_key(|&i| skill_ids[i]);
        let sorted: Vec<&str> = order.iter().map(|&i| skill_ids[i]).collect();
        let ids = json_ids(&sorted)?;
        self.read(|c| {
            // Through versions_skill_state (migration 0004), one skill's rows only.
            let mut st = c.prepare_cached(
                "SELECT j.key, (SELECT COALESCE(SUM(downloads), 0) FROM versions
                                WHERE skill_id = j.value AND state = 'published')
                 FROM json_each(?1) j",
            )?;
            let mut out = vec![0i64; skill_ids.len()];
            let mut rows = st.query([&ids])?;
            while let Some(r) = rows.next()? {
                let (k, n): (usize, i64) = (r.get(0)?, r.get(1)?);
                if let Some(slot) = order.get(k).and_then(|&i| out.get_mut(i)) {
                    *slot = n;
                }
            }
            Ok(out)
        })
    }

    /// The rows of a result page, in the order of `skill_ids`; skills that lost their published version
    /// are skipped. One statement for the whole page.
    pub fn search_rows(&self, skill_ids: &[&str]) -> Result<Vec<SearchRow>> {
        if skill_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_ids(skill_ids)?;
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT j.key, s.id, s.name, s.description, s.visibility, v.version, COALESCE(v.audit_score, 0),
                        COALESCE(v.verdict, ''), u.username, COALESCE(s.updated_at, 0),
                        (SELECT COUNT(*) FROM stars WHERE skill_id = s.id)
                 FROM json_each(?1) j JOIN skills s ON s.id = j.value
                      JOIN versions v ON v.id = s.latest_version_id LEFT JOIN users u ON u.id = v.created_by",
            )?;
            let mut keyed: Vec<(usize, SearchRow)> = st
                .query_map([&ids], |r| {
                    let vis: String = r.get(4)?;
                    Ok((
                        r.get(0)?,
                        SearchRow {
                            id: r.get(1)?,
                            name: r.get(2)?,
                            description: r.get(3)?,
                            visibility: Visibility::parse(&vis).unwrap_or(Visibility::Private),
                            latest_version: r.get(5)?,
                            audit_score: r.get(6)?,
                            verdict: r.get(7)?,
                            publisher: r.get(8)?,
                            updated_at: r.get(9)?,
                            stars: r.get(10)?,
                        },
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            // Stable: the order of `skill_ids` (a repeated id keeps its repeats, as one query per id did).
            keyed.sort_by_key(|(i, _)| *i);
            Ok(keyed.into_iter().map(|(_, r)| r).collect())
        })
    }

    /// Records a reindex request for the running server; returns its id (SPEC §9.5).
    pub fn request_reindex(&self) -> Result<String> {
        let id = crate::domain::new_id("reindex");
        self.write(|c| meta_set(c, META_REQUEST, &id))?;
        Ok(id)
    }

    /// The document count the server reported for request `id`, once it has completed it.
    pub fn reindex_result(&self, id: &str) -> Result<Option<i64>> {
        self.read(|c| {
            if meta_get(c, META_DONE)?.as_deref() != Some(id) {
                return Ok(None);
            }
            Ok(meta_get(c, META_COUNT)?.and_then(|v| v.parse().ok()))
        })
    }

    /// A reindex request the server has not answered yet.
    pub fn pending_reindex(&self) -> Result<Option<String>> {
        self.read(|c| {
            let req = meta_get(c, META_REQUEST)?;
            let done = meta_get(c, META_DONE)?;
            Ok(req.filter(|r| done.as_deref() != Some(r.as_str())))
        })
    }

    /// Marks request `id` as completed with `count` documents.
    pub fn complete_reindex(&self, id: &str, count: i64) -> Result<()> {
        self.write(|c| {
            let tx = c.transaction()?;
            meta_set(&tx, META_COUNT, &count.to_string())?;
            meta_set(&tx, META_DONE, id)?;
            tx.commit()?;
            Ok(())
        })
    }
}

/// Caches of data that searches read on every request (the private skills here; the search index keeps the
/// stored download counts it looked up under [`LiveCache::version`]), valid while no connection has committed
/// anything since they were read. `PRAGMA data_version` on a connection of its own tells (it changes whenever
/// another connection commits, in this process or in an admin command), so visibility and download changes
/// still reach the next search (SPEC §7 freshness).
pub struct LiveCache {
    watch: Mutex<Connection>,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    version: Option<i64>,
    private: Option<Arc<Vec<PrivateSkill>>>,
    rows: HashMap<Arc<str>, SearchRow>,
}

/// Bounds the result-row cache; it is cleared when full.
const MAX_CACHED_ROWS: usize = 20_000;

impl LiveCache {
    pub fn open(db_path: &Path) -> Result<LiveCache> {
        let conn = Connection::open_with_flags(
            db_path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_millis(5000))?;
        Ok(LiveCache {
            watch: Mutex::new(conn),
            state: Mutex::new(CacheState::default()),
        })
    }

    fn data_version(&self) -> Result<i64> {
        let c = self.watch.lock().unwrap_or_else(|e| e.into_inner());
        Ok(c.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Clears the caches when the database changed. Values read afterwards are at least as new as the
    /// version recorded, so a later commit always invalidates them.
    /// Returns the version observed: values read after it may be cached only while it is still current.
    pub fn version(&self) -> Result<i64> {
        let v = self.data_version()?;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.version != Some(v) {
            *s = CacheState {
                version: Some(v),
                ..CacheState::default()
            };
        }
        Ok(v)
    }

    /// Every private skill with a published version.
    pub fn private_skills(&self, store: &Store) -> Result<Arc<Vec<PrivateSkill>>> {
        let v = self.version()?;
        if let Some(p) = &self.state.lock().unwrap_or_else(|e| e.into_inner()).private {
            return Ok(p.clone());
        }
        let fresh = Arc::new(store.private_skills()?);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.version == Some(v) {
            s.private = Some(fresh.clone());
        }
        Ok(fresh)
    }

    /// The rows of a result page as [`Store::search_rows`] returns them (order of `skill_ids`, skills without
    /// a published version skipped): cached rows, and one SQLite read for the others.
    pub fn search_rows(&self, store: &Store, skill_ids: &[&str]) -> Result<Vec<SearchRow>> {
        let v = self.version()?;
        let mut found: Vec<Option<SearchRow>> = Vec::with_capacity(skill_ids.len());
        let mut missing: Vec<&str> = Vec::new();
        {
            let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            for id in skill_ids {
                let row = s.rows.get(*id).cloned();
                if row.is_none() {
                    missing.push(id);
                }
                found.push(row);
            }
        }
        if !missing.is_empty() {
            let fresh = store.search_rows(&missing)?;
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let current = s.version == Some(v);
            if current && s.rows.len() + fresh.len() > MAX_CACHED_ROWS {
                s.rows.clear();
            }
            let mut fresh = fresh.into_iter().peekable();
            for (slot, id) in found.iter_mut().zip(skill_ids) {
                // `fresh` follows the order of `missing`, itself in the order of `skill_ids`.
                if slot.is_none() && fresh.peek().is_some_and(|r| r.id == *id) {
                    if let Some(row) = fresh.next() {
                        if current {
                            s.rows.insert(Arc::from(row.id.as_str()), row.clone());
                        }
                        *slot = Some(row);
                    }
                }
            }
        }
        Ok(found.into_iter().flatten().collect())
    }
}
