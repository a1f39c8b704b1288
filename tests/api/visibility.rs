//! Visibility (SPEC §6, §3.9–§3.10, §3.14): every row of the §6 table for every principal, the byte-identical
//! 404 of invisible skills, private download capabilities, and how visibility changes (publish can make a skill
//! private, only the admin command makes it public).

use crate::routing::raw;
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tank_registry::archive::testutil::build_tgz;
use tank_registry::cli::{AccessCommand, OrgCommand, SkillCommand};

fn tgz_for(name: &str, marker: &str) -> Vec<u8> {
    let md = format!(
        "---\nname: {name}\ndescription: A private test skill for visibility checks.\n---\n\n# {name}\n\n{marker}\n"
    );
    build_tgz(&[
        ("SKILL.md", md.as_bytes()),
        ("scripts/run.py", b"print('private')\n"),
    ])
}

fn grant(srv: &TestServer, skill: &str, user: &str) {
    tank_registry::admin::access(
        &srv.config,
        AccessCommand::Grant {
            skill: skill.into(),
            user: user.into(),
        },
    )
    .expect("access grant");
}

fn revoke(srv: &TestServer, skill: &str, user: &str) {
    tank_registry::admin::access(
        &srv.config,
        AccessCommand::Revoke {
            skill: skill.into(),
            user: user.into(),
        },
    )
    .expect("access revoke");
}

fn set_visibility(srv: &TestServer, skill: &str, v: &str) {
    tank_registry::admin::skill(
        &srv.config,
        SkillCommand::Visibility {
            name: skill.into(),
            visibility: v.into(),
        },
    )
    .expect("skill visibility");
}

fn enc(name: &str) -> String {
    name.replace('@', "%40").replace('/', "%2F")
}

