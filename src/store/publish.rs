//! The write side of the publish lifecycle (SPEC §3.4–§3.6, §4): start, upload bookkeeping, publication (expiry
//! is in `expiry.rs`). The in-process (skill, version) lock of §4.3 is taken by the caller; these functions are
//! each one SQLite transaction, so the unique index and SQLite's single writer are the backstop.

use super::accounts::{User, is_org_member};
use super::{PENDING_TTL_MS, Result, Store, StoreError};
use crate::domain::{
    Issue, Visibility, new_id, parse_version, precedence, split_name, version_key,
};
use crate::permissions::{Permissions, check_escalation, pick_baseline};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// A caller may hold at most this many live unpublished version rows (SPEC §3.4 step 4).
pub const MAX_UNFINISHED: i64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    VersionExists(String),
    #[error("Permission escalation requires a larger version bump.")]
    Escalation(Vec<Issue>),
    #[error("too many unfinished publishes")]
    TooManyUnfinished { retry_after_secs: i64 },
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for PublishError {
    fn from(e: rusqlite::Error) -> Self {
        PublishError::Store(StoreError::Sqlite(e))
    }
}

/// What publish start needs to know about the request.
pub struct StartPublish<'a> {
    pub name: &'a str,
    pub version: &'a semver::Version,
    pub version_str: &'a str,
    pub permissions: &'a Permissions,
    pub manifest_json: &'a str,
    pub readme: Option<&'a str>,
    pub files_json: &'a str,
}

pub struct Started {
    pub skill_id: String,
    pub version_id: String,
    pub created_at: i64,
    /// Version ids whose rows were deleted (replaced or dead): their upload files must go.
    pub dropped_version_ids: Vec<String>,
}

/// A version row that is still alive (not expired), as the upload and confirm steps see it.
#[derive(Debug, Clone)]
pub struct LiveRow {
    pub version_id: String,
    pub skill_id: String,
    pub skill_name: String,
    pub version: String,
    pub version_key: String,
    pub state: String,
    pub manifest: String,
    pub readme: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

/// Everything the publication transaction records (SPEC §4.4 step 2).
pub struct Publication<'a> {
    pub version_id: &'a str,
    pub integrity: &'a str,
    pub sha512_hex: &'a str,
    pub tarball_size: i64,
    pub file_count: i64,
    pub file_entries_json: &'a str,
    pub scan_json: &'a str,
    pub audit_score: i64,
    pub verdict: &'a str,
    pub readme: &'a str,
}

pub struct Published {
    pub name: String,
    pub version: String,
    pub visibility: Visibility,
    pub published_at: i64,
    pub index_seq: i64,
}

pub(super) fn live_cutoff(now: i64) -> i64 {
    now - PENDING_TTL_MS
}

/// The namespace rule of SPEC §3.4 step 1. `owner` is the skill row's owner for unscoped names.
fn check_namespace(
    c: &Connection,
    caller: &User,
    name: &str,
    owner: Option<&str>,
) -> Result<(), PublishError> {
    match split_name(name) {
        (Some(scope), _) => {
            if scope == caller.username || is_org_member(c, scope, &caller.id)? {
                Ok(())
            } else {
                Err(PublishError::Forbidden(format!(
                    "You may not publish to @{scope}."
                )))
            }
        }
        (None, _) => match owner {
            Some(o) if o != caller.id => Err(PublishError::Forbidden(format!(
                "The name {name} is owned by another user."
            ))),
            _ => Ok(()),
        },
    }
}

/// A skill row counts as existing when it has a published version or a live unpublished row (SPEC §4.2).
fn live_skill(c: &Connection, name: &str, now: i64) -> Result<Option<(String, Option<String>)>> {
    Ok(c.query_row(
        "SELECT s.id, s.owner_user_id FROM skills s WHERE s.name = ?1 AND (
             s.latest_version_id IS NOT NULL OR EXISTS (
                 SELECT 1 FROM versions v WHERE v.skill_id = s.id AND v.state <> 'published' AND v.created_at > ?2))",
        params![name, live_cutoff(now)],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?)
}

