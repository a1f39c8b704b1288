//! Rate limiting (SPEC §2.9, issue 6): buckets per IP, token and pro user; exemptions; 401s in the IP bucket;
//! `X-Forwarded-For` only behind trusted proxies; `--rate-limit off`; the unfinished-publish 429 of §3.4.
//! Limits are tiny per test so that no test waits for a window to end (the window logic is unit-tested in
//! `src/ratelimit.rs`).

use crate::support::*;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};
use tank_registry::cli::UserCommand;
use tank_registry::config::Config;

fn limits(anon: u32, auth: u32, pro: u32) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.rate_limits.enabled = true;
        c.rate_limits.anon = anon;
        c.rate_limits.auth = auth;
        c.rate_limits.pro = pro;
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn header(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name).map(|v| {
        v.to_str()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number: {v:?}"))
    })
}

/// (Limit, Remaining, Reset) of a response, all present.
fn rl(h: &HeaderMap) -> (u64, u64, u64) {
    (
        header(h, "x-ratelimit-limit").expect("X-RateLimit-Limit"),
        header(h, "x-ratelimit-remaining").expect("X-RateLimit-Remaining"),
        header(h, "x-ratelimit-reset").expect("X-RateLimit-Reset"),
    )
}

fn no_rl(h: &HeaderMap) {
    for n in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(h.get(n).is_none(), "unexpected {n}: {h:?}");
    }
}

async fn send(r: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let resp = r.send().await.unwrap();
    let headers = resp.headers().clone();
    let (s, v) = json_of(resp).await;
    (s, headers, v)
}

/// An anonymous, counted request that touches nothing: metadata of a missing skill (404 after the limit).
async fn anon_probe(srv: &TestServer) -> (StatusCode, HeaderMap, Value) {
    send(srv.req(Method::GET, "/api/v1/skills/missing-skill", None)).await
}

fn create_pro_user(srv: &TestServer, name: &str) -> String {
    tank_registry::admin::user(
        &srv.config,
        UserCommand::Create {
            name: name.into(),
            email: Some(format!("{name}@example.com")),
            display_name: None,
            admin: false,
            pro: true,
            password_stdin: false,
        },
    )
    .expect("user create");
    srv.token(name, "skills:read,skills:publish")
}

fn assert_rate_limited(s: StatusCode, h: &HeaderMap, body: &Value, limit: u64, reset: u64) {
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "RATE_LIMITED", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let retry = header(h, "retry-after").expect("Retry-After");
    assert_eq!(body["retryAfter"], json!(retry), "{body}");
    assert!((1..=3600).contains(&retry), "{retry}");
    // Retry-After = max(1, ceil(reset − now)) with reset the window end.
    let now = unix_now();
    assert!(
        retry + now >= reset - 1 && retry + now <= reset + 1,
        "retry {retry} now {now} reset {reset}"
    );
    assert_eq!(rl(h), (limit, 0, reset));
}

#[tokio::test]
async fn anonymous_limit_by_ip_with_headers_and_429() {
    let srv = TestServer::start_with(limits(3, 50, 500)).await;
    let before = unix_now();
    let (s, h, body) = anon_probe(&srv).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (limit, remaining, reset) = rl(&h);
    assert_eq!((limit, remaining), (3, 2));
    assert!(
        (before + 3600..=unix_now() + 3601).contains(&reset),
        "reset {reset} vs now {before}"
    );
    let (_, h, _) = anon_probe(&srv).await;
    assert_eq!(rl(&h), (3, 1, reset));
    // Any counted endpoint shares the IP bucket: cli-auth start ignores credentials and counts per IP.
    let (s, h, body) = send(
        srv.req(Method::POST, "/api/v1/cli-auth/start", None)
            .json(&json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(rl(&h), (3, 0, reset));
    assert_eq!(srv.count("SELECT COUNT(*) FROM login_requests"), 1);

    // Over the limit: 429 with the envelope, retryAfter, Retry-After and Remaining 0.
    let (s, h, body) = anon_probe(&srv).await;
    assert_rate_limited(s, &h, &body, 3, reset);
    // A rejected request has no side effects: no login request is created.
    let (s, h, body) = send(
        srv.req(Method::POST, "/api/v1/cli-auth/start", None)
            .json(&json!({})),
    )
    .await;
    assert_rate_limited(s, &h, &body, 3, reset);
    assert_eq!(srv.count("SELECT COUNT(*) FROM login_requests"), 1);
    // CORS exposes the headers to browsers (SPEC §2.10).
    let expose = h
        .get("access-control-expose-headers")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(expose.contains("X-RateLimit-Remaining") && expose.contains("Retry-After"));
}

#[tokio::test]
async fn authenticated_requests_count_per_token() {
    let srv = TestServer::start_with(limits(5, 2, 100)).await;
    let t1 = srv.user_with_token("alice");
    let t2 = srv.token("alice", "skills:read");
    let (s, h, body) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&t1))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (limit, remaining, reset) = rl(&h);
    assert_eq!((limit, remaining), (2, 1));
    let (_, h, _) = send(srv.req(Method::GET, "/api/v1/skills/missing", Some(&t1))).await;
    assert_eq!(rl(&h), (2, 0, reset));
    let (s, h, body) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&t1))).await;
    assert_rate_limited(s, &h, &body, 2, reset);
    assert!(body.get("name").is_none(), "no side effect, no answer");

    // A second token of the same user is a separate bucket.
    let (s, h, body) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&t2))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "alice");
    assert_eq!((rl(&h).0, rl(&h).1), (2, 1));
    // So is the anonymous bucket of the same IP.
    let (_, h, _) = anon_probe(&srv).await;
    assert_eq!((rl(&h).0, rl(&h).1), (5, 4));
}

