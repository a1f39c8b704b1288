//! `tank-registry backup DEST_DIR` (SPEC §9.5): taken while publishes run, restored by serving the
//! directory, every version acknowledged before the backup started is served with its integrity and `check`
//! passes; a non-empty destination is refused and left untouched.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn cli(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tank-registry"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn backup_during_publishes_restores_every_acknowledged_version() {
    let s = TestServer::start().await;
    let tok = s.user_with_token("alice");
    let mut acked = Vec::new();
    for i in 0..3 {
        let v = format!("1.0.{i}");
        let tgz = skill_tgz("hello", &v);
        let body = s
            .publish(
                &tok,
                json!({"name": "hello", "version": v, "description": "Greets."}),
                tgz.clone(),
            )
            .await;
        acked.push((v, body["integrity"].as_str().unwrap().to_string()));
    }

    // Publishes keep running while the backup is taken.
    let url = s.url.clone();
    let client = s.client.clone();
    let tok2 = tok.clone();
    let busy = tokio::spawn(async move {
        let mut n = 0;
        for i in 0..40 {
            let v = format!("2.0.{i}");
            let tgz = skill_tgz("busy", &v);
            let start = client
                .post(format!("{url}/api/v1/skills"))
                .bearer_auth(&tok2)
                .json(&json!({"manifest": {"name": "busy", "version": v, "description": "Busy."}}))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap();
            let up = start["uploadUrl"].as_str().unwrap().to_string();
            client.put(up).body(tgz.clone()).send().await.unwrap();
            let r = client
                .post(format!("{url}/api/v1/skills/confirm"))
                .bearer_auth(&tok2)
                .json(&json!({"versionId": start["versionId"], "integrity": integrity(&tgz)}))
                .send()
                .await
                .unwrap();
            if r.status() == StatusCode::OK {
                n += 1;
            }
        }
        n
    });
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let dest = tempfile::tempdir().unwrap();
    let dest_dir = dest.path().join("snap");
    let data = s.data_dir().to_path_buf();
    let d2 = dest_dir.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || cli(&data, &["backup", d2.to_str().unwrap()]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let published_during = busy.await.unwrap();
    assert!(published_during > 0);
    let line = out.trim();
    let prefix = format!("backup written to {}: ", dest_dir.display());
    assert!(line.starts_with(&prefix), "{line}");
    let nums: Vec<u64> = line[prefix.len()..]
        .split(", ")
        .map(|p| p.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(nums[0] >= 3 && nums[0] == nums[1], "{line}");
    assert!(nums[2] > 0);
    assert!(dest_dir.join("registry.db").is_file());
    assert!(!dest_dir.join("index").exists(), "the index is not copied");
    assert_eq!(
        std::fs::read(dest_dir.join("secret.key")).unwrap(),
        std::fs::read(s.config.secret_path()).unwrap()
    );
    s.stop().await;

    // Restore = serve the backup directory.
    let restored = TestServer::start_with(|c| c.data_dir = dest_dir.clone()).await;
    for (v, want) in &acked {
        let (st, detail) = restored
            .get(&format!("/api/v1/skills/hello/{v}"), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}: {detail}");
        let resp = restored
            .req(
                Method::GET,
                &format!("/api/v1/skills/hello/{v}/tarball"),
                None,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(&integrity(&resp.bytes().await.unwrap()), want);
    }
    let (_, found) = restored.get("/api/v1/search?q=hello", None).await;
    assert_eq!(
        found["results"][0]["name"], "hello",
        "the index is rebuilt on start: {found}"
    );
    restored.stop().await;
    let (code, out, err) = cli(&dest_dir, &["check"]);
    assert_eq!((code, out.trim()), (0, "ok"), "{err}");
}

#[tokio::test]
async fn backup_refuses_a_non_empty_destination() {
    let s = TestServer::start().await;
    let tok = s.user_with_token("alice");
    s.publish(
        &tok,
        json!({"name": "hello", "version": "1.0.0", "description": "Greets."}),
        skill_tgz("hello", "1.0.0"),
    )
    .await;
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(dest.path().join("keep.txt"), b"mine").unwrap();
    let (code, out, err) = cli(s.data_dir(), &["backup", dest.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("not empty"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dest.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("keep.txt")]);
    // An empty existing directory is fine.
    let empty = tempfile::tempdir().unwrap();
    let (code, out, _) = cli(s.data_dir(), &["backup", empty.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains(": 1 versions, 1 blobs, "), "{out}");
    s.stop().await;
}
