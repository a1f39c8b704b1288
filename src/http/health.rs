//! Health (SPEC §3.1): auth ignored, not rate limited, `SELECT 1` with a 2 s timeout.

use crate::app::AppState;
use crate::domain::{format_ts, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;

pub async fn health(State(app): State<AppState>) -> Response {
    let store = app.store.clone();
    let ping = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::task::spawn_blocking(move || store.ping()),
    )
    .await;
    let version = env!("CARGO_PKG_VERSION");
    let timestamp = format_ts(now_ms());
    match ping {
        Ok(Ok(Ok(()))) => Json(json!({"status": "ok", "version": version, "timestamp": timestamp}))
            .into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "version": version,
                "timestamp": timestamp,
                "error": "SERVICE_UNAVAILABLE",
                "message": "The database is unreachable."
            })),
        )
            .into_response(),
    }
}
