//! Skill pages, the star form and the scan page (SPEC §3.23): visibility with the session user, inert
//! readmes, CSRF, and the ownership rules of stored scans.

use crate::login::{Browser, user_with_password};
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tank_registry::archive::testutil::build_tgz;

fn readme_tgz(name: &str, version: &str, readme: &str) -> Vec<u8> {
    let tank_json = json!({"name": name, "version": version, "description": "Greets."}).to_string();
    build_tgz(&[
        ("SKILL.md", readme.as_bytes()),
        ("tank.json", tank_json.as_bytes()),
        ("img/logo.png", b"\x89PNG\r\n\x1a\n"),
    ])
}

const README: &str = "---\nname: hello\ndescription: Greets people politely and briefly.\n---\n# Hello\n\n\
<script>alert('x')</script>\n\n[click](javascript:alert(1)) [docs](https://docs.example/hello) \
![logo](./img/logo.png) <img src=x onerror=alert(2)>\n";

#[tokio::test]
async fn skill_page_shows_the_version_and_renders_the_readme_inert() {
    let srv = TestServer::start().await;
    let tok = srv.user_with_token("alice");
    let mut m = json!({"name": "hello", "version": "1.0.0", "description": "Greets <b>people</b>.", "repository": "ssh://git@code.example/hello.git"});
    srv.publish(&tok, m.clone(), readme_tgz("hello", "1.0.0", README))
        .await;
    m["version"] = json!("2.0.0");
    m["repository"] = json!("https://code.example/hello");
    m["permissions"] = json!({"network": {"outbound": ["api.example.com"]}});
    srv.publish(&tok, m, readme_tgz("hello", "2.0.0", README))
        .await;

    let mut anon = Browser::default();
    let page = anon.get(&srv, "/skills/hello").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'none'")
    );
    let b = &page.body;
    assert!(
        b.contains("<h1>hello <span class=\"muted\">2.0.0</span>"),
        "{b}"
    );
    assert!(b.contains("tank install hello"));
    assert!(
        !b.contains("description: Greets people"),
        "frontmatter is not part of the rendered readme"
    );
    assert!(b.contains("<h1>Hello</h1>"), "{b}");
    assert!(b.contains("api.example.com"), "permissions shown");
    assert!(
        b.contains("Greets &#60;b&#62;people&#60;/b&#62;."),
        "description escaped: {b}"
    );
    assert!(!b.contains("<script>alert"), "raw HTML escaped");
    assert!(!b.contains("onerror=alert(2)>"), "{b}");
    assert!(!b.to_ascii_lowercase().contains("javascript:"), "{b}");
    assert!(b.contains(r#"href="https://docs.example/hello""#));
    assert!(
        b.contains(r#"src="/api/v1/skills/hello/2.0.0/files/img/logo.png""#),
        "{b}"
    );
    assert!(
        b.contains(r#"href="https://code.example/hello""#),
        "repository link"
    );
    assert!(
        b.contains(r#"<a href="/skills/hello/1.0.0">1.0.0</a>"#),
        "versions table"
    );
    assert!(
        !b.contains("name=\"action\""),
        "no star form for anonymous users"
    );
    // The relative image really is served by the file endpoint.
    let img = srv
        .req(
            Method::GET,
            "/api/v1/skills/hello/2.0.0/files/img/logo.png",
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(img.status(), StatusCode::OK);

    let old = anon.get(&srv, "/skills/hello/1.0.0").await;
    assert_eq!(old.status, StatusCode::OK);
    assert!(
        old.body
            .contains("<h1>hello <span class=\"muted\">1.0.0</span>")
    );
    assert!(
        !old.body.contains("javascript:alert(3)"),
        "only http(s) repository links"
    );
    assert!(
        old.body
            .contains(r#"<a href="/skills/hello/2.0.0">2.0.0</a>"#)
    );

    // Unknown version, unknown skill, bad name: the 404 page.
    for p in [
        "/skills/hello/9.9.9",
        "/skills/nope",
        "/skills/Bad%20Name",
        "/skills/hello/1.0.0/extra",
    ] {
        let page = anon.get(&srv, p).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{p}");
        assert!(page.body.contains("<h1>Not found</h1>"));
    }
    // Home results link to the skill page.
    let home = anon.get(&srv, "/?q=hello").await;
    assert!(
        home.body.contains(r#"<a href="/skills/hello">hello</a>"#),
        "{}",
        home.body
    );
}

#[tokio::test]
async fn private_skill_pages_are_404_for_outsiders_and_identical_to_missing() {
    let srv = TestServer::start().await;
    user_with_password(&srv, "alice", "correct horse", false);
    user_with_password(&srv, "bob", "battery staple", false);
    srv.create_org("acme", "alice");
    let tok = srv.token("alice", "skills:read,skills:publish");
    srv.publish(&tok, json!({"name": "@acme/secret", "version": "1.0.0", "visibility": "private", "description": "Hidden."}), skill_tgz("@acme/secret", "1.0.0")).await;

    let mut anon = Browser::default();
    let hidden = anon.get(&srv, "/skills/@acme/secret").await;
    let missing = anon.get(&srv, "/skills/@acme/absent").await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(
        hidden.body, missing.body,
        "an invisible skill looks missing"
    );
    let mut bob = Browser::default();
    bob.sign_in(&srv, "bob", "battery staple").await;
    let page = bob.get(&srv, "/skills/%40acme%2Fsecret").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("Hidden."));

    let mut alice = Browser::default();
    alice.sign_in(&srv, "alice", "correct horse").await;
    let page = alice.get(&srv, "/skills/@acme/secret").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Hidden.") && page.body.contains("private"));
}

#[tokio::test]
async fn star_form_needs_a_session_and_its_csrf_token() {
    let srv = TestServer::start().await;
    user_with_password(&srv, "alice", "correct horse", false);
    let tok = srv.token("alice", "skills:read,skills:publish");
    srv.publish(
        &tok,
        json!({"name": "@alice/tool", "version": "1.0.0", "description": "A tool."}),
        skill_tgz("@alice/tool", "1.0.0"),
    )
    .await;
    let stars = || async {
        let (st, b) = srv.get("/api/v1/skills/@alice/tool/star", Some(&tok)).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        b["count"].as_i64().unwrap()
    };

    let mut anon = Browser::default();
    let page = anon
        .post(
            &srv,
            "/skills/@alice/tool/star",
            &[("action", "star"), ("csrf_token", "x")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login?next=%2Fskills%2F%2540alice%2Ftool");
    assert_eq!(stars().await, 0);

    let mut alice = Browser::default();
    alice.sign_in(&srv, "alice", "correct horse").await;
    let page = alice.get(&srv, "/skills/@alice/tool").await;
    let csrf = page.hidden("csrf_token");
    assert!(page.body.contains(r#"name="action" value="star""#));
    let bad = alice
        .post(
            &srv,
            "/skills/@alice/tool/star",
            &[("action", "star"), ("csrf_token", "wrong")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    assert_eq!(stars().await, 0);

    let ok = alice
        .post(
            &srv,
            "/skills/@alice/tool/star",
            &[("action", "star"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location(), "/skills/%40alice/tool");
    assert_eq!(stars().await, 1);
    let page = alice.get(&srv, "/skills/@alice/tool").await;
    assert!(page.body.contains(r#"name="action" value="unstar""#));
    assert!(page.body.contains("1 stars"));
    alice
        .post(
            &srv,
            "/skills/@alice/tool/star",
            &[("action", "unstar"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(stars().await, 0);
    let page = alice
        .post(
            &srv,
            "/skills/@alice/tool/star",
            &[("action", "boost"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn scan_page_follows_the_report_owner() {
    let srv = TestServer::start().await;
    user_with_password(&srv, "alice", "correct horse", false);
    user_with_password(&srv, "bob", "battery staple", false);
    let tok = srv.token("alice", "skills:read,skills:publish");
    let boundary = "b0undary";
    let tgz = build_tgz(&[("skill.py", b"print(1)\n")]);
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.tgz\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&tgz);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let scan = |token: Option<String>| {
        let body = body.clone();
        let srv = &srv;
        async move {
            let r = srv
                .req(Method::POST, "/api/v1/scan", token.as_deref())
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .unwrap();
            json_of(r).await.1["scan_id"].as_str().unwrap().to_string()
        }
    };
    let anon_id = scan(None).await;
    let alice_id = scan(Some(tok)).await;

    let mut anon = Browser::default();
    let page = anon.get(&srv, &format!("/scans/{anon_id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&anon_id) && page.body.contains("STR-001"),
        "{}",
        page.body
    );
    let page = anon.get(&srv, &format!("/scans/{alice_id}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location(),
        format!("/login?next=%2Fscans%2F{alice_id}")
    );
    let page = anon
        .get(&srv, "/scans/scan_01JUNKJUNKJUNKJUNKJUNKJUNK")
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    let mut bob = Browser::default();
    bob.sign_in(&srv, "bob", "battery staple").await;
    assert_eq!(
        bob.get(&srv, &format!("/scans/{alice_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let mut alice = Browser::default();
    alice.sign_in(&srv, "alice", "correct horse").await;
    let page = alice.get(&srv, &format!("/scans/{alice_id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("missing_skill_md"));
}
