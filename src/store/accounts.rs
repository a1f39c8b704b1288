//! Users, organisations, memberships, API tokens and access grants.

use super::{Result, Store, StoreError, bool_of};
use crate::domain::{new_id, now_ms};
use rusqlite::{Connection, OptionalExtension, Row, params};

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub is_pro: bool,
    pub disabled: bool,
    pub created_at: i64,
}

impl User {
    /// Display name, or the username when none is set (never null, SPEC §3.7).
    pub fn display(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.username)
    }
}

const USER_COLS: &str = "u.id, u.username, u.email, u.display_name, u.password_hash, u.is_admin, u.is_pro, u.disabled, u.created_at";

fn user_from_row(r: &Row, o: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(o)?,
        username: r.get(o + 1)?,
        email: r.get(o + 2)?,
        display_name: r.get(o + 3)?,
        password_hash: r.get(o + 4)?,
        is_admin: bool_of(r.get(o + 5)?),
        is_pro: bool_of(r.get(o + 6)?),
        disabled: bool_of(r.get(o + 7)?),
        created_at: r.get(o + 8)?,
    })
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub is_pro: bool,
}

#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: Option<bool>,
    pub is_pro: Option<bool>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: String,
    pub user_id: String,
    pub prefix: String,
    pub label: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub approved_by: Option<String>,
}

