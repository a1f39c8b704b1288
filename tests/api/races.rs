//! Races, black-box (SPEC §3.5, §4.3): concurrent uploads never mix bytes, an upload racing a confirm never
//! changes what is published, exactly one of many concurrent publish flows of a version wins, and concurrent
//! stars stay consistent. Each scenario runs several rounds on a multi-threaded runtime.

use crate::support::*;
use futures_util::future::join_all;
use rand::RngCore;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use tank_registry::archive::testutil::build_tgz;

/// A valid tarball with `size` incompressible bytes in `data.bin` and `marker` in scripts/run.py, so that
/// uploads take long enough to overlap and every variant has distinct bytes.
fn big_tgz(name: &str, marker: &str, size: usize) -> Vec<u8> {
    let mut data = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut data);
    let md = format!(
        "---\nname: {name}\ndescription: A test skill for race conditions.\n---\n\n# {name}\n\nRaces politely.\n"
    );
    build_tgz(&[
        ("SKILL.md", md.as_bytes()),
        ("scripts/run.py", format!("print('{marker}')\n").as_bytes()),
        ("data.bin", &data),
    ])
}

fn sha512_hex(b: &[u8]) -> String {
    hex::encode(Sha512::digest(b))
}

async fn tarball(srv: &TestServer, name: &str, v: &str) -> Vec<u8> {
    let resp = srv
        .req(
            Method::GET,
            &format!("/api/v1/skills/{name}/{v}/tarball"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes().await.unwrap().to_vec()
}

async fn file(srv: &TestServer, name: &str, v: &str, path: &str) -> Vec<u8> {
    let resp = srv
        .req(
            Method::GET,
            &format!("/api/v1/skills/{name}/{v}/files/{path}"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_to_one_version_never_mix() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    for round in 0..6 {
        let version = format!("1.0.{round}");
        let (s, start) = srv
            .start_publish(&alice, json!({"name": "mix", "version": version}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{start}");
        let url = start["uploadUrl"].as_str().unwrap().to_string();
        let vid = start["versionId"].as_str().unwrap().to_string();
        let a = big_tgz("mix", "A", 2 << 20);
        let b = big_tgz("mix", "B", 2 << 20);
        let (ra, rb) = tokio::join!(srv.upload(&url, a.clone()), srv.upload(&url, b.clone()));
        assert_eq!(ra.0, StatusCode::OK, "{}", ra.1);
        assert_eq!(rb.0, StatusCode::OK, "{}", rb.1);
        assert_eq!(ra.1["integrity"], integrity(&a));
        assert_eq!(rb.1["integrity"], integrity(&b));

        // The stored upload is exactly one of the two, never a mix; no temporary file is left behind.
        let stored =
            std::fs::read(srv.data_dir().join("uploads").join(format!("{vid}.tgz"))).unwrap();
        let (winner, loser) = if stored == a {
            (&a, &b)
        } else {
            assert_eq!(
                sha512_hex(&stored),
                sha512_hex(&b),
                "round {round}: mixed bytes"
            );
            (&b, &a)
        };
        assert_eq!(srv.files_under("uploads").len(), 1, "no .part left");
        // The row records the bytes that are on disk.
        assert_eq!(
            srv.count(&format!(
                "SELECT COUNT(*) FROM versions WHERE id = '{vid}' AND upload_integrity = '{}'",
                integrity(winner)
            )),
            1,
            "round {round}"
        );

        // Confirm with the loser's integrity fails; with the winner's it publishes exactly those bytes.
        let (s, e) = srv.confirm(&alice, &vid, loser).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["issues"][0]["path"], json!(["integrity"]));
        assert!(
            e["issues"][0]["message"]
                .as_str()
                .unwrap()
                .contains(&integrity(winner))
        );
        let (s, c) = srv.confirm(&alice, &vid, winner).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["integrity"], integrity(winner));
        assert_eq!(&tarball(&srv, "mix", &version).await, winner);
        let marker = if winner == &a { "A" } else { "B" };
        assert_eq!(
            file(&srv, "mix", &version, "scripts/run.py").await,
            format!("print('{marker}')\n").into_bytes()
        );
    }
    assert!(srv.files_under("uploads").is_empty());
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM versions WHERE state = 'published'"),
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn put_racing_confirm_never_changes_published_bytes() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let mut outcomes = Vec::new();
    for round in 0..8 {
        let version = format!("2.0.{round}");
        let (_, start) = srv
            .start_publish(&alice, json!({"name": "racer", "version": version}))
            .await;
        let url = start["uploadUrl"].as_str().unwrap().to_string();
        let vid = start["versionId"].as_str().unwrap().to_string();
        let a = big_tgz("racer", "A", 1 << 20);
        let b = big_tgz("racer", "B", 1 << 20);
        let (s, _) = srv.upload(&url, a.clone()).await;
        assert_eq!(s, StatusCode::OK);

        // Stagger the confirm by 0–28 ms so that either side gets the lock first in some round.
        let delay = std::time::Duration::from_millis(4 * round as u64);
        let confirm = async {
            tokio::time::sleep(delay).await;
            srv.confirm(&alice, &vid, &a).await
        };
        let ((cs, cbody), (ps, pbody)) = tokio::join!(confirm, srv.upload(&url, b.clone()));
        outcomes.push((cs, ps));
        let published = match (cs, ps) {
            // Confirm won: the PUT found the row published (under the lock) and stored nothing.
            (StatusCode::OK, StatusCode::CONFLICT) => {
                assert_eq!(pbody["error"], "VERSION_EXISTS");
                assert_eq!(cbody["integrity"], integrity(&a));
                a.clone()
            }
            // The PUT landed first: confirm saw other bytes and refused; B can then be confirmed.
            (StatusCode::UNPROCESSABLE_ENTITY, StatusCode::OK) => {
                assert_eq!(cbody["issues"][0]["path"], json!(["integrity"]));
                let (s, c) = srv.confirm(&alice, &vid, &b).await;
                assert_eq!(s, StatusCode::OK, "{c}");
                b.clone()
            }
            other => panic!("round {round}: unexpected outcome {other:?}: {cbody} / {pbody}"),
        };
        let served = tarball(&srv, "racer", &version).await;
        assert_eq!(served, published, "round {round}");
        let (_, d) = srv
            .get(&format!("/api/v1/skills/racer/{version}"), None)
            .await;
        assert_eq!(d["integrity"], integrity(&served));
        let hex = sha512_hex(&served);
        let blob = std::fs::read(srv.data_dir().join("blobs").join(&hex[..2]).join(&hex)).unwrap();
        assert_eq!(blob, published);
        let marker = if published == a { "A" } else { "B" };
        assert_eq!(
            file(&srv, "racer", &version, "scripts/run.py").await,
            format!("print('{marker}')\n").into_bytes()
        );
        // A late PUT after publication is refused and changes nothing.
        let (s, _) = srv.upload(&url, big_tgz("racer", "C", 1024)).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(tarball(&srv, "racer", &version).await, published);
    }
    assert!(srv.files_under("uploads").is_empty(), "{outcomes:?}");
}

/// One full flow after `delay_ms`; returns the step that ended it, its status and body.
async fn flow(
    srv: &TestServer,
    tok: &str,
    name: &str,
    tgz: Vec<u8>,
    delay_ms: u64,
) -> (&'static str, StatusCode, Value) {
    tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
    let (s, start) = srv
        .start_publish(tok, json!({"name": name, "version": "1.0.0"}))
        .await;
    if s != StatusCode::CREATED {
        return ("start", s, start);
    }
    let (s, up) = srv
        .upload(start["uploadUrl"].as_str().unwrap(), tgz.clone())
        .await;
    if s != StatusCode::OK {
        return ("upload", s, up);
    }
    let (s, c) = srv
        .confirm(tok, start["versionId"].as_str().unwrap(), &tgz)
        .await;
    ("confirm", s, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_many_concurrent_publishes_wins() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let bob = srv.user_with_token("bob");
    srv.create_org("acme", "alice");
    srv.add_member("acme", "bob");
    // From all-at-once to widely staggered: every outcome (start 409, upload 404, confirm 404) shows up.
    let spreads = [1u64, 10, 25, 40, 80, 200];
    for (round, spread) in spreads.into_iter().enumerate() {
        let name = format!("@acme/contest-{round}");
        let bodies: Vec<Vec<u8>> = (0..10)
            .map(|i| big_tgz(&name, &format!("flow {i}"), 64 << 10))
            .collect();
        let results = join_all(bodies.iter().enumerate().map(|(i, b)| {
            let tok = if i % 2 == 0 { &alice } else { &bob };
            // Staggered starts, so that starts, uploads and confirms of different flows interleave.
            flow(&srv, tok, &name, b.clone(), (i as u64 * 37) % spread)
        }))
        .await;
        let winners: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, (step, s, _))| *step == "confirm" && *s == StatusCode::OK)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        for (step, s, body) in &results {
            if *s == StatusCode::OK && *step == "confirm" {
                continue;
            }
            assert!(
                *s == StatusCode::CONFLICT || *s == StatusCode::NOT_FOUND,
                "round {round}: {step} {s} {body}"
            );
            if *s == StatusCode::CONFLICT {
                assert_eq!(body["error"], "VERSION_EXISTS");
            }
        }
        let w = winners[0];
        let enc = name.replace('@', "%40").replace('/', "%2F");
        assert_eq!(tarball(&srv, &enc, "1.0.0").await, bodies[w]);
        assert_eq!(
            file(&srv, &enc, "1.0.0", "scripts/run.py").await,
            format!("print('flow {w}')\n").into_bytes()
        );
        let (_, meta) = srv.get(&format!("/api/v1/skills/{enc}"), None).await;
        assert_eq!(meta["versions"].as_array().unwrap().len(), 1);
        assert_eq!(
            meta["publisher"]["name"],
            if w % 2 == 0 { "alice" } else { "bob" }
        );
        assert_eq!(
            srv.count(&format!(
                "SELECT COUNT(*) FROM versions v JOIN skills s ON s.id = v.skill_id WHERE s.name = '{name}'"
            )),
            1,
            "round {round}: one row, the published one"
        );
        assert_eq!(
            srv.count(&format!(
                "SELECT COUNT(*) FROM versions v JOIN skills s ON s.id = v.skill_id \
                 WHERE s.name = '{name}' AND v.state = 'published' AND v.integrity = '{}'",
                integrity(&bodies[w])
            )),
            1
        );
    }
    assert!(srv.files_under("uploads").is_empty());
    // Exactly one blob per published version.
    assert_eq!(srv.files_under("blobs").len(), spreads.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_stars_stay_consistent() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    srv.publish(
        &alice,
        json!({"name": "popular", "version": "1.0.0"}),
        skill_tgz("popular", "1.0.0"),
    )
    .await;
    let tokens: Vec<String> = (0..12)
        .map(|i| {
            let u = format!("fan{i}");
            srv.create_user(&u, false);
            srv.token(&u, "skills:read")
        })
        .collect();
    let star = "/api/v1/skills/popular/star";
    for round in 0..3 {
        // Every fan stars three times at once.
        let results = join_all(
            tokens
                .iter()
                .flat_map(|t| std::iter::repeat_n(t, 3))
                .map(|t| srv.post(star, Some(t), json!({}))),
        )
        .await;
        for (s, body) in &results {
            assert_eq!(*s, StatusCode::OK, "{body}");
            assert_eq!(body["starred"], true);
            let n = body["stars"].as_u64().unwrap();
            assert!((1..=12).contains(&n), "round {round}: {body}");
        }
        assert_eq!(srv.count("SELECT COUNT(*) FROM stars"), 12);
        let (_, g) = srv.get(star, Some(&tokens[0])).await;
        assert_eq!(g["count"], 12);

        // Half unstar while the other half star again, concurrently.
        let srv = &srv;
        let results = join_all(tokens.iter().enumerate().map(|(i, t)| {
            let m = if i % 2 == 0 {
                Method::DELETE
            } else {
                Method::POST
            };
            async move { json_of(srv.req(m, star, Some(t)).send().await.unwrap()).await }
        }))
        .await;
        for (i, (s, body)) in results.iter().enumerate() {
            assert_eq!(*s, StatusCode::OK);
            assert_eq!(body["starred"], i % 2 == 1);
            let n = body["stars"].as_u64().unwrap();
            assert!((6..=12).contains(&n), "{body}");
        }
        assert_eq!(srv.count("SELECT COUNT(*) FROM stars"), 6);
        let (_, meta) = srv.get("/api/v1/skills/popular", None).await;
        assert_eq!(meta["stars"], 6);
        for (i, t) in tokens.iter().enumerate() {
            let (_, g) = srv.get(star, Some(t)).await;
            assert_eq!(g["isStarred"], i % 2 == 1);
            assert_eq!(g["count"], 6);
        }
    }
}

/// `rounds` times, 4 concurrent POSTs of `body` to `path` with an unknown token: each gets the 401 envelope.
async fn refused_for_the_token_while_sending(
    srv: &TestServer,
    path: &str,
    content_type: &str,
    body: &[u8],
    rounds: usize,
) {
    for round in 0..rounds {
        let results = join_all((0..4).map(|_| {
            srv.req(Method::POST, path, Some("tank_not-a-real-token"))
                .header("content-type", content_type)
                .body(body.to_vec())
                .send()
        }))
        .await;
        for resp in results {
            let resp = resp.unwrap_or_else(|e| panic!("{path} round {round}: {e}"));
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{path} round {round}"
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                body["error"], "UNAUTHORIZED",
                "{path} round {round}: {body}"
            );
        }
    }
}

/// A refusal decided before the body is read (SPEC §3.5 steps 1–3) reaches a client that is still sending a
/// large body: it gets the status and the error envelope, not a reset connection, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_refused_early_is_answered_while_the_body_is_still_arriving() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let small = skill_tgz("early", "1.0.0");
    let (s, start) = srv
        .start_publish(&alice, json!({"name": "early", "version": "1.0.0"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{start}");
    let url = start["uploadUrl"].as_str().unwrap().to_string();
    let (s, up) = srv.upload(&url, small.clone()).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    let (s, c) = srv
        .confirm(&alice, start["versionId"].as_str().unwrap(), &small)
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let blobs_before = srv.files_under("blobs");

    // 8 MiB of incompressible bytes: far more than the socket buffers hold, so the server answers while the
    // client is still writing.
    let mut big = vec![0u8; 8 << 20];
    rand::thread_rng().fill_bytes(&mut big);
    let forged = url.replace("signature=", "signature=00");
    for round in 0..6 {
        let results = join_all((0..4).map(|i| {
            let target = if i % 2 == 0 {
                url.clone()
            } else {
                forged.clone()
            };
            let body = big.clone();
            let srv = &srv;
            async move { (i, srv.upload(&target, body).await) }
        }))
        .await;
        for (i, (s, body)) in results {
            if i % 2 == 0 {
                assert_eq!(s, StatusCode::CONFLICT, "round {round}: {body}");
                assert_eq!(body["error"], "VERSION_EXISTS", "round {round}: {body}");
            } else {
                assert_eq!(s, StatusCode::FORBIDDEN, "round {round}: {body}");
                assert_eq!(body["error"], "FORBIDDEN", "round {round}: {body}");
            }
        }
    }
    // The same for a publish start refused for its token (SPEC §3.4) with a large JSON body (7 MiB of readme,
    // serialised once).
    let start_body = serde_json::to_vec(&json!({
        "manifest": {"name": "early-too", "version": "1.0.0"},
        "readme": "a".repeat(7 << 20),
    }))
    .unwrap();
    refused_for_the_token_while_sending(&srv, "/api/v1/skills", "application/json", &start_body, 4)
        .await;
    assert_eq!(
        srv.count("SELECT COUNT(*) FROM skills WHERE name = 'early-too'"),
        0
    );
    // And for a scan (SPEC §3.15) refused for its token, with a large tarball.
    refused_for_the_token_while_sending(&srv, "/api/v1/scan", "application/octet-stream", &big, 3)
        .await;
    assert_eq!(srv.count("SELECT COUNT(*) FROM scan_reports"), 0);
    assert!(srv.files_under("uploads").is_empty());
    assert_eq!(srv.files_under("blobs"), blobs_before);
    assert_eq!(tarball(&srv, "early", "1.0.0").await, small);
}
