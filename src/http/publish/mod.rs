//! The 3-step publish (SPEC §3.4–§3.6): start (here), the signed upload `PUT` (`upload.rs`) and confirm with
//! its analysis (`confirm.rs`), and what they share: limits, the integrity format, removing upload files.

mod confirm;
mod upload;

pub use confirm::confirm_publish;
pub(crate) use confirm::{Analysed, analyse};
pub use upload::upload_tarball;

use crate::app::AppState;
use crate::auth::{self, SCOPE_PUBLISH};
use crate::domain::{format_ts, now_ms, version_key};
use crate::error::AppError;
use crate::http::extract::{
    Identity, PUBLISH_JSON_LIMIT, check_declared_size, drain_if_refused, parse_json_object,
    read_body,
};
use crate::http::limit::RateGate;
use crate::manifest::validate_publish_body;
use crate::store::{PENDING_TTL_MS, PublishError, StartPublish};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

/// 50 MiB = 52,428,800 bytes (SPEC §2.5, "50 MB" read as MiB).
pub const MAX_TARBALL: u64 = 52_428_800;
/// Readme limit of start and confirm (SPEC §3.4, §3.6).
pub(super) const MAX_README: usize = 1_048_576;

pub(super) fn valid_integrity(s: &str) -> bool {
    // ^sha512-[A-Za-z0-9+/]{86}==$
    s.len() == 7 + 88
        && s.starts_with("sha512-")
        && s.ends_with("==")
        && s[7..93]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// The opening of start and confirm: the declared size, a caller with `skills:publish` (or the rate gate's
/// 401/429), then the JSON object body within the publish limit (SPEC §3.4, §3.6).
pub(super) async fn publisher_and_body(
    app: &AppState,
    gate: &RateGate,
    headers: &HeaderMap,
    mut body: Body,
) -> Result<(Identity, serde_json::Value), AppError> {
    check_declared_size(headers, PUBLISH_JSON_LIMIT)?;
    let checked = gate
        .required_auth(app, headers)
        .await
        .and_then(|id| id.require_scope(SCOPE_PUBLISH).map(|()| id));
    let id = drain_if_refused(checked, headers, &mut body, PUBLISH_JSON_LIMIT).await?;
    let bytes = read_body(body, PUBLISH_JSON_LIMIT).await?;
    Ok((id, parse_json_object(headers, &bytes)?))
}

/// `POST /api/v1/skills` (SPEC §3.4).
pub async fn publish_skill(
    State(app): State<AppState>,
    Extension(gate): Extension<RateGate>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let (id, body) = publisher_and_body(&app, &gate, &headers, body).await?;
    let req = validate_publish_body(&body).map_err(AppError::issues)?;
    let m = &req.manifest;
    let manifest_json = serde_json::to_string(&m.raw).map_err(AppError::internal)?;
    let files_json = serde_json::to_string(&req.files).map_err(AppError::internal)?;

    // A start waits for an in-flight confirm of the same (skill, version) (SPEC §4.3).
    let _guard = app.locks.lock(&m.name, &version_key(&m.version)).await;
    let now = now_ms();
    let store = app.store.clone();
    let user = id.user.clone();
    let (name, version, version_str, perms, readme) = (
        m.name.clone(),
        m.version.clone(),
        m.version_str.clone(),
        m.permissions.clone(),
        req.readme.clone(),
    );
    let started = tokio::task::spawn_blocking(move || {
        store.start_publish(
            &user,
            &StartPublish {
                name: &name,
                version: &version,
                version_str: &version_str,
                permissions: &perms,
                manifest_json: &manifest_json,
                readme: readme.as_deref(),
                files_json: &files_json,
            },
            now,
        )
    })
    .await?
    // The cap on unfinished publishes is not a rate limit: counted, but without headers (SPEC §3.4).
    .inspect_err(|e| {
        if matches!(e, PublishError::TooManyUnfinished { .. }) {
            gate.hide_headers();
        }
    })?;
    for old in &started.dropped_version_ids {
        remove_quietly(&app.config.upload_path(old)).await;
    }
    let expires_ms = started.created_at + PENDING_TTL_MS;
    let expires = expires_ms / 1000;
    let signature = auth::sign(
        &app.secret,
        &auth::upload_message(&started.version_id, expires),
    );
    let upload_url = format!(
        "{}/api/v1/uploads/{}?expires={expires}&signature={signature}",
        app.public_url, started.version_id
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "uploadUrl": upload_url,
            "skillId": started.skill_id,
            "versionId": started.version_id,
            "expiresIn": PENDING_TTL_MS / 1000,
            "expiresAt": format_ts(expires * 1000),
        })),
    )
        .into_response())
}

pub(super) async fn remove_quietly(path: &std::path::Path) {
    if let Err(e) = tokio::fs::remove_file(path).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, "could not remove an upload file");
    }
}