#[tokio::test]
async fn rejected_publish_start_stores_nothing() {
    let srv = TestServer::start_with(limits(5, 1, 100)).await;
    let t = srv.user_with_token("alice");
    let (s, h, _) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&t))).await;
    assert_eq!(s, StatusCode::OK);
    let reset = rl(&h).2;
    let (s, h, body) = send(
        srv.req(Method::POST, "/api/v1/skills", Some(&t))
            .json(&json!({"manifest": {"name": "hello", "version": "1.0.0"}})),
    )
    .await;
    assert_rate_limited(s, &h, &body, 1, reset);
    assert_eq!(srv.count("SELECT COUNT(*) FROM skills"), 0);
    assert_eq!(srv.count("SELECT COUNT(*) FROM versions"), 0);
}

#[tokio::test]
async fn pro_users_get_the_pro_tier() {
    let srv = TestServer::start_with(limits(5, 2, 7)).await;
    let pro = create_pro_user(&srv, "paula");
    let plain = srv.user_with_token("alice");
    let (s, h, body) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&pro))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (limit, remaining, _) = rl(&h);
    assert_eq!((limit, remaining), (7, 6));
    for _ in 0..3 {
        send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&pro))).await;
    }
    let (s, h, _) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&pro))).await;
    assert_eq!(s, StatusCode::OK, "past the plain limit of 2");
    assert_eq!(rl(&h).1, 2);
    let (_, h, _) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&plain))).await;
    assert_eq!((rl(&h).0, rl(&h).1), (2, 1));
}

