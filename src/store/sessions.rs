//! Web sessions (SPEC §2.8): stored as the SHA-256 of the cookie value, with a per-session CSRF token.

use super::accounts::{User, user_by_id};
use super::{Result, Store};
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: i64,
}

impl Store {
    pub fn create_session(
        &self,
        user_id: &str,
        id_hash: &str,
        csrf: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id_hash, user_id, csrf, now, now + ttl_ms],
            )?;
            Ok(())
        })
    }

    /// A live session whose user is not disabled.
    pub fn session_by_hash(&self, id_hash: &str, now: i64) -> Result<Option<Session>> {
        self.read(|c| {
            let row: Option<(String, String, i64)> = c
                .query_row(
                    "SELECT user_id, csrf_token, expires_at FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
                    params![id_hash, now],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((uid, csrf_token, expires_at)) = row else {
                return Ok(None);
            };
            Ok(user_by_id(c, &uid)?.filter(|u| !u.disabled).map(|user| Session {
                user,
                csrf_token,
                expires_at,
            }))
        })
    }

    pub fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.write(|c| {
            c.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
            Ok(())
        })
    }

    /// Deletes expired sessions and login requests (the sweeper).
    pub fn purge_expired_sessions(&self, now: i64) -> Result<()> {
        self.write(|c| {
            c.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
            // Login requests are kept a little past expiry so that a late poll still learns "expired".
            c.execute(
                "DELETE FROM login_requests WHERE expires_at <= ?1",
                [now - 3_600_000],
            )?;
            Ok(())
        })
    }

    /// A user by username or e-mail (case-insensitive e-mail), for sign-in.
    pub fn user_by_login(&self, login: &str) -> Result<Option<User>> {
        self.read(|c| {
            let id: Option<String> = c
                .query_row(
                    "SELECT id FROM users WHERE username = ?1 OR email_lc = lower(?1)",
                    [login],
                    |r| r.get(0),
                )
                .optional()?;
            match id {
                Some(id) => user_by_id(c, &id),
                None => Ok(None),
            }
        })
    }

    /// Creates the first admin if, and only if, no user exists yet: the check and the insert are one
    /// transaction (SPEC §3.23 `/setup`). `Ok(None)` when a user already exists. The caller sets `is_admin`.
    pub fn create_first_admin(&self, u: &super::NewUser) -> Result<Option<User>> {
        self.write(|c| {
            let tx = c.transaction()?;
            let n: i64 = tx.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
            if n > 0 {
                return Ok(None);
            }
            let user = super::accounts::insert_user(&tx, u)?;
            tx.commit()?;
            Ok(Some(user))
        })
    }
}