impl TokenRecord {
    pub fn status(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

const TOKEN_COLS: &str = "t.id, t.user_id, t.prefix, t.label, t.scopes, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.approved_by";

fn token_from_row(r: &Row) -> rusqlite::Result<TokenRecord> {
    let scopes: String = r.get(4)?;
    Ok(TokenRecord {
        id: r.get(0)?,
        user_id: r.get(1)?,
        prefix: r.get(2)?,
        label: r.get(3)?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        revoked_at: r.get(7)?,
        last_used_at: r.get(8)?,
        approved_by: r.get(9)?,
    })
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: String,
    pub hash: String,
    pub prefix: String,
    pub label: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    pub approved_by: Option<String>,
}

/// A user's relation to the scopes they may publish to and read from.
fn slug_taken(c: &Connection, slug: &str) -> Result<bool> {
    let n: i64 = c.query_row(
        "SELECT (SELECT COUNT(*) FROM users WHERE username = ?1) + (SELECT COUNT(*) FROM orgs WHERE slug = ?1)",
        [slug],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

pub(crate) fn user_by_id(c: &Connection, id: &str) -> Result<Option<User>> {
    Ok(c.query_row(
        &format!("SELECT {USER_COLS} FROM users u WHERE u.id = ?1"),
        [id],
        |r| user_from_row(r, 0),
    )
    .optional()?)
}

pub(crate) fn is_org_member(c: &Connection, slug: &str, user_id: &str) -> Result<bool> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM org_members m JOIN orgs o ON o.id = m.org_id WHERE o.slug = ?1 AND m.user_id = ?2",
        params![slug, user_id],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Inserts a user after the uniqueness checks of SPEC §9.4 (name free among users and orgs, e-mail unique
/// case-insensitively), inside the caller's transaction.
pub(crate) fn insert_user(tx: &Connection, u: &NewUser) -> Result<User> {
    if slug_taken(tx, &u.username)? {
        return Err(StoreError::Conflict(format!(
            "the name {} is already taken by a user or organisation",
            u.username
        )));
    }
    if let Some(e) = &u.email {
        let n: i64 = tx.query_row(
            "SELECT COUNT(*) FROM users WHERE email_lc = ?1",
            [e.to_lowercase()],
            |r| r.get(0),
        )?;
        if n > 0 {
            return Err(StoreError::Conflict(format!(
                "the email {e} is already in use"
            )));
        }
    }
    let id = new_id("usr");
    tx.execute(
        "INSERT INTO users (id, username, email, email_lc, display_name, password_hash, is_admin, is_pro, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            u.username,
            u.email,
            u.email.as_ref().map(|e| e.to_lowercase()),
            u.display_name,
            u.password_hash,
            u.is_admin as i64,
            u.is_pro as i64,
            now_ms()
        ],
    )?;
    user_by_id(tx, &id)?.ok_or_else(|| StoreError::Corrupt("user vanished".into()))
}

impl Store {
    pub fn create_user(&self, u: &NewUser) -> Result<User> {
        self.write(|c| {
            let tx = c.transaction()?;
            let user = insert_user(&tx, u)?;
            tx.commit()?;
            Ok(user)
        })
    }

    pub fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {USER_COLS} FROM users u WHERE u.username = ?1"),
                [username],
                |r| user_from_row(r, 0),
            )
            .optional()?)
        })
    }

    pub fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        self.read(|c| user_by_id(c, id))
    }

    pub fn count_users(&self) -> Result<i64> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?))
    }

    pub fn list_users(&self) -> Result<Vec<User>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {USER_COLS} FROM users u ORDER BY u.username"
            ))?;
            let rows = st.query_map([], |r| user_from_row(r, 0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Applies the given changes. A display-name change marks the skills whose latest version the user
    /// published for reindexing (SPEC §9.4, §4.4 step 3).
    pub fn update_user(&self, username: &str, up: &UserUpdate) -> Result<User> {
        self.write(|c| {
            let tx = c.transaction()?;
            let user = tx
                .query_row(
                    &format!("SELECT {USER_COLS} FROM users u WHERE u.username = ?1"),
                    [username],
                    |r| user_from_row(r, 0),
                )
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("no user named {username}")))?;
            if let Some(e) = &up.email {
                let n: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM users WHERE email_lc = ?1 AND id <> ?2",
                    params![e.to_lowercase(), user.id],
                    |r| r.get(0),
                )?;
                if n > 0 {
                    return Err(StoreError::Conflict(format!(
                        "the email {e} is already in use"
                    )));
                }
                tx.execute(
                    "UPDATE users SET email = ?1, email_lc = ?2 WHERE id = ?3",
                    params![e, e.to_lowercase(), user.id],
                )?;
            }
            if let Some(d) = &up.display_name {
                tx.execute(
                    "UPDATE users SET display_name = ?1 WHERE id = ?2",
                    params![d, user.id],
                )?;
                super::publish::bump_index_seq_for_publisher(&tx, &user.id)?;
            }
            if let Some(h) = &up.password_hash {
                tx.execute(
                    "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                    params![h, user.id],
                )?;
            }
            if let Some(a) = up.is_admin {
                tx.execute(
                    "UPDATE users SET is_admin = ?1 WHERE id = ?2",
                    params![a as i64, user.id],
                )?;
            }
            if let Some(p) = up.is_pro {
                tx.execute(
                    "UPDATE users SET is_pro = ?1 WHERE id = ?2",
                    params![p as i64, user.id],
                )?;
            }
            if let Some(d) = up.disabled {
                tx.execute(
                    "UPDATE users SET disabled = ?1 WHERE id = ?2",
                    params![d as i64, user.id],
                )?;
            }
            // Disabling a user or changing their password ends their web sessions (SPEC §9.4).
            if up.disabled == Some(true) || up.password_hash.is_some() {
                tx.execute("DELETE FROM sessions WHERE user_id = ?1", [&user.id])?;
            }
            let user = user_by_id(&tx, &user.id)?
                .ok_or_else(|| StoreError::Corrupt("user vanished".into()))?;
            tx.commit()?;
            Ok(user)
        })
    }

    pub fn create_token(&self, t: &NewToken) -> Result<TokenRecord> {
        self.write(|c| {
            let id = new_id("tok");
            c.execute(
                "INSERT INTO tokens (id, user_id, hash, prefix, label, scopes, created_at, expires_at, approved_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    t.user_id,
                    t.hash,
                    t.prefix,
                    t.label,
                    t.scopes.join(","),
                    now_ms(),
                    t.expires_at,
                    t.approved_by
                ],
            )?;
            Ok(c.query_row(
                &format!("SELECT {TOKEN_COLS} FROM tokens t WHERE t.id = ?1"),
                [&id],
                token_from_row,
            )?)
        })
    }

    /// The token whose SHA-256 hex is `hash`, with its user.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<(TokenRecord, User, String)>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {TOKEN_COLS}, {USER_COLS}, t.hash FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?1"
                ),
                [hash],
                |r| Ok((token_from_row(r)?, user_from_row(r, 10)?, r.get(19)?)),
            )
            .optional()?)
        })
    }

    pub fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {TOKEN_COLS} FROM tokens t WHERE t.id = ?1"),
                [id],
                token_from_row,
            )
            .optional()?)
        })
    }

    /// Records a use of the token, at most once per 60 s per token (SPEC §2.8).
    pub fn touch_token(&self, id: &str, now: i64) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE tokens SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at <= ?3)",
                params![now, id, now - 60_000],
            )?;
            Ok(())
        })
    }

    pub fn list_tokens(&self, user_id: &str) -> Result<Vec<TokenRecord>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {TOKEN_COLS} FROM tokens t WHERE t.user_id = ?1 ORDER BY t.created_at, t.id"
            ))?;
            let rows = st.query_map([user_id], token_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Revokes a token and, recursively, every token issued through an approval it made (SPEC §3.20).
    /// Already revoked tokens keep their first revocation time.
    pub fn revoke_token(&self, id: &str) -> Result<()> {
        self.write(|c| {
            let tx = c.transaction()?;
            let exists: i64 = tx.query_row("SELECT COUNT(*) FROM tokens WHERE id = ?1", [id], |r| r.get(0))?;
            if exists == 0 {
                return Err(StoreError::NotFound(format!("no token with id {id}")));
            }
            tx.execute(
                "WITH RECURSIVE chain(id) AS (
                     SELECT ?1 UNION SELECT t.id FROM tokens t JOIN chain ON t.approved_by = chain.id
                 )
                 UPDATE tokens SET revoked_at = ?2 WHERE id IN (SELECT id FROM chain) AND revoked_at IS NULL",
                params![id, now_ms()],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn create_org(&self, slug: &str, owner: &str) -> Result<String> {
        self.write(|c| {
            let tx = c.transaction()?;
            if slug_taken(&tx, slug)? {
                return Err(StoreError::Conflict(format!(
                    "the name {slug} is already taken by a user or organisation"
                )));
            }
            let owner_id = user_id_by_name(&tx, owner)?;
            let id = new_id("org");
            tx.execute(
                "INSERT INTO orgs (id, slug, created_at) VALUES (?1, ?2, ?3)",
                params![id, slug, now_ms()],
            )?;
            tx.execute(
                "INSERT INTO org_members (org_id, user_id) VALUES (?1, ?2)",
                params![id, owner_id],
            )?;
            tx.commit()?;
            Ok(id)
        })
    }

    /// Adds (`member = true`) or removes a member; idempotent.
    pub fn set_org_member(&self, slug: &str, username: &str, member: bool) -> Result<()> {
        self.write(|c| {
            let org_id: String = c
                .query_row("SELECT id FROM orgs WHERE slug = ?1", [slug], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("no organisation named {slug}")))?;
            let user_id = user_id_by_name(c, username)?;
            if member {
                c.execute(
                    "INSERT OR IGNORE INTO org_members (org_id, user_id) VALUES (?1, ?2)",
                    params![org_id, user_id],
                )?;
            } else {
                c.execute(
                    "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2",
                    params![org_id, user_id],
                )?;
            }
            Ok(())
        })
    }

    pub fn is_org_member(&self, slug: &str, user_id: &str) -> Result<bool> {
        self.read(|c| is_org_member(c, slug, user_id))
    }

    /// Grants (`grant = true`) or revokes read access to a skill with a published version; idempotent.
    pub fn set_grant(&self, skill: &str, username: &str, grant: bool) -> Result<()> {
        self.write(|c| {
            let skill_id = published_skill_id(c, skill)?;
            let user_id = user_id_by_name(c, username)?;
            if grant {
                c.execute(
                    "INSERT OR IGNORE INTO grants (skill_id, user_id) VALUES (?1, ?2)",
                    params![skill_id, user_id],
                )?;
            } else {
                c.execute(
                    "DELETE FROM grants WHERE skill_id = ?1 AND user_id = ?2",
                    params![skill_id, user_id],
                )?;
            }
            Ok(())
        })
    }

    /// Sets a published skill's visibility (SPEC §9.4 `skill visibility`); idempotent.
    pub fn set_visibility(&self, skill: &str, visibility: crate::domain::Visibility) -> Result<()> {
        self.write(|c| {
            let skill_id = published_skill_id(c, skill)?;
            c.execute(
                "UPDATE skills SET visibility = ?1 WHERE id = ?2",
                params![visibility.as_str(), skill_id],
            )?;
            Ok(())
        })
    }
}

/// A user's id by username, or the admin commands' "no user named …" error.
fn user_id_by_name(c: &Connection, username: &str) -> Result<String> {
    c.query_row(
        "SELECT id FROM users WHERE username = ?1",
        [username],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("no user named {username}")))
}

fn published_skill_id(c: &Connection, name: &str) -> Result<String> {
    c.query_row(
        "SELECT s.id FROM skills s WHERE s.name = ?1 AND s.latest_version_id IS NOT NULL",
        [name],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("no published skill named {name}")))
}
