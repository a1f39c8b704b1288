//! CLI login requests (SPEC §3.19–§3.21): two independent secrets stored hashed, a decision, single use.

use super::accounts::{TokenRecord, User, user_by_id};
use super::{Result, Store, StoreError};
use crate::domain::new_id;
use rusqlite::{Connection, OptionalExtension, Row, params};

#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub id: String,
    pub status: String,
    pub consumed: bool,
    pub device_name: Option<String>,
    pub state: Option<String>,
    pub client_ip: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_by_user: Option<String>,
    pub approved_by: Option<String>,
}

const COLS: &str = "id, status, consumed_at, device_name, state, client_ip, created_at, expires_at, decided_by_user, approved_by";

fn from_row(r: &Row) -> rusqlite::Result<LoginRequest> {
    Ok(LoginRequest {
        id: r.get(0)?,
        status: r.get(1)?,
        consumed: r.get::<_, Option<i64>>(2)?.is_some(),
        device_name: r.get(3)?,
        state: r.get(4)?,
        client_ip: r.get(5)?,
        created_at: r.get(6)?,
        expires_at: r.get(7)?,
        decided_by_user: r.get(8)?,
        approved_by: r.get(9)?,
    })
}

fn by(c: &Connection, col: &str, value: &str) -> Result<Option<LoginRequest>> {
    Ok(c.query_row(
        &format!("SELECT {COLS} FROM login_requests WHERE {col} = ?1"),
        [value],
        from_row,
    )
    .optional()?)
}

/// The outcome of a decision attempt (approve or deny).
#[derive(Debug, PartialEq, Eq)]
pub enum Decided {
    Done,
    /// Unknown or expired.
    Gone,
    /// Already approved, denied or consumed.
    AlreadyDecided,
}

/// The outcome of an exchange (SPEC §3.21 table).
#[derive(Debug)]
pub enum Exchange {
    Pending,
    Invalid,
    Denied,
    /// Approved, but the approving user was disabled or the approving token revoked or expired since.
    Forbidden,
    Approved {
        token: Box<TokenRecord>,
        user: Box<User>,
    },
}

/// What the issued token gets: the caller computes scopes and expiry from the approving token.
pub struct IssuePlan {
    pub hash: String,
    pub prefix: String,
    pub default_days: u32,
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub fn create_login_request(
        &self,
        poll_hash: &str,
        auth_hash: &str,
        device_name: Option<&str>,
        state: Option<&str>,
        client_ip: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<LoginRequest> {
        self.write(|c| {
            let id = new_id("login");
            c.execute(
                "INSERT INTO login_requests (id, poll_hash, auth_hash, status, device_name, state, client_ip, created_at, expires_at)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8)",
                params![id, poll_hash, auth_hash, device_name, state, client_ip, now, now + ttl_ms],
            )?;
            by(c, "id", &id)?.ok_or_else(|| StoreError::Corrupt("login request vanished".into()))
        })
    }

    pub fn login_by_auth_hash(&self, hash: &str) -> Result<Option<LoginRequest>> {
        self.read(|c| by(c, "auth_hash", hash))
    }

    pub fn login_by_poll_hash(&self, hash: &str) -> Result<Option<LoginRequest>> {
        self.read(|c| by(c, "poll_hash", hash))
    }

    /// Approves or denies a pending, unexpired request; `approved_by` is a token id or `session`.
    pub fn decide_login(
        &self,
        id: &str,
        approve: bool,
        user_id: &str,
        approved_by: &str,
        now: i64,
    ) -> Result<Decided> {
        self.write(|c| {
            let tx = c.transaction()?;
            let Some(req) = by(&tx, "id", id)? else {
                return Ok(Decided::Gone);
            };
            if req.status != "pending" || req.consumed {
                return Ok(Decided::AlreadyDecided);
            }
            if req.expires_at <= now {
                return Ok(Decided::Gone);
            }
            tx.execute(
                "UPDATE login_requests SET status = ?1, decided_by_user = ?2, approved_by = ?3, decided_at = ?4 WHERE id = ?5",
                params![if approve { "approved" } else { "denied" }, user_id, approved_by, now, id],
            )?;
            tx.commit()?;
            Ok(Decided::Done)
        })
    }

    /// The single-use exchange, in one transaction: the first exchange that sees the request decided
    /// consumes it; only an approval creates a token (SPEC §3.21).
    pub fn exchange_login(&self, id: &str, plan: &IssuePlan, now: i64) -> Result<Exchange> {
        self.write(|c| {
            let tx = c.transaction()?;
            let Some(req) = by(&tx, "id", id)? else {
                return Ok(Exchange::Invalid);
            };
            if req.consumed || req.expires_at <= now {
                return Ok(Exchange::Invalid);
            }
            match req.status.as_str() {
                "pending" => return Ok(Exchange::Pending),
                "denied" => {
                    tx.execute("UPDATE login_requests SET consumed_at = ?1 WHERE id = ?2", params![now, id])?;
                    tx.commit()?;
                    return Ok(Exchange::Denied);
                }
                _ => {}
            }
            tx.execute("UPDATE login_requests SET consumed_at = ?1 WHERE id = ?2", params![now, id])?;
            let user = match req.decided_by_user.as_deref() {
                Some(uid) => user_by_id(&tx, uid)?,
                None => None,
            };
            let Some(user) = user.filter(|u| !u.disabled) else {
                tx.commit()?;
                return Ok(Exchange::Forbidden);
            };
            let mut scopes = vec![crate::auth::SCOPE_READ.to_string(), crate::auth::SCOPE_PUBLISH.to_string()];
            let mut expires_at = now + plan.default_days as i64 * 86_400_000;
            let approved_by = req.approved_by.clone().unwrap_or_else(|| "session".into());
            if approved_by != "session" {
                // A JSON approval: no more scopes or lifetime than the approving token (SPEC §3.20).
                let approving: Option<(String, Option<i64>, Option<i64>)> = tx
                    .query_row(
                        "SELECT scopes, expires_at, revoked_at FROM tokens WHERE id = ?1",
                        [&approved_by],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let Some((granted, exp, revoked)) = approving else {
                    tx.commit()?;
                    return Ok(Exchange::Forbidden);
                };
                if revoked.is_some() || exp.is_some_and(|e| e <= now) {
                    tx.commit()?;
                    return Ok(Exchange::Forbidden);
                }
                let granted: Vec<String> = granted.split(',').map(str::to_string).collect();
                scopes.retain(|s| crate::auth::has_scope(&granted, s));
                if let Some(e) = exp {
                    expires_at = expires_at.min(e);
                }
                if scopes.is_empty() {
                    tx.commit()?;
                    return Ok(Exchange::Forbidden);
                }
            }
            let label = format!(
                "CLI login: {}",
                req.device_name.as_deref().unwrap_or("unknown device")
            );
            let token_id = new_id("tok");
            tx.execute(
                "INSERT INTO tokens (id, user_id, hash, prefix, label, scopes, created_at, expires_at, approved_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    token_id,
                    user.id,
                    plan.hash,
                    plan.prefix,
                    label,
                    scopes.join(","),
                    now,
                    expires_at,
                    approved_by
                ],
            )?;
            tx.commit()?;
            let token = TokenRecord {
                id: token_id,
                user_id: user.id.clone(),
                prefix: plan.prefix.clone(),
                label,
                scopes,
                created_at: now,
                expires_at: Some(expires_at),
                revoked_at: None,
                last_used_at: None,
                approved_by: Some(approved_by),
            };
            Ok(Exchange::Approved {
                token: Box::new(token),
                user: Box::new(user),
            })
        })
    }
}
