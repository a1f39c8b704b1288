//! The OpenAPI document (SPEC §3.2) and its drift against the router, both ways: every documented operation
//! reaches a handler (not the router's 404 or a 405), and every method and path the router serves under
//! `/api/` is documented — the list below is checked against the `.route(…)` calls of `src/http/mod.rs` and
//! the `SkillRoute` variants of `src/http/skills.rs`, so a new route without documentation fails here.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The `operationId`s of SPEC §3.2, each exactly once.
const OPERATION_IDS: [&str; 23] = [
    "health",
    "search",
    "publishSkill",
    "uploadTarball",
    "confirmPublish",
    "getSkill",
    "listVersions",
    "getVersion",
    "downloadTarball",
    "listFiles",
    "getFile",
    "getVersionScan",
    "getStar",
    "starSkill",
    "unstarSkill",
    "scanTarball",
    "getScan",
    "getBadge",
    "whoami",
    "cliAuthStart",
    "cliAuthAuthorizePage",
    "cliAuthAuthorize",
    "cliAuthExchange",
];

/// Where a served method and path is documented: an operation (method, path relative to `/api/v1`), or a
/// reason why it is not.
enum Doc {
    Op(&'static str, &'static str),
    Undocumented(&'static str),
}

/// Every `.route(path, …)` of `router()` under `/api/` with what each of its methods is. A route literal
/// missing here, or a method the route gained, fails `every_routed_api_path_is_documented`.
const ROUTES: &[(&str, &[(&str, Doc)])] = &[
    (
        "/api/health",
        &[(
            "GET",
            Doc::Undocumented(
                "alias of /api/v1/health, outside the server URL /api/v1 (SPEC §3.1)",
            ),
        )],
    ),
    ("/api/v1/health", &[("GET", Doc::Op("get", "/health"))]),
    (
        "/api/v1/openapi.json",
        &[(
            "GET",
            Doc::Undocumented("the document itself; §3.2 lists no operationId for it"),
        )],
    ),
    ("/api/v1/skills", &[("POST", Doc::Op("post", "/skills"))]),
    (
        "/api/v1/skills/confirm",
        &[
            ("POST", Doc::Op("post", "/skills/confirm")),
            // Every other method is the skill named `confirm` (SPEC §2.2).
            ("FALLBACK", Doc::Op("get", "/skills/{name}")),
        ],
    ),
    // The raw-path dispatcher: its routes are the `SkillRoute` variants, listed in SKILL_ROUTES.
    (
        "/api/v1/skills/{*rest}",
        &[("ANY", Doc::Undocumented("see SKILL_ROUTES"))],
    ),
    (
        "/api/v1/uploads/{version_id}",
        &[("PUT", Doc::Op("put", "/uploads/{versionId}"))],
    ),
    (
        "/api/v1/auth/whoami",
        &[("GET", Doc::Op("get", "/auth/whoami"))],
    ),
    (
        "/api/v1/cli-auth/start",
        &[("POST", Doc::Op("post", "/cli-auth/start"))],
    ),
    (
        "/api/v1/cli-auth/exchange",
        &[("POST", Doc::Op("post", "/cli-auth/exchange"))],
    ),
    (
        "/api/v1/cli-auth/authorize",
        &[
            ("GET", Doc::Op("get", "/cli-auth/authorize")),
            ("POST", Doc::Op("post", "/cli-auth/authorize")),
        ],
    ),
    ("/api/v1/search", &[("GET", Doc::Op("get", "/search"))]),
    ("/api/v1/scan", &[("POST", Doc::Op("post", "/scan"))]),
    (
        "/api/v1/scans/{scan_id}",
        &[("GET", Doc::Op("get", "/scans/{scanId}"))],
    ),
    (
        "/api/v1/badge/{*name}",
        &[("GET", Doc::Op("get", "/badge/{name}"))],
    ),
];

/// The variants of `skills::SkillRoute` (SPEC §2.3) and the operations they serve.
const SKILL_ROUTES: &[(&str, &[(&str, &str)])] = &[
    ("Metadata", &[("get", "/skills/{name}")]),
    ("Versions", &[("get", "/skills/{name}/versions")]),
    (
        "Star",
        &[
            ("get", "/skills/{name}/star"),
            ("post", "/skills/{name}/star"),
            ("delete", "/skills/{name}/star"),
        ],
    ),
    ("Detail", &[("get", "/skills/{name}/{version}")]),
    ("Tarball", &[("get", "/skills/{name}/{version}/tarball")]),
    ("Files", &[("get", "/skills/{name}/{version}/files")]),
    ("File", &[("get", "/skills/{name}/{version}/files/{path}")]),
    ("Scan", &[("get", "/skills/{name}/{version}/scan")]),
];

async fn fetch_document(s: &TestServer) -> Value {
    let (status, doc) = s.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

/// (method, path) of every documented operation.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    op
}

#[tokio::test]
async fn document_header_servers_and_security_scheme() {
    let s = TestServer::start_with(|c| c.rate_limits.enabled = true).await;
    // Auth ignored: a malformed or unknown token is never a 401 here (SPEC §2.8).
    let resp = s
        .req(
            Method::GET,
            "/api/v1/openapi.json",
            Some("not-a-tank-token"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(h["cache-control"], "public, max-age=300");
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    // Not rate limited: no X-RateLimit-* headers even with limits on (SPEC §2.9).
    assert!(h.get("x-ratelimit-limit").is_none());
    assert_eq!(h["access-control-allow-origin"], "*");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Tank Registry API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        doc["servers"],
        json!([{"url": format!("{}/api/v1", s.url)}])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"],
        json!({"type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"]})
    );
    for _ in 0..3 {
        let resp = s
            .req(Method::GET, "/api/v1/openapi.json", None)
            .send()
            .await
            .unwrap();
        assert!(resp.headers().get("x-ratelimit-remaining").is_none());
    }
    s.stop().await;
}

#[tokio::test]
async fn servers_use_the_public_url() {
    let s =
        TestServer::start_with(|c| c.public_url = Some("https://registry.example.org".to_string()))
            .await;
    let doc = fetch_document(&s).await;
    assert_eq!(
        doc["servers"],
        json!([{"url": "https://registry.example.org/api/v1"}])
    );
    s.stop().await;
}

#[tokio::test]
async fn every_operation_id_of_the_spec_exists_exactly_once() {
    let s = TestServer::start().await;
    let doc = fetch_document(&s).await;
    let mut ids = Vec::new();
    for (method, path) in documented(&doc) {
        let id = operation(&doc, &method, &path)["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
            .to_string();
        ids.push(id);
    }
    for want in OPERATION_IDS {
        let n = ids.iter().filter(|i| *i == want).count();
        assert_eq!(n, 1, "operationId {want} occurs {n} times");
    }
    let extra: Vec<_> = ids
        .iter()
        .filter(|i| !OPERATION_IDS.contains(&i.as_str()))
        .collect();
    assert!(extra.is_empty(), "operationIds not in SPEC §3.2: {extra:?}");
    s.stop().await;
}

#[tokio::test]
async fn operations_have_security_success_and_error_envelope() {
    let s = TestServer::start().await;
    let doc = fetch_document(&s).await;
    let sec = |m: &str, p: &str| operation(&doc, m, p)["security"].clone();
    assert_eq!(sec("get", "/search"), json!([{}, {"bearerAuth": []}]));
    assert_eq!(sec("post", "/skills"), json!([{"bearerAuth": []}]));
    assert_eq!(sec("get", "/auth/whoami"), json!([{"bearerAuth": []}]));
    assert_eq!(sec("get", "/health"), json!([]));
    assert_eq!(sec("get", "/badge/{name}"), json!([]));
    assert_eq!(sec("put", "/uploads/{versionId}"), json!([]));
    assert_eq!(sec("post", "/cli-auth/exchange"), json!([]));

    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], json!(["error", "message"]));
    for key in ["error", "message", "issues", "retryAfter", "requestId"] {
        assert!(error["properties"][key].is_object(), "Error lacks {key}");
    }
    let envelope = json!({"$ref": "#/components/schemas/Error"});
    for (method, path) in documented(&doc) {
        let op = operation(&doc, &method, &path);
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{method} {path} documents no success"
        );
        // Every JSON error of the operation uses the envelope (SPEC §2.7); badge and consent-page errors
        // may be SVG or HTML.
        let mut json_errors = 0;
        for (status, resp) in responses {
            if status.starts_with('2') {
                continue;
            }
            let resp = match resp.get("$ref").and_then(Value::as_str) {
                Some(r) => doc
                    .pointer(r.trim_start_matches('#'))
                    .expect("response ref"),
                None => resp,
            };
            if let Some(schema) = resp["content"].get("application/json") {
                if path != "/health" {
                    assert_eq!(schema["schema"], envelope, "{method} {path} {status}");
                }
                json_errors += 1;
            }
        }
        assert!(
            json_errors > 0 || path == "/badge/{name}" || path == "/cli-auth/authorize",
            "{method} {path} documents no JSON error"
        );
    }
    // Non-JSON bodies have their own media types.
    let content = |m: &str, p: &str, status: &str| {
        operation(&doc, m, p)["responses"][status]["content"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        content("get", "/skills/{name}/{version}/tarball", "200"),
        ["application/gzip"]
    );
    assert_eq!(content("get", "/badge/{name}", "200"), ["image/svg+xml"]);
    assert_eq!(content("get", "/badge/{name}", "404"), ["image/svg+xml"]);
    assert_eq!(content("get", "/cli-auth/authorize", "200"), ["text/html"]);
    assert!(
        content("get", "/skills/{name}/{version}/files/{path}", "200")
            .contains(&"text/markdown".to_string())
    );
    let body = |m: &str, p: &str| {
        operation(&doc, m, p)["requestBody"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    assert!(body("post", "/scan").contains("multipart/form-data"));
    assert!(body("put", "/uploads/{versionId}").contains("application/octet-stream"));
    assert!(body("put", "/uploads/{versionId}").contains("application/gzip"));
    assert!(body("post", "/cli-auth/authorize").contains("application/x-www-form-urlencoded"));
    s.stop().await;
}

/// Document → router: every operation, sent with placeholder values, reaches a handler.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let s = TestServer::start().await;
    let doc = fetch_document(&s).await;
    let ops = documented(&doc);
    assert_eq!(ops.len(), OPERATION_IDS.len());
    for (method, path) in &ops {
        for name in ["drift-probe", "%40probe%2Fdrift"] {
            let concrete = path
                .replace("{name}", name)
                .replace("{version}", "1.0.0")
                .replace("{path}", "SKILL.md")
                .replace("{versionId}", "ver_probe")
                .replace("{scanId}", "scan_probe");
            let url = format!("/api/v1{concrete}");
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let resp = s
                .req(m, &url, None)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let ct = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let text = resp.text().await.unwrap();
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {url}: {text}"
            );
            if ct.starts_with("application/json") {
                let body: Value = serde_json::from_str(&text).unwrap();
                assert_ne!(
                    body["message"], "No such API route.",
                    "{method} {url} is documented but not routed"
                );
                if status == StatusCode::NOT_FOUND {
                    // A 404 must be the resource's, naming it.
                    let msg = body["message"].as_str().unwrap();
                    assert!(msg.contains("was not found"), "{method} {url}: {msg}");
                }
            } else {
                // Only the badge and the consent page answer other media types.
                assert!(
                    path == "/badge/{name}" || path == "/cli-auth/authorize",
                    "{method} {url}: {status} {ct}"
                );
            }
            if !path.contains("{name}") {
                break;
            }
        }
    }
    s.stop().await;
}

