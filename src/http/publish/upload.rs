//! `PUT /api/v1/uploads/{versionId}` (SPEC §3.5): the signed, capability-only upload of step 2, streamed to a
//! temporary file while hashed, within the tarball limit.

use super::{MAX_TARBALL, remove_quietly};
use crate::app::AppState;
use crate::auth;
use crate::domain::{integrity_of, now_ms};
use crate::error::AppError;
use crate::http::extract::{drain_if_refused, parse_query, query_get};
use crate::issue_path;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha512};
use tokio::io::AsyncWriteExt;

/// `PUT /api/v1/uploads/{versionId}?expires=…&signature=…` (SPEC §3.5). Capability only: headers ignored.
pub async fn upload_tarball(
    State(app): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    mut body: Body,
) -> Result<Response, AppError> {
    // Refused before the body is read: the body is still read, see `drain_if_refused`.
    let (version_id, row) = drain_if_refused(
        admit(&app, &uri, &headers).await,
        &headers,
        &mut body,
        MAX_TARBALL as usize,
    )
    .await?;
    receive(&app, version_id, row, body).await
}

/// Steps 1–5 of SPEC §3.5, before any byte of the body is read: the signed URL, the live unpublished row, the
/// content type and the declared size.
async fn admit(
    app: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(String, crate::store::LiveRow), AppError> {
    let version_id = uri
        .path()
        .strip_prefix("/api/v1/uploads/")
        .unwrap_or_default()
        .to_string();
    // 1. Signature and expiry.
    let forbidden = || AppError::Forbidden("The upload URL is invalid or has expired.".into());
    let q = parse_query(uri.query()).map_err(|_| forbidden())?;
    let expires: i64 = query_get(&q, "expires")
        .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|e| e.parse().ok())
        .ok_or_else(forbidden)?;
    let signature = query_get(&q, "signature").ok_or_else(forbidden)?;
    if !auth::verify(
        &app.secret,
        &auth::upload_message(&version_id, expires),
        signature,
    ) {
        return Err(forbidden());
    }
    if now_ms() / 1000 > expires {
        return Err(forbidden());
    }
    // 2–3. Live row, not published.
    let row = {
        let store = app.store.clone();
        let vid = version_id.clone();
        tokio::task::spawn_blocking(move || store.live_row(&vid, now_ms())).await??
    }
    .ok_or_else(|| AppError::NotFound("The upload was not found.".into()))?;
    if row.state == "published" {
        return Err(AppError::VersionExists(format!(
            "Version {} of {} is already published.",
            row.version, row.skill_name
        )));
    }
    // 4. Content type.
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            ct.as_str(),
            "application/gzip" | "application/x-gzip" | "application/octet-stream"
        ) {
            return Err(AppError::BadRequest(
                "Upload with Content-Type application/gzip or application/octet-stream.".into(),
            ));
        }
    }
    // 5. Declared size.
    if crate::http::extract::content_length(headers).is_some_and(|n| n > MAX_TARBALL) {
        return Err(AppError::PayloadTooLarge);
    }
    Ok((version_id, row))
}

/// Steps 6–8 of SPEC §3.5: the body streamed to a temporary file while hashed, then renamed into place under
/// the (skill, version) lock.
async fn receive(
    app: &AppState,
    version_id: String,
    row: crate::store::LiveRow,
    body: Body,
) -> Result<Response, AppError> {
    // Stream into our own temporary file while hashing.
    let tmp = app
        .config
        .uploads_dir()
        .join(format!("{version_id}.{}.part", crate::blobs::random_hex(8)));
    let received = receive_to_file(&tmp, body, app.config.durable).await;
    let (size, digest, head) = match received {
        Ok(r) => r,
        Err(e) => {
            remove_quietly(&tmp).await;
            return Err(e);
        }
    };
    // 6. gzip magic.
    if size == 0 || head != [0x1f, 0x8b] {
        remove_quietly(&tmp).await;
        return Err(AppError::validation(
            issue_path!["body"],
            "The upload is not a gzip file.",
        ));
    }
    let integrity = integrity_of(&digest);

    // Rename under the (skill, version) lock after re-checking the row (SPEC §3.5, §4.3).
    let _guard = app.locks.lock(&row.skill_name, &row.version_key).await;
    let store = app.store.clone();
    let vid = version_id.clone();
    let current = tokio::task::spawn_blocking(move || store.live_row(&vid, now_ms())).await??;
    match current {
        None => {
            remove_quietly(&tmp).await;
            return Err(AppError::NotFound("The upload was not found.".into()));
        }
        Some(r) if r.state == "published" => {
            remove_quietly(&tmp).await;
            return Err(AppError::VersionExists(format!(
                "Version {} of {} is already published.",
                r.version, r.skill_name
            )));
        }
        Some(_) => {}
    }
    let dest = app.config.upload_path(&version_id);
    if let Err(e) = tokio::fs::rename(&tmp, &dest).await {
        remove_quietly(&tmp).await;
        return Err(e.into());
    }
    if app.config.durable {
        let dir = app.config.uploads_dir();
        tokio::task::spawn_blocking(move || crate::blobs::sync_dir(&dir)).await??;
    }
    let store = app.store.clone();
    let integ = integrity.clone();
    tokio::task::spawn_blocking(move || {
        store.record_upload(&version_id, size as i64, &integ, now_ms())
    })
    .await??;
    Ok(Json(json!({"ok": true, "size": size, "integrity": integrity})).into_response())
}

async fn receive_to_file(
    path: &std::path::Path,
    body: Body,
    fsync: bool,
) -> Result<(u64, Vec<u8>, Vec<u8>), AppError> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut hasher = Sha512::new();
    let mut size: u64 = 0;
    let mut head = Vec::with_capacity(2);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| AppError::BadRequest("The upload was interrupted.".into()))?;
        size += chunk.len() as u64;
        if size > MAX_TARBALL {
            return Err(AppError::PayloadTooLarge);
        }
        if head.len() < 2 {
            head.extend(chunk.iter().take(2 - head.len()));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    if fsync {
        file.sync_all().await?;
    }
    Ok((size, hasher.finalize().to_vec(), head))
}
