//! Request logging (SPEC §2.13) of the real binary with `--log-format json`: every line parses as JSON, one
//! line per request carries method, route template, status, duration and request id, and no secret that a
//! request carried (a token, a session cookie, an upload signature, a poll token, an authorisation code, a
//! download signature) ever reaches the log.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tank-registry")
}

fn cli(data: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn json_logs_parse_and_hold_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    cli(&data, &["user", "create", "alice"]);
    let token = cli(&data, &["token", "create", "--user", "alice"]);
    let log_path = dir.path().join("server.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .env("TANK_LOG", "debug")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap();

    // The bound address from the "listening on" line.
    let started = Instant::now();
    let url = loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no listening line"
        );
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(u) = text.lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let m = v["fields"]["message"].as_str()?;
            let i = m.find("(public URL ")?;
            Some(m[i + 12..m.len() - 1].to_string())
        }) {
            break u;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let who = c
        .get(format!("{url}/api/v1/auth/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(who.status(), 200);
    let cookie = "tank_session=SESSIONCOOKIEVALUE1234567890abcdef";
    c.get(format!("{url}/account/tokens"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let start: Value = c
        .post(format!("{url}/api/v1/skills"))
        .bearer_auth(&token)
        .json(&json!({"manifest": {"name": "hello", "version": "1.0.0", "description": "d"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = start["uploadUrl"].as_str().unwrap().to_string();
    let signature = upload.split("signature=").nth(1).unwrap().to_string();
    c.put(&upload)
        .body(b"not a tarball".to_vec())
        .send()
        .await
        .unwrap();
    let login: Value = c
        .post(format!("{url}/api/v1/cli-auth/start"))
        .json(&json!({"deviceName": "ci"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let poll = login["pollToken"].as_str().unwrap().to_string();
    let auth_url = login["authUrl"].as_str().unwrap().to_string();
    let auth_code = auth_url.split("token=").nth(1).unwrap().to_string();
    c.get(&auth_url).send().await.unwrap();
    c.post(format!("{url}/api/v1/cli-auth/exchange"))
        .json(&json!({"pollToken": poll}))
        .send()
        .await
        .unwrap();
    c.get(format!("{url}/api/v1/skills/hello/1.0.0/tarball?uid=u&expires=9999999999&signature=DOWNLOADSIG0123456789"))
        .send()
        .await
        .unwrap();
    c.get(format!("{url}/api/v1/auth/whoami"))
        .bearer_auth("tank_notarealtoken0123456789abcdef")
        .send()
        .await
        .unwrap();

    // Let the last lines reach the file, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let text = std::fs::read_to_string(&log_path).unwrap();
    let mut requests = 0;
    for line in BufReader::new(text.as_bytes()).lines() {
        let line = line.unwrap();
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["fields"]["message"] == "request" {
            requests += 1;
            let f = &v["fields"];
            for k in ["method", "route", "status", "duration_ms", "request_id"] {
                assert!(!f[k].is_null(), "{k} missing: {line}");
            }
        }
    }
    assert!(
        requests >= 9,
        "one line per request, got {requests}:\n{text}"
    );
    for secret in [
        token.as_str(),
        "SESSIONCOOKIEVALUE1234567890abcdef",
        signature.as_str(),
        poll.as_str(),
        auth_code.as_str(),
        "DOWNLOADSIG0123456789",
        "tank_notarealtoken0123456789abcdef",
        "hello/1.0.0",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the log:\n{text}"
        );
    }
    assert!(
        text.contains("/api/v1/skills/{name}/{version}/tarball"),
        "route templates are logged"
    );
}