/// The `.route("…", …)` calls of a router source: (path literal, the handler expression).
fn route_calls(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let open = rest.find('"').unwrap();
        let close = open + 1 + rest[open + 1..].find('"').unwrap();
        let path = rest[open + 1..close].to_string();
        // The handler expression runs to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let mut end = close + 1;
        for (j, c) in rest[close + 1..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = close + 1 + j;
                break;
            }
        }
        out.push((path, rest[close + 1..end].to_string()));
        rest = &rest[end..];
    }
    out
}

/// The methods a handler expression serves: `get(…)`, `.post(…)`, `any(…)`, `.fallback(…)`.
fn methods_of(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    for (token, method) in [
        ("get(", "GET"),
        ("post(", "POST"),
        ("put(", "PUT"),
        ("delete(", "DELETE"),
        ("patch(", "PATCH"),
        ("any(", "ANY"),
        ("fallback(", "FALLBACK"),
    ] {
        let mut s = compact.as_str();
        while let Some(i) = s.find(token) {
            let before = compact.len() - s.len() + i;
            // A method router call starts the expression or follows a `.` (not `foo_get(`).
            let prev = compact[..before].chars().last();
            if matches!(prev, None | Some(',') | Some('.')) {
                out.insert(method.to_string());
            }
            s = &s[i + token.len()..];
        }
    }
    out
}

