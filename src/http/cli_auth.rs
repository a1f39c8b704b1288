//! CLI login (SPEC §3.19–§3.21): start, the consent page (HTML forms and a JSON approval) and the exchange in
//! both dialects (seed `{pollToken}` and client `{sessionCode, state}`).

use crate::app::{App, AppState};
use crate::auth::{self, SCOPE_PUBLISH};
use crate::domain::{format_ts, now_ms};
use crate::error::AppError;
use crate::http::ClientIp;
use crate::http::extract::{
    JSON_LIMIT, check_declared_size, drain_if_refused, parse_json_object, read_body, required_auth,
};
use crate::http::limit::RateGate;
use crate::issue_path;
use crate::store::{Decided, Exchange, IssuePlan, LoginRequest, Session};
use crate::web::{self, Form, message_page};
use askama::Template;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};
use std::collections::HashMap;

/// `POST /api/v1/cli-auth/start`. Auth ignored; an empty body is `{}`.
pub async fn cli_auth_start(
    State(app): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Extension(gate): Extension<RateGate>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    check_declared_size(&headers, JSON_LIMIT)?;
    // Auth is ignored here, so the request counts in the client IP's bucket (SPEC §2.9).
    gate.anonymous(&app)?;
    let bytes = read_body(body, JSON_LIMIT).await?;
    let v = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_json_object(&headers, &bytes)?
    };
    let mut issues = Vec::new();
    let device = match v.get("deviceName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 100 => Some(s.clone()),
        Some(_) => {
            issues.push(crate::domain::Issue::new(
                issue_path!["deviceName"],
                "deviceName must be a string of at most 100 characters.",
            ));
            None
        }
    };
    let state = match v.get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if (8..=256).contains(&s.chars().count()) => Some(s.clone()),
        Some(_) => {
            issues.push(crate::domain::Issue::new(
                issue_path!["state"],
                "state must be a string of 8 to 256 characters.",
            ));
            None
        }
    };
    if !issues.is_empty() {
        return Err(AppError::issues(issues));
    }
    let poll = format!("poll_{}", auth::random_base62_43());
    let code = format!("auth_{}", auth::random_base62_43());
    let store = app.store.clone();
    let (ph, ah) = (auth::sha256_hex(&poll), auth::sha256_hex(&code));
    let now = now_ms();
    // 300 s (SPEC §3.19) unless a test configured a shorter life.
    let ttl_ms = app.config.login_ttl.as_millis() as i64;
    let req = tokio::task::spawn_blocking(move || {
        store.create_login_request(
            &ph,
            &ah,
            device.as_deref(),
            state.as_deref(),
            &ip.to_string(),
            now,
            ttl_ms,
        )
    })
    .await??;
    Ok(Json(json!({
        "pollToken": poll,
        "sessionCode": poll,
        "authUrl": format!("{}/api/v1/cli-auth/authorize?token={code}", app.public_url),
        "expiresIn": app.config.login_ttl.as_secs(),
        "expiresAt": format_ts(req.expires_at),
    }))
    .into_response())
}