fn not_found_body(name: &str) -> Vec<u8> {
    format!(r#"{{"error":"NOT_FOUND","message":"Skill {name} was not found."}}"#).into_bytes()
}

struct World {
    srv: TestServer,
    /// (label, token) — None is anonymous.
    principals: Vec<(&'static str, Option<String>)>,
    /// (skill name, tarball bytes, labels of principals that may see it).
    skills: Vec<(&'static str, Vec<u8>, Vec<&'static str>)>,
}

/// alice: owner of `@alice/secret` and unscoped `loner`, member of acme. bob: member of acme, publisher of
/// `@acme/internal`. carol: explicit grantee of all three. dave: no relation. root: admin user, with an
/// admin-scoped token and with an ordinary token. `@acme/open` is public.
async fn world() -> World {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let bob = srv.user_with_token("bob");
    srv.create_user("carol", false);
    let carol = srv.token("carol", "skills:read");
    let dave = srv.user_with_token("dave");
    srv.create_user("root", true);
    let root_admin = srv.token("root", "skills:admin");
    let root_plain = srv.token("root", "skills:read,skills:publish");
    srv.create_org("acme", "alice");
    srv.add_member("acme", "bob");

    let mut skills = Vec::new();
    for (name, tok, private, who) in [
        (
            "@alice/secret",
            &alice,
            true,
            vec!["alice", "carol", "root-admin"],
        ),
        (
            "@acme/internal",
            &bob,
            true,
            vec!["alice", "bob", "carol", "root-admin"],
        ),
        ("loner", &alice, true, vec!["alice", "carol", "root-admin"]),
        (
            "@acme/open",
            &alice,
            false,
            vec![
                "anonymous",
                "alice",
                "bob",
                "carol",
                "dave",
                "root-admin",
                "root-plain",
            ],
        ),
    ] {
        let tgz = tgz_for(name, &format!("Secret marker of {name}."));
        let mut manifest = json!({"name": name, "version": "1.0.0", "description": "Hidden."});
        if private {
            manifest["visibility"] = json!("private");
        }
        let conf = srv.publish(tok, manifest, tgz.clone()).await;
        assert_eq!(
            conf["visibility"],
            if private { "private" } else { "public" },
            "{conf}"
        );
        if private {
            grant(&srv, name, "carol");
        }
        skills.push((name, tgz, who));
    }
    World {
        srv,
        principals: vec![
            ("anonymous", None),
            ("alice", Some(alice)),
            ("bob", Some(bob)),
            ("carol", Some(carol)),
            ("dave", Some(dave)),
            ("root-admin", Some(root_admin)),
            ("root-plain", Some(root_plain)),
        ],
        skills,
    }
}

async fn get_raw(
    srv: &TestServer,
    path: &str,
    tok: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = srv.req(Method::GET, path, tok).send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn every_read_endpoint_for_every_principal() {
    let w = world().await;
    let srv = &w.srv;
    // A second, empty registry: what a truly missing skill of the same name looks like.
    let empty = TestServer::start().await;
    for (name, tgz, who) in &w.skills {
        let n = enc(name);
        let endpoints = [
            format!("/api/v1/skills/{n}"),
            format!("/api/v1/skills/{n}/versions"),
            format!("/api/v1/skills/{n}/1.0.0"),
            format!("/api/v1/skills/{n}/1.0.0/files"),
            format!("/api/v1/skills/{n}/1.0.0/files/SKILL.md"),
            format!("/api/v1/skills/{n}/1.0.0/scan"),
            format!("/api/v1/skills/{n}/1.0.0/tarball"),
            // Unknown version of a hidden skill: still the skill 404, never the version 404.
            format!("/api/v1/skills/{n}/9.9.9"),
        ];
        for (label, tok) in &w.principals {
            let visible = who.contains(label);
            for path in &endpoints {
                let (s, h, body) = get_raw(srv, path, tok.as_deref()).await;
                let ctx = format!("{label} GET {path}");
                if path.ends_with("/9.9.9") {
                    assert_eq!(s, StatusCode::NOT_FOUND, "{ctx}");
                    if visible {
                        let v: Value = serde_json::from_slice(&body).unwrap();
                        assert_eq!(
                            v["message"],
                            format!("Version 9.9.9 of {name} was not found."),
                            "{ctx}"
                        );
                    } else {
                        assert_eq!(body, not_found_body(name), "{ctx}");
                    }
                    continue;
                }
                if !visible {
                    assert_eq!(s, StatusCode::NOT_FOUND, "{ctx}");
                    assert_eq!(
                        String::from_utf8_lossy(&body),
                        String::from_utf8_lossy(&not_found_body(name)),
                        "{ctx}"
                    );
                    assert_eq!(h["content-type"], "application/json");
                    assert_eq!(h["cache-control"], "no-store");
                    // Same status, body and headers as a skill that does not exist at all.
                    let (es, eh, ebody) = get_raw(&empty, path, None).await;
                    assert_eq!(es, s, "{ctx}");
                    assert_eq!(ebody, body, "{ctx}");
                    for k in [
                        "content-type",
                        "content-length",
                        "cache-control",
                        "www-authenticate",
                    ] {
                        assert_eq!(eh.get(k), h.get(k), "{ctx} {k}");
                    }
                    continue;
                }
                assert_eq!(
                    s,
                    StatusCode::OK,
                    "{ctx}: {}",
                    String::from_utf8_lossy(&body)
                );
                if path.ends_with("/tarball") {
                    assert_eq!(&body, tgz, "{ctx}");
                    let cc = if *name == "@acme/open" {
                        "public, max-age=31536000, immutable"
                    } else {
                        "private, no-store"
                    };
                    assert_eq!(h["cache-control"], cc, "{ctx}");
                } else if path.ends_with("/SKILL.md") {
                    assert!(
                        String::from_utf8_lossy(&body)
                            .contains(&format!("Secret marker of {name}.")),
                        "{ctx}"
                    );
                    if *name != "@acme/open" {
                        assert_eq!(h["cache-control"], "private, no-store", "{ctx}");
                    }
                } else {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    if path.ends_with("/scan") {
                        assert!(v["scan_id"].as_str().unwrap().starts_with("scan_"), "{ctx}");
                        assert!(v["scanned_at"].is_string(), "{ctx}");
                    } else {
                        assert_eq!(v["name"], *name, "{ctx}");
                    }
                    if path.ends_with("/files") {
                        assert_eq!(v["files"], json!(["SKILL.md", "scripts/run.py"]));
                    }
                    if path.ends_with(&n) {
                        let vis = if *name == "@acme/open" {
                            "public"
                        } else {
                            "private"
                        };
                        assert_eq!(v["visibility"], vis, "{ctx}");
                        assert!(v["readme"].as_str().unwrap().contains("Secret marker"));
                    }
                }
            }

            // Stars: anonymous 401 (even for hidden skills), hidden 404 (same body), visible 200.
            let star = format!("/api/v1/skills/{n}/star");
            for m in [Method::GET, Method::POST, Method::DELETE] {
                let resp = srv
                    .req(m.clone(), &star, tok.as_deref())
                    .send()
                    .await
                    .unwrap();
                let s = resp.status();
                let body = resp.bytes().await.unwrap().to_vec();
                let ctx = format!("{label} {m} {star}");
                if tok.is_none() {
                    assert_eq!(s, StatusCode::UNAUTHORIZED, "{ctx}");
                } else if !visible {
                    assert_eq!(s, StatusCode::NOT_FOUND, "{ctx}");
                    assert_eq!(body, not_found_body(name), "{ctx}");
                } else {
                    assert_eq!(s, StatusCode::OK, "{ctx}");
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    assert!(v["stars"].is_u64(), "{ctx}");
                }
            }
        }
    }
    // Nothing was starred by invisible callers; POST then DELETE left no star for visible ones.
    assert_eq!(srv.count("SELECT COUNT(*) FROM stars"), 0);
    // No download was counted for refused tarballs: each visible principal downloaded each skill once.
    for (name, _, who) in &w.skills {
        let (_, d) = srv
            .get(
                &format!("/api/v1/skills/{}/1.0.0", enc(name)),
                Some(w.principals[1].1.as_deref().unwrap()),
            )
            .await;
        // alice sees every skill of the world.
        assert_eq!(d["downloads"], who.len() as u64, "{name}");
    }
}

#[tokio::test]
async fn admin_user_needs_an_admin_token() {
    let w = world().await;
    let srv = &w.srv;
    let root_admin = w.principals[5].1.clone().unwrap();
    let root_plain = w.principals[6].1.clone().unwrap();
    let (s, me) = srv.get("/api/v1/auth/whoami", Some(&root_plain)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["isAdmin"], true, "the user is an admin…");
    let (s, e) = srv.get("/api/v1/skills/loner", Some(&root_plain)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "…but not with this token");
    assert_eq!(e["message"], "Skill loner was not found.");
    let (s, m) = srv.get("/api/v1/skills/loner", Some(&root_admin)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(m["visibility"], "private");
}

/// The capability URL of a private skill's detail, for `tok`.
async fn capability(srv: &TestServer, name: &str, tok: &str) -> String {
    let (s, d) = srv
        .get(&format!("/api/v1/skills/{}/1.0.0", enc(name)), Some(tok))
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    d["downloadUrl"].as_str().unwrap().to_string()
}

fn query_param(url: &str, key: &str) -> String {
    let q = url.split_once('?').unwrap().1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn private_download_capability() {
    let w = world().await;
    let srv = &w.srv;
    let alice = w.principals[1].1.clone().unwrap();
    let carol = w.principals[3].1.clone().unwrap();
    let dave = w.principals[4].1.clone().unwrap();
    let (_, alice_me) = srv.get("/api/v1/auth/whoami", Some(&alice)).await;
    let (_, carol_me) = srv.get("/api/v1/auth/whoami", Some(&carol)).await;
    let tgz = w.skills[0].1.clone();

    let url = capability(srv, "@alice/secret", &alice).await;
    let prefix = format!("{}/api/v1/skills/%40alice%2Fsecret/1.0.0/tarball?", srv.url);
    assert!(url.starts_with(&prefix), "{url}");
    assert_eq!(
        query_param(&url, "uid"),
        alice_me["userId"].as_str().unwrap()
    );
    let expires: i64 = query_param(&url, "expires").parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now + 3590..=now + 3610).contains(&expires),
        "valid one hour"
    );
    let sig = query_param(&url, "signature");
    assert_eq!(sig.len(), 64);
    assert!(
        sig.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    // Signed with the server secret over the documented message.
    let secret = std::fs::read(srv.config.secret_path()).unwrap();
    let uid = query_param(&url, "uid");
    assert_eq!(
        sig,
        tank_registry::auth::sign(
            &secret,
            &format!("GET\n/api/v1/skills/@alice/secret/1.0.0/tarball\n{uid}\n{expires}")
        )
    );

    // Works without Authorization, for GET and HEAD.
    let (s, h, body) = get_raw(srv, &url, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, tgz);
    assert_eq!(h["cache-control"], "private, no-store");
    let head = srv.req(Method::HEAD, &url, None).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    // …and alongside a Bearer of someone who could not see the skill (the capability decides).
    let (s, _, body) = get_raw(srv, &url, Some(&dave)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, tgz);
    // An invalid Bearer is still a 401.
    let (s, _, _) = get_raw(srv, &url, Some("tank_invalid")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Tampering: flipped signature, another uid, later expiry, another version or skill → 404 (as if absent).
    let mut flipped = sig.clone().into_bytes();
    flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let carol_uid = carol_me["userId"].as_str().unwrap();
    let base = url.split_once('?').unwrap().0.to_string();
    let bad = [
        url.replace(&sig, &flipped),
        url.replace(&sig, &sig.to_uppercase()),
        url.replace(&uid, carol_uid),
        url.replace(
            &format!("expires={expires}"),
            &format!("expires={}", expires + 1),
        ),
        format!("{base}?uid={uid}&expires={expires}"),
        format!("{base}?uid={uid}&signature={sig}"),
        url.replace("%40alice%2Fsecret", "loner"),
        base.clone(),
    ];
    for b in &bad {
        let (s, _, body) = get_raw(srv, b, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        let expected = if b.contains("/loner/") {
            "loner"
        } else {
            "@alice/secret"
        };
        assert_eq!(body, not_found_body(expected), "{b}");
    }
    // An expired capability, correctly signed, is judged as absent too.
    let past = now - 10;
    let expired_sig = tank_registry::auth::sign(
        &secret,
        &format!("GET\n/api/v1/skills/@alice/secret/1.0.0/tarball\n{uid}\n{past}"),
    );
    let (s, _, _) = get_raw(
        srv,
        &format!("{base}?uid={uid}&expires={past}&signature={expired_sig}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A grantee's capability stops working as soon as the grant is revoked.
    let carol_url = capability(srv, "@alice/secret", &carol).await;
    assert_eq!(query_param(&carol_url, "uid"), carol_uid);
    let (s, _, body) = get_raw(srv, &carol_url, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, tgz);
    revoke(srv, "@alice/secret", "carol");
    let (s, _, body) = get_raw(srv, &carol_url, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found_body("@alice/secret"));
    let (s, _) = srv
        .get("/api/v1/skills/%40alice%2Fsecret", Some(&carol))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Alice's own capability is unaffected.
    let (s, _, _) = get_raw(srv, &url, None).await;
    assert_eq!(s, StatusCode::OK);

    // An org member's capability stops working when they leave the org.
    let bob = w.principals[2].1.clone().unwrap();
    let bob_url = capability(srv, "@acme/internal", &bob).await;
    let (s, _, _) = get_raw(srv, &bob_url, None).await;
    assert_eq!(s, StatusCode::OK);
    tank_registry::admin::org(
        &srv.config,
        OrgCommand::RemoveMember {
            slug: "acme".into(),
            user: "bob".into(),
        },
    )
    .unwrap();
    let (s, _, body) = get_raw(srv, &bob_url, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found_body("@acme/internal"));

    // A disabled user's capability stops working too.
    tank_registry::admin::user(
        &srv.config,
        tank_registry::cli::UserCommand::Update {
            name: "alice".into(),
            email: None,
            display_name: None,
            admin: None,
            pro: None,
            disabled: Some(tank_registry::cli::OnOff::On),
            password_stdin: false,
        },
    )
    .unwrap();
    let (s, _, body) = get_raw(srv, &url, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found_body("@alice/secret"));
    let alice = w.principals[5].1.clone().unwrap(); // root-admin from here on

    // Public skills: a plain URL without a query, never expiring.
    let (_, d) = srv
        .get("/api/v1/skills/%40acme%2Fopen/1.0.0", Some(&alice))
        .await;
    assert_eq!(
        d["downloadUrl"],
        format!("{}/api/v1/skills/%40acme%2Fopen/1.0.0/tarball", srv.url)
    );
    // Downloads through capabilities were counted: alice ×2 (+HEAD none) + dave-bearer ×1 + carol ×1.
    let (_, d) = srv
        .get("/api/v1/skills/%40alice%2Fsecret/1.0.0", Some(&alice))
        .await;
    assert_eq!(d["downloads"], 4);
}

#[tokio::test]
async fn capability_query_is_exact_raw_request() {
    // The capability works whether the client sends the URL as given or with the two-segment name.
    let w = world().await;
    let srv = &w.srv;
    let alice = w.principals[1].1.clone().unwrap();
    let url = capability(srv, "loner", &alice).await;
    let target = url.strip_prefix(&srv.url).unwrap();
    let r = raw(srv, "GET", target, &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, w.skills[2].1);
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"loner-1.0.0.tgz\"")
    );
    let url = capability(srv, "@alice/secret", &alice).await;
    let target = url
        .strip_prefix(&srv.url)
        .unwrap()
        .replace("%40alice%2Fsecret", "@alice/secret");
    let r = raw(srv, "GET", &target, &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, w.skills[0].1);
}

#[tokio::test]
async fn publish_can_make_private_only_admin_makes_public() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let dave = srv.user_with_token("dave");
    let name = "flip";
    let v1 = tgz_for(name, "one");
    let conf = srv
        .publish(
            &alice,
            json!({"name": name, "version": "1.0.0"}),
            v1.clone(),
        )
        .await;
    assert_eq!(conf["visibility"], "public");
    let (s, m) = srv.get("/api/v1/skills/flip", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(m["visibility"], "public");

    // A lower version saying private does not change the skill (skill-level fields follow latestVersion).
    let conf = srv
        .publish(
            &alice,
            json!({"name": name, "version": "0.5.0", "visibility": "private"}),
            tgz_for(name, "half"),
        )
        .await;
    assert_eq!(conf["visibility"], "public");
    let (s, _) = srv.get("/api/v1/skills/flip", None).await;
    assert_eq!(s, StatusCode::OK);

    // The new latest version says private: the whole skill, every version, becomes private.
    let conf = srv
        .publish(
            &alice,
            json!({"name": name, "version": "1.1.0", "visibility": "private"}),
            tgz_for(name, "two"),
        )
        .await;
    assert_eq!(conf["visibility"], "private");
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM skills WHERE name = 'flip' AND visibility = 'private'"),
        1
    );
    for tok in [None, Some(dave.as_str())] {
        for p in [
            "/api/v1/skills/flip",
            "/api/v1/skills/flip/1.0.0",
            "/api/v1/skills/flip/1.0.0/tarball",
            "/api/v1/skills/flip/1.0.0/files/SKILL.md",
        ] {
            let (s, _, body) = get_raw(&srv, p, tok).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
            assert_eq!(body, not_found_body("flip"));
        }
    }
    let (s, m) = srv.get("/api/v1/skills/flip", Some(&alice)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(m["visibility"], "private");

    // A later publication saying public is ignored.
    let conf = srv
        .publish(
            &alice,
            json!({"name": name, "version": "1.2.0", "visibility": "public"}),
            tgz_for(name, "three"),
        )
        .await;
    assert_eq!(conf["visibility"], "private");
    let (s, _) = srv.get("/api/v1/skills/flip", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, m) = srv.get("/api/v1/skills/flip", Some(&alice)).await;
    assert_eq!(m["latestVersion"], "1.2.0");
    assert_eq!(m["visibility"], "private");
    // Its detail URL is a capability.
    let (_, d) = srv.get("/api/v1/skills/flip/1.2.0", Some(&alice)).await;
    assert!(d["downloadUrl"].as_str().unwrap().contains("&signature="));

    // Only the admin command makes it public again.
    set_visibility(&srv, "flip", "public");
    let (s, m) = srv.get("/api/v1/skills/flip", None).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["visibility"], "public");
    let resp = srv
        .req(Method::GET, "/api/v1/skills/flip/1.0.0/tarball", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), v1.as_slice());
    let (_, d) = srv.get("/api/v1/skills/flip/1.2.0", None).await;
    assert_eq!(
        d["downloadUrl"],
        format!("{}/api/v1/skills/flip/1.2.0/tarball", srv.url)
    );
    // …and back.
    set_visibility(&srv, "flip", "private");
    let (s, _) = srv.get("/api/v1/skills/flip", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unpublished_versions_invisible_even_to_owner() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    // Started and uploaded but never confirmed: visible to nobody, not even the owner.
    let (s, start) = srv
        .start_publish(&alice, json!({"name": "draft", "version": "1.0.0"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let tgz = tgz_for("draft", "draft");
    let (s, _) = srv
        .upload(start["uploadUrl"].as_str().unwrap(), tgz.clone())
        .await;
    assert_eq!(s, StatusCode::OK);
    for p in [
        "/api/v1/skills/draft",
        "/api/v1/skills/draft/versions",
        "/api/v1/skills/draft/1.0.0",
        "/api/v1/skills/draft/1.0.0/tarball",
        "/api/v1/skills/draft/star",
    ] {
        let (s, _, body) = get_raw(&srv, p, Some(&alice)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
        assert_eq!(body, not_found_body("draft"), "{p}");
    }
    // Published version 1.0.0 of a skill with a pending 1.1.0: the pending one stays invisible to the owner.
    srv.confirm(&alice, start["versionId"].as_str().unwrap(), &tgz)
        .await;
    let (s, _) = srv
        .start_publish(&alice, json!({"name": "draft", "version": "1.1.0"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, e) = srv.get("/api/v1/skills/draft/1.1.0", Some(&alice)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["message"], "Version 1.1.0 of draft was not found.");
    let (_, m) = srv.get("/api/v1/skills/draft", Some(&alice)).await;
    assert_eq!(m["versions"].as_array().unwrap().len(), 1);
}
