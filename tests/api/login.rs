//! CLI login flow, web sign-in, CSRF, sessions, setup page and tokens page (issue "CLI login flow, web accounts
//! and pages"). A tiny cookie jar plays the browser.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use tank_registry::store::{Durability, NewUser, Store};

/// Creates a user with a password the way `user create --password-stdin` does.
pub(crate) fn user_with_password(srv: &TestServer, name: &str, password: &str, admin: bool) {
    let store = Store::open(&srv.config.db_path(), Durability::Full).unwrap();
    store
        .create_user(&NewUser {
            username: name.into(),
            email: Some(format!("{name}@example.com")),
            display_name: None,
            password_hash: Some(tank_registry::admin::hash_password(password).unwrap()),
            is_admin: admin,
            is_pro: false,
        })
        .unwrap();
}

/// A browser: cookies in, cookies out, no redirects followed.
#[derive(Default)]
pub(crate) struct Browser {
    pub(crate) cookies: HashMap<String, String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    /// The value of the hidden input `name` (first occurrence).
    pub(crate) fn hidden(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let i = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} in page: {}", self.body))
            + needle.len();
        self.body[i..self.body[i..].find('"').unwrap() + i].to_string()
    }
    pub(crate) fn location(&self) -> String {
        self.headers["location"].to_str().unwrap().to_string()
    }
}