/// Router → document: everything the router serves under `/api/` is in the document.
#[tokio::test]
async fn every_routed_api_path_is_documented() {
    let router_src = include_str!("../../src/http/mod.rs");
    let router_fn = &router_src[router_src.find("pub fn router(").expect("router()")..];
    let router_fn = &router_fn[..router_fn.find("\n}\n").expect("end of router()")];
    let calls: Vec<_> = route_calls(router_fn)
        .into_iter()
        .filter(|(p, _)| p.starts_with("/api/"))
        .collect();
    assert!(calls.len() >= 15, "parsed only {} routes", calls.len());
    let mut expected = BTreeSet::new();
    for (path, expr) in &calls {
        let Some((_, doc)) = ROUTES.iter().find(|(p, _)| p == path) else {
            panic!(
                "{path} is routed in src/http/mod.rs but neither documented nor listed in ROUTES"
            )
        };
        let listed: BTreeSet<String> = doc.iter().map(|(m, _)| m.to_string()).collect();
        assert_eq!(methods_of(expr), listed, "methods of {path} ({expr})");
        for (m, d) in doc.iter() {
            match d {
                Doc::Op(m, p) => {
                    expected.insert((m.to_string(), p.to_string()));
                }
                Doc::Undocumented(why) => assert!(!why.is_empty(), "{path} {m}: say why"),
            }
        }
    }
    for (path, _) in ROUTES {
        assert!(
            calls.iter().any(|(p, _)| p == path),
            "{path} is listed in ROUTES but no longer routed"
        );
    }
    // Web pages live outside /api/.
    let web_src = include_str!("../../src/web/mod.rs");
    assert!(
        route_calls(web_src)
            .iter()
            .all(|(p, _)| !p.starts_with("/api"))
    );

    // The skill dispatcher serves one route per SkillRoute variant.
    let skills_src = include_str!("../../src/http/skills.rs");
    let enum_src = &skills_src[skills_src
        .find("pub enum SkillRoute {")
        .expect("SkillRoute")..];
    let enum_src = &enum_src[enum_src.find('{').unwrap() + 1..enum_src.find('}').unwrap()];
    let variants: Vec<&str> = enum_src
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .map(|l| l.split(['(', ',']).next().unwrap())
        .collect();
    assert_eq!(
        variants.len(),
        SKILL_ROUTES.len(),
        "SkillRoute variants: {variants:?}"
    );
    for v in variants {
        let Some((_, ops)) = SKILL_ROUTES.iter().find(|(n, _)| *n == v) else {
            panic!("SkillRoute::{v} is dispatched but not listed in SKILL_ROUTES")
        };
        for (m, p) in ops.iter() {
            expected.insert((m.to_string(), p.to_string()));
        }
    }

    let s = TestServer::start().await;
    let doc = fetch_document(&s).await;
    let documented = documented(&doc);
    let missing: Vec<_> = expected.difference(&documented).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let unrouted: Vec<_> = documented.difference(&expected).collect();
    assert!(
        unrouted.is_empty(),
        "documented but not in the route lists: {unrouted:?}"
    );
    s.stop().await;
}

