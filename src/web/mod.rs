//! Server-rendered pages (askama) beside the JSON API: sign-in, first-run setup, API tokens, the home page,
//! embedded assets. Pages work without JavaScript and load nothing from other hosts (SPEC §2.12, §3.23).
//! Shared plumbing lives here: cookies, sessions, CSRF (session token or double-submit cookie), form bodies,
//! the sign-in throttle and the rendering of status pages.

mod home;
pub mod login;
mod markdown;
mod scans;
mod setup;
mod skill;

pub use skill::page_path as skill_page_path;
mod tokens;

use crate::app::{App, AppState};
use crate::auth;
use crate::domain::now_ms;
use crate::http::extract::{parse_query, read_body};
use crate::store::Session;
use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use login::{LoginPage, SignInError, sign_in_check, start_session};

/// Absolute session lifetime: 14 days (SPEC §2.8).
pub const SESSION_TTL_MS: i64 = 14 * 86_400_000;
/// Lifetime of the double-submit CSRF cookie: 2 hours (SPEC §2.8).
const CSRF_COOKIE_SECS: i64 = 7200;
/// Web form bodies: 64 KiB (SPEC §2.5).
pub const FORM_LIMIT: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::index))
        .route("/login", get(login::login_page).post(login::login_submit))
        .route("/logout", post(login::logout))
        .route("/setup", get(setup::setup_page).post(setup::setup_submit))
        .route(
            "/account/tokens",
            get(tokens::tokens_page).post(tokens::create_token),
        )
        .route("/account/tokens/{id}/revoke", post(tokens::revoke_token))
        .route(
            "/skills/{*rest}",
            get(skill::skill_page).post(skill::star_form),
        )
        .route("/scans/{scan_id}", get(scans::scan_page))
        .route("/assets/{file}", get(asset))
        .route("/favicon.ico", get(favicon))
}

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

fn embedded(name: &str) -> Response {
    match Assets::get(name) {
        Some(f) => {
            let ct = if name.ends_with(".css") {
                "text/css; charset=utf-8"
            } else if name.ends_with(".ico") {
                "image/x-icon"
            } else {
                "application/octet-stream"
            };
            let mut r = Response::new(Body::from(f.data.into_owned()));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            r
        }
        None => message_page(
            StatusCode::NOT_FOUND,
            None,
            "Not found",
            "There is nothing at this address.",
        ),
    }
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    embedded(&file)
}

async fn favicon() -> Response {
    embedded("favicon.ico")
}

/// What every page's layout needs: the signed-in username and the CSRF token for the meta tag.
#[derive(Default)]
pub struct Chrome {
    pub signed_in: Option<String>,
    pub csrf_meta: Option<String>,
}

impl Chrome {
    pub fn of(session: &Option<Session>) -> Chrome {
        match session {
            Some(s) => Chrome {
                signed_in: Some(s.user.username.clone()),
                csrf_meta: Some(s.csrf_token.clone()),
            },
            None => Chrome::default(),
        }
    }
}

/// Renders a page with the §2.12 headers.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut r = (status, html).into_response();
            crate::http::html_headers(r.headers_mut());
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            let mut r = (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response();
            crate::http::html_headers(r.headers_mut());
            r
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    signed_in: Option<String>,
    csrf_meta: Option<String>,
    heading: &'a str,
    message: &'a str,
}

/// A status page (403, 404, 410, 429 …).
pub fn message_page(
    status: StatusCode,
    session: Option<&Session>,
    heading: &str,
    message: &str,
) -> Response {
    render(
        status,
        &MessagePage {
            signed_in: session.map(|s| s.user.username.clone()),
            csrf_meta: session.map(|s| s.csrf_token.clone()),
            heading,
            message,
        },
    )
}

/// The value of cookie `name` from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn secure_suffix(app: &App) -> &'static str {
    if app.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

pub fn session_cookie(app: &App, value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "tank_session={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
        SESSION_TTL_MS / 1000,
        secure_suffix(app)
    ))
    .expect("cookie is ASCII")
}

pub fn clear_session_cookie(app: &App) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "tank_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        secure_suffix(app)
    ))
    .expect("cookie is ASCII")
}

/// The session of the request, if its cookie is valid (an invalid one is treated as absent, SPEC §2.8).
pub async fn current_session(app: &App, headers: &HeaderMap) -> Option<Session> {
    let value = cookie(headers, "tank_session")?;
    if value.is_empty() || value.len() > 128 {
        return None;
    }
    let hash = auth::sha256_hex(&value);
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || store.session_by_hash(&hash, now_ms()))
        .await
        .ok()?
        .ok()?
}

/// The double-submit CSRF token for forms shown before sign-in: the existing valid `tank_csrf` cookie is reused,
/// else a new one is issued (returned with its Set-Cookie value).
pub fn pre_auth_csrf(app: &App, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(v) = cookie(headers, "tank_csrf")
        .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return (v, None);
    }
    let token = auth::random_base62_43();
    let set = HeaderValue::from_str(&format!(
        "tank_csrf={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={CSRF_COOKIE_SECS}{}",
        secure_suffix(app)
    ))
    .expect("cookie is ASCII");
    (token, Some(set))
}

