//! First-run setup (SPEC §3.23 `/setup`, §9.2 step 5): creates the first admin with the one-time token logged at
//! start-up; gone (404) as soon as any user exists.

use super::{
    double_submit_ok, is_form, message_page, pre_auth_csrf, read_form, render, see_other,
    session_cookie,
};
use crate::admin::{hash_password, valid_slug};
use crate::app::{App, AppState};
use crate::auth;
use crate::store::NewUser;
use askama::Template;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    signed_in: Option<String>,
    csrf_meta: Option<String>,
    token: String,
    csrf: String,
    username: String,
    display_name: String,
    email: String,
    errors: Vec<String>,
}

fn gone() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        None,
        "Not found",
        "There is nothing at this address.",
    )
}

async fn has_users(app: &App) -> bool {
    let store = app.store.clone();
    !matches!(
        tokio::task::spawn_blocking(move || store.count_users()).await,
        Ok(Ok(0))
    )
}

fn token_ok(app: &App, given: Option<&str>) -> bool {
    match (&app.setup_token, given) {
        (Some(t), Some(g)) => auth::ct_eq(t, g),
        _ => false,
    }
}

fn wrong_token() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        None,
        "Invalid setup link",
        "This setup link is not valid. Use the URL from the server log of this start.",
    )
}

fn form_page(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    token: String,
    fields: [String; 3],
    errors: Vec<String>,
) -> Response {
    let (csrf, set) = pre_auth_csrf(app, headers);
    let [username, display_name, email] = fields;
    let mut r = render(
        status,
        &SetupPage {
            signed_in: None,
            csrf_meta: None,
            token,
            csrf,
            username,
            display_name,
            email,
            errors,
        },
    );
    if let Some(set) = set {
        r.headers_mut().append(header::SET_COOKIE, set);
    }
    r
}

pub async fn setup_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if has_users(&app).await {
        return gone();
    }
    let token = q.get("token").map(String::as_str);
    if !token_ok(&app, token) {
        return wrong_token();
    }
    form_page(
        &app,
        &headers,
        StatusCode::OK,
        token.unwrap_or_default().to_string(),
        Default::default(),
        Vec::new(),
    )
}

pub async fn setup_submit(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if has_users(&app).await {
        return gone();
    }
    if !is_form(&headers) {
        return message_page(
            StatusCode::BAD_REQUEST,
            None,
            "Bad request",
            "Expected a form submission.",
        );
    }
    let form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !token_ok(&app, form.get("token")) {
        return wrong_token();
    }
    if !double_submit_ok(&headers, &form) {
        return super::csrf_failure(None);
    }
    let username = form.get("username").unwrap_or("").trim().to_string();
    let display_name = form.get("display_name").unwrap_or("").trim().to_string();
    let email = form.get("email").unwrap_or("").trim().to_string();
    let password = form.get("password").unwrap_or("");
    let confirm = form.get("password_confirm").unwrap_or("");
    // Field rules as for `user create` (SPEC §9.4).
    let mut errors = Vec::new();
    if !valid_slug(&username) {
        errors.push(
            "The username must be 1 to 39 lower-case letters, digits or inner hyphens.".to_string(),
        );
    }
    if !email.is_empty() && (!email.contains('@') || email.chars().count() > 254) {
        errors.push("The e-mail address is not valid.".to_string());
    }
    if display_name.chars().count() > 100 {
        errors.push("The display name is longer than 100 characters.".to_string());
    }
    if !(8..=1024).contains(&password.chars().count()) {
        errors.push("The password must be 8 to 1024 characters.".to_string());
    }
    if password != confirm {
        errors.push("The two passwords differ.".to_string());
    }
    let token = form.get("token").unwrap_or_default().to_string();
    if !errors.is_empty() {
        return form_page(
            &app,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            token,
            [username, display_name, email],
            errors,
        );
    }
    let pw = password.to_string();
    let hash = match tokio::task::spawn_blocking(move || hash_password(&pw)).await {
        Ok(Ok(h)) => h,
        _ => {
            return message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Something went wrong",
                "The password could not be stored. Try again.",
            );
        }
    };
    let store = app.store.clone();
    let new = NewUser {
        username,
        email: (!email.is_empty()).then_some(email),
        display_name: (!display_name.is_empty()).then_some(display_name),
        password_hash: Some(hash),
        is_admin: true,
        is_pro: false,
    };
    let created = tokio::task::spawn_blocking(move || store.create_first_admin(&new)).await;
    let user = match created {
        Ok(Ok(Some(u))) => u,
        // A concurrent submission won: the page is gone.
        Ok(Ok(None)) => return gone(),
        _ => {
            return message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Something went wrong",
                "The administrator could not be created. Try again.",
            );
        }
    };
    tracing::info!(user = %user.username, "first administrator created through /setup");
    match super::start_session(&app, &user.id).await {
        Some((value, _)) => {
            let mut r = see_other("/");
            r.headers_mut()
                .append(header::SET_COOKIE, session_cookie(&app, &value));
            r
        }
        None => see_other("/login"),
    }
}