/// `POST /api/v1/cli-auth/exchange`. The dialect is chosen by the body's shape (SPEC §3.21).
pub async fn cli_auth_exchange(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    check_declared_size(&headers, JSON_LIMIT)?;
    let bytes = read_body(body, JSON_LIMIT).await?;
    let v = parse_json_object(&headers, &bytes)?;
    let client = v.get("sessionCode").is_some();
    let secret = match (v.get("sessionCode"), v.get("pollToken")) {
        (Some(s), _) => s,
        (None, Some(p)) => p,
        (None, None) => {
            return Err(AppError::validation(
                issue_path!["pollToken"],
                "pollToken or sessionCode is required.",
            ));
        }
    };
    let invalid = || {
        if client {
            AppError::Custom {
                status: StatusCode::BAD_REQUEST,
                code: "INVALID_SESSION",
                message: "The login session is unknown, expired or already used.".into(),
            }
        } else {
            AppError::Custom {
                status: StatusCode::GONE,
                code: "POLL_TOKEN_EXPIRED",
                message: "The poll token is unknown, expired or already used.".into(),
            }
        }
    };
    let Some(secret) = secret.as_str() else {
        return Err(invalid());
    };
    let store = app.store.clone();
    let hash = auth::sha256_hex(secret);
    let Some(req) = tokio::task::spawn_blocking(move || store.login_by_poll_hash(&hash)).await??
    else {
        return Err(invalid());
    };
    // The state of start must be repeated exactly (constant time). In the seed dialect it only matters when
    // start had one (SPEC §3.21).
    let given = v.get("state").and_then(Value::as_str);
    let state_ok = match (req.state.as_deref(), given) {
        (Some(expected), Some(g)) => auth::ct_eq(expected, g),
        (Some(_), None) => false,
        (None, _) => true,
    };
    if !state_ok || (client && given.is_none()) {
        return Err(invalid());
    }
    let token = auth::generate_token();
    let plan = IssuePlan {
        hash: auth::sha256_hex(&token),
        prefix: auth::token_prefix(&token),
        default_days: app.config.cli_token_days,
    };
    let store = app.store.clone();
    let id = req.id.clone();
    let outcome =
        tokio::task::spawn_blocking(move || store.exchange_login(&id, &plan, now_ms())).await??;
    match outcome {
        Exchange::Pending if client => Err(AppError::Custom {
            status: StatusCode::BAD_REQUEST,
            code: "AUTHORIZATION_PENDING",
            message: "The login has not been approved yet.".into(),
        }),
        Exchange::Pending => {
            Ok((StatusCode::ACCEPTED, Json(json!({"status": "pending"}))).into_response())
        }
        Exchange::Invalid => Err(invalid()),
        Exchange::Denied => Err(AppError::Forbidden("The login request was denied.".into())),
        Exchange::Forbidden => Err(AppError::Forbidden(
            "The approval of this login is no longer valid.".into(),
        )),
        Exchange::Approved { token: rec, user } => Ok(Json(json!({
            "apiKey": token,
            "token": token,
            "scopes": rec.scopes,
            "user": {"name": user.username, "email": user.email},
            "expiresAt": rec.expires_at.map(format_ts),
        }))
        .into_response()),
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    signed_in: Option<String>,
    csrf_meta: Option<String>,
    username: String,
    device: Option<String>,
    requester_ip: String,
    age: String,
    different_ip: Option<String>,
    days: u32,
    expires_at: String,
    code: String,
    csrf: String,
}

fn ago(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        0..=59 => format!("{s} second{} ago", if s == 1 { "" } else { "s" }),
        _ => {
            let m = s / 60;
            format!("{m} minute{} ago", if m == 1 { "" } else { "s" })
        }
    }
}

async fn find_by_code(app: &App, code: &str) -> Result<Option<LoginRequest>, AppError> {
    let store = app.store.clone();
    let hash = auth::sha256_hex(code);
    Ok(tokio::task::spawn_blocking(move || store.login_by_auth_hash(&hash)).await??)
}

/// The error page for a request that cannot be decided any more, or None if it is pending and live.
fn unusable(req: &Option<LoginRequest>, session: Option<&Session>) -> Option<Response> {
    let Some(req) = req else {
        return Some(message_page(
            StatusCode::NOT_FOUND,
            session,
            "Invalid sign-in link",
            "This sign-in link is invalid. Run `tank login` again.",
        ));
    };
    let gone = |m: &str| {
        Some(message_page(
            StatusCode::GONE,
            session,
            "Sign-in link used",
            m,
        ))
    };
    if req.consumed {
        return gone("This sign-in link has already been used. Run `tank login` again.");
    }
    match req.status.as_str() {
        "approved" => return gone("This sign-in request was already approved."),
        "denied" => return gone("This sign-in request was already denied."),
        _ => {}
    }
    if req.expires_at <= now_ms() {
        return Some(message_page(
            StatusCode::GONE,
            session,
            "Sign-in link expired",
            "This sign-in link has expired. Run `tank login` again.",
        ));
    }
    None
}

