//! Routing, envelopes and cross-cutting headers (SPEC §2.2, §2.3, §2.5–§2.7, §2.10, §2.11): 405 with `Allow`,
//! JSON vs HTML 404s, no path normalisation except the `//api/` quirk, CORS, request ids, body parsing.
//! Also owns `raw`, a bare HTTP/1.1 client for request targets that reqwest's URL parser would normalise
//! (`..`, `%2e%2e`, `\`, `//`).

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response read off the wire by `raw`.
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(i) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_line = std::str::from_utf8(&b[..i]).unwrap();
        let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16).unwrap();
        b = &b[i + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Sends `method target HTTP/1.1` exactly as written (no URL parsing), with `Connection: close`.
pub async fn raw(
    srv: &TestServer,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let addr = srv.url.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Raw {
        status,
        headers,
        body,
    }
}

const EXPOSE: &str = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, ETag, Content-Length, X-Request-Id";

fn assert_api_headers(h: &reqwest::header::HeaderMap, what: &str) {
    assert_eq!(h["access-control-allow-origin"], "*", "{what}");
    assert_eq!(h["access-control-expose-headers"], EXPOSE, "{what}");
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "{what}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert!(h.contains_key("x-request-id"), "{what}");
}

#[tokio::test]
async fn wrong_method_is_405_json_with_allow() {
    let srv = TestServer::start().await;
    let cases: [(Method, &str, &[&str]); 7] = [
        (
            Method::DELETE,
            "/api/v1/skills/x/versions",
            &["GET", "HEAD"],
        ),
        (Method::GET, "/api/v1/skills", &["POST"]),
        (Method::PUT, "/api/v1/skills/x", &["GET", "HEAD"]),
        (
            Method::POST,
            "/api/v1/skills/%40acme%2Fx/1.0.0/tarball",
            &["GET", "HEAD"],
        ),
        (
            Method::PUT,
            "/api/v1/skills/x/star",
            &["GET", "POST", "DELETE"],
        ),
        (Method::GET, "/api/v1/uploads/ver_x", &["PUT"]),
        (Method::POST, "/api/v1/health", &["GET"]),
    ];
    for (m, path, allow) in cases {
        // The route decides before authentication: an invalid token does not turn a 405 into a 401.
        let bad = srv
            .req(m.clone(), path, Some("tank_bad"))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
        let resp = srv.req(m.clone(), path, None).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
        let h = resp.headers().clone();
        assert_api_headers(&h, path);
        assert_eq!(h["content-type"], "application/json", "{m} {path}");
        assert_eq!(h["cache-control"], "no-store");
        let allowed: Vec<String> = h["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|s| s.trim().to_string())
            .collect();
        for a in allow {
            assert!(allowed.iter().any(|x| x == a), "{m} {path}: {allowed:?}");
        }
        assert!(!allowed.iter().any(|x| *x == m.as_str()), "{m} {path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "METHOD_NOT_ALLOWED", "{m} {path}");
        assert!(body["message"].as_str().unwrap().ends_with('.'));
    }
}

#[tokio::test]
async fn unknown_paths_json_under_api_html_elsewhere_never_redirect() {
    let srv = TestServer::start().await;
    for path in [
        "/api/v1/nope",
        "/api/v2/health",
        "/api/",
        "/api/v1/health/",
        "/api/v1//health",
        "/api/v1/skills/x/",
        "/api/v1/skills//x",
        "/api/v1/skills/x//versions",
        "/api/v1/skills/x/1.0.0/files/",
        "/api/v1/skills/x/1.0.0/other",
        "/api/v1/skills/%40acme",
        "/api/v1/auth/whoami/",
        "/api/v1/skills/",
        "/api/v1/uploads/",
    ] {
        let resp = srv.req(Method::GET, path, None).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let h = resp.headers().clone();
        assert_api_headers(&h, path);
        assert_eq!(h["content-type"], "application/json", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "NOT_FOUND", "{path}");
        assert!(body["message"].is_string());
    }
    for path in ["/nope", "/skills/", "/apix/v1/health", "/x/api/v1/health"] {
        let resp = srv.req(Method::GET, path, None).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'none'")
        );
        assert!(
            h.get("access-control-allow-origin").is_none(),
            "no CORS on web pages"
        );
        let text = resp.text().await.unwrap();
        assert!(text.starts_with("<!doctype html>"), "{text}");
    }
    // Raw targets with dot segments are not normalised either (never 3xx).
    for target in [
        "/api/v1/./health",
        "/api/v1/x/../health",
        "/api/v1/health/.",
    ] {
        let r = raw(&srv, "GET", target, &[], b"").await;
        assert_eq!(r.status, 404, "{target}");
        assert_eq!(r.json()["error"], "NOT_FOUND", "{target}");
    }
}

#[tokio::test]
async fn leading_double_slash_is_routed_like_single() {
    let srv = TestServer::start().await;
    for target in ["//api/v1/health", "///api/v1/health", "//api/health"] {
        let r = raw(&srv, "GET", target, &[("X-Request-Id", "dbl-1")], b"").await;
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(r.json()["status"], "ok");
        assert_eq!(r.header("x-request-id"), Some("dbl-1"));
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }
    // The quirk also reaches name-parsed routes and keeps the query.
    let alice = srv.user_with_token("alice");
    srv.publish(
        &alice,
        json!({"name": "dbl", "version": "1.0.0"}),
        skill_tgz("dbl", "1.0.0"),
    )
    .await;
    let r = raw(&srv, "GET", "//api/v1/skills/dbl?x=1", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "dbl");
    // Only a leading run of slashes followed by `api/`: nothing else is normalised.
    let r = raw(&srv, "GET", "//x/api/v1/health", &[], b"").await;
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let r = raw(&srv, "GET", "//api//v1/health", &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "NOT_FOUND");
}

#[tokio::test]
async fn get_skills_confirm_is_the_skill_named_confirm() {
    let srv = TestServer::start().await;
    let (s, body) = srv.get("/api/v1/skills/confirm", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "NOT_FOUND", "message": "Skill confirm was not found."})
    );
    let (s, body) = srv.get("/api/v1/skills/confirm/versions", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Skill confirm was not found.");

    let alice = srv.user_with_token("alice");
    srv.publish(
        &alice,
        json!({"name": "confirm", "version": "1.0.0", "description": "A skill called confirm."}),
        skill_tgz("confirm", "1.0.0"),
    )
    .await;
    let (s, meta) = srv.get("/api/v1/skills/confirm", None).await;
    assert_eq!(s, StatusCode::OK, "{meta}");
    assert_eq!(meta["name"], "confirm");
    assert_eq!(meta["description"], "A skill called confirm.");
    let (s, vers) = srv.get("/api/v1/skills/confirm/versions", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(vers["versions"][0]["version"], "1.0.0");
    // POST is still the confirm endpoint, not the skill.
    let (s, e) = srv
        .post("/api/v1/skills/confirm", Some(&alice), json!({}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"], "VALIDATION_ERROR");
    let resp = srv
        .req(Method::DELETE, "/api/v1/skills/confirm", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    // The path also takes POST (confirm), so `Allow` must say so.
    let allow: Vec<String> = resp.headers()["allow"]
        .to_str()
        .unwrap()
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    assert_eq!(allow, ["GET", "HEAD", "POST"]);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "METHOD_NOT_ALLOWED"
    );
    // Other skills' metadata paths do not.
    let resp = srv
        .req(Method::DELETE, "/api/v1/skills/confirmed", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn options_preflight_and_cors_headers() {
    let srv = TestServer::start().await;
    for path in [
        "/api/v1/skills",
        "/api/v1/skills/%40acme%2Fx/star",
        "/api/v1/uploads/ver_x",
        "/api/v1/nope",
        "/api/health",
    ] {
        let resp = srv
            .req(Method::OPTIONS, path, Some("tank_garbage"))
            .header("Origin", "https://example.org")
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{path}");
        let h = resp.headers().clone();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(
            h["access-control-allow-methods"],
            "GET, HEAD, POST, PUT, DELETE, OPTIONS"
        );
        assert_eq!(
            h["access-control-allow-headers"],
            "Authorization, Content-Type, X-CSRF-Token, X-Request-Id"
        );
        assert_eq!(h["access-control-max-age"], "86400");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.get("access-control-allow-credentials").is_none());
        assert!(resp.bytes().await.unwrap().is_empty());
    }
    // CORS on ordinary API responses, successes and errors alike.
    let tok = srv.user_with_token("alice");
    for (m, path, tok) in [
        (Method::GET, "/api/v1/health", None),
        (Method::GET, "/api/v1/auth/whoami", Some(tok.as_str())),
        (Method::GET, "/api/v1/auth/whoami", None),
        (Method::GET, "/api/v1/skills/missing", None),
        (Method::POST, "/api/v1/skills", Some("tank_bad")),
    ] {
        let resp = srv.req(m, path, tok).send().await.unwrap();
        assert_api_headers(resp.headers(), path);
    }
}

#[tokio::test]
async fn request_id_echoed_when_valid_replaced_when_not() {
    let srv = TestServer::start().await;
    let long_ok = "a".repeat(128);
    for id in ["abc-123_X.y", "1", long_ok.as_str()] {
        let resp = srv
            .req(Method::GET, "/api/v1/health", None)
            .header("X-Request-Id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-request-id"], id);
    }
    let too_long = "a".repeat(129);
    for id in ["bad id", "semi;colon", "ümlaut", too_long.as_str(), "a/b"] {
        let resp = srv
            .req(Method::GET, "/api/v1/skills/missing", None)
            .header("X-Request-Id", id)
            .send()
            .await
            .unwrap();
        let got = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(got, id);
        assert!((1..=128).contains(&got.len()), "{got}");
        assert!(
            got.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{got}"
        );
    }
    // Absent: a fresh id per request, also on HTML pages.
    let a = srv.req(Method::GET, "/nope", None).send().await.unwrap();
    let b = srv.req(Method::GET, "/nope", None).send().await.unwrap();
    assert_ne!(a.headers()["x-request-id"], b.headers()["x-request-id"]);
}

#[tokio::test]
async fn json_bodies_malformed_array_multipart() {
    let srv = TestServer::start().await;
    let tok = srv.user_with_token("alice");
    let post = |body: &'static str, ct: Option<&'static str>| {
        let mut r = srv
            .req(Method::POST, "/api/v1/skills", Some(&tok))
            .body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    for (body, ct) in [
        ("{", Some("application/json")),
        ("{\"manifest\": ", None),
        ("not json", Some("text/plain")),
        ("", Some("application/json")),
    ] {
        let (s, e) = json_of(post(body, ct).await.unwrap()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(e["error"], "BAD_REQUEST");
    }
    for body in ["[]", "[{\"manifest\": {}}]", "\"str\"", "42", "null"] {
        let (s, e) = json_of(post(body, Some("application/json")).await.unwrap()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(e["error"], "VALIDATION_ERROR");
        assert_eq!(e["issues"][0]["path"], json!([]), "{e}");
    }
    // multipart/form-data is never parsed as JSON, even if the bytes are JSON.
    let valid = r#"{"manifest": {"name": "mp", "version": "1.0.0"}}"#;
    let (s, e) = json_of(
        post(valid, Some("multipart/form-data; boundary=xyz"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"], "BAD_REQUEST");
    // Same for confirm.
    let (s, e) = json_of(
        srv.req(Method::POST, "/api/v1/skills/confirm", Some(&tok))
            .header("content-type", "multipart/form-data; boundary=xyz")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    // Nothing was stored by any rejection.
    assert_eq!(srv.count("SELECT COUNT(*) FROM versions"), 0);
    assert_eq!(srv.count("SELECT COUNT(*) FROM skills"), 0);
    // Any other Content-Type is parsed as JSON (curl's form default included).
    let (s, e) = json_of(
        post(valid, Some("application/x-www-form-urlencoded"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(srv.count("SELECT COUNT(*) FROM versions"), 1);
    // Authentication comes before body parsing.
    let (s, e) = json_of(
        srv.req(Method::POST, "/api/v1/skills", None)
            .body("{")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(e["error"], "UNAUTHORIZED");
}

#[tokio::test]
async fn name_percent_encoding() {
    let srv = TestServer::start().await;
    for target in [
        "/api/v1/skills/%zz",
        "/api/v1/skills/%c3",
        "/api/v1/skills/ab%4",
        "/api/v1/skills/%ff%fe/versions",
        "/api/v1/skills/%40acme/%e2%82",
        "/api/v1/skills/x/1.0.0/files/%c3%28",
    ] {
        let r = raw(&srv, "GET", target, &[], b"").await;
        assert_eq!(r.status, 400, "{target}");
        assert_eq!(r.json()["error"], "BAD_REQUEST", "{target}");
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    // Decoded once only: `%2540org%252Fx` is the literal (invalid) name `%40org%2Fx`.
    let alice = srv.user_with_token("alice");
    srv.create_org("org", "alice");
    srv.publish(
        &alice,
        json!({"name": "@org/x", "version": "1.0.0"}),
        skill_tgz("@org/x", "1.0.0"),
    )
    .await;
    let (s, _) = srv.get("/api/v1/skills/%40org%2Fx", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = srv.get("/api/v1/skills/@org/x", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = srv.get("/api/v1/skills/%2540org%252Fx", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["error"], "NOT_FOUND");
    // Invalid names are 404 on reads, never 422.
    for path in [
        "/api/v1/skills/Upper",
        "/api/v1/skills/a_b",
        "/api/v1/skills/%40org",
    ] {
        let (s, e) = srv.get(path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(e["error"], "NOT_FOUND");
    }
    let long = "a".repeat(215);
    let (s, _) = srv.get(&format!("/api/v1/skills/{long}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn head_on_get_routes_has_headers_without_body() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let tgz = skill_tgz("headed", "1.0.0");
    srv.publish(
        &alice,
        json!({"name": "headed", "version": "1.0.0"}),
        tgz.clone(),
    )
    .await;
    for (target, status) in [
        ("/api/v1/health", 200),
        ("/api/v1/skills/headed", 200),
        ("/api/v1/skills/headed/versions", 200),
        ("/api/v1/skills/headed/1.0.0", 200),
        ("/api/v1/skills/headed/1.0.0/files", 200),
        ("/api/v1/skills/headed/1.0.0/files/SKILL.md", 200),
        ("/api/v1/skills/headed/1.0.0/tarball", 200),
        ("/api/v1/skills/headed/1.0.0/scan", 200),
        ("/api/v1/skills/missing", 404),
        ("/api/v1/nope", 404),
    ] {
        let get = raw(&srv, "GET", target, &[], b"").await;
        let head = raw(&srv, "HEAD", target, &[], b"").await;
        assert_eq!(get.status, status, "{target}");
        assert_eq!(head.status, status, "{target}");
        assert!(head.body.is_empty(), "{target}: HEAD has no body");
        assert!(!get.body.is_empty(), "{target}");
        for name in ["content-type", "cache-control", "x-content-type-options"] {
            assert_eq!(head.header(name), get.header(name), "{target} {name}");
        }
        if let Some(len) = head.header("content-length") {
            assert_eq!(len, get.body.len().to_string(), "{target}");
        }
    }
    // HEAD of the tarball did not count a download; the GETs above did (one).
    let (_, d) = srv.get("/api/v1/skills/headed/1.0.0", None).await;
    assert_eq!(d["downloads"], 1);
}

#[tokio::test]
async fn invalid_query_encoding() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let tgz = skill_tgz("q", "1.0.0");
    srv.publish(
        &alice,
        json!({"name": "q", "version": "1.0.0"}),
        tgz.clone(),
    )
    .await;
    // The tarball route reads its query (capability parameters): invalid UTF-8 → 400 (SPEC §2.4).
    for q in ["uid=%ff", "x=%c3%28", "signature=%zz", "expires=%4"] {
        let r = raw(
            &srv,
            "GET",
            &format!("/api/v1/skills/q/1.0.0/tarball?{q}"),
            &[],
            b"",
        )
        .await;
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["error"], "BAD_REQUEST");
    }
    let (_, d) = srv.get("/api/v1/skills/q/1.0.0", None).await;
    assert_eq!(d["downloads"], 0, "rejected downloads do not count");
    // Unknown, well-formed parameters are ignored.
    let r = raw(
        &srv,
        "GET",
        "/api/v1/skills/q/1.0.0/tarball?foo=bar+baz&foo=%40",
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, tgz);

    // The upload PUT is capability-only: a capability whose query cannot be decoded is malformed → 403
    // (SPEC §3.5 step 1), and nothing is stored.
    let (_, start) = srv
        .start_publish(&alice, json!({"name": "q", "version": "2.0.0"}))
        .await;
    let url = start["uploadUrl"].as_str().unwrap();
    let (path_q, _) = url.split_once("&signature=").unwrap();
    let target = format!("{}&signature=%ff", path_q.strip_prefix(&srv.url).unwrap());
    let r = raw(
        &srv,
        "PUT",
        &target,
        &[("Content-Type", "application/gzip")],
        &tgz,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "FORBIDDEN");
    assert!(srv.files_under("uploads").is_empty());
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM versions WHERE state = 'uploaded'"),
        0
    );
}

#[tokio::test]
async fn json_responses_are_no_store_and_nosniff() {
    let srv = TestServer::start().await;
    let tok = srv.user_with_token("alice");
    for (path, t) in [
        ("/api/v1/health", None),
        ("/api/health", Some("tank_whatever")),
        ("/api/v1/auth/whoami", Some(tok.as_str())),
        ("/api/v1/auth/whoami", Some("tank_nope")),
        ("/api/v1/skills/missing/1.0.0", None),
    ] {
        let resp = srv.req(Method::GET, path, t).send().await.unwrap();
        let h = resp.headers();
        assert_eq!(h["content-type"], "application/json", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let v: Value = resp.json().await.unwrap();
        assert!(v.is_object());
    }
}
