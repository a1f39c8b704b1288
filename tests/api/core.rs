//! The publish → read → download loop end to end (issue "Registry core").

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha512};

#[tokio::test]
async fn full_publish_loop_with_real_tarball() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    srv.create_org("acme", "alice");
    let tgz = skill_tgz("@acme/hello-world", "1.0.0");

    // Nothing is visible before confirm.
    let (s, start) = srv
        .start_publish(
            &alice,
            json!({"name": "@acme/hello-world", "version": "1.0.0", "description": "Greets the user in several languages."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{start}");
    let upload_url = start["uploadUrl"].as_str().unwrap();
    assert!(
        upload_url.starts_with(&format!("{}/api/v1/uploads/ver_", srv.url)),
        "{upload_url}"
    );
    assert!(start["skillId"].as_str().unwrap().starts_with("skill_"));
    assert_eq!(start["expiresIn"], 3600);
    let (s, _) = srv.get("/api/v1/skills/%40acme%2Fhello-world", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, up) = srv.upload(upload_url, tgz.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(up["ok"], true);
    assert_eq!(up["size"], tgz.len());
    assert_eq!(up["integrity"], integrity(&tgz));
    let (s, _) = srv
        .get("/api/v1/skills/%40acme%2Fhello-world/1.0.0", None)
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "uploaded but unconfirmed is invisible"
    );

    let (s, conf) = srv
        .confirm(&alice, start["versionId"].as_str().unwrap(), &tgz)
        .await;
    assert_eq!(s, StatusCode::OK, "{conf}");
    assert_eq!(conf["success"], true);
    assert_eq!(conf["name"], "@acme/hello-world");
    assert_eq!(conf["version"], "1.0.0");
    assert_eq!(conf["status"], "published");
    assert_eq!(conf["visibility"], "public");
    assert_eq!(conf["integrity"], integrity(&tgz));
    assert!(conf["auditScore"].is_u64());
    // A clean skill passes all six stages.
    assert_eq!(conf["verdict"], "PASS", "{conf}");
    assert_eq!(
        conf["scanVerdict"],
        conf["verdict"].as_str().unwrap().to_lowercase()
    );

    // Metadata, versions, detail.
    let (s, meta) = srv.get("/api/v1/skills/@acme/hello-world", None).await;
    assert_eq!(s, StatusCode::OK, "{meta}");
    assert_eq!(meta["latestVersion"], "1.0.0");
    assert_eq!(meta["description"], "Greets the user in several languages.");
    assert_eq!(
        meta["publisher"],
        json!({"name": "alice", "displayName": "alice"})
    );
    assert_eq!(meta["downloads"], 0);
    assert_eq!(meta["auditStatus"], "completed");
    assert_eq!(meta["permissions"], json!({}));
    assert!(meta["readme"].as_str().unwrap().contains("Greets the user"));
    assert_eq!(meta["versions"].as_array().unwrap().len(), 1);

    let (s, vers) = srv
        .get("/api/v1/skills/%40acme%2Fhello-world/versions", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(vers["versions"][0]["integrity"], integrity(&tgz));
    assert_eq!(vers["versions"][0]["tarballSize"], tgz.len());
    assert_eq!(vers["versions"][0]["fileCount"], 3);

    let (s, detail) = srv
        .get("/api/v1/skills/%40acme%2Fhello-world/1.0.0", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let download_url = detail["downloadUrl"].as_str().unwrap().to_string();
    assert_eq!(
        download_url,
        format!(
            "{}/api/v1/skills/%40acme%2Fhello-world/1.0.0/tarball",
            srv.url
        )
    );
    assert_eq!(detail["dependencies"], json!({}));
    assert_eq!(detail["downloads"], 0);

    // Download: byte-identical, hashes to integrity, counted once per GET (HEAD and detail don't count).
    let resp = srv
        .req(Method::GET, &download_url, None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/gzip");
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"acme-hello-world-1.0.0.tgz\""
    );
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), tgz.as_slice());
    assert_eq!(integrity(&bytes), detail["integrity"].as_str().unwrap());
    let head = srv
        .req(Method::HEAD, &download_url, None)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    srv.req(Method::GET, &download_url, None)
        .send()
        .await
        .unwrap();
    let (_, detail) = srv
        .get("/api/v1/skills/%40acme%2Fhello-world/1.0.0", None)
        .await;
    assert_eq!(detail["downloads"], 2);
    let (_, meta) = srv.get("/api/v1/skills/%40acme%2Fhello-world", None).await;
    assert_eq!(meta["downloads"], 2);

    // Republish → 409; the stored blob is content-addressed by its SHA-512.
    let (s, again) = srv
        .start_publish(
            &alice,
            json!({"name": "@acme/hello-world", "version": "1.0.0"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(again["error"], "VERSION_EXISTS");
    let hex = hex::encode(Sha512::digest(&tgz));
    assert!(
        srv.data_dir()
            .join("blobs")
            .join(&hex[..2])
            .join(&hex)
            .is_file()
    );
    assert!(
        srv.files_under("uploads").is_empty(),
        "upload file removed after confirm"
    );
}

#[tokio::test]
async fn health_and_whoami() {
    let srv = TestServer::start().await;
    for path in ["/api/health", "/api/v1/health"] {
        let (s, h) = srv.get(path, Some("tank_garbage")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h["status"], "ok");
        assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    }
    let tok = srv.user_with_token("bob");
    let (s, me) = srv.get("/api/v1/auth/whoami", Some(&tok)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["name"], "bob");
    assert_eq!(me["email"], "bob@example.com");
    assert_eq!(me["scopes"], json!(["skills:read", "skills:publish"]));
    assert!(me["userId"].as_str().unwrap().starts_with("usr_"));
    let (s, e) = srv.get("/api/v1/auth/whoami", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(e["error"], "UNAUTHORIZED");
}
