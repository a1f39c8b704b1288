//! `GET /metrics` (SPEC §3.22): Prometheus text behind an effective `skills:admin` token unless
//! `--metrics-public`. Errors here are plain text (Prometheus scrapers do not read the JSON envelope).

use crate::app::AppState;
use crate::error::AppError;
use crate::http::limit::RateGate;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

fn plain(status: StatusCode, text: &'static str, www_auth: Option<HeaderValue>) -> Response {
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(v) = www_auth {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

pub async fn metrics(
    State(app): State<AppState>,
    Extension(gate): Extension<RateGate>,
    headers: HeaderMap,
) -> Response {
    if !app.config.metrics_public {
        match gate.required_auth(&app, &headers).await {
            Ok(id) if id.viewer().admin => {}
            Ok(_) => {
                return plain(
                    StatusCode::FORBIDDEN,
                    "Forbidden: metrics need an administrator's token with the skills:admin scope.\n",
                    None,
                );
            }
            Err(e @ AppError::Unauthorized { .. }) => {
                let challenge = e
                    .into_response()
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .cloned();
                return plain(StatusCode::UNAUTHORIZED, "Unauthorized.\n", challenge);
            }
            Err(e) => return e.into_response(),
        }
    }
    let store = app.store.clone();
    let seq = app.search.committed_seq();
    let gauges = match tokio::task::spawn_blocking(move || store.metric_gauges(seq)).await {
        Ok(Ok(g)) => g,
        _ => {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unreachable.\n",
                None,
            );
        }
    };
    let mut r = Response::new(Body::from(app.metrics.render(&gauges)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
