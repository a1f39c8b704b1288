//! The API-token page of a signed-in user (SPEC §3.23 `/account/tokens`): list, create (shown once), revoke.

use super::{
    Chrome, csrf_failure, current_session, message_page, read_form, render, see_other,
    session_csrf_ok,
};
use crate::app::{App, AppState};
use crate::auth::{self, SCOPE_ADMIN};
use crate::domain::{format_ts, now_ms};
use crate::store::{NewToken, Session};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

pub struct TokenRow {
    pub id: String,
    pub label: String,
    pub prefix: String,
    pub scopes: String,
    pub created: String,
    /// `YYYY-MM-DD HH:MM` for display; the full timestamp stays in the `datetime` attribute.
    pub created_short: String,
    pub expires: String,
    pub last_used: String,
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    signed_in: Option<String>,
    csrf_meta: Option<String>,
    csrf: String,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
    errors: Vec<String>,
    is_admin: bool,
}

async fn page(
    app: &App,
    session: &Session,
    status: StatusCode,
    new_token: Option<String>,
    errors: Vec<String>,
) -> Response {
    let store = app.store.clone();
    let uid = session.user.id.clone();
    let tokens = match tokio::task::spawn_blocking(move || store.list_tokens(&uid)).await {
        Ok(Ok(t)) => t,
        _ => {
            return message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(session),
                "Something went wrong",
                "Your tokens could not be loaded.",
            );
        }
    };
    let now = now_ms();
    let short = |ms: i64| format_ts(ms)[..16].replace('T', " ");
    let never = |v: Option<i64>, none: &str| v.map(short).unwrap_or_else(|| none.to_string());
    let rows = tokens
        .iter()
        .map(|t| TokenRow {
            id: t.id.clone(),
            label: t.label.clone(),
            prefix: t.prefix.clone(),
            scopes: t.scopes.join(", "),
            created: format_ts(t.created_at),
            created_short: short(t.created_at),
            expires: never(t.expires_at, "never"),
            last_used: never(t.last_used_at, "never"),
            status: t.status(now),
        })
        .collect();
    let chrome = Chrome::of(&Some(session.clone()));
    render(
        status,
        &TokensPage {
            signed_in: chrome.signed_in,
            csrf_meta: chrome.csrf_meta,
            csrf: session.csrf_token.clone(),
            tokens: rows,
            new_token,
            errors,
            is_admin: session.user.is_admin,
        },
    )
}

pub async fn tokens_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match current_session(&app, &headers).await {
        Some(s) => page(&app, &s, StatusCode::OK, None, Vec::new()).await,
        None => see_other("/login?next=/account/tokens"),
    }
}

pub async fn create_token(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let Some(session) = current_session(&app, &headers).await else {
        return see_other("/login?next=/account/tokens");
    };
    let form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !session_csrf_ok(&session, &form) {
        return csrf_failure(Some(&session));
    }
    let label = form.get("label").unwrap_or("").trim().to_string();
    let scopes: Vec<String> = form
        .get_all("scopes")
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut errors = Vec::new();
    if label.is_empty() || label.chars().count() > 64 {
        errors.push("The label must be 1 to 64 characters.".to_string());
    }
    let allowed =
        |s: &str| auth::ALL_SCOPES.contains(&s) && (s != SCOPE_ADMIN || session.user.is_admin);
    if scopes.is_empty() || !scopes.iter().all(|s| allowed(s)) {
        errors.push("Choose at least one scope you may grant.".to_string());
    }
    let days: Option<i64> = match form.get("expires_in_days") {
        Some("30") => Some(30),
        Some("90") => Some(90),
        Some("365") => Some(365),
        Some("never") => None,
        _ => {
            errors.push("Choose an expiry.".to_string());
            None
        }
    };
    if !errors.is_empty() {
        return page(
            &app,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            errors,
        )
        .await;
    }
    let token = auth::generate_token();
    let new = NewToken {
        user_id: session.user.id.clone(),
        hash: auth::sha256_hex(&token),
        prefix: auth::token_prefix(&token),
        label,
        scopes,
        expires_at: days.map(|d| now_ms() + d * 86_400_000),
        approved_by: None,
    };
    let store = app.store.clone();
    match tokio::task::spawn_blocking(move || store.create_token(&new)).await {
        // Shown once, only after its row committed (SPEC §4.4 item 6).
        Ok(Ok(_)) => page(&app, &session, StatusCode::OK, Some(token), Vec::new()).await,
        _ => message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(&session),
            "Something went wrong",
            "The token could not be created.",
        ),
    }
}

pub async fn revoke_token(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(session) = current_session(&app, &headers).await else {
        return see_other("/login?next=/account/tokens");
    };
    let form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !session_csrf_ok(&session, &form) {
        return csrf_failure(Some(&session));
    }
    let store = app.store.clone();
    let uid = session.user.id.clone();
    let result = tokio::task::spawn_blocking(move || {
        // Only the user's own tokens; another user's id is answered as unknown.
        match store.token_by_id(&id)? {
            Some(t) if t.user_id == uid => store.revoke_token(&id).map(|_| true),
            _ => Ok(false),
        }
    })
    .await;
    match result {
        Ok(Ok(true)) => see_other("/account/tokens"),
        Ok(Ok(false)) => message_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "Not found",
            "There is no such token.",
        ),
        _ => message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(&session),
            "Something went wrong",
            "The token could not be revoked.",
        ),
    }
}
