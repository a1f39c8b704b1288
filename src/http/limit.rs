//! Where rate limiting meets HTTP (SPEC §2.9): which requests are counted, in which bucket, and the
//! `X-RateLimit-*` headers.
//!
//! Design. The check order of SPEC §2.7 puts the rate limit *after* routing, the declared body size and
//! authentication, and *before* the scope check; only the handler knows when those have passed. So `wrap`
//! attaches a [`RateGate`] (client IP plus an empty per-request slot) to every request, and each *counted*
//! handler resolves its caller through the gate instead of calling `extract::optional_auth`/`required_auth`
//! directly: the gate authenticates, then charges the bucket (a 401 is charged to the IP bucket and returned
//! as is; over the limit → 429 with nothing done). The decision lands in the slot, and `wrap` turns it into
//! headers on whatever response the handler finally produces (success or a later 403/404/422).
//!
//! Exempt endpoints (SPEC §2.9: OPTIONS, health, openapi.json, badge, upload PUT, tarball GET/HEAD,
//! cli-auth exchange and authorize) simply never touch the gate, and neither do web pages outside `/api/`.
//! Requests that fail before the rate-limit step (unknown route 404, 405, declared-size 413) are not counted.
//! Counted today: whoami, publish start, confirm, skill reads (§3.7–§3.9, §3.11–§3.13), stars, cli-auth
//! start. Future endpoints (search, scan, stored scans, metrics) call [`RateGate::optional_auth`] /
//! [`RateGate::optional_auth_scan`] / [`RateGate::required_auth`] the same way.

use crate::app::App;
use crate::error::AppError;
use crate::http::extract::{self, Identity};
use crate::ratelimit::{Caller, Decision, Quota};
use crate::store::Session;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Default)]
struct Slot {
    quota: Option<Quota>,
    /// The unfinished-publish 429 of SPEC §3.4 counts but carries no `X-RateLimit-*` headers.
    hidden: bool,
}

/// The rate-limit context of one request, attached by `wrap` as a request extension.
#[derive(Debug, Clone)]
pub struct RateGate {
    ip: IpAddr,
    slot: Arc<Mutex<Slot>>,
}

impl RateGate {
    pub fn new(ip: IpAddr) -> RateGate {
        RateGate {
            ip,
            slot: Arc::default(),
        }
    }

    fn record(&self, quota: Quota) {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).quota = Some(quota);
    }

    fn decide(&self, decision: Option<Decision>) -> Result<(), AppError> {
        match decision {
            None => Ok(()),
            Some(Decision::Allowed(q)) => {
                self.record(q);
                Ok(())
            }
            Some(Decision::Limited(q)) => {
                self.record(q);
                Err(AppError::RateLimited {
                    retry_after: q.retry_after,
                    message: format!(
                        "Rate limit exceeded; try again in {} seconds.",
                        q.retry_after
                    ),
                })
            }
        }
    }

    fn admit(&self, app: &App, caller: Caller, scan: bool) -> Result<(), AppError> {
        let bucket = match &caller {
            Caller::Anonymous(_) if scan => "anonymous_scan",
            Caller::Anonymous(_) => "anonymous",
            Caller::Token { pro: true, .. } | Caller::Session { pro: true, .. } => "pro",
            Caller::Token { .. } => "token",
            Caller::Session { .. } => "session",
        };
        let r = self.decide(app.limiter.admit(&caller, scan, Instant::now()));
        if matches!(r, Err(AppError::RateLimited { .. })) {
            app.metrics.rate_limited(bucket);
        }
        r
    }

    /// A 401 counts in the IP bucket and is answered as a 401 (authentication precedes the rate limit).
    fn unauthorized(&self, app: &App, e: AppError) -> AppError {
        if matches!(e, AppError::Unauthorized { .. })
            && let Some(q) = app.limiter.count_unauthorized(self.ip, Instant::now())
        {
            self.record(q);
        }
        e
    }

    fn caller_of(id: &Identity) -> Caller {
        Caller::Token {
            id: id.token.id.clone(),
            pro: id.user.is_pro,
        }
    }

    /// Optional Bearer authentication, then the caller's bucket (anonymous: the client IP).
    pub async fn optional_auth(
        &self,
        app: &App,
        headers: &HeaderMap,
    ) -> Result<Option<Identity>, AppError> {
        self.optional_inner(app, headers, false).await
    }

    /// As [`optional_auth`](Self::optional_auth) for `POST /api/v1/scan`: an anonymous caller is also charged
    /// to the anonymous-scan bucket, which the headers then describe (SPEC §2.9, §3.15).
    pub async fn optional_auth_scan(
        &self,
        app: &App,
        headers: &HeaderMap,
    ) -> Result<Option<Identity>, AppError> {
        self.optional_inner(app, headers, true).await
    }

    async fn optional_inner(
        &self,
        app: &App,
        headers: &HeaderMap,
        scan: bool,
    ) -> Result<Option<Identity>, AppError> {
        let id = extract::optional_auth(app, headers)
            .await
            .map_err(|e| self.unauthorized(app, e))?;
        let caller = match &id {
            Some(id) => Self::caller_of(id),
            None => Caller::Anonymous(self.ip),
        };
        self.admit(app, caller, scan)?;
        Ok(id)
    }

    /// Required Bearer authentication, then the token's bucket.
    pub async fn required_auth(
        &self,
        app: &App,
        headers: &HeaderMap,
    ) -> Result<Identity, AppError> {
        let id = extract::required_auth(app, headers)
            .await
            .map_err(|e| self.unauthorized(app, e))?;
        self.admit(app, Self::caller_of(&id), false)?;
        Ok(id)
    }

    /// An endpoint that ignores credentials but is counted: the client IP's bucket.
    pub fn anonymous(&self, app: &App) -> Result<(), AppError> {
        self.admit(app, Caller::Anonymous(self.ip), false)
    }

    /// A request authenticated by a web session: the user's bucket.
    pub fn session(&self, app: &App, session: &Session) -> Result<(), AppError> {
        let caller = Caller::Session {
            user_id: session.user.id.clone(),
            pro: session.user.is_pro,
        };
        self.admit(app, caller, false)
    }

    /// Charges a 401 decided outside the auth helpers (e.g. stars without any credentials).
    pub fn reject_unauthorized(&self, app: &App, e: AppError) -> AppError {
        self.unauthorized(app, e)
    }

    /// Keeps the `X-RateLimit-*` headers off this response (the unfinished-publish 429 of SPEC §3.4).
    pub fn hide_headers(&self) {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).hidden = true;
    }

    /// Adds `X-RateLimit-Limit`, `-Remaining` and `-Reset` when this request was counted (called by `wrap`).
    pub fn apply(&self, resp: &mut Response) {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let Some(q) = slot.quota.filter(|_| !slot.hidden) else {
            return;
        };
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(q.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(q.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(q.reset));
    }
}
