//! `GET /api/v1/openapi.json` (SPEC §3.2): an OpenAPI 3.1.0 document of every operation of §3.1 and
//! §3.3–§3.21, built from one table (`operations`).
//!
//! Why a hand-written table rather than derive macros: the skill routes are dispatched from one raw-path
//! handler (`skills::dispatch`, SPEC §2.3), so per-handler annotations would not describe them. The drift
//! tests (`tests/api/openapi.rs`) keep the table and the router in step, both ways. Auth ignored, not rate
//! limited, `Cache-Control: public, max-age=300`.

mod operations;
mod schemas;

use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use operations::{error_codes, errors, operations};
use schemas::r;
use serde_json::{Map, Value, json};

/// `GET /api/v1/openapi.json`. Never examines credentials and never touches the rate-limit gate (§2.9).
pub async fn openapi_json(State(app): State<AppState>) -> Response {
    let mut resp = Json(document(&app.public_url)).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// The shared error responses, one per status, all with the `Error` envelope.
fn error_responses() -> Map<String, Value> {
    let rate_headers = json!({
        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."},
        "X-RateLimit-Limit": {"schema": {"type": "integer"}},
        "X-RateLimit-Remaining": {"schema": {"type": "integer"}},
        "X-RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Unix seconds."}
    });
    [
        (400, "BAD_REQUEST: malformed JSON or multipart, invalid percent-encoding, invalid file path or \
               Content-Type.", None),
        (401, "UNAUTHORIZED: credentials required but absent, or a presented token is invalid, expired or \
               revoked.", Some(json!({"WWW-Authenticate": {"schema": {"type": "string"}}}))),
        (403, "FORBIDDEN: missing scope, namespace or ownership, bad upload signature, CSRF failure, denied \
               login.", None),
        (404, "NOT_FOUND: unknown or invisible resource.", None),
        (409, "VERSION_EXISTS or CONFLICT.", None),
        (413, "PAYLOAD_TOO_LARGE: the body is over the limits of SPEC §2.5.", None),
        (422, "VALIDATION_ERROR: a well-formed body that breaks a rule; `issues` lists them.", None),
        (429, "RATE_LIMITED: `retryAfter` in the body.", Some(rate_headers)),
        (500, "INTERNAL_ERROR: `requestId` in the body.", None),
        (503, "SERVICE_UNAVAILABLE: the scan queue is full; retry after `Retry-After` seconds.",
         Some(json!({"Retry-After": {"schema": {"type": "integer"}}}))),
    ]
    .into_iter()
    .map(|(status, description, headers)| {
        let mut resp = json!({"description": description,
                              "content": {"application/json": {"schema": r("Error")}}});
        if let Some(h) = headers {
            resp["headers"] = h;
        }
        (format!("E{status}"), resp)
    })
    .collect()
}

/// The whole document for a server whose public URL is `public_url` (no trailing `/`).
pub fn document(public_url: &str) -> Value {
    let mut paths = Map::new();
    for op in operations() {
        let mut responses = Map::new();
        for (status, resp) in op.responses.into_iter().chain(errors(error_codes(op.id))) {
            // A status in the table row wins over the shared envelope response.
            responses.entry(status.to_string()).or_insert(resp);
        }
        let mut o = json!({
            "operationId": op.id,
            "summary": op.summary,
            "description": op.description,
            "security": op.auth.security(),
            "responses": responses,
        });
        if !op.params.is_empty() {
            o["parameters"] = Value::Array(op.params);
        }
        if let Some(b) = op.body {
            o["requestBody"] = b;
        }
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method] = o;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tank Registry API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Tank registry HTTP API of tank-registry. Every JSON error uses the `Error` \
                            envelope; `HEAD` is accepted on every `GET` operation; `OPTIONS` on any path is a \
                            CORS preflight (204). A known path with another method answers 405 with `Allow`.",
            "license": {"name": "MIT", "identifier": "MIT"}
        },
        "servers": [{"url": format!("{public_url}/api/v1")}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token `tank_…` (SPEC §2.8)."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "tank_session",
                                  "description": "A web sign-in session (stars and the consent page only)."}
            },
            "schemas": schemas::all(),
            "responses": error_responses()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` of the document points at a component that exists.
    #[test]
    fn refs_resolve() {
        fn walk(v: &Value, doc: &Value, seen: &mut usize) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let ptr = r.trim_start_matches('#');
                        assert!(doc.pointer(ptr).is_some(), "dangling $ref {r}");
                        *seen += 1;
                    }
                    m.values().for_each(|x| walk(x, doc, seen));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, doc, seen)),
                _ => {}
            }
        }
        let doc = document("http://127.0.0.1:8080");
        let mut seen = 0;
        walk(&doc, &doc, &mut seen);
        assert!(seen > 50, "only {seen} refs");
    }

    #[test]
    fn every_operation_has_error_codes() {
        for op in operations() {
            assert!(
                op.id == "health" || !error_codes(op.id).is_empty() || op.responses.len() > 3,
                "{} has no error responses",
                op.id
            );
        }
    }
}
