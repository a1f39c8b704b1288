//! Read side: published skills and versions, visibility decisions (SPEC §6), stars and download counts.

use super::accounts::is_org_member;
use super::{Result, Store};
use crate::domain::{Visibility, now_ms, parse_version, precedence, version_key};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

/// Who is asking, for visibility decisions. `admin` is true only for an admin user authenticated by a
/// session or by a token whose effective scopes include `skills:admin` (SPEC §6).
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub admin: bool,
}

impl Viewer {
    pub fn anonymous() -> Viewer {
        Viewer::default()
    }
}

#[derive(Debug, Clone)]
pub struct SkillRow {
    pub id: String,
    pub name: String,
    pub scope: Option<String>,
    pub owner_user_id: Option<String>,
    pub visibility: Visibility,
    pub description: String,
    pub repository: Option<String>,
    pub latest_version_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const SKILL_COLS: &str = "s.id, s.name, s.scope, s.owner_user_id, s.visibility, s.description, s.repository, \
                          s.latest_version_id, s.created_at, s.updated_at";

fn skill_from_row(r: &Row) -> rusqlite::Result<SkillRow> {
    let vis: String = r.get(4)?;
    Ok(SkillRow {
        id: r.get(0)?,
        name: r.get(1)?,
        scope: r.get(2)?,
        owner_user_id: r.get(3)?,
        visibility: Visibility::parse(&vis).unwrap_or(Visibility::Private),
        description: r.get(5)?,
        repository: r.get(6)?,
        latest_version_id: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

#[derive(Debug, Clone)]
pub struct VersionRow {
    pub id: String,
    pub skill_id: String,
    pub version: String,
    pub manifest: serde_json::Value,
    pub readme: String,
    pub integrity: String,
    pub sha512_hex: String,
    pub tarball_size: i64,
    pub file_count: i64,
    pub file_entries: serde_json::Value,
    pub scan: serde_json::Value,
    pub audit_score: i64,
    pub verdict: String,
    pub published_at: i64,
    pub downloads: i64,
    pub created_by: String,
}

const VERSION_COLS: &str = "v.id, v.skill_id, v.version, v.manifest, v.readme, v.integrity, v.sha512_hex, \
     v.tarball_size, v.file_count, v.file_entries, v.scan, v.audit_score, v.verdict, v.published_at, v.downloads, \
     v.created_by";

fn version_from_row(r: &Row) -> rusqlite::Result<VersionRow> {
    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
        let s: Option<String> = r.get(i)?;
        Ok(s.and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null))
    };
    Ok(VersionRow {
        id: r.get(0)?,
        skill_id: r.get(1)?,
        version: r.get(2)?,
        manifest: json(3)?,
        readme: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        integrity: r.get(5)?,
        sha512_hex: r.get(6)?,
        tarball_size: r.get(7)?,
        file_count: r.get(8)?,
        file_entries: json(9)?,
        scan: json(10)?,
        audit_score: r.get(11)?,
        verdict: r.get(12)?,
        published_at: r.get(13)?,
        downloads: r.get(14)?,
        created_by: r.get(15)?,
    })
}

/// SPEC §6: may `viewer` see `skill`?
pub(crate) fn can_see(c: &Connection, skill: &SkillRow, viewer: &Viewer) -> Result<bool> {
    if skill.visibility == Visibility::Public || viewer.admin {
        return Ok(true);
    }
    let Some(uid) = viewer.user_id.as_deref() else {
        return Ok(false);
    };
    match skill.scope.as_deref() {
        Some(scope) => {
            if viewer.username.as_deref() == Some(scope) || is_org_member(c, scope, uid)? {
                return Ok(true);
            }
        }
        None => {
            if skill.owner_user_id.as_deref() == Some(uid) {
                return Ok(true);
            }
        }
    }
    let granted: i64 = c.query_row(
        "SELECT COUNT(*) FROM grants WHERE skill_id = ?1 AND user_id = ?2",
        params![skill.id, uid],
        |r| r.get(0),
    )?;
    Ok(granted > 0)
}

impl Store {
    /// A skill with a published version that `viewer` may see; None for missing and invisible alike.
    pub fn visible_skill(&self, name: &str, viewer: &Viewer) -> Result<Option<SkillRow>> {
        self.read(|c| {
            let skill = c
                .query_row(
                    &format!("SELECT {SKILL_COLS} FROM skills s WHERE s.name = ?1 AND s.latest_version_id IS NOT NULL"),
                    [name],
                    skill_from_row,
                )
                .optional()?;
            match skill {
                Some(s) if can_see(c, &s, viewer)? => Ok(Some(s)),
                _ => Ok(None),
            }
        })
    }

    /// Published versions, SemVer precedence descending.
    pub fn published_versions(&self, skill_id: &str) -> Result<Vec<VersionRow>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {VERSION_COLS} FROM versions v WHERE v.skill_id = ?1 AND v.state = 'published'"
            ))?;
            let mut rows = st
                .query_map([skill_id], version_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.sort_by(|a, b| match (parse_version(&a.version), parse_version(&b.version)) {
                (Some(x), Some(y)) => precedence(&y, &x),
                _ => b.version.cmp(&a.version),
            });
            Ok(rows)
        })
    }

    pub fn version_by_id(&self, version_id: &str) -> Result<Option<VersionRow>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {VERSION_COLS} FROM versions v WHERE v.id = ?1 AND v.state = 'published'"),
                [version_id],
                version_from_row,
            )
            .optional()?)
        })
    }

    /// The published version matching a requested version (SPEC §2.3: equal ignoring build metadata, and
    /// identical build metadata when the request has any).
    pub fn published_version(
        &self,
        skill_id: &str,
        requested: &semver::Version,
    ) -> Result<Option<VersionRow>> {
        self.read(|c| {
            let row = c
                .query_row(
                    &format!(
                        "SELECT {VERSION_COLS} FROM versions v WHERE v.skill_id = ?1 AND v.version_key = ?2 AND v.state = 'published'"
                    ),
                    params![skill_id, version_key(requested)],
                    version_from_row,
                )
                .optional()?;
            Ok(row.filter(|v| {
                requested.build.is_empty()
                    || parse_version(&v.version).is_some_and(|p| p.build == requested.build)
            }))
        })
    }

    /// Stored all-time downloads of a skill (without unflushed increments).
    pub fn skill_downloads(&self, skill_id: &str) -> Result<i64> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(SUM(downloads), 0) FROM versions WHERE skill_id = ?1 AND state = 'published'",
                [skill_id],
                |r| r.get(0),
            )?)
        })
    }

    /// Full names of public skills with at least `min` stored downloads (SUP-007's registry-protected names,
    /// SPEC §8.3: ≥ 1,000 downloads; the caller drops the publishing skill's own scope).
    pub fn popular_public_names(&self, min: i64) -> Result<Vec<String>> {
        // From the in-memory totals when they are current: the aggregate below reads every published
        // version of the registry, once per confirm (most of a storm's server time at 3,000 versions).
        if min > 0
            && self.download_totals_current()?
            && let Some(ids) = self.skills_with_downloads_at_least(min)
        {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let ids = super::search::json_ids(&ids)?;
            return self.read(|c| {
                let mut st = c.prepare_cached(
                    "SELECT s.name FROM json_each(?1) j JOIN skills s ON s.id = j.value \
                     WHERE s.visibility = 'public' AND s.latest_version_id IS NOT NULL ORDER BY s.name",
                )?;
                let names = st
                    .query_map([&ids], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(names)
            });
        }
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT s.name FROM skills s JOIN versions v ON v.skill_id = s.id AND v.state = 'published' \
                 WHERE s.visibility = 'public' AND s.latest_version_id IS NOT NULL \
                 GROUP BY s.id HAVING SUM(v.downloads) >= ?1 ORDER BY s.name",
            )?;
            let names = st
                .query_map([min], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(names)
        })
    }

    /// The database gauges of `GET /metrics` (SPEC §3.22): skills with a published version, published
    /// versions, recorded downloads, and skills whose `index_seq` is above the index's N.
    pub fn metric_gauges(&self, index_seq: i64) -> Result<crate::metrics::Gauges> {
        self.read(|c| {
            let one = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<i64> {
                c.query_row(sql, p, |r| r.get(0))
            };
            Ok(crate::metrics::Gauges {
                skills: one(
                    "SELECT COUNT(*) FROM skills WHERE latest_version_id IS NOT NULL",
                    &[],
                )?,
                versions_published: one(
                    "SELECT COUNT(*) FROM versions WHERE state = 'published'",
                    &[],
                )?,
                downloads: one(
                    "SELECT COALESCE(SUM(downloads), 0) FROM versions WHERE state = 'published'",
                    &[],
                )?,
                index_lag: one(
                    "SELECT COUNT(*) FROM skills WHERE index_seq > ?1",
                    &[&index_seq],
                )?,
            })
        })
    }

    pub fn star_count(&self, skill_id: &str) -> Result<i64> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM stars WHERE skill_id = ?1",
                [skill_id],
                |r| r.get(0),
            )?)
        })
    }

    pub fn is_starred(&self, skill_id: &str, user_id: &str) -> Result<bool> {
        self.read(|c| {
            let n: i64 = c.query_row(
                "SELECT COUNT(*) FROM stars WHERE skill_id = ?1 AND user_id = ?2",
                params![skill_id, user_id],
                |r| r.get(0),
            )?;
            Ok(n > 0)
        })
    }

    /// Stars or unstars (idempotent) and returns the count after the change.
    pub fn set_star(&self, skill_id: &str, user_id: &str, on: bool) -> Result<i64> {
        self.write(|c| {
            if on {
                c.execute(
                    "INSERT OR IGNORE INTO stars (user_id, skill_id, created_at) VALUES (?1, ?2, ?3)",
                    params![user_id, skill_id, now_ms()],
                )?;
            } else {
                c.execute(
                    "DELETE FROM stars WHERE user_id = ?1 AND skill_id = ?2",
                    params![user_id, skill_id],
                )?;
            }
            Ok(c.query_row("SELECT COUNT(*) FROM stars WHERE skill_id = ?1", [skill_id], |r| r.get(0))?)
        })
    }

    /// Adds batched download increments (version id → count) in one transaction (SPEC §3.10), and the
    /// increments of published versions to the in-memory totals after the commit.
    pub fn add_downloads(&self, counts: &HashMap<String, i64>) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        self.write(|c| {
            let tx = c.transaction()?;
            let mut deltas: Vec<(String, i64)> = Vec::with_capacity(counts.len());
            {
                let mut st = tx.prepare_cached(
                    "UPDATE versions SET downloads = downloads + ?1 WHERE id = ?2 RETURNING skill_id, state",
                )?;
                for (id, n) in counts {
                    let mut rows = st.query(params![n, id])?;
                    while let Some(r) = rows.next()? {
                        let (skill, state): (String, String) = (r.get(0)?, r.get(1)?);
                        if state == "published" {
                            deltas.push((skill, *n));
                        }
                    }
                }
            }
            tx.commit()?;
            self.totals.apply(&deltas);
            Ok(())
        })
    }

    /// Every published version as (skill name, version, sha512 hex, integrity), for `check`.
    pub fn all_published(&self) -> Result<Vec<(String, String, String, String)>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT s.name, v.version, v.sha512_hex, v.integrity FROM versions v JOIN skills s ON s.id = v.skill_id
                 WHERE v.state = 'published' ORDER BY s.name, v.version",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// PRAGMA integrity_check and foreign_key_check; problems as lines.
    pub fn integrity_problems(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut out = Vec::new();
            let mut st = c.prepare("PRAGMA integrity_check")?;
            for row in st.query_map([], |r| r.get::<_, String>(0))? {
                let line = row?;
                if line != "ok" {
                    out.push(format!("database integrity: {line}"));
                }
            }
            let mut st = c.prepare("PRAGMA foreign_key_check")?;
            let n = st.query_map([], |_| Ok(()))?.count();
            if n > 0 {
                out.push(format!("database has {n} foreign key violations"));
            }
            Ok(out)
        })
    }
}