fn consent(
    app: &App,
    session: &Session,
    req: &LoginRequest,
    code: &str,
    browser_ip: std::net::IpAddr,
) -> Response {
    let browser = browser_ip.to_string();
    web::render(
        StatusCode::OK,
        &ConsentPage {
            signed_in: Some(session.user.username.clone()),
            csrf_meta: Some(session.csrf_token.clone()),
            username: session.user.username.clone(),
            device: req.device_name.clone(),
            requester_ip: req.client_ip.clone(),
            age: ago(now_ms() - req.created_at),
            different_ip: (browser != req.client_ip).then_some(browser),
            days: app.config.cli_token_days,
            expires_at: format_ts(req.expires_at),
            code: code.to_string(),
            csrf: session.csrf_token.clone(),
        },
    )
}

fn sign_in_form(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    req: &LoginRequest,
    code: &str,
    login: String,
    error: Option<&str>,
) -> Response {
    let (csrf, set) = web::pre_auth_csrf(app, headers);
    let device = req.device_name.as_deref().unwrap_or("Unknown device");
    let mut r = web::render(
        status,
        &web::LoginPage {
            signed_in: None,
            csrf_meta: None,
            action: "/api/v1/cli-auth/authorize",
            csrf,
            hidden: vec![
                ("token", code.to_string()),
                ("action", "signin".to_string()),
            ],
            login,
            error,
            intro: Some(format!(
                "Sign in to review a CLI sign-in request. Reported by the device: {device}"
            )),
        },
    );
    if let Some(set) = set {
        r.headers_mut().append(header::SET_COOKIE, set);
    }
    r
}

/// `GET /api/v1/cli-auth/authorize?token=<authorisation code>` (HTML).
pub async fn cli_auth_authorize_page(
    State(app): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let code = q.get("token").cloned().unwrap_or_default();
    let session = web::current_session(&app, &headers).await;
    let req = match find_by_code(&app, &code).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if let Some(page) = unusable(&req, session.as_ref()) {
        return page;
    }
    let req = req.expect("checked by unusable");
    match session {
        Some(s) => consent(&app, &s, &req, &code, ip),
        None => sign_in_form(
            &app,
            &headers,
            StatusCode::OK,
            &req,
            &code,
            String::new(),
            None,
        ),
    }
}

/// `POST /api/v1/cli-auth/authorize`: form actions (signin, approve, deny) or the JSON approval.
pub async fn cli_auth_authorize(
    State(app): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match ct.as_str() {
        "application/x-www-form-urlencoded" => match web::read_form(&headers, body).await {
            Ok(form) => authorize_form(&app, ip, &headers, form).await,
            Err(r) => r,
        },
        "application/json" => authorize_json(&app, &headers, body)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        _ => AppError::BadRequest(
            "Use application/x-www-form-urlencoded or application/json.".into(),
        )
        .into_response(),
    }
}

