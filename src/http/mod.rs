//! The JSON API router: areas own their routes; this module nests them and adds the cross-cutting layer
//! (request ids, `//api` routing quirk, CORS, security headers, JSON 404/405 envelopes, the rate-limit headers
//! and the request-body no-progress timeout).

mod account;
mod badge;
mod cli_auth;
pub mod extract;
mod files;
mod health;
pub mod idle;
pub mod limit;
mod metrics;
mod openapi;
pub(crate) mod publish;
pub(crate) mod scan;
pub(crate) mod search;
pub(crate) mod skills;
mod stars;

use crate::app::AppState;
use crate::error::AppError;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use std::net::IpAddr;

/// The application router (before the outer layer of `wrap`).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health::health))
        .route("/api/v1/health", get(health::health))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/skills", post(publish::publish_skill))
        // POST confirm is matched before name parsing; every other method on this path is the skill
        // named `confirm` (SPEC §2.2).
        .route(
            "/api/v1/skills/confirm",
            post(publish::confirm_publish).fallback(skills::dispatch),
        )
        .route("/api/v1/skills/{*rest}", any(skills::dispatch))
        .route("/api/v1/uploads/{version_id}", put(publish::upload_tarball))
        .route("/api/v1/auth/whoami", get(account::whoami))
        .route("/api/v1/cli-auth/start", post(cli_auth::cli_auth_start))
        .route(
            "/api/v1/cli-auth/exchange",
            post(cli_auth::cli_auth_exchange),
        )
        .route(
            "/api/v1/cli-auth/authorize",
            get(cli_auth::cli_auth_authorize_page).post(cli_auth::cli_auth_authorize),
        )
        .merge(crate::web::routes())
        .route("/api/v1/search", get(search::search_skills))
        .route("/api/v1/scan", post(scan::post_scan))
        .route("/api/v1/scans/{scan_id}", get(scan::get_scan))
        .route("/api/v1/badge/{*name}", get(badge::badge))
        .route("/metrics", get(metrics::metrics))
        .fallback(fallback)
        .with_state(state)
}

async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        AppError::NotFound("No such API route.".into()).into_response()
    } else {
        let mut resp = (
            StatusCode::NOT_FOUND,
            axum::response::Html(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found</title></head>\
                 <body><h1>Not found</h1><p>There is nothing at this address.</p></body></html>",
            ),
        )
            .into_response();
        html_headers(resp.headers_mut());
        resp
    }
}

/// Security headers of HTML responses (SPEC §2.12).
pub fn html_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn valid_request_id(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Routes a raw path that begins with two or more `/` followed by `api/` as if it began with one (SPEC §2.2).
fn collapse_leading_slashes(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let trimmed = path.trim_start_matches('/');
    if path.len() - trimmed.len() >= 2 && trimmed.starts_with("api/") {
        let pq = match uri.query() {
            Some(q) => format!("/{trimmed}?{q}"),
            None => format!("/{trimmed}"),
        };
        return pq.parse().ok();
    }
    None
}

/// The client IP of a request (SPEC §2.1), attached by `wrap` as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The N-th address from the right of all `X-Forwarded-For` values when N proxies are trusted, else the peer.
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trust_proxy: u8) -> IpAddr {
    if trust_proxy == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    entries
        .len()
        .checked_sub(trust_proxy as usize)
        .and_then(|i| entries.get(i))
        .and_then(|e| e.parse().ok())
        .unwrap_or(peer)
}

/// The outer layer around the router: runs before routing so that it can rewrite the path.
pub async fn wrap(app: &crate::app::App, router: Router, mut req: Request) -> Response {
    use tower::ServiceExt;
    if let Some(uri) = collapse_leading_slashes(req.uri()) {
        *req.uri_mut() = uri;
    }
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let ip = client_ip(peer, req.headers(), app.config.trust_proxy);
    req.extensions_mut().insert(ClientIp(ip));
    let gate = limit::RateGate::new(ip);
    req.extensions_mut().insert(gate.clone());
    let tripped = idle::Tripped::default();
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(
        parts,
        idle::guard(body, app.config.body_idle_timeout, tripped.clone()),
    );
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let is_api = req.uri().path().starts_with("/api/");
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let path_for_log = req.uri().path().to_string();

    let mut resp = if is_api && method == Method::OPTIONS {
        preflight()
    } else {
        match router.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    };

    // axum answers a known path with a wrong method by an empty 405; give it the envelope (SPEC §2.2).
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = resp.headers().get(header::ALLOW).cloned();
        let mut r = AppError::MethodNotAllowed { allow: "" }.into_response();
        match allow {
            Some(a) => {
                r.headers_mut().insert(header::ALLOW, a);
            }
            None => {
                r.headers_mut().remove(header::ALLOW);
            }
        }
        resp = r;
    }
    if resp.status() == StatusCode::INTERNAL_SERVER_ERROR && is_api {
        resp = add_request_id_to_500(resp, &request_id).await;
    }
    gate.apply(&mut resp);
    if tripped.get() {
        // The body stalled for 60 s: answer and close the connection (SPEC §2.5).
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }

    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-request-id", v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_api {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(
                "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, ETag, Content-Length, X-Request-Id",
            ),
        );
        if !h.contains_key(header::CACHE_CONTROL) {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    let route = route_template(&path_for_log);
    app.metrics.request(
        method.as_str(),
        route,
        resp.status().as_u16(),
        started.elapsed(),
    );
    tracing::info!(
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        request_id = %request_id,
        "request"
    );
    resp
}