impl Browser {
    pub(crate) async fn send(
        &mut self,
        srv: &TestServer,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let mut r = srv.req(method, path, None);
        if !self.cookies.is_empty() {
            let c = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            r = r.header("cookie", c);
        }
        if let Some(f) = form {
            let body = f
                .iter()
                .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
                .collect::<Vec<_>>()
                .join("&");
            r = r
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let resp = r.send().await.unwrap();
        for sc in resp.headers().get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let (kv, attrs) = sc.split_once(';').unwrap_or((sc, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }
    pub(crate) async fn get(&mut self, srv: &TestServer, path: &str) -> Page {
        self.send(srv, Method::GET, path, None).await
    }
    pub(crate) async fn post(
        &mut self,
        srv: &TestServer,
        path: &str,
        form: &[(&str, &str)],
    ) -> Page {
        self.send(srv, Method::POST, path, Some(form)).await
    }

    /// Signs in through /login.
    pub(crate) async fn sign_in(&mut self, srv: &TestServer, login: &str, password: &str) -> Page {
        let page = self.get(srv, "/login").await;
        let csrf = page.hidden("csrf_token");
        self.post(
            srv,
            "/login",
            &[
                ("login", login),
                ("password", password),
                ("csrf_token", &csrf),
                ("next", "/"),
            ],
        )
        .await
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn start(srv: &TestServer, body: Value) -> Value {
    let (s, v) = srv.post("/api/v1/cli-auth/start", None, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn code_of(start: &Value) -> String {
    start["authUrl"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_string()
}

/// Approves with a Bearer token through the JSON form of the consent endpoint.
async fn approve_json(srv: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    srv.post("/api/v1/cli-auth/authorize", Some(token), body)
        .await
}

#[tokio::test]
async fn start_returns_both_dialect_fields() {
    let srv = TestServer::start().await;
    let v = start(
        &srv,
        json!({"state": "0123456789abcdef", "deviceName": "laptop"}),
    )
    .await;
    assert!(v["pollToken"].as_str().unwrap().starts_with("poll_"));
    assert_eq!(v["pollToken"], v["sessionCode"]);
    let url = v["authUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/api/v1/cli-auth/authorize?token=auth_",
            srv.url
        )),
        "{url}"
    );
    assert!(
        !url.contains(v["pollToken"].as_str().unwrap()),
        "the authUrl never carries the poll token"
    );
    assert_eq!(v["expiresIn"], 300);
    // Empty body is {}; a bad state is 422; malformed JSON is 400. Nothing is stored for rejected starts.
    let r = srv
        .req(Method::POST, "/api/v1/cli-auth/start", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(srv.count("SELECT COUNT(*) FROM login_requests"), 2);
    let (s, e) = srv
        .post("/api/v1/cli-auth/start", None, json!({"state": "short"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["issues"][0]["path"], json!(["state"]));
    let r = srv
        .req(Method::POST, "/api/v1/cli-auth/start", None)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(srv.count("SELECT COUNT(*) FROM login_requests"), 2);
    // Auth is ignored: a garbage token does not matter.
    let (s, _) = srv
        .post("/api/v1/cli-auth/start", Some("garbage"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn dialect_table_pending_approve_reuse() {
    let srv = TestServer::start().await;
    let admin = {
        srv.create_user("alice", false);
        srv.token("alice", "skills:read,skills:publish")
    };
    // Seed dialect.
    let s1 = start(&srv, json!({"deviceName": "ci"})).await;
    let (s, v) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"pollToken": s1["pollToken"]}),
        )
        .await;
    assert_eq!(
        (s, v.clone()),
        (StatusCode::ACCEPTED, json!({"status": "pending"}))
    );
    // Client dialect.
    let s2 = start(&srv, json!({"state": "state-123456"})).await;
    let (s, v) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"sessionCode": s2["sessionCode"], "state": "state-123456"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "AUTHORIZATION_PENDING");

    for (st, body, reuse) in [
        (
            &s1,
            json!({"pollToken": s1["pollToken"]}),
            (StatusCode::GONE, "POLL_TOKEN_EXPIRED"),
        ),
        (
            &s2,
            json!({"sessionCode": s2["sessionCode"], "state": "state-123456"}),
            (StatusCode::BAD_REQUEST, "INVALID_SESSION"),
        ),
    ] {
        let (s, v) = approve_json(
            &srv,
            &admin,
            json!({"token": code_of(st), "action": "approve"}),
        )
        .await;
        assert_eq!(
            (s, v),
            (
                StatusCode::OK,
                json!({"success": true, "status": "approved"})
            )
        );
        let (s, v) = srv
            .post("/api/v1/cli-auth/exchange", None, body.clone())
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["apiKey"], v["token"]);
        assert_eq!(v["scopes"], json!(["skills:read", "skills:publish"]));
        assert_eq!(
            v["user"],
            json!({"name": "alice", "email": "alice@example.com"})
        );
        let tok = v["token"].as_str().unwrap();
        let (s, me) = srv.get("/api/v1/auth/whoami", Some(tok)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(me["name"], "alice");
        // Single use: a second exchange fails in the dialect's way, and no second token exists.
        let tokens_before = srv.count("SELECT COUNT(*) FROM tokens");
        let (s, v) = srv.post("/api/v1/cli-auth/exchange", None, body).await;
        assert_eq!((s, v["error"].as_str().unwrap()), reuse, "{v}");
        assert_eq!(srv.count("SELECT COUNT(*) FROM tokens"), tokens_before);
        // Deciding again → 409.
        let (s, v) = approve_json(
            &srv,
            &admin,
            json!({"token": code_of(st), "action": "deny"}),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"], "CONFLICT");
    }
    // The issued token records what approved it.
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM tokens WHERE approved_by LIKE 'tok_%' AND label LIKE 'CLI login: %'"),
        2
    );
}

#[tokio::test]
async fn dialect_table_deny_unknown_state_and_malformed() {
    let srv = TestServer::start().await;
    srv.create_user("alice", false);
    let admin = srv.token("alice", "skills:read,skills:publish");
    // Unknown token.
    let (s, v) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"pollToken": "poll_nope"}),
        )
        .await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::GONE, json!("POLL_TOKEN_EXPIRED"))
    );
    let (s, v) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"sessionCode": "poll_nope", "state": "x"}),
        )
        .await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("INVALID_SESSION"))
    );
    // Neither key → 422; malformed → 400.
    let (s, v) = srv.post("/api/v1/cli-auth/exchange", None, json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["issues"][0]["path"], json!(["pollToken"]));
    let r = srv
        .req(Method::POST, "/api/v1/cli-auth/exchange", None)
        .body("{x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Wrong or missing state leaves the request intact.
    let st = start(&srv, json!({"state": "the-right-state"})).await;
    for bad in [
        json!({"sessionCode": st["sessionCode"], "state": "the-wrong-state"}),
        json!({"sessionCode": st["sessionCode"]}),
    ] {
        let (s, v) = srv.post("/api/v1/cli-auth/exchange", None, bad).await;
        assert_eq!(
            (s, v["error"].clone()),
            (StatusCode::BAD_REQUEST, json!("INVALID_SESSION"))
        );
    }
    for bad in [
        json!({"pollToken": st["pollToken"], "state": "the-wrong-state"}),
        json!({"pollToken": st["pollToken"]}),
    ] {
        let (s, v) = srv.post("/api/v1/cli-auth/exchange", None, bad).await;
        assert_eq!(
            (s, v["error"].clone()),
            (StatusCode::GONE, json!("POLL_TOKEN_EXPIRED"))
        );
    }
    let (s, _) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"pollToken": st["pollToken"], "state": "the-right-state"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "still pending and intact");

    // Deny consumes the request: 403, then gone.
    let (s, _) = approve_json(
        &srv,
        &admin,
        json!({"sessionCode": st["sessionCode"], "action": "deny"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let body = json!({"sessionCode": st["sessionCode"], "state": "the-right-state"});
    let (s, v) = srv
        .post("/api/v1/cli-auth/exchange", None, body.clone())
        .await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::FORBIDDEN, json!("FORBIDDEN"))
    );
    let (s, v) = srv.post("/api/v1/cli-auth/exchange", None, body).await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("INVALID_SESSION"))
    );
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM tokens"),
        1,
        "only alice's admin-cli token"
    );

    // JSON approval: unknown → 404, missing action → 422, no token → 401, read-only token → 403.
    let (s, _) = approve_json(
        &srv,
        &admin,
        json!({"token": "auth_nope", "action": "approve"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = approve_json(&srv, &admin, json!({"token": "auth_nope"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = srv
        .post(
            "/api/v1/cli-auth/authorize",
            None,
            json!({"token": "x", "action": "approve"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let reader = srv.token("alice", "skills:read");
    let (s, _) = approve_json(&srv, &reader, json!({"token": "x", "action": "approve"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Other content types → 400 JSON.
    let r = srv
        .req(Method::POST, "/api/v1/cli-auth/authorize", None)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn expiry_with_short_ttl() {
    let srv =
        TestServer::start_with(|c| c.login_ttl = std::time::Duration::from_millis(1200)).await;
    srv.create_user("alice", false);
    let admin = srv.token("alice", "skills:read,skills:publish");
    let st = start(&srv, json!({"state": "state-123456"})).await;
    assert_eq!(st["expiresIn"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (s, v) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"pollToken": st["pollToken"], "state": "state-123456"}),
        )
        .await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::GONE, json!("POLL_TOKEN_EXPIRED"))
    );
    let (s, v) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"sessionCode": st["sessionCode"], "state": "state-123456"}),
        )
        .await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("INVALID_SESSION"))
    );
    let (s, _) = approve_json(
        &srv,
        &admin,
        json!({"token": code_of(&st), "action": "approve"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "an expired request cannot be approved"
    );
    let page = Browser::default()
        .get(
            &srv,
            &format!("/api/v1/cli-auth/authorize?token={}", code_of(&st)),
        )
        .await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.body.contains("has expired"));
}

#[tokio::test]
async fn json_approval_is_limited_by_the_approving_token() {
    let srv = TestServer::start().await;
    srv.create_user("alice", false);
    let approving = srv.token_with("alice", "skills:read,skills:publish", Some(2));
    let st = start(&srv, json!({})).await;
    approve_json(
        &srv,
        &approving,
        json!({"pollToken": st["pollToken"], "action": "approve"}),
    )
    .await;
    let (s, v) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"pollToken": st["pollToken"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let expires = v["expiresAt"].as_str().unwrap().to_string();
    // At most two days, not 90.
    let now = tank_registry::domain::format_ts(tank_registry::domain::now_ms() + 3 * 86_400_000);
    assert!(expires < now, "{expires} must be before {now}");
    // Revoking the approving token revokes what it approved, recursively.
    let issued = v["token"].as_str().unwrap().to_string();
    let id: String = {
        let c = rusqlite::Connection::open(srv.config.db_path()).unwrap();
        c.query_row(
            "SELECT approved_by FROM tokens WHERE label LIKE 'CLI login:%'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    tank_registry::admin::token(&srv.config, tank_registry::cli::TokenCommand::Revoke { id })
        .unwrap();
    let (s, _) = srv.get("/api/v1/auth/whoami", Some(&issued)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // An approval whose token is revoked before the exchange → 403.
    let approving = srv.token("alice", "skills:read,skills:publish");
    let st = start(&srv, json!({})).await;
    approve_json(
        &srv,
        &approving,
        json!({"pollToken": st["pollToken"], "action": "approve"}),
    )
    .await;
    let id: String = {
        let c = rusqlite::Connection::open(srv.config.db_path()).unwrap();
        c.query_row(
            "SELECT id FROM tokens WHERE hash = ?1",
            [tank_registry::auth::sha256_hex(&approving)],
            |r| r.get(0),
        )
        .unwrap()
    };
    tank_registry::admin::token(&srv.config, tank_registry::cli::TokenCommand::Revoke { id })
        .unwrap();
    let (s, v) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"pollToken": st["pollToken"]}),
        )
        .await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::FORBIDDEN, json!("FORBIDDEN"))
    );
}

#[tokio::test]
async fn whole_login_as_a_browser_then_publish() {
    let srv = TestServer::start().await;
    user_with_password(&srv, "alice", "correct horse", false);
    srv.create_org("acme", "alice");
    let st = start(
        &srv,
        json!({"state": "browser-state-1", "deviceName": "Alice's laptop"}),
    )
    .await;
    let auth_url = st["authUrl"].as_str().unwrap().to_string();

    let mut b = Browser::default();
    let page = b.get(&srv, &auth_url).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(
        page.body
            .contains("Reported by the device: Alice&#39;s laptop")
            || page
                .body
                .contains("Reported by the device: Alice&#x27;s laptop"),
        "{}",
        page.body
    );
    let csrf = page.hidden("csrf_token");
    assert_eq!(page.hidden("action"), "signin");

    // Wrong password → 401 with the form again.
    let bad = b
        .post(
            &srv,
            "/api/v1/cli-auth/authorize",
            &[
                ("action", "signin"),
                ("token", &code_of(&st)),
                ("csrf_token", &csrf),
                ("login", "alice"),
                ("password", "nope-nope"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.body.contains("Invalid username or password."));

    let consent = b
        .post(
            &srv,
            "/api/v1/cli-auth/authorize",
            &[
                ("action", "signin"),
                ("token", &code_of(&st)),
                ("csrf_token", &csrf),
                ("login", "alice"),
                ("password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(b.cookies.contains_key("tank_session"));
    assert!(
        consent
            .body
            .contains("Approve only if you ran <code>tank login</code> yourself")
    );
    assert!(consent.body.contains("valid for 90 days"));
    let deny_at = consent.body.find("value=\"deny\"").unwrap();
    let approve_at = consent.body.find("value=\"approve\"").unwrap();
    assert!(deny_at < approve_at, "Deny comes before Approve");
    let session_csrf = consent.hidden("csrf_token");
    assert!(consent.body.contains(&format!(
        "<meta name=\"csrf-token\" content=\"{session_csrf}\">"
    )));

    // Exchange while pending → 400 in the client dialect.
    let body = json!({"sessionCode": st["sessionCode"], "state": "browser-state-1"});
    let (s, _) = srv
        .post("/api/v1/cli-auth/exchange", None, body.clone())
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let done = b
        .post(
            &srv,
            "/api/v1/cli-auth/authorize",
            &[
                ("action", "approve"),
                ("token", &code_of(&st)),
                ("csrf_token", &session_csrf),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(
        done.body
            .contains("Approved — you can close this window and return to your terminal.")
    );
    // The link is now used.
    let again = b.get(&srv, &auth_url).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("already approved"));

    let (s, v) = srv.post("/api/v1/cli-auth/exchange", None, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["token"].as_str().unwrap();
    let (s, me) = srv.get("/api/v1/auth/whoami", Some(token)).await;
    assert_eq!((s, me["name"].clone()), (StatusCode::OK, json!("alice")));
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM tokens WHERE approved_by = 'session'"),
        1
    );
    let conf = srv
        .publish(
            token,
            json!({"name": "@acme/cli-login", "version": "1.0.0"}),
            skill_tgz("@acme/cli-login", "1.0.0"),
        )
        .await;
    assert_eq!(conf["status"], "published");
}

#[tokio::test]
async fn csrf_is_enforced() {
    let srv = TestServer::start().await;
    user_with_password(&srv, "alice", "correct horse", false);
    // Login form without the double-submit cookie, or with a different value → 403 page, no session.
    let mut b = Browser::default();
    let page = b.get(&srv, "/login").await;
    let csrf = page.hidden("csrf_token");
    let mut stranger = Browser::default();
    let r = stranger
        .post(
            &srv,
            "/login",
            &[
                ("login", "alice"),
                ("password", "correct horse"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!stranger.cookies.contains_key("tank_session"));
    let r = b
        .post(
            &srv,
            "/login",
            &[
                ("login", "alice"),
                ("password", "correct horse"),
                ("csrf_token", "wrong"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(srv.count("SELECT COUNT(*) FROM sessions"), 0);

    // Approving without the session's CSRF token → 403; the request stays pending.
    let r = b.sign_in(&srv, "alice", "correct horse").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let st = start(&srv, json!({})).await;
    let r = b
        .post(
            &srv,
            "/api/v1/cli-auth/authorize",
            &[
                ("action", "approve"),
                ("token", &code_of(&st)),
                ("csrf_token", "nope"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (s, _) = srv
        .post(
            "/api/v1/cli-auth/exchange",
            None,
            json!({"pollToken": st["pollToken"]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);

    // Token creation and revocation need it too.
    let r = b
        .post(
            &srv,
            "/account/tokens",
            &[
                ("label", "x"),
                ("scopes", "skills:read"),
                ("expires_in_days", "30"),
                ("csrf_token", "nope"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(srv.count("SELECT COUNT(*) FROM tokens"), 0);

    // Stars with a session: POST needs X-CSRF-Token.
    let owner = srv.user_with_token("bob");
    srv.publish(
        &owner,
        json!({"name": "@bob/x", "version": "1.0.0"}),
        skill_tgz("@bob/x", "1.0.0"),
    )
    .await;
    let cookie = format!("tank_session={}", b.cookies["tank_session"]);
    let r = srv
        .req(Method::POST, "/api/v1/skills/@bob/x/star", None)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = b.get(&srv, "/account/tokens").await;
    let meta = page.hidden("csrf_token");
    let r = srv
        .req(Method::POST, "/api/v1/skills/@bob/x/star", None)
        .header("cookie", &cookie)
        .header("x-csrf-token", &meta)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"starred": true, "stars": 1, "success": true}));
    // GET with the session needs no CSRF header; whoami does not accept a session.
    let r = srv
        .req(Method::GET, "/api/v1/skills/@bob/x/star", None)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = srv
        .req(Method::GET, "/api/v1/auth/whoami", None)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_issues_a_fresh_session_id() {
    let srv = TestServer::start().await;
    user_with_password(&srv, "alice", "correct horse", false);
    let mut b = Browser::default();
    b.cookies
        .insert("tank_session".into(), "planted-by-attacker".into());
    let r = b.sign_in(&srv, "alice", "correct horse").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/");
    let issued = b.cookies["tank_session"].clone();
    assert_ne!(issued, "planted-by-attacker");
    assert_eq!(issued.len(), 43);
    let set = r.headers["set-cookie"].to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"));
    assert!(!set.contains("Secure"), "public URL is http");
    // Stored hashed, never in clear.
    assert_eq!(
        srv.count(&format!(
            "SELECT COUNT(*) FROM sessions WHERE id_hash = '{issued}'"
        )),
        0
    );
    assert_eq!(srv.count("SELECT COUNT(*) FROM sessions"), 1);
    // A second sign-in gets another id; logging out deletes the session.
    let mut b2 = Browser::default();
    b2.sign_in(&srv, "alice", "correct horse").await;
    assert_ne!(b2.cookies["tank_session"], issued);
    let page = b.get(&srv, "/account/tokens").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.hidden("csrf_token");
    let r = b.post(&srv, "/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(srv.count("SELECT COUNT(*) FROM sessions"), 1);
    let mut old = Browser::default();
    old.cookies.insert("tank_session".into(), issued);
    let r = old.get(&srv, "/account/tokens").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the old session is gone");
    assert_eq!(r.location(), "/login?next=/account/tokens");
    // next is honoured only for local paths.
    let mut c = Browser::default();
    let page = c.get(&srv, "/login").await;
    let csrf = page.hidden("csrf_token");
    let r = c
        .post(
            &srv,
            "/login",
            &[
                ("login", "alice@example.com"),
                ("password", "correct horse"),
                ("csrf_token", &csrf),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/");
}

#[tokio::test]
async fn sign_in_throttling() {
    let srv = TestServer::start().await;
    user_with_password(&srv, "alice", "correct horse", false);
    let mut b = Browser::default();
    let csrf = b.get(&srv, "/login").await.hidden("csrf_token");
    for _ in 0..10 {
        let r = b
            .post(
                &srv,
                "/login",
                &[
                    ("login", "alice"),
                    ("password", "wrong-password"),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now, for this (IP, login).
    let r = b
        .post(
            &srv,
            "/login",
            &[
                ("login", "alice"),
                ("password", "correct horse"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("Too many failed sign-in attempts"));
    assert_eq!(srv.count("SELECT COUNT(*) FROM sessions"), 0);
    // Another login from the same IP is not blocked by alice's counter.
    user_with_password(&srv, "bob", "bob password", false);
    let r = b
        .post(
            &srv,
            "/login",
            &[
                ("login", "bob"),
                ("password", "bob password"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Disabled users cannot sign in.
    tank_registry::admin::user(
        &srv.config,
        tank_registry::cli::UserCommand::Update {
            name: "bob".into(),
            email: None,
            display_name: None,
            admin: None,
            pro: None,
            disabled: Some(tank_registry::cli::OnOff::On),
            password_stdin: false,
        },
    )
    .unwrap();
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM sessions"),
        0,
        "disabling deletes sessions"
    );
    let mut c = Browser::default();
    let csrf = c.get(&srv, "/login").await.hidden("csrf_token");
    let r = c
        .post(
            &srv,
            "/login",
            &[
                ("login", "bob"),
                ("password", "bob password"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn setup_page_lifecycle() {
    let srv =
        TestServer::start_with(|c| c.setup_token = Some("setup-token-for-tests".into())).await;
    let mut b = Browser::default();
    let r = b.get(&srv, "/setup?token=wrong").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = b.get(&srv, "/setup?token=setup-token-for-tests").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.hidden("csrf_token");
    // Validation errors re-render with 422 and create nothing.
    let r = b
        .post(
            &srv,
            "/setup",
            &[
                ("token", "setup-token-for-tests"),
                ("csrf_token", &csrf),
                ("username", "Root!"),
                ("password", "password1"),
                ("password_confirm", "password2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("The two passwords differ."));
    assert_eq!(srv.count("SELECT COUNT(*) FROM users"), 0);
    // Wrong token on POST → 403.
    let r = b
        .post(
            &srv,
            "/setup",
            &[
                ("token", "nope"),
                ("csrf_token", &csrf),
                ("username", "root"),
                ("password", "password1"),
                ("password_confirm", "password1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post(
            &srv,
            "/setup",
            &[
                ("token", "setup-token-for-tests"),
                ("csrf_token", &csrf),
                ("username", "root"),
                ("display_name", "Root Admin"),
                ("email", "root@example.com"),
                ("password", "password1"),
                ("password_confirm", "password1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        b.cookies.contains_key("tank_session"),
        "signed in after setup"
    );
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM users WHERE username = 'root' AND is_admin = 1"),
        1
    );
    // Gone afterwards, also for a second submission.
    let r = b.get(&srv, "/setup?token=setup-token-for-tests").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = b
        .post(
            &srv,
            "/setup",
            &[
                ("token", "setup-token-for-tests"),
                ("csrf_token", &csrf),
                ("username", "root2"),
                ("password", "password1"),
                ("password_confirm", "password1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(srv.count("SELECT COUNT(*) FROM users"), 1);
    // The admin sees the admin scope on the tokens page.
    let page = b.get(&srv, "/account/tokens").await;
    assert!(page.body.contains("value=\"skills:admin\""));
}

#[tokio::test]
async fn tokens_page_create_and_revoke() {
    let srv = TestServer::start().await;
    user_with_password(&srv, "alice", "correct horse", false);
    let mut b = Browser::default();
    b.sign_in(&srv, "alice", "correct horse").await;
    let page = b.get(&srv, "/account/tokens").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("You have no tokens yet."));
    assert!(
        !page.body.contains("value=\"skills:admin\""),
        "no admin scope for non-admins"
    );
    let csrf = page.hidden("csrf_token");
    // Admin scope is refused for a non-admin.
    let r = b
        .post(
            &srv,
            "/account/tokens",
            &[
                ("label", "ci"),
                ("scopes", "skills:admin"),
                ("expires_in_days", "30"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(srv.count("SELECT COUNT(*) FROM tokens"), 0);
    let r = b
        .post(
            &srv,
            "/account/tokens",
            &[
                ("label", "ci"),
                ("scopes", "skills:read"),
                ("scopes", "skills:publish"),
                ("expires_in_days", "30"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let i = r.body.find("<code class=\"token\">").unwrap() + "<code class=\"token\">".len();
    let token = r.body[i..i + 48].to_string();
    assert!(token.starts_with("tank_"));
    let (s, me) = srv.get("/api/v1/auth/whoami", Some(&token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["scopes"], json!(["skills:read", "skills:publish"]));
    // Listed without the token itself; shown once only.
    let page = b.get(&srv, "/account/tokens").await;
    assert!(!page.body.contains(&token));
    assert!(page.body.contains(&token[..12]));
    assert!(page.body.contains("active"));
    let id: String = {
        let c = rusqlite::Connection::open(srv.config.db_path()).unwrap();
        c.query_row("SELECT id FROM tokens", [], |r| r.get(0))
            .unwrap()
    };
    // Another user cannot revoke it.
    user_with_password(&srv, "mallory", "mallory pw", false);
    let mut m = Browser::default();
    m.sign_in(&srv, "mallory", "mallory pw").await;
    let mcsrf = m.get(&srv, "/account/tokens").await.hidden("csrf_token");
    let r = m
        .post(
            &srv,
            &format!("/account/tokens/{id}/revoke"),
            &[("csrf_token", &mcsrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let (s, _) = srv.get("/api/v1/auth/whoami", Some(&token)).await;
    assert_eq!(s, StatusCode::OK);
    let r = b
        .post(
            &srv,
            &format!("/account/tokens/{id}/revoke"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/account/tokens");
    let (s, _) = srv.get("/api/v1/auth/whoami", Some(&token)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let page = b.get(&srv, "/account/tokens").await;
    assert!(page.body.contains("revoked"));
    // Signed out → redirected to sign-in.
    let r = Browser::default().get(&srv, "/account/tokens").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?next=/account/tokens");
}

#[tokio::test]
async fn consent_page_error_states() {
    let srv = TestServer::start().await;
    let r = Browser::default()
        .get(&srv, "/api/v1/cli-auth/authorize?token=auth_unknown")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.body
            .contains("This sign-in link is invalid. Run `tank login` again.")
    );
    assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
    srv.create_user("alice", false);
    let tok = srv.token("alice", "skills:read,skills:publish");
    let st = start(&srv, json!({})).await;
    approve_json(&srv, &tok, json!({"token": code_of(&st), "action": "deny"})).await;
    let r = Browser::default()
        .get(
            &srv,
            &format!("/api/v1/cli-auth/authorize?token={}", code_of(&st)),
        )
        .await;
    assert_eq!(r.status, StatusCode::GONE);
    assert!(r.body.contains("already denied"));
}

#[tokio::test]
async fn home_page_searches_with_the_session_user() {
    let srv = TestServer::start().await;
    user_with_password(&srv, "alice", "correct horse", false);
    srv.create_org("acme", "alice");
    let tok = srv.token("alice", "skills:read,skills:publish");
    srv.publish(&tok, json!({"name": "@acme/weather", "version": "1.0.0", "description": "Forecasts for <b>hikers</b>."}), skill_tgz("@acme/weather", "1.0.0")).await;
    srv.publish(&tok, json!({"name": "@acme/secret-tool", "version": "1.0.0", "visibility": "private", "description": "Internal weather tooling."}), skill_tgz("@acme/secret-tool", "1.0.0")).await;

    let mut anon = Browser::default();
    let page = anon.get(&srv, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Tank Registry</h1>"));
    assert!(page.body.contains("@acme/weather"));
    assert!(
        !page.body.contains("@acme/secret-tool"),
        "private skills are invisible to anonymous users"
    );
    assert!(
        !page.body.contains("<b>hikers</b>"),
        "interpolated text is escaped"
    );
    assert!(page.body.contains("hikers"), "{}", page.body);
    let page = anon.get(&srv, "/?q=weather").await;
    assert!(page.body.contains("(1)"), "{}", page.body);
    assert!(page.body.contains("tank install @acme/weather"));

    let mut member = Browser::default();
    member.sign_in(&srv, "alice", "correct horse").await;
    let page = member.get(&srv, "/?q=weather").await;
    assert!(page.body.contains("@acme/secret-tool") && page.body.contains("@acme/weather"));
    assert!(page.body.contains("(2)"));
    let page = member.get(&srv, "/?q=zzzzqq").await;
    assert!(page.body.contains("No skills found."));
}
