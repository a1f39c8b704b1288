//! `POST /api/v1/scan` (SPEC §3.15) and `GET /api/v1/scans/{scanId}` (§3.16): scan an uploaded tarball on the
//! scan pool, store the report for 7 days, serve it back to its owner (or to anyone for anonymous scans).

use crate::app::AppState;
use crate::domain::{format_ts, new_id, now_ms};
use crate::error::AppError;
use crate::http::extract::{check_declared_size, decode_path_segment, drain_if_refused, read_body};
use crate::http::limit::RateGate;
use crate::issue_path;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use serde_json::Value;

/// The tarball part limit (§2.5, as uploads).
const FILE_LIMIT: usize = 52_428_800;
/// The manifest part limit (§3.15).
const MANIFEST_LIMIT: usize = 1024 * 1024;
/// The whole multipart body: both parts plus headers and boundaries.
const BODY_LIMIT: usize = FILE_LIMIT + MANIFEST_LIMIT + 64 * 1024;

/// What a valid scan request carries.
#[derive(Debug)]
struct ScanRequest {
    tarball: Bytes,
    manifest: Option<Value>,
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub async fn post_scan(
    State(app): State<AppState>,
    Extension(gate): Extension<RateGate>,
    headers: HeaderMap,
    mut body: Body,
) -> Result<Response, AppError> {
    check_declared_size(&headers, BODY_LIMIT)?;
    let id = drain_if_refused(
        gate.optional_auth_scan(&app, &headers).await,
        &headers,
        &mut body,
        BODY_LIMIT,
    )
    .await?;
    let req = parse_request(&headers, body).await?;

    let permit = app.scans.acquire(false).await?;
    let timeout = app.config.scan_timeout;
    // Once queued, the scan always runs to completion (§3.15): it is not tied to the connection.
    let report = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        crate::scan::scan(&crate::scan::ScanInput {
            tarball: &req.tarball,
            manifest: req.manifest.as_ref(),
            readme: None,
            // POST /scan uses the protected-names file alone (§8.3 SUP-007).
            protected_names: &[],
            timeout,
        })
    })
    .await?;

    app.metrics.scan(report.verdict.as_lower());
    let scan_id = new_id("scan");
    let body = report.to_json(Some(&scan_id));
    let store = app.store.clone();
    let (sid, text) = (scan_id.clone(), body.to_string());
    let owner = id.map(|i| i.user.id);
    tokio::task::spawn_blocking(move || {
        store.insert_scan_report(&sid, owner.as_deref(), &text, now_ms())
    })
    .await??;
    Ok(Json(body).into_response())
}

/// Body parsing and validation of §3.15, in its error order.
async fn parse_request(headers: &HeaderMap, body: Body) -> Result<ScanRequest, AppError> {
    let ct = content_type(headers);
    if ct.starts_with("application/json") || ct.ends_with("+json") {
        let bytes = read_body(body, BODY_LIMIT).await?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| AppError::BadRequest("The request body is not valid JSON.".into()))?;
        // URL scans fail closed (§3.15): this registry never fetches anything.
        if v.get("url").is_some() {
            return Err(AppError::validation(
                issue_path!["url"],
                "URL scans are not supported by this registry.",
            ));
        }
        return Err(AppError::validation(
            issue_path!["file"],
            "Send the tarball as multipart/form-data in a part named file or tarball.",
        ));
    }
    if !ct.starts_with("multipart/form-data") {
        return Err(AppError::BadRequest(
            "Expected a multipart/form-data body with the tarball.".into(),
        ));
    }
    // The boundary is case-sensitive: parse it from the header as sent.
    let raw_ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(raw_ct)
        .map_err(|_| AppError::BadRequest("The multipart body has no boundary.".into()))?;
    let bytes = read_body(body, BODY_LIMIT).await?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(bytes) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let malformed = || AppError::BadRequest("The multipart body is malformed.".into());

    let mut file_parts: Vec<(String, Bytes)> = Vec::new();
    let mut manifest: Option<Bytes> = None;
    while let Some(mut field) = mp.next_field().await.map_err(|_| malformed())? {
        let name = field.name().unwrap_or("").to_string();
        let limit = match name.as_str() {
            "file" | "tarball" => FILE_LIMIT,
            "manifest" => MANIFEST_LIMIT,
            // Other parts are ignored (§3.15), but still read within the body limit.
            _ => BODY_LIMIT,
        };
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| malformed())? {
            if buf.len() + chunk.len() > limit {
                return Err(AppError::PayloadTooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "file" | "tarball" => file_parts.push((name, buf.freeze())),
            // The first manifest part wins; a repeated one is ignored (chosen).
            "manifest" if manifest.is_none() => manifest = Some(buf.freeze()),
            _ => {}
        }
    }
    let tarball = match file_parts.len() {
        0 => {
            return Err(AppError::validation(
                issue_path!["file"],
                "The request has no file part (name it file or tarball).",
            ));
        }
        1 => file_parts.pop().map(|(_, b)| b).unwrap_or_default(),
        _ => {
            return Err(AppError::validation(
                issue_path!["tarball"],
                "Send exactly one file part, named file or tarball.",
            ));
        }
    };
    let manifest = match manifest {
        None => None,
        Some(b) => match serde_json::from_slice::<Value>(&b) {
            Ok(v) if v.is_object() => Some(v),
            _ => {
                return Err(AppError::validation(
                    issue_path!["manifest"],
                    "The manifest part must be a JSON object.",
                ));
            }
        },
    };
    Ok(ScanRequest { tarball, manifest })
}

pub async fn get_scan(
    State(app): State<AppState>,
    Extension(gate): Extension<RateGate>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    // Decoded here, not by axum's `Path`, whose rejection of invalid UTF-8 is a plain-text 400 (SPEC §2.7).
    let raw = uri
        .path()
        .strip_prefix("/api/v1/scans/")
        .unwrap_or_default();
    let scan_id = decode_path_segment(raw)?;
    let id = gate.optional_auth(&app, &headers).await?;
    let user_id = id.map(|i| i.user.id);
    let value = stored_report(&app, &scan_id, user_id.as_deref()).await?;
    Ok(Json(value).into_response())
}

/// The §3.16 body of a stored report visible to `user_id` (reports of a user are theirs alone, admins
/// included; anonymous reports are served to anyone holding the id); else 404.
pub async fn stored_report(
    app: &crate::app::App,
    scan_id: &str,
    user_id: Option<&str>,
) -> Result<Value, AppError> {
    let not_found = || AppError::NotFound(format!("Scan {scan_id} was not found."));
    let store = app.store.clone();
    let sid = scan_id.to_string();
    let row = tokio::task::spawn_blocking(move || store.scan_report(&sid, now_ms()))
        .await??
        .ok_or_else(not_found)?;
    if let Some(owner) = &row.user_id
        && Some(owner.as_str()) != user_id
    {
        return Err(not_found());
    }
    let mut value: Value = serde_json::from_str(&row.report).map_err(AppError::internal)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("scanned_at".into(), format_ts(row.created_at).into());
        obj.insert("expiresAt".into(), format_ts(row.expires_at).into());
    }
    Ok(value)
}