/// Checks a double-submit form: the hidden field equals the `tank_csrf` cookie (constant time).
pub fn double_submit_ok(headers: &HeaderMap, form: &Form) -> bool {
    match (cookie(headers, "tank_csrf"), form.get("csrf_token")) {
        (Some(c), Some(f)) => !c.is_empty() && auth::ct_eq(&c, f),
        _ => false,
    }
}

/// Checks a signed-in form against the session's CSRF token (constant time).
pub fn session_csrf_ok(session: &Session, form: &Form) -> bool {
    form.get("csrf_token")
        .is_some_and(|f| auth::ct_eq(&session.csrf_token, f))
}

pub fn csrf_failure(session: Option<&Session>) -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        session,
        "Form expired",
        "The form could not be verified. Go back, reload the page and try again.",
    )
}

/// A decoded `application/x-www-form-urlencoded` body: first occurrence wins, but repeated keys (checkboxes) are
/// kept for `get_all`.
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Reads a form body (≤ 64 KiB). Errors are pages, not JSON.
pub async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form, Response> {
    let too_large = || {
        message_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            "Form too large",
            "The submitted form is larger than this server accepts.",
        )
    };
    if crate::http::extract::content_length(headers).is_some_and(|n| n > FORM_LIMIT as u64) {
        return Err(too_large());
    }
    let bytes = read_body(body, FORM_LIMIT).await.map_err(|_| too_large())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad_form())?;
    let mut pairs = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let decoded = parse_query(Some(pair)).map_err(|_| bad_form())?;
        pairs.extend(decoded);
    }
    Ok(Form { pairs })
}

fn bad_form() -> Response {
    message_page(
        StatusCode::BAD_REQUEST,
        None,
        "Bad request",
        "The submitted form could not be read.",
    )
}

/// In-memory sign-in throttle (SPEC §3.23): at most 10 failures per (IP, login) and 100 per IP per 15 minutes.
/// Reset on restart (chosen).
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<(IpAddr, String), Vec<Instant>>>,
    per_ip: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bound on tracked keys, so that a flood of distinct logins cannot grow memory without limit.
const THROTTLE_MAX_KEYS: usize = 100_000;

impl LoginThrottle {
    fn prune(v: &mut Vec<Instant>, now: Instant) {
        v.retain(|t| now.duration_since(*t) < THROTTLE_WINDOW);
    }

    pub fn blocked(&self, ip: IpAddr, login: &str) -> bool {
        let now = Instant::now();
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key_blocked = f.get_mut(&(ip, login.to_lowercase())).is_some_and(|v| {
            Self::prune(v, now);
            v.len() >= 10
        });
        drop(f);
        let mut p = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let ip_blocked = p.get_mut(&ip).is_some_and(|v| {
            Self::prune(v, now);
            v.len() >= 100
        });
        key_blocked || ip_blocked
    }

    pub fn record_failure(&self, ip: IpAddr, login: &str) {
        let now = Instant::now();
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if f.len() >= THROTTLE_MAX_KEYS {
            f.retain(|_, v| {
                Self::prune(v, now);
                !v.is_empty()
            });
        }
        f.entry((ip, login.to_lowercase())).or_default().push(now);
        drop(f);
        let mut p = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if p.len() >= THROTTLE_MAX_KEYS {
            p.retain(|_, v| {
                Self::prune(v, now);
                !v.is_empty()
            });
        }
        p.entry(ip).or_default().push(now);
    }
}

pub fn throttled_page(session: Option<&Session>) -> Response {
    message_page(
        StatusCode::TOO_MANY_REQUESTS,
        session,
        "Too many attempts",
        "Too many failed sign-in attempts. Wait 15 minutes and try again.",
    )
}

/// A 303 See Other (web pages only; never under /api/, SPEC §2.11).
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `next` is honoured only if it is a local path (SPEC §3.23 `/login`).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !matches!(n.as_bytes().get(1), Some(b'/') | Some(b'\\'))
                && !n.contains('\\')
                && !n.bytes().any(|b| b < 0x20 || b == 0x7f || b == b' ') =>
        {
            n
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_rules() {
        assert_eq!(safe_next(Some("/account/tokens")), "/account/tokens");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(Some("https://evil")), "/");
        assert_eq!(safe_next(Some("/a b")), "/");
        assert_eq!(safe_next(Some("/a\\b")), "/");
        assert_eq!(safe_next(Some("/a\tb")), "/");
        assert_eq!(safe_next(Some("/%2F%2Fx")), "/%2F%2Fx");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn throttle_limits() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..9 {
            t.record_failure(ip, "alice");
        }
        assert!(!t.blocked(ip, "alice"));
        t.record_failure(ip, "Alice");
        assert!(t.blocked(ip, "alice"));
        assert!(!t.blocked(ip, "bob"));
        let other: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(!t.blocked(other, "alice"));
    }

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tank_session=xyz; b=2"),
        );
        assert_eq!(cookie(&h, "tank_session").as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
