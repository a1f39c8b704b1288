//! `GET /scans/{scanId}` (SPEC §3.23, §3.16): the HTML form of a stored `POST /api/v1/scan` report. A report
//! created with a token belongs to that token's user: without a session → 303 to sign in, another user → 404.

use super::skill::FindingRow;
use super::{Chrome, current_session, message_page, render, see_other};
use crate::app::AppState;
use crate::domain::{format_ts, now_ms};
use crate::http::skills::encode_component;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

#[derive(Template)]
#[template(path = "scan.html")]
struct ScanPage {
    signed_in: Option<String>,
    csrf_meta: Option<String>,
    scan_id: String,
    verdict: String,
    audit_score: i64,
    summary: String,
    findings: Vec<FindingRow>,
    notes: Vec<FindingRow>,
    stages: String,
    scanned_at: String,
    expires_at: String,
}

pub async fn scan_page(
    State(app): State<AppState>,
    Path(scan_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = current_session(&app, &headers).await;
    let missing = || {
        message_page(
            StatusCode::NOT_FOUND,
            session.as_ref(),
            "Not found",
            "There is no such scan report, or it has expired.",
        )
    };
    let store = app.store.clone();
    let id = scan_id.clone();
    let row = match tokio::task::spawn_blocking(move || store.scan_report(&id, now_ms())).await {
        Ok(Ok(Some(r))) => r,
        Ok(Ok(None)) => return missing(),
        _ => {
            return message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                session.as_ref(),
                "Something went wrong",
                "The report could not be read. Try again.",
            );
        }
    };
    if let Some(owner) = &row.user_id {
        match &session {
            None => {
                let next = format!("/scans/{}", encode_component(&scan_id));
                return see_other(&format!("/login?next={}", encode_component(&next)));
            }
            Some(s) if &s.user.id != owner => return missing(),
            Some(_) => {}
        }
    }
    let report: Value = serde_json::from_str(&row.report).unwrap_or(Value::Null);
    let num = |k: &str| report["summary"][k].as_i64().unwrap_or(0);
    let summary = format!(
        "{} critical, {} high, {} medium, {} low",
        num("critical"),
        num("high"),
        num("medium"),
        num("low")
    );
    let stages = report["stages"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let notes = FindingRow::from_report(&serde_json::json!({"findings": report["notes"].clone()}));
    let chrome = Chrome::of(&session);
    render(
        StatusCode::OK,
        &ScanPage {
            signed_in: chrome.signed_in,
            csrf_meta: chrome.csrf_meta,
            scan_id,
            verdict: report["verdict"].as_str().unwrap_or("").to_string(),
            audit_score: report["auditScore"].as_i64().unwrap_or(0),
            summary,
            findings: FindingRow::from_report(&report),
            notes,
            stages,
            scanned_at: format_ts(row.created_at),
            expires_at: format_ts(row.expires_at),
        },
    )
}