#[test]
fn route_call_parser() {
    let src = r#"Router::new()
        .route("/a", get(x::a))
        .route(
            "/b",
            post(x::b).fallback(y::c),
        )
        .route("/c/{*rest}", any(z::d))"#;
    let calls = route_calls(src);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1].0, "/b");
    assert_eq!(
        methods_of(&calls[1].1),
        BTreeSet::from(["POST".to_string(), "FALLBACK".to_string()])
    );
    assert_eq!(methods_of(&calls[2].1), BTreeSet::from(["ANY".to_string()]));
    assert_eq!(
        methods_of("get(cli_auth::page).post(cli_auth::post)").len(),
        2
    );
}

/// Regression (found while documenting the path parameters): `/badge/{name}` and `/scans/{scanId}` took
/// their parameter through axum's `Path`, which decodes before the handler. The badge then decoded again,
/// so `%2540alice%252Fhello` (the literal, invalid name `%40alice%2Fhello`, SPEC §2.3) showed @alice/hello's
/// score; and invalid UTF-8 answered a plain-text 400 instead of the not-found badge or the JSON envelope
/// (SPEC §2.7) the document promises.
#[tokio::test]
async fn path_parameters_are_decoded_once_and_errors_keep_their_documented_type() {
    let s = TestServer::start().await;
    let token = s.user_with_token("alice");
    s.publish(
        &token,
        json!({"name": "@alice/hello", "version": "1.0.0"}),
        skill_tgz("@alice/hello", "1.0.0"),
    )
    .await;
    let resp = s
        .req(Method::GET, "/api/v1/badge/%40alice%2Fhello", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.text().await.unwrap().contains("not found"));
    for path in ["/api/v1/badge/%2540alice%252Fhello", "/api/v1/badge/%ff"] {
        let resp = s.req(Method::GET, path, None).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(resp.headers()["content-type"], "image/svg+xml", "{path}");
        let svg = resp.text().await.unwrap();
        assert!(svg.contains("tank audit: not found"), "{path}: {svg}");
    }
    let (status, body) = s.get("/api/v1/scans/%ff", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "BAD_REQUEST", "{body}");
    let (status, body) = s.get("/api/v1/scans/scan_%41BSENT", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Scan scan_ABSENT was not found.");
    s.stop().await;
}
