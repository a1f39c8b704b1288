//! Our own request readers: every failure is an `AppError` in the envelope (SPEC §2.5, §2.4, §2.8), never an
//! axum rejection.

use crate::app::App;
use crate::auth;
use crate::error::AppError;
use crate::store::{TokenRecord, User, Viewer};
use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::BodyExt;

/// 2 MiB: any JSON body (SPEC §2.5).
pub const JSON_LIMIT: usize = 2 * 1024 * 1024;
/// 8 MiB: publish start and confirm bodies (SPEC §2.5).
pub const PUBLISH_JSON_LIMIT: usize = 8 * 1024 * 1024;

/// The declared `Content-Length`, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// 413 when the declared length is over `limit` (checked before authentication, SPEC §2.7 check order).
pub fn check_declared_size(headers: &HeaderMap, limit: usize) -> Result<(), AppError> {
    match content_length(headers) {
        Some(n) if n > limit as u64 => Err(AppError::PayloadTooLarge),
        _ => Ok(()),
    }
}

/// Reads the whole body, failing with 413 as soon as `limit` is passed.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, AppError> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(AppError::PayloadTooLarge),
        Err(_) => Err(AppError::BadRequest(
            "The request body could not be read.".into(),
        )),
    }
}

/// `checked`, after reading and dropping the request body (at most `limit` bytes of it) when it is a refusal.
/// A handler that refuses a request before reading its body passes the refusal through here, so that a client
/// still sending receives the answer: hyper closes a connection whose request body was left unread, and the
/// client's bytes still in flight turn that close into a reset. The body's no-progress timeout (`http::idle`)
/// bounds a client that stalls. A 413 is passed on at once: it answers a declared size over the limit. So is a
/// refusal of a request with `Expect: 100-continue`: its client waits for our answer before it sends the body,
/// and reading the body would ask it to send.
pub async fn drain_if_refused<T>(
    checked: Result<T, AppError>,
    headers: &HeaderMap,
    body: &mut Body,
    limit: usize,
) -> Result<T, AppError> {
    let expects_continue = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    if !expects_continue && matches!(checked, Err(ref e) if !matches!(e, AppError::PayloadTooLarge))
    {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > limit {
                break;
            }
        }
    }
    checked
}

/// Parses a JSON body whatever the Content-Type, except multipart (SPEC §2.5). A non-object → 422 path [].
pub fn parse_json_object(headers: &HeaderMap, bytes: &[u8]) -> Result<serde_json::Value, AppError> {
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if is_multipart {
        return Err(AppError::BadRequest(
            "Expected a JSON body, not multipart/form-data.".into(),
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| AppError::BadRequest("The request body is not valid JSON.".into()))?;
    if !v.is_object() {
        return Err(AppError::validation(vec![], "Expected a JSON object."));
    }
    Ok(v)
}

/// Decodes a query string (SPEC §2.4): `+` is a space, `%XX` decoded, UTF-8 required (else 400), first
/// occurrence of a repeated parameter wins, unknown parameters ignored.
pub fn parse_query(query: Option<&str>) -> Result<Vec<(String, String)>, AppError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let Some(q) = query else {
        return Ok(out);
    };
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode_form_component(k)?;
        let v = decode_form_component(v)?;
        if !out.iter().any(|(ek, _)| ek == &k) {
            out.push((k, v));
        }
    }
    Ok(out)
}

pub fn query_get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn decode_form_component(s: &str) -> Result<String, AppError> {
    let bad =
        || AppError::BadRequest("The query string is not valid UTF-8 percent-encoding.".into());
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let h = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(h, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Percent-decodes one path segment once (SPEC §2.3). Invalid encoding or UTF-8 → 400.
pub fn decode_path_segment(s: &str) -> Result<String, AppError> {
    let bad = || AppError::BadRequest("The path is not valid UTF-8 percent-encoding.".into());
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let h = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(h, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// A caller identified by a valid Bearer token.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    pub token: TokenRecord,
}

impl Identity {
    pub fn has_scope(&self, scope: &str) -> bool {
        auth::has_scope(&self.token.scopes, scope)
    }

    /// Visibility rights of this caller (admin only with an admin token, SPEC §6).
    pub fn viewer(&self) -> Viewer {
        Viewer {
            user_id: Some(self.user.id.clone()),
            username: Some(self.user.username.clone()),
            admin: self.user.is_admin && self.has_scope(auth::SCOPE_ADMIN),
        }
    }

    pub fn require_scope(&self, scope: &str) -> Result<(), AppError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "This token lacks the {scope} scope."
            )))
        }
    }
}

pub fn viewer_of(id: &Option<Identity>) -> Viewer {
    id.as_ref().map(Identity::viewer).unwrap_or_default()
}

/// Optional Bearer authentication (SPEC §2.8): absent → None; anything presented that is not a valid token →
/// 401 (never a silent downgrade to anonymous).
pub async fn optional_auth(app: &App, headers: &HeaderMap) -> Result<Option<Identity>, AppError> {
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = AppError::Unauthorized { invalid: true };
    let raw = raw
        .to_str()
        .map_err(|_| AppError::Unauthorized { invalid: true })?;
    let (scheme, creds) = raw.trim().split_once(' ').unwrap_or((raw.trim(), ""));
    let creds = creds.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || creds.is_empty() || !creds.starts_with("tank_") {
        return Err(invalid);
    }
    let hash = auth::sha256_hex(creds);
    let store = app.store.clone();
    let h = hash.clone();
    let found = tokio::task::spawn_blocking(move || store.token_by_hash(&h)).await??;
    let Some((token, user, stored_hash)) = found else {
        return Err(invalid);
    };
    let now = crate::domain::now_ms();
    if !auth::ct_eq(&stored_hash, &hash)
        || token.revoked_at.is_some()
        || token.expires_at.is_some_and(|e| e <= now)
        || user.disabled
    {
        return Err(invalid);
    }
    if token.last_used_at.is_none_or(|t| t <= now - 60_000) {
        let store = app.store.clone();
        let id = token.id.clone();
        // Best effort: a failed last-use update never fails the request.
        let _ = tokio::task::spawn_blocking(move || store.touch_token(&id, now)).await;
    }
    Ok(Some(Identity { user, token }))
}

/// Required Bearer authentication: absent → 401 without `error="invalid_token"`.
pub async fn required_auth(app: &App, headers: &HeaderMap) -> Result<Identity, AppError> {
    optional_auth(app, headers)
        .await?
        .ok_or(AppError::Unauthorized { invalid: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query(Some("q=seo+audit&limit=5&q=other&x=%40a%2Fb")).unwrap();
        assert_eq!(query_get(&q, "q"), Some("seo audit"));
        assert_eq!(query_get(&q, "limit"), Some("5"));
        assert_eq!(query_get(&q, "x"), Some("@a/b"));
        assert!(parse_query(Some("q=%ff")).is_err());
        assert!(parse_query(Some("q=%4")).is_err());
    }

    #[test]
    fn path_decoding() {
        assert_eq!(decode_path_segment("%40acme%2Fx").unwrap(), "@acme/x");
        assert_eq!(decode_path_segment("a+b").unwrap(), "a+b");
        assert_eq!(decode_path_segment("%2540").unwrap(), "%40");
        assert!(decode_path_segment("%zz").is_err());
        assert!(decode_path_segment("%c3").is_err());
    }
}