#[tokio::test]
async fn exempt_endpoints_are_not_counted() {
    let srv = TestServer::start_with(limits(4, 50, 500)).await;
    let alice = srv.user_with_token("alice");
    let tgz = skill_tgz("hello", "1.0.0");
    // The publish itself goes through the token's bucket; its upload PUT is anonymous and exempt.
    let (s, start) = srv
        .start_publish(&alice, json!({"name": "hello", "version": "1.0.0"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{start}");
    let resp = srv
        .client
        .put(start["uploadUrl"].as_str().unwrap())
        .header("content-type", "application/octet-stream")
        .body(tgz.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    no_rl(resp.headers());
    let (s, body) = srv
        .confirm(&alice, start["versionId"].as_str().unwrap(), &tgz)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let exempt: Vec<(Method, &str)> = vec![
        (Method::GET, "/api/health"),
        (Method::GET, "/api/v1/health"),
        (Method::GET, "/api/v1/skills/hello/1.0.0/tarball"),
        (Method::HEAD, "/api/v1/skills/hello/1.0.0/tarball"),
        (Method::OPTIONS, "/api/v1/skills/hello"),
        (Method::OPTIONS, "/api/v1/auth/whoami"),
        (Method::GET, "/api/v1/cli-auth/authorize?token=auth_x"),
        // Web pages outside /api/ are not counted.
        (Method::GET, "/"),
        (Method::GET, "/login"),
    ];
    for _ in 0..2 {
        for (m, path) in &exempt {
            let resp = srv.req(m.clone(), path, None).send().await.unwrap();
            assert!(
                resp.status().as_u16() < 500 && resp.status() != StatusCode::TOO_MANY_REQUESTS,
                "{m} {path}: {}",
                resp.status()
            );
            no_rl(resp.headers());
        }
        // The exchange is polled every 2 s for 5 min: never counted.
        let (s, h, body) = send(
            srv.req(Method::POST, "/api/v1/cli-auth/exchange", None)
                .json(&json!({"pollToken": "poll_unknown"})),
        )
        .await;
        assert_eq!(s, StatusCode::GONE, "{body}");
        no_rl(&h);
    }
    // Even an invalid token on the (exempt) tarball is not counted in the IP bucket.
    let resp = srv
        .req(
            Method::GET,
            "/api/v1/skills/hello/1.0.0/tarball",
            Some("tank_invalid"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    no_rl(resp.headers());

    // After all of that the IP bucket is untouched: the first counted request sees Remaining = limit − 1.
    let (s, h, body) = send(srv.req(Method::GET, "/api/v1/skills/hello", None)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!((rl(&h).0, rl(&h).1), (4, 3));
}

#[tokio::test]
async fn requests_failing_before_the_limit_are_not_counted() {
    let srv = TestServer::start_with(limits(3, 50, 500)).await;
    let t = srv.user_with_token("alice");
    // Unknown route (404) and wrong method (405) fail at routing, before the rate limit (SPEC §2.7).
    let (s, h, _) = send(srv.req(Method::GET, "/api/v1/nowhere", None)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    no_rl(&h);
    let (s, h, _) = send(srv.req(Method::DELETE, "/api/v1/auth/whoami", None)).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    no_rl(&h);
    // A declared body over the limit is a 413 before authentication.
    let (s, h, body) = send(
        srv.req(Method::POST, "/api/v1/skills", Some(&t))
            .header("content-type", "application/json")
            .body(vec![b' '; 8 * 1024 * 1024 + 1]),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    no_rl(&h);
    // A missing scope is a 403 after the limit: counted in the token's bucket.
    let reader = srv.token("alice", "skills:read");
    let (s, h, body) = send(
        srv.req(Method::POST, "/api/v1/skills", Some(&reader))
            .json(&json!({"manifest": {"name": "hello", "version": "1.0.0"}})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!((rl(&h).0, rl(&h).1), (50, 49));
    let (_, h, _) = anon_probe(&srv).await;
    assert_eq!((rl(&h).0, rl(&h).1), (3, 2));
}

#[tokio::test]
async fn unauthorized_requests_count_in_the_ip_bucket() {
    let srv = TestServer::start_with(limits(3, 50, 500)).await;
    // An invalid token on an optional-auth read: 401, counted per IP.
    let (s, h, body) = send(srv.req(
        Method::GET,
        "/api/v1/skills/missing",
        Some("tank_not_a_real_token"),
    ))
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "UNAUTHORIZED");
    let (limit, remaining, reset) = rl(&h);
    assert_eq!((limit, remaining), (3, 2));
    // Missing credentials where required: 401, counted per IP.
    let (s, h, _) = send(srv.req(Method::GET, "/api/v1/auth/whoami", None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(rl(&h), (3, 1, reset));
    let (s, h, _) = anon_probe(&srv).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(rl(&h), (3, 0, reset));
    // Authentication precedes the rate limit: a bad token still gets its 401, never a 429.
    let (s, h, body) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some("bogus"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(rl(&h), (3, 0, reset));
    let (s, h, body) = anon_probe(&srv).await;
    assert_rate_limited(s, &h, &body, 3, reset);
    // A valid token is not held back by its IP's bucket.
    let t = srv.user_with_token("alice");
    let (s, h, _) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&t))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((rl(&h).0, rl(&h).1), (50, 49));
}

async fn xff_probe(srv: &TestServer, xff: &[&str]) -> (u64, u64) {
    let mut r = srv.req(Method::GET, "/api/v1/skills/missing", None);
    for v in xff {
        r = r.header("x-forwarded-for", *v);
    }
    let (_, h, _) = send(r).await;
    let (l, rem, _) = rl(&h);
    (l, rem)
}

#[tokio::test]
async fn forwarded_for_is_honoured_only_behind_trusted_proxies() {
    // Without --trust-proxy every request is the TCP peer's, whatever X-Forwarded-For says.
    let srv = TestServer::start_with(limits(5, 50, 500)).await;
    assert_eq!(xff_probe(&srv, &["1.1.1.1"]).await, (5, 4));
    assert_eq!(xff_probe(&srv, &["2.2.2.2"]).await, (5, 3));
    assert_eq!(xff_probe(&srv, &[]).await, (5, 2));
    srv.stop().await;

    // One trusted proxy: the right-most entry is the client; entries left of it are client-supplied.
    let srv = TestServer::start_with(|c| {
        limits(2, 50, 500)(c);
        c.trust_proxy = 1;
    })
    .await;
    assert_eq!(xff_probe(&srv, &["6.6.6.6, 203.0.113.7"]).await, (2, 1));
    // A spoofed left entry does not open a new bucket.
    assert_eq!(xff_probe(&srv, &["7.7.7.7, 203.0.113.7"]).await, (2, 0));
    let mut r = srv.req(Method::GET, "/api/v1/skills/missing", None);
    r = r.header("x-forwarded-for", "8.8.8.8, 203.0.113.7");
    let (s, _, body) = send(r).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Several header lines are joined in order: the last line's last entry counts.
    assert_eq!(
        xff_probe(&srv, &["203.0.113.7", "198.51.100.1"]).await,
        (2, 1)
    );
    // Another client behind the proxy has its own bucket; the peer (no header) has one too.
    assert_eq!(xff_probe(&srv, &["203.0.113.8"]).await, (2, 1));
    assert_eq!(xff_probe(&srv, &[]).await, (2, 1));
    // An entry that is not an IP address falls back to the peer.
    assert_eq!(xff_probe(&srv, &["not-an-ip"]).await, (2, 0));
    srv.stop().await;

    // Two trusted proxies: the second entry from the right.
    let srv = TestServer::start_with(|c| {
        limits(2, 50, 500)(c);
        c.trust_proxy = 2;
    })
    .await;
    assert_eq!(
        xff_probe(&srv, &["1.2.3.4, 203.0.113.9, 10.0.0.1"]).await,
        (2, 1)
    );
    assert_eq!(
        xff_probe(&srv, &["4.3.2.1, 203.0.113.9, 10.0.0.2"]).await,
        (2, 0)
    );
    // Only one entry although two proxies are trusted: the peer.
    assert_eq!(xff_probe(&srv, &["203.0.113.9"]).await, (2, 1));
}

#[tokio::test]
async fn disabled_rate_limits_send_no_headers() {
    let srv = TestServer::start_with(|c| {
        limits(1, 1, 1)(c);
        c.rate_limits.enabled = false;
    })
    .await;
    let t = srv.user_with_token("alice");
    for _ in 0..3 {
        let (s, h, _) = anon_probe(&srv).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        no_rl(&h);
        let (s, h, body) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&t))).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        no_rl(&h);
        let (s, h, _) = send(srv.req(Method::GET, "/api/v1/auth/whoami", None)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        no_rl(&h);
    }
}

#[tokio::test]
async fn unfinished_publish_429_has_no_ratelimit_headers_but_counts() {
    let srv = TestServer::start_with(limits(5, 100, 500)).await;
    let t = srv.user_with_token("alice");
    let mut reset = 0;
    for i in 0..20 {
        let (s, h, body) = send(
            srv.req(Method::POST, "/api/v1/skills", Some(&t))
                .json(&json!({"manifest": {"name": "hello", "version": format!("1.0.{i}")}})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        let (l, rem, r) = rl(&h);
        assert_eq!((l, rem), (100, 99 - i));
        reset = r;
    }
    let (s, h, body) = send(
        srv.req(Method::POST, "/api/v1/skills", Some(&t))
            .json(&json!({"manifest": {"name": "hello", "version": "1.0.20"}})),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "RATE_LIMITED");
    let retry = header(&h, "retry-after").expect("Retry-After");
    assert_eq!(body["retryAfter"], json!(retry));
    no_rl(&h);
    assert_eq!(srv.count("SELECT COUNT(*) FROM versions"), 20);
    // ... yet it was counted in the token's bucket: 21 requests so far.
    let (_, h, _) = send(srv.req(Method::GET, "/api/v1/auth/whoami", Some(&t))).await;
    assert_eq!(rl(&h), (100, 100 - 22, reset));
}

// Slow clients (SPEC §2.5, issue 6). The 30 s and 60 s defaults are shortened through `Config` so that the
// tests assert on behaviour (the connection is cut, the body is aborted), not on wall-clock figures.

async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut out),
    )
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn slow_request_head_is_cut_off() {
    use tokio::io::AsyncWriteExt;
    let srv = TestServer::start_with(|c| {
        c.header_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let addr = srv.url.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The head never ends: the server closes the connection without running the request.
    let answer = read_until_closed(&mut s).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // An idle keep-alive connection is closed too, after its first request was answered.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    // A normal client is unaffected.
    let (s, body) = srv.get("/api/v1/health", None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn stalled_request_body_is_aborted_and_the_connection_closed() {
    use tokio::io::AsyncWriteExt;
    let srv = TestServer::start_with(|c| {
        c.body_idle_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let alice = srv.user_with_token("alice");
    let addr = srv.url.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/skills HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"manifest\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.contains("\"BAD_REQUEST\""), "{answer}");
    assert_eq!(srv.count("SELECT COUNT(*) FROM versions"), 0);
}