/// The route template of a path, for logs and metrics: never the raw path, which may carry names or
/// secrets (SPEC §2.13, §3.22).
pub fn route_template(path: &str) -> &'static str {
    const EXACT: [&str; 21] = [
        "/api/v1/skills",
        "/api/v1/skills/confirm",
        "/api/v1/auth/whoami",
        "/api/v1/cli-auth/start",
        "/api/v1/cli-auth/authorize",
        "/api/v1/cli-auth/exchange",
        "/api/v1/search",
        "/api/v1/scan",
        "/api/v1/openapi.json",
        "/api/v1/health",
        "/metrics",
        "/",
        "/login",
        "/logout",
        "/setup",
        "/account/tokens",
        "/favicon.ico",
        "/api/health",
        "/api/v1",
        "/api",
        "/account",
    ];
    if let Some(t) = EXACT.iter().find(|t| **t == path) {
        return if *t == "/api/health" {
            "/api/v1/health"
        } else {
            t
        };
    }
    if let Some(tail) = path.strip_prefix("/api/v1/skills/") {
        use skills::SkillRoute as R;
        return match skills::parse_skill_path(tail).map(|(_, r)| r) {
            Ok(R::Metadata) => "/api/v1/skills/{name}",
            Ok(R::Versions) => "/api/v1/skills/{name}/versions",
            Ok(R::Star) => "/api/v1/skills/{name}/star",
            Ok(R::Detail(_)) => "/api/v1/skills/{name}/{version}",
            Ok(R::Tarball(_)) => "/api/v1/skills/{name}/{version}/tarball",
            Ok(R::Files(_)) => "/api/v1/skills/{name}/{version}/files",
            Ok(R::File(..)) => "/api/v1/skills/{name}/{version}/files/{path}",
            Ok(R::Scan(_)) => "/api/v1/skills/{name}/{version}/scan",
            Err(_) => "/api/v1/skills/{unmatched}",
        };
    }
    let prefixes: [(&str, &'static str); 7] = [
        ("/api/v1/uploads/", "/api/v1/uploads/{versionId}"),
        ("/api/v1/scans/", "/api/v1/scans/{scanId}"),
        ("/api/v1/badge/", "/api/v1/badge/{name}"),
        ("/account/tokens/", "/account/tokens/{id}/revoke"),
        ("/skills/", "/skills/{name}"),
        ("/scans/", "/scans/{scanId}"),
        ("/assets/", "/assets/{file}"),
    ];
    for (p, t) in prefixes {
        if path.starts_with(p) {
            return t;
        }
    }
    if path.starts_with("/api/") {
        "/api/{unmatched}"
    } else {
        "/{unmatched}"
    }
}

fn preflight() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, PUT, DELETE, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, X-CSRF-Token, X-Request-Id"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

async fn add_request_id_to_500(resp: Response, request_id: &str) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::json!({"error": "INTERNAL_ERROR", "message": "An unexpected error occurred."})
    });
    v["requestId"] = serde_json::json!(request_id);
    let out = serde_json::to_vec(&v).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_slashes() {
        let u: Uri = "//api/v1/search?q=x".parse().unwrap();
        assert_eq!(collapse_leading_slashes(&u).unwrap(), "/api/v1/search?q=x");
        let u: Uri = "///api/v1/health".parse().unwrap();
        assert_eq!(collapse_leading_slashes(&u).unwrap(), "/api/v1/health");
        let u: Uri = "/api/v1/health".parse().unwrap();
        assert!(collapse_leading_slashes(&u).is_none());
        let u: Uri = "//x/api".parse().unwrap();
        assert!(collapse_leading_slashes(&u).is_none());
    }
}
