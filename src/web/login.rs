//! Sign-in and sign-out (SPEC §3.23 `/login`, `/logout`), and the credential check the consent page shares.

use super::{
    Form, SESSION_TTL_MS, clear_session_cookie, csrf_failure, current_session, double_submit_ok,
    is_form, pre_auth_csrf, read_form, render, safe_next, see_other, session_cookie,
    session_csrf_ok, throttled_page,
};
use crate::app::{App, AppState};
use crate::auth;
use crate::domain::now_ms;
use crate::http::ClientIp;
use crate::store::User;
use askama::Template;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub signed_in: Option<String>,
    pub csrf_meta: Option<String>,
    pub action: &'a str,
    pub csrf: String,
    pub hidden: Vec<(&'a str, String)>,
    pub login: String,
    pub error: Option<&'a str>,
    pub intro: Option<String>,
}

pub enum SignInError {
    Invalid,
    Throttled,
}

/// A fixed argon2id hash checked for unknown logins, so that every failure costs the same time.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| {
        crate::admin::hash_password(&auth::random_base62_43())
            .unwrap_or_else(|_| String::from("$argon2id$invalid"))
    })
}

fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::PasswordVerifier;
    match argon2::PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Checks credentials under the throttle (SPEC §3.23): disabled users and users without a password fail.
pub async fn sign_in_check(
    app: &App,
    ip: IpAddr,
    login: &str,
    password: &str,
) -> Result<User, SignInError> {
    if app.throttle.blocked(ip, login) {
        return Err(SignInError::Throttled);
    }
    let store = app.store.clone();
    let l = login.to_string();
    let pw = password.to_string();
    let user = tokio::task::spawn_blocking(move || {
        let user = store.user_by_login(&l).ok().flatten();
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let ok = verify_password(hash.as_deref().unwrap_or_else(|| dummy_hash()), &pw);
        user.filter(|u| ok && hash.is_some() && !u.disabled)
    })
    .await
    .ok()
    .flatten();
    match user {
        Some(u) => Ok(u),
        None => {
            app.throttle.record_failure(ip, login);
            Err(SignInError::Invalid)
        }
    }
}

/// Starts a new session (a fresh id at every sign-in, so a planted cookie is never promoted). Returns the
/// cookie value and the session's CSRF token.
pub async fn start_session(app: &App, user_id: &str) -> Option<(String, String)> {
    let value = auth::random_base62_43();
    let csrf = auth::random_base62_43();
    let store = app.store.clone();
    let (h, c, uid) = (auth::sha256_hex(&value), csrf.clone(), user_id.to_string());
    tokio::task::spawn_blocking(move || {
        store.create_session(&uid, &h, &c, now_ms(), SESSION_TTL_MS)
    })
    .await
    .ok()?
    .ok()?;
    Some((value, csrf))
}

fn login_form(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    login: String,
    next: String,
    error: Option<&str>,
) -> Response {
    let (csrf, set) = pre_auth_csrf(app, headers);
    let mut r = render(
        status,
        &LoginPage {
            signed_in: None,
            csrf_meta: None,
            action: "/login",
            csrf,
            hidden: vec![("next", next)],
            login,
            error,
            intro: None,
        },
    );
    if let Some(set) = set {
        r.headers_mut().append(header::SET_COOKIE, set);
    }
    r
}

pub async fn login_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let next = q.get("next").cloned().unwrap_or_default();
    if current_session(&app, &headers).await.is_some() {
        return see_other(safe_next(Some(&next)));
    }
    login_form(&app, &headers, StatusCode::OK, String::new(), next, None)
}

pub async fn login_submit(
    State(app): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !is_form(&headers) {
        return super::message_page(
            StatusCode::BAD_REQUEST,
            None,
            "Bad request",
            "Expected a form submission.",
        );
    }
    let form: Form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !double_submit_ok(&headers, &form) {
        return csrf_failure(None);
    }
    let login = form.get("login").unwrap_or("").to_string();
    let password = form.get("password").unwrap_or("");
    let next = form.get("next").unwrap_or("").to_string();
    match sign_in_check(&app, ip, &login, password).await {
        Err(SignInError::Throttled) => throttled_page(None),
        Err(SignInError::Invalid) => login_form(
            &app,
            &headers,
            StatusCode::UNAUTHORIZED,
            login,
            next,
            Some("Invalid username or password."),
        ),
        Ok(user) => match start_session(&app, &user.id).await {
            None => super::message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Something went wrong",
                "The session could not be created. Try again.",
            ),
            Some((value, _)) => {
                // `Location` is `next` verbatim when it is a local path (SPEC §3.23).
                let mut r = see_other(safe_next(Some(&next)));
                r.headers_mut()
                    .append(header::SET_COOKIE, session_cookie(&app, &value));
                r
            }
        },
    }
}

pub async fn logout(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(session) = current_session(&app, &headers).await else {
        return see_other("/");
    };
    if !session_csrf_ok(&session, &form) {
        return csrf_failure(Some(&session));
    }
    if let Some(value) = super::cookie(&headers, "tank_session") {
        let store = app.store.clone();
        let h = auth::sha256_hex(&value);
        let _ = tokio::task::spawn_blocking(move || store.delete_session(&h)).await;
    }
    let mut r = see_other("/");
    r.headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie(&app));
    r
}
