//! `POST /api/v1/scan` (SPEC §3.15), stored scans (§3.16) and the badge (§3.17). Multipart bodies are built
//! by hand so that malformed and repeated parts can be sent.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tank_registry::archive::testutil::build_tgz;
use tank_registry::config::Config;

/// (what, content type, body, expected status, expected issue path).
type Case = (&'static str, String, Vec<u8>, StatusCode, Option<Value>);

const BOUNDARY: &str = "XtankBoundary7d1f";

/// A multipart/form-data body of (part name, file name, bytes).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, filename, bytes) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disp = match filename {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/gzip\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        out.extend_from_slice(disp.as_bytes());
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

async fn send(
    s: &TestServer,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    json_of(
        s.req(Method::POST, "/api/v1/scan", token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn scan(
    s: &TestServer,
    token: Option<&str>,
    parts: &[(&str, Option<&str>, &[u8])],
) -> (StatusCode, Value) {
    send(
        s,
        token,
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        multipart(parts),
    )
    .await
}

fn stored(s: &TestServer) -> i64 {
    s.count("SELECT COUNT(*) FROM scan_reports")
}

fn no_skill_md_tgz() -> Vec<u8> {
    build_tgz(&[("skill.py", b"def add(a, b):\n    return a + b\n")])
}

#[tokio::test]
async fn scan_answers_the_report_and_stores_it() {
    let s = TestServer::start().await;
    let tgz = skill_tgz("hello", "1.0.0");
    let (st, body) = scan(&s, None, &[("file", Some("../../etc/x.tgz"), &tgz)]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    for k in [
        "verdict",
        "scanVerdict",
        "auditScore",
        "audit_score",
        "summary",
        "findings",
        "notes",
        "stages",
        "scan_id",
        "stage_results",
        "duration_ms",
    ] {
        assert!(body.get(k).is_some(), "missing {k}: {body}");
    }
    assert_eq!(body["auditScore"], body["audit_score"]);
    assert_eq!(
        body["verdict"].as_str().unwrap().to_ascii_lowercase(),
        body["scanVerdict"].as_str().unwrap()
    );
    assert_eq!(body["stage_results"].as_array().unwrap().len(), 6);
    let id = body["scan_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("scan_") && id.len() == 31, "{id}");
    assert_eq!(stored(&s), 1);
    // The part's file name is never used as a path: nothing but the database row is written.
    assert!(s.files_under("blobs").is_empty());
    assert!(s.files_under("uploads").is_empty());

    // Anyone holding the id of an anonymous report may read it back (§3.16).
    let (st, again) = s.get(&format!("/api/v1/scans/{id}"), None).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["findings"], body["findings"]);
    assert_eq!(again["scan_id"], id.as_str());
    assert!(again["scanned_at"].as_str().unwrap().ends_with('Z'));
    assert!(again["expiresAt"].as_str().unwrap() > again["scanned_at"].as_str().unwrap());

    // The CLI's part name works the same way.
    let (st, body2) = scan(&s, None, &[("tarball", Some("x.tgz"), &tgz)]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body2["verdict"], body["verdict"]);
    assert_ne!(body2["scan_id"], body["scan_id"]);
    assert_eq!(stored(&s), 2);

    let (st, e) = s
        .get("/api/v1/scans/scan_01JUNKJUNKJUNKJUNKJUNKJUNK", None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(e["error"], "NOT_FOUND");
    s.stop().await;
}

#[tokio::test]
async fn manifest_part_feeds_the_audit_score_and_bad_archives_are_findings() {
    let s = TestServer::start().await;
    let tgz = no_skill_md_tgz();
    let (_, plain) = scan(&s, None, &[("file", None, &tgz)]).await;
    let manifest =
        json!({"name": "adder", "description": "Adds two numbers.", "permissions": {}}).to_string();
    let (st, with) = scan(
        &s,
        None,
        &[
            ("manifest", None, manifest.as_bytes()),
            ("file", Some("a.tgz"), &tgz),
            ("other", None, b"ignored"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{with}");
    // §8.5: check 2 (description) and check 3 (permissions declared) now hold.
    assert_eq!(
        with["auditScore"].as_i64().unwrap(),
        plain["auditScore"].as_i64().unwrap() + 2,
        "{plain}\n{with}"
    );

    // An unreadable archive is a scan result, not an error (§3.15).
    let (st, bad) = scan(&s, None, &[("file", None, b"PK\x03\x04 not a tgz")]).await;
    assert_eq!(st, StatusCode::OK, "{bad}");
    assert_eq!(bad["verdict"], "FAIL");
    assert!(
        bad["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["ruleId"] == "ARC-005"),
        "{bad}"
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_scan_requests_are_rejected_and_store_nothing() {
    let s = TestServer::start().await;
    let tgz = skill_tgz("hello", "1.0.0");
    let mp = format!("multipart/form-data; boundary={BOUNDARY}");
    let cases: Vec<Case> = vec![
        (
            "url scan",
            "application/json".into(),
            br#"{"url":"https://x.example/s.tgz"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(json!(["url"])),
        ),
        (
            "other json",
            "application/json".into(),
            br#"{"tarball":"aGVsbG8="}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(json!(["file"])),
        ),
        (
            "broken json",
            "application/json".into(),
            b"{".to_vec(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "plain body",
            "application/gzip".into(),
            tgz.clone(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "no boundary",
            "multipart/form-data".into(),
            multipart(&[("file", None, &tgz)]),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "malformed multipart",
            mp.clone(),
            b"--nope\r\ngarbage".to_vec(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "no file part",
            mp.clone(),
            multipart(&[("manifest", None, b"{}")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(json!(["file"])),
        ),
        (
            "file and tarball",
            mp.clone(),
            multipart(&[("file", None, &tgz), ("tarball", None, &tgz)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(json!(["tarball"])),
        ),
        (
            "repeated file",
            mp.clone(),
            multipart(&[("file", None, &tgz), ("file", None, &tgz)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(json!(["tarball"])),
        ),
        (
            "manifest not an object",
            mp.clone(),
            multipart(&[("manifest", None, b"[1,2]"), ("file", None, &tgz)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(json!(["manifest"])),
        ),
        (
            "manifest not json",
            mp.clone(),
            multipart(&[("manifest", None, b"{name"), ("file", None, &tgz)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(json!(["manifest"])),
        ),
        (
            "manifest over 1 MiB",
            mp.clone(),
            multipart(&[
                ("manifest", None, &vec![b' '; 1024 * 1024 + 1]),
                ("file", None, &tgz),
            ]),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
    ];
    for (what, ct, body, want, path) in cases {
        let (st, e) = send(&s, None, &ct, body).await;
        assert_eq!(st, want, "{what}: {e}");
        let code = match want {
            StatusCode::BAD_REQUEST => "BAD_REQUEST",
            StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
            _ => "VALIDATION_ERROR",
        };
        assert_eq!(e["error"], code, "{what}: {e}");
        if let Some(p) = path {
            assert_eq!(e["issues"][0]["path"], p, "{what}: {e}");
        }
        assert_eq!(stored(&s), 0, "{what} stored a report");
    }
    // A declared body over the limit is refused before anything is read.
    let resp = s
        .req(Method::POST, "/api/v1/scan", None)
        .header("content-type", mp.as_str())
        .header("content-length", (60u64 << 20).to_string())
        .body(Vec::new())
        .send()
        .await;
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    // A streamed file part over 50 MiB.
    let big = vec![0u8; 50 * 1024 * 1024 + 1];
    let (st, e) = scan(&s, None, &[("file", None, &big)]).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    assert_eq!(stored(&s), 0);
    s.stop().await;
}

#[tokio::test]
async fn token_reports_are_served_to_their_user_only() {
    let s = TestServer::start().await;
    let alice = s.user_with_token("alice");
    let bob = s.user_with_token("bob");
    s.create_user("root", true);
    let admin = s.token("root", "skills:read,skills:publish,skills:admin");
    let tgz = skill_tgz("hello", "1.0.0");
    let (st, body) = scan(&s, Some(&alice), &[("file", None, &tgz)]).await;
    assert_eq!(st, StatusCode::OK);
    let path = format!("/api/v1/scans/{}", body["scan_id"].as_str().unwrap());
    let (st, mine) = s.get(&path, Some(&alice)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(mine["verdict"], body["verdict"]);
    for (who, token) in [
        ("anonymous", None),
        ("bob", Some(bob.as_str())),
        ("admin", Some(admin.as_str())),
    ] {
        let (st, e) = s.get(&path, token).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{who}: {e}");
        assert_eq!(e["error"], "NOT_FOUND");
    }
    // A bad token is 401, never a silent downgrade (§2.8).
    let (st, _) = scan(&s, Some("tank_bogus"), &[("file", None, &tgz)]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(stored(&s), 1);
    s.stop().await;
}

#[tokio::test]
async fn anonymous_scans_have_their_own_bucket() {
    let s = TestServer::start_with(|c: &mut Config| {
        c.rate_limits.enabled = true;
        c.rate_limits.scan_anon = 2;
    })
    .await;
    let tgz = skill_tgz("hello", "1.0.0");
    for _ in 0..2 {
        let (st, _) = scan(&s, None, &[("file", None, &tgz)]).await;
        assert_eq!(st, StatusCode::OK);
    }
    let (st, e) = scan(&s, None, &[("file", None, &tgz)]).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{e}");
    assert_eq!(e["error"], "RATE_LIMITED");
    assert_eq!(stored(&s), 2);
    // A token is not charged to the anonymous-scan bucket.
    let alice = s.user_with_token("alice");
    let (st, _) = scan(&s, Some(&alice), &[("file", None, &tgz)]).await;
    assert_eq!(st, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn badge_shows_the_latest_audit_score() {
    let s = TestServer::start().await;
    let alice = s.user_with_token("alice");
    let confirm = s
        .publish(
            &alice,
            json!({"name": "hello", "version": "1.0.0", "description": "Greets people."}),
            skill_tgz("hello", "1.0.0"),
        )
        .await;
    let score = confirm["auditScore"].as_i64().unwrap();
    let resp = s
        .req(Method::GET, "/api/v1/badge/hello", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "image/svg+xml");
    assert_eq!(h["cache-control"], "public, max-age=300");
    let body = resp.text().await.unwrap();
    let etag = h["etag"].to_str().unwrap();
    use sha2::{Digest, Sha256};
    assert_eq!(
        etag,
        format!(
            "\"{}\"",
            &hex::encode(Sha256::digest(body.as_bytes()))[..32]
        )
    );
    assert!(
        body.contains(&format!("aria-label=\"tank audit: {score}/10\"")),
        "{body}"
    );
    assert!(body.contains(&format!("<title>tank audit: {score}/10</title>")));

    // Unknown and private skills look the same; credentials are never examined.
    let mut m = json!({"name": "@alice/secret", "version": "1.0.0", "description": "Hidden."});
    m["visibility"] = json!("private");
    s.publish(&alice, m, skill_tgz("secret", "1.0.0")).await;
    for path in [
        "/api/v1/badge/nope",
        "/api/v1/badge/@alice/secret",
        "/api/v1/badge/%40alice%2Fsecret",
    ] {
        let resp = s.req(Method::GET, path, Some(&alice)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(resp.headers()["content-type"], "image/svg+xml");
        let body = resp.text().await.unwrap();
        assert!(body.contains("tank audit: not found"), "{body}");
        assert!(body.contains("#9f9f9f"));
    }
    s.stop().await;
}

/// Runs the offline `scan` command of the binary under test (SPEC §9.3).
fn offline(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tank-registry"))
        .arg("scan")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(b) = stdin {
        input.write_all(b).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn offline_scan_formats_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("my-skill-1.0.0.tgz");
    std::fs::write(&good, skill_tgz("hello", "1.0.0")).unwrap();
    let junk = dir.path().join("junk.tgz");
    std::fs::write(&junk, b"PK\x03\x04 not an archive").unwrap();
    let g = good.to_str().unwrap();

    let (code, text, _) = offline(&[g], None);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Scan of my-skill-1.0.0.tgz", "{text}");
    let verdict = lines[1].strip_prefix("Verdict: ").unwrap();
    assert_eq!(
        code,
        if verdict.starts_with("PASS") { 0 } else { 1 },
        "{text}"
    );
    assert!(lines[2].starts_with("Score: ") && lines[2].ends_with("/10"));

    let (code, json, _) = offline(&[g, "--format", "json"], None);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verdict"], verdict);
    assert!(v["scan_id"].is_null());
    assert_eq!(code, if verdict.starts_with("PASS") { 0 } else { 1 });

    let (code, sarif, _) = offline(
        &["-", "--format", "sarif"],
        Some(&std::fs::read(&junk).unwrap()),
    );
    let s: Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(s["version"], "2.1.0");
    assert_eq!(s["runs"][0]["properties"]["verdict"], "FAIL");
    assert_eq!(
        code, 2,
        "an unreadable archive is a FAIL result, not an error"
    );

    // A manifest changes the score; an invalid one is an error (exit 3), as are usage errors.
    let m = dir.path().join("m.json");
    std::fs::write(
        &m,
        r#"{"name":"hello","permissions":{"network":{"outbound":["*"]}}}"#,
    )
    .unwrap();
    let (_, with_manifest, _) = offline(
        &[g, "--format", "json", "--manifest", m.to_str().unwrap()],
        None,
    );
    let wm: Value = serde_json::from_str(&with_manifest).unwrap();
    assert!(
        wm["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["ruleId"] == "STR-011"),
        "{wm}"
    );
    std::fs::write(&m, "[1]").unwrap();
    let missing = dir.path().join("missing.tgz");
    for args in [
        vec![g, "--manifest", m.to_str().unwrap()],
        vec![missing.to_str().unwrap()],
        vec![g, "--format", "xml"],
        vec![],
        vec![dir.path().to_str().unwrap()],
    ] {
        let (code, out, err) = offline(&args, None);
        assert_eq!(code, 3, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(!err.is_empty());
    }
}

#[test]
fn offline_scan_reads_an_operator_blocklist() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let payload = b"print('a file an operator has seen in an incident')\n";
    let tgz = dir.path().join("s.tgz");
    std::fs::write(
        &tgz,
        build_tgz(&[
            ("SKILL.md", b"---\nname: s\ndescription: A skill that prints a line of text.\n---\n# S\n\nPrints one line of text for the user.\n"),
            ("scripts/tool.py", payload),
        ]),
    )
    .unwrap();
    let t = tgz.to_str().unwrap();
    let (code, out, _) = offline(&[t, "--format", "json"], None);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        !v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["ruleId"] == "SUP-006")
    );
    assert_ne!(code, 2, "{out}");

    let list = dir.path().join("block.txt");
    std::fs::write(
        &list,
        format!(
            "# incident 42\nsha256:{}\n",
            hex::encode(Sha256::digest(payload))
        ),
    )
    .unwrap();
    let (code, out, _) = offline(
        &[
            t,
            "--format",
            "json",
            "--scanner-blocklist",
            list.to_str().unwrap(),
        ],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let hit = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["ruleId"] == "SUP-006")
        .cloned();
    assert_eq!(
        hit.as_ref().map(|f| f["file"].clone()),
        Some(json!("scripts/tool.py")),
        "{out}"
    );
    assert_eq!(hit.unwrap()["severity"], "critical");
    assert_eq!(code, 2);

    std::fs::write(&list, "sha256:nothex\n").unwrap();
    let (code, out, err) = offline(&[t, "--scanner-blocklist", list.to_str().unwrap()], None);
    assert_eq!(code, 3, "{out}");
    assert!(err.contains("line 1"), "{err}");
}

/// The SUP-007 finding of a version's scan report; panics when there is none.
fn sup007(scan: &Value) -> Value {
    scan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["ruleId"] == "SUP-007")
        .cloned()
        .unwrap_or_else(|| panic!("no SUP-007: {scan}"))
}

/// SUP-007 at publication (SPEC §8.3): this registry's public skills with ≥ 1,000 downloads in another scope are
/// protected names too.
#[tokio::test]
async fn popular_registry_names_are_protected_at_publication() {
    let s = TestServer::start().await;
    let alice = s.user_with_token("alice");
    let bob = s.user_with_token("bob");
    s.publish(
        &alice,
        json!({"name": "@alice/weather-tool", "version": "1.0.0", "description": "Forecasts."}),
        skill_tgz("weather-tool", "1.0.0"),
    )
    .await;
    let rules = |scan: &Value| -> Vec<String> {
        scan["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["ruleId"].as_str().unwrap().to_string())
            .collect()
    };
    let publish_scan = |name: &'static str, tok: String| {
        let s = &s;
        async move {
            let short = name.rsplit('/').next().unwrap();
            let conf = s
                .publish(
                    &tok,
                    json!({"name": name, "version": "1.0.0", "description": "Forecasts."}),
                    skill_tgz(short, "1.0.0"),
                )
                .await;
            let (st, scan) = s
                .get(
                    &format!("/api/v1/skills/{}/1.0.0/scan", name.replace('@', "%40")),
                    Some(&tok),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{scan}");
            (conf, scan)
        }
    };
    // Not popular yet: a look-alike is not a squat of it.
    let (_, scan) = publish_scan("@bob/weather-tol", bob.clone()).await;
    assert!(!rules(&scan).contains(&"SUP-007".to_string()), "{scan}");

    let db = rusqlite::Connection::open(s.config.db_path()).unwrap();
    db.execute("UPDATE versions SET downloads = 1500 WHERE state = 'published' AND skill_id = (SELECT id FROM skills WHERE name = '@alice/weather-tool')", [])
        .unwrap();
    let (conf, scan) = publish_scan("@bob/weather-tooll", bob.clone()).await;
    let hit = sup007(&scan);
    assert_eq!(hit["severity"], "high");
    assert_eq!(conf["verdict"], "FLAGGED", "{conf}");
    // The same name in another scope is not a squat, and the popular skill's own scope is not checked.
    let (_, scan) = publish_scan("@bob/weather-tool", bob.clone()).await;
    assert!(!rules(&scan).contains(&"SUP-007".to_string()), "{scan}");
    let (_, scan) = publish_scan("@alice/weather-tooll", alice.clone()).await;
    assert!(!rules(&scan).contains(&"SUP-007".to_string()), "{scan}");
    s.stop().await;
}

/// The same protection when the skill became popular through real downloads: the protected names then come
/// from the server's in-memory download totals (kept current by the flush), not from a scan of every
/// published version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn popularity_from_real_downloads_protects_the_name() {
    let s = TestServer::start().await;
    let alice = s.user_with_token("alice");
    let bob = s.user_with_token("bob");
    s.publish(
        &alice,
        json!({"name": "@alice/storm-chaser", "version": "1.0.0", "description": "Tracks storms."}),
        skill_tgz("storm-chaser", "1.0.0"),
    )
    .await;
    let url = "/api/v1/skills/%40alice%2Fstorm-chaser/1.0.0/tarball";
    for _ in 0..20 {
        let batch = futures_util::future::join_all(
            (0..50).map(|_| async { s.req(Method::GET, url, None).send().await.unwrap().status() }),
        )
        .await;
        assert!(batch.iter().all(|st| *st == StatusCode::OK), "{batch:?}");
    }
    // The flush stores them within a second or two.
    let stored = || {
        s.count(
            "SELECT COALESCE(SUM(v.downloads), 0) FROM versions v JOIN skills k ON k.id = v.skill_id \
             WHERE k.name = '@alice/storm-chaser'",
        )
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while stored() < 1000 {
        assert!(std::time::Instant::now() < deadline, "stored {}", stored());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stored(), 1000);

    let conf = s
        .publish(
            &bob,
            json!({"name": "@bob/storm-chasr", "version": "1.0.0", "description": "Tracks storms."}),
            skill_tgz("storm-chasr", "1.0.0"),
        )
        .await;
    assert_eq!(conf["verdict"], "FLAGGED", "{conf}");
    let (st, scan) = s
        .get("/api/v1/skills/%40bob%2Fstorm-chasr/1.0.0/scan", Some(&bob))
        .await;
    assert_eq!(st, StatusCode::OK, "{scan}");
    let hit = sup007(&scan);
    assert_eq!(hit["severity"], "high");
    s.stop().await;
}