async fn authorize_form(
    app: &App,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    form: Form,
) -> Response {
    let code = form.get("token").unwrap_or("").to_string();
    let action = form.get("action").unwrap_or("");
    let session = web::current_session(app, headers).await;
    if action == "signin" {
        if !web::double_submit_ok(headers, &form) {
            return web::csrf_failure(None);
        }
        let req = match find_by_code(app, &code).await {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
        if let Some(page) = unusable(&req, None) {
            return page;
        }
        let req = req.expect("checked by unusable");
        let login = form.get("login").unwrap_or("").to_string();
        let password = form.get("password").unwrap_or("");
        return match web::sign_in_check(app, ip, &login, password).await {
            Err(web::SignInError::Throttled) => web::throttled_page(None),
            Err(web::SignInError::Invalid) => sign_in_form(
                app,
                headers,
                StatusCode::UNAUTHORIZED,
                &req,
                &code,
                login,
                Some("Invalid username or password."),
            ),
            Ok(user) => match web::start_session(app, &user.id).await {
                None => message_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "Something went wrong",
                    "The session could not be created. Try again.",
                ),
                Some((value, csrf)) => {
                    let s = Session {
                        user,
                        csrf_token: csrf,
                        expires_at: now_ms() + web::SESSION_TTL_MS,
                    };
                    let mut r = consent(app, &s, &req, &code, ip);
                    r.headers_mut()
                        .append(header::SET_COOKIE, web::session_cookie(app, &value));
                    r
                }
            },
        };
    }
    if action != "approve" && action != "deny" {
        return message_page(
            StatusCode::BAD_REQUEST,
            session.as_ref(),
            "Bad request",
            "Unknown action.",
        );
    }
    let Some(session) = session else {
        return web::csrf_failure(None);
    };
    if !web::session_csrf_ok(&session, &form) {
        return web::csrf_failure(Some(&session));
    }
    let req = match find_by_code(app, &code).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if let Some(page) = unusable(&req, Some(&session)) {
        return page;
    }
    let req = req.expect("checked by unusable");
    let approve = action == "approve";
    let store = app.store.clone();
    let (id, uid) = (req.id.clone(), session.user.id.clone());
    let decided = tokio::task::spawn_blocking(move || {
        store.decide_login(&id, approve, &uid, "session", now_ms())
    })
    .await;
    match decided {
        Ok(Ok(Decided::Done)) if approve => message_page(
            StatusCode::OK,
            Some(&session),
            "Approved",
            "Approved — you can close this window and return to your terminal.",
        ),
        Ok(Ok(Decided::Done)) => {
            message_page(StatusCode::OK, Some(&session), "Denied", "Request denied.")
        }
        Ok(Ok(_)) => {
            let req = find_by_code(app, &code).await.ok().flatten();
            unusable(&req, Some(&session)).unwrap_or_else(|| {
                message_page(
                    StatusCode::GONE,
                    Some(&session),
                    "Sign-in link used",
                    "This request was already decided.",
                )
            })
        }
        _ => message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(&session),
            "Something went wrong",
            "The decision could not be saved.",
        ),
    }
}

async fn authorize_json(
    app: &App,
    headers: &HeaderMap,
    mut body: Body,
) -> Result<Response, AppError> {
    check_declared_size(headers, JSON_LIMIT)?;
    let checked = required_auth(app, headers)
        .await
        .and_then(|id| id.require_scope(SCOPE_PUBLISH).map(|()| id));
    let id = drain_if_refused(checked, headers, &mut body, JSON_LIMIT).await?;
    let bytes = read_body(body, JSON_LIMIT).await?;
    let v = parse_json_object(headers, &bytes)?;
    let approve = match v.get("action").and_then(Value::as_str) {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return Err(AppError::validation(
                issue_path!["action"],
                "action must be approve or deny.",
            ));
        }
    };
    let lookup = if let Some(t) = v.get("token") {
        t.as_str().map(|s| (true, s.to_string()))
    } else if let Some(p) = v.get("pollToken").or_else(|| v.get("sessionCode")) {
        p.as_str().map(|s| (false, s.to_string()))
    } else {
        None
    };
    let Some((by_code, secret)) = lookup.filter(|(_, s)| !s.is_empty()) else {
        return Err(AppError::validation(
            issue_path!["token"],
            "token, pollToken or sessionCode is required.",
        ));
    };
    let store = app.store.clone();
    let hash = auth::sha256_hex(&secret);
    let req = tokio::task::spawn_blocking(move || {
        if by_code {
            store.login_by_auth_hash(&hash)
        } else {
            store.login_by_poll_hash(&hash)
        }
    })
    .await??;
    let not_found = || AppError::NotFound("The login request was not found or has expired.".into());
    let Some(req) = req else {
        return Err(not_found());
    };
    let store = app.store.clone();
    let (rid, uid, tid) = (req.id.clone(), id.user.id.clone(), id.token.id.clone());
    let decided = tokio::task::spawn_blocking(move || {
        store.decide_login(&rid, approve, &uid, &tid, now_ms())
    })
    .await??;
    match decided {
        Decided::Done => Ok(Json(json!({
            "success": true,
            "status": if approve { "approved" } else { "denied" },
        }))
        .into_response()),
        Decided::Gone => Err(not_found()),
        Decided::AlreadyDecided => Err(AppError::Conflict(
            "The login request was already decided.".into(),
        )),
    }
}