/// Published versions of a skill with their declared permissions.
fn published_permissions(
    c: &Connection,
    skill_id: &str,
) -> Result<Vec<(semver::Version, Permissions)>> {
    let mut st = c.prepare(
        "SELECT version, manifest FROM versions WHERE skill_id = ?1 AND state = 'published'",
    )?;
    let rows = st.query_map([skill_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (v, m) = row?;
        let version =
            parse_version(&v).ok_or_else(|| StoreError::Corrupt(format!("stored version {v}")))?;
        let manifest: serde_json::Value = serde_json::from_str(&m)
            .map_err(|e| StoreError::Corrupt(format!("stored manifest: {e}")))?;
        out.push((version, Permissions::from_json(manifest.get("permissions"))));
    }
    Ok(out)
}

fn escalation_issues(
    c: &Connection,
    skill_id: &str,
    version: &semver::Version,
    perms: &Permissions,
) -> Result<Vec<Issue>> {
    let published = published_permissions(c, skill_id)?;
    Ok(match pick_baseline(&published, version) {
        Some((bv, bp)) => check_escalation(bv, bp, version, perms),
        None => Vec::new(),
    })
}

/// Deletes a dead skill row (no published version, no live unpublished row) and its expired rows.
fn drop_dead_skill(tx: &Transaction, name: &str) -> Result<Vec<String>> {
    let Some(skill_id): Option<String> = tx
        .query_row(
            "SELECT id FROM skills WHERE name = ?1 AND latest_version_id IS NULL",
            [name],
            |r| r.get(0),
        )
        .optional()?
    else {
        return Ok(Vec::new());
    };
    let mut st = tx.prepare("SELECT id FROM versions WHERE skill_id = ?1")?;
    let ids = st
        .query_map([&skill_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    drop(st);
    tx.execute("DELETE FROM versions WHERE skill_id = ?1", [&skill_id])?;
    tx.execute("DELETE FROM skills WHERE id = ?1", [&skill_id])?;
    Ok(ids)
}

fn next_index_seq(tx: &Connection) -> Result<i64> {
    let cur: i64 = tx
        .query_row("SELECT value FROM meta WHERE key = 'index_seq'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let next = cur + 1;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('index_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [next.to_string()],
    )?;
    Ok(next)
}

/// Marks the skills whose latest version `user_id` published for reindexing (a display-name change).
pub(crate) fn bump_index_seq_for_publisher(tx: &Connection, user_id: &str) -> Result<()> {
    let mut st = tx.prepare(
        "SELECT s.id FROM skills s JOIN versions v ON v.id = s.latest_version_id WHERE v.created_by = ?1",
    )?;
    let ids = st
        .query_map([user_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    drop(st);
    for id in ids {
        let seq = next_index_seq(tx)?;
        tx.execute(
            "UPDATE skills SET index_seq = ?1 WHERE id = ?2",
            params![seq, id],
        )?;
    }
    Ok(())
}

impl Store {
    /// Publish start, SPEC §3.4 steps 1–4, in one transaction.
    pub fn start_publish(
        &self,
        caller: &User,
        req: &StartPublish,
        now: i64,
    ) -> Result<Started, PublishError> {
        self.write(|c| {
            let tx = c.transaction().map_err(StoreError::from)?;
            let out = start_in_tx(&tx, caller, req, now)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(out)
        })
    }

    /// A live (unexpired) version row by id, whatever its state.
    pub fn live_row(&self, version_id: &str, now: i64) -> Result<Option<LiveRow>> {
        self.read(|c| live_row(c, version_id, now))
    }

    /// Records a completed upload (SPEC §3.5) after re-checking the row under the caller's lock.
    pub fn record_upload(
        &self,
        version_id: &str,
        size: i64,
        integrity: &str,
        now: i64,
    ) -> Result<(), PublishError> {
        self.write(|c| {
            let row = live_row(c, version_id, now)?.ok_or(PublishError::NotFound)?;
            if row.state == "published" {
                return Err(PublishError::VersionExists(format!(
                    "Version {} of {} is already published.",
                    row.version, row.skill_name
                )));
            }
            c.execute(
                "UPDATE versions SET state = 'uploaded', upload_size = ?1, upload_integrity = ?2 WHERE id = ?3",
                params![size, integrity, version_id],
            )
            .map_err(StoreError::from)?;
            Ok(())
        })
    }

    /// Escalation against the current baseline (confirm step 7 runs it again inside `publish_version`).
    pub fn escalation_issues(
        &self,
        skill_id: &str,
        version: &semver::Version,
        perms: &Permissions,
    ) -> Result<Vec<Issue>> {
        self.read(|c| escalation_issues(c, skill_id, version, perms))
    }

    /// Namespace re-check for confirm (SPEC §3.6 step 2).
    pub fn check_namespace(&self, caller: &User, name: &str) -> Result<(), PublishError> {
        self.read(|c| {
            let owner: Option<String> = c
                .query_row(
                    "SELECT owner_user_id FROM skills WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(StoreError::from)?
                .flatten();
            check_namespace(c, caller, name, owner.as_deref())
        })
    }

    /// Atomic publication (SPEC §4.4 step 2): escalation re-check, version row → published, skill-level
    /// fields, index sequence. One transaction.
    pub fn publish_version(&self, p: &Publication, now: i64) -> Result<Published, PublishError> {
        self.write(|c| {
            let tx = c.transaction().map_err(StoreError::from)?;
            let row = live_row(&tx, p.version_id, now)?.ok_or(PublishError::NotFound)?;
            if row.state == "published" {
                return Err(PublishError::VersionExists(format!(
                    "Version {} of {} is already confirmed.",
                    row.version, row.skill_name
                )));
            }
            let manifest: serde_json::Value = serde_json::from_str(&row.manifest)
                .map_err(|e| StoreError::Corrupt(format!("stored manifest: {e}")))?;
            let version = parse_version(&row.version)
                .ok_or_else(|| StoreError::Corrupt(format!("stored version {}", row.version)))?;
            let perms = Permissions::from_json(manifest.get("permissions"));
            let issues = escalation_issues(&tx, &row.skill_id, &version, &perms)?;
            if !issues.is_empty() {
                return Err(PublishError::Escalation(issues));
            }
            tx.execute(
                "UPDATE versions SET state = 'published', integrity = ?1, sha512_hex = ?2, tarball_size = ?3,
                     file_count = ?4, file_entries = ?5, scan = ?6, audit_score = ?7, verdict = ?8, readme = ?9,
                     published_at = ?10
                 WHERE id = ?11",
                params![
                    p.integrity,
                    p.sha512_hex,
                    p.tarball_size,
                    p.file_count,
                    p.file_entries_json,
                    p.scan_json,
                    p.audit_score,
                    p.verdict,
                    p.readme,
                    now,
                    p.version_id
                ],
            )
            .map_err(StoreError::from)?;

            // latestVersion: highest precedence among published non-prereleases, else highest prerelease.
            let mut st = tx
                .prepare("SELECT id, version FROM versions WHERE skill_id = ?1 AND state = 'published'")
                .map_err(StoreError::from)?;
            let published = st
                .query_map([&row.skill_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(StoreError::from)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(StoreError::from)?;
            drop(st);
            let latest_id = latest_of(&published)
                .ok_or_else(|| StoreError::Corrupt("no published version after publication".into()))?;
            let seq = next_index_seq(&tx)?;
            let (cur_vis,): (String,) = tx
                .query_row("SELECT visibility FROM skills WHERE id = ?1", [&row.skill_id], |r| {
                    Ok((r.get(0)?,))
                })
                .map_err(StoreError::from)?;
            let mut visibility = Visibility::parse(&cur_vis).unwrap_or(Visibility::Public);
            if latest_id == p.version_id {
                // Skill-level fields follow the latest version's manifest (SPEC §3.6). A publication can make
                // a skill private but never public.
                if manifest.get("visibility").and_then(|v| v.as_str()) == Some("private") {
                    visibility = Visibility::Private;
                }
                let description = manifest.get("description").and_then(|v| v.as_str()).unwrap_or("");
                let repository = manifest.get("repository").and_then(|v| v.as_str());
                tx.execute(
                    "UPDATE skills SET description = ?1, repository = ?2, visibility = ?3 WHERE id = ?4",
                    params![description, repository, visibility.as_str(), row.skill_id],
                )
                .map_err(StoreError::from)?;
            }
            tx.execute(
                "UPDATE skills SET latest_version_id = ?1, updated_at = ?2, created_at = COALESCE(created_at, ?2),
                     index_seq = ?3 WHERE id = ?4",
                params![latest_id, now, seq, row.skill_id],
            )
            .map_err(StoreError::from)?;
            let total =
                super::totals::skill_total(&tx, &row.skill_id).map_err(StoreError::from)?;
            tx.commit().map_err(StoreError::from)?;
            // Still under the writer lock: the in-memory totals follow the commits in order.
            self.totals.set(&row.skill_id, total);
            Ok(Published {
                name: row.skill_name,
                version: row.version,
                visibility,
                published_at: now,
                index_seq: seq,
            })
        })
    }
}

/// Picks `latestVersion` (SPEC §1) from (id, version string) pairs.
pub fn latest_of(published: &[(String, String)]) -> Option<String> {
    let parsed: Vec<(&String, semver::Version)> = published
        .iter()
        .filter_map(|(id, v)| parse_version(v).map(|p| (id, p)))
        .collect();
    let best = |pre: bool| {
        parsed
            .iter()
            .filter(|(_, v)| v.pre.is_empty() != pre)
            .max_by(|a, b| precedence(&a.1, &b.1))
            .map(|(id, _)| (*id).clone())
    };
    best(false).or_else(|| best(true))
}

fn live_row(c: &Connection, version_id: &str, now: i64) -> Result<Option<LiveRow>> {
    Ok(c.query_row(
        "SELECT v.id, v.skill_id, s.name, v.version, v.version_key, v.state, v.manifest, v.readme, v.created_by,
                v.created_at
         FROM versions v JOIN skills s ON s.id = v.skill_id
         WHERE v.id = ?1 AND (v.state = 'published' OR v.created_at > ?2)",
        params![version_id, live_cutoff(now)],
        |r| {
            Ok(LiveRow {
                version_id: r.get(0)?,
                skill_id: r.get(1)?,
                skill_name: r.get(2)?,
                version: r.get(3)?,
                version_key: r.get(4)?,
                state: r.get(5)?,
                manifest: r.get(6)?,
                readme: r.get(7)?,
                created_by: r.get(8)?,
                created_at: r.get(9)?,
            })
        },
    )
    .optional()?)
}

fn start_in_tx(
    tx: &Transaction,
    caller: &User,
    req: &StartPublish,
    now: i64,
) -> Result<Started, PublishError> {
    let existing = live_skill(tx, req.name, now)?;
    // Step 1: namespace (evaluated against the row as it is inside this transaction).
    check_namespace(
        tx,
        caller,
        req.name,
        existing.as_ref().and_then(|(_, o)| o.as_deref()),
    )?;
    let vkey = version_key(req.version);
    let mut dropped = Vec::new();
    let skill_id = match &existing {
        Some((id, _)) => {
            // Step 2: conflict.
            let published: Option<String> = tx
                .query_row(
                    "SELECT version FROM versions WHERE skill_id = ?1 AND version_key = ?2 AND state = 'published'",
                    params![id, vkey],
                    |r| r.get(0),
                )
                .optional()
                .map_err(StoreError::from)?;
            if published.is_some() {
                return Err(PublishError::VersionExists(format!(
                    "Version {} of {} is already published.",
                    req.version_str, req.name
                )));
            }
            // Step 3: escalation.
            let issues = escalation_issues(tx, id, req.version, req.permissions)?;
            if !issues.is_empty() {
                return Err(PublishError::Escalation(issues));
            }
            id.clone()
        }
        None => {
            dropped.extend(drop_dead_skill(tx, req.name)?);
            let id = new_id("skill");
            let owner = match split_name(req.name) {
                (None, _) => Some(caller.id.clone()),
                _ => None,
            };
            tx.execute(
                "INSERT INTO skills (id, name, scope, owner_user_id, row_created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, req.name, split_name(req.name).0, owner, now],
            )
            .map_err(StoreError::from)?;
            id
        }
    };
    // Step 4: replace any unpublished row of the same (skill, version), whoever started it.
    let replaced: Option<(String, String, i64)> = tx
        .query_row(
            "SELECT id, created_by, created_at FROM versions WHERE skill_id = ?1 AND version_key = ?2",
            params![skill_id, vkey],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(StoreError::from)?;
    let replaces_own_live = replaced
        .as_ref()
        .is_some_and(|(_, by, at)| by == &caller.id && *at > live_cutoff(now));
    if !replaces_own_live {
        let (count, oldest): (i64, Option<i64>) = tx
            .query_row(
                "SELECT COUNT(*), MIN(created_at) FROM versions WHERE created_by = ?1 AND state <> 'published'
                 AND created_at > ?2",
                params![caller.id, live_cutoff(now)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(StoreError::from)?;
        if count >= MAX_UNFINISHED {
            let expires = oldest.unwrap_or(now) + PENDING_TTL_MS;
            return Err(PublishError::TooManyUnfinished {
                retry_after_secs: ((expires - now + 999) / 1000).max(1),
            });
        }
    }
    if let Some((old_id, _, _)) = replaced {
        tx.execute("DELETE FROM versions WHERE id = ?1", [&old_id])
            .map_err(StoreError::from)?;
        dropped.push(old_id);
    }
    let version_id = new_id("ver");
    tx.execute(
        "INSERT INTO versions (id, skill_id, version, version_key, state, manifest, readme, files, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?8, ?9)",
        params![
            version_id,
            skill_id,
            req.version_str,
            vkey,
            req.manifest_json,
            req.readme,
            req.files_json,
            caller.id,
            now
        ],
    )
    .map_err(StoreError::from)?;
    Ok(Started {
        skill_id,
        version_id,
        created_at: now,
        dropped_version_ids: dropped,
    })
}
