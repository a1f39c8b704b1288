//! Read endpoints (SPEC §3.7–§3.14, §3.18): field shapes, SemVer order and version matching (§2.3), the file
//! API and its path rules, download counting, tarball headers, stars and whoami.

use crate::routing::raw;
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tank_registry::archive::testutil::{TarBuilder, build_tgz};
use tank_registry::cli::{TokenCommand, UserCommand};

fn create_user_named(srv: &TestServer, name: &str, display: Option<&str>, admin: bool) {
    tank_registry::admin::user(
        &srv.config,
        UserCommand::Create {
            name: name.into(),
            email: Some(format!("{name}@example.com")),
            display_name: display.map(str::to_string),
            admin,
            pro: false,
            password_stdin: false,
        },
    )
    .expect("user create");
}

fn skill_md(name: &str, body: &str) -> String {
    format!(
        "---\nname: {name}\ndescription: A test skill that greets people politely.\n---\n\n# {name}\n\n{body}\n"
    )
}

/// A clean tarball whose SKILL.md body is `marker` (so every version has distinct bytes and readme).
fn tgz_with(name: &str, marker: &str) -> Vec<u8> {
    build_tgz(&[
        ("SKILL.md", skill_md(name, marker).as_bytes()),
        ("scripts/run.py", b"print('hello')\n"),
    ])
}

fn is_ts(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[10] == b'T'
        && s.as_bytes()[19] == b'.'
        && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

const SUMMARY_KEYS: [&str; 9] = [
    "version",
    "publishedAt",
    "auditScore",
    "verdict",
    "scanVerdict",
    "auditStatus",
    "integrity",
    "tarballSize",
    "fileCount",
];

#[tokio::test]
async fn metadata_versions_detail_shapes_and_semver_order() {
    let srv = TestServer::start().await;
    create_user_named(&srv, "alice", Some("Alice Doe"), false);
    create_user_named(&srv, "bob", None, false);
    let alice = srv.token("alice", "skills:read,skills:publish");
    let bob = srv.token("bob", "skills:publish");
    srv.create_org("acme", "alice");
    srv.add_member("acme", "bob");
    let name = "@acme/greeter";

    // Published out of order; bob publishes the highest stable version.
    let plan: [(&str, &str); 8] = [
        ("1.2.0", "alice"),
        ("0.9.0", "alice"),
        ("1.10.0", "bob"),
        ("2.0.0-alpha.10", "alice"),
        ("1.0.0+build.5", "alice"),
        ("2.0.0-alpha.2", "alice"),
        ("2.0.0-beta", "alice"),
        ("2.0.0-alpha.1", "alice"),
    ];
    let mut bytes = std::collections::HashMap::new();
    let mut published_at = Vec::new();
    for (v, who) in plan {
        let mut manifest =
            json!({"name": name, "version": v, "description": format!("Greeter {v}.")});
        if v == "1.10.0" {
            manifest["description"] = json!("Newest stable greeter.");
            manifest["repository"] = json!("https://github.com/acme/greeter");
            manifest["skills"] = json!({"@acme/core": "^2.0.0", "helper": "1.x"});
            manifest["permissions"] =
                json!({"filesystem": {"read": ["./data/**"]}, "subprocess": false});
        }
        let tgz = tgz_with(name, &format!("Version {v} greets."));
        let tok = if who == "bob" { &bob } else { &alice };
        let conf = srv.publish(tok, manifest, tgz.clone()).await;
        assert_eq!(conf["version"], v);
        published_at.push(conf["publishedAt"].clone());
        bytes.insert(v, tgz);
    }

    let expected_order = [
        "2.0.0-beta",
        "2.0.0-alpha.10",
        "2.0.0-alpha.2",
        "2.0.0-alpha.1",
        "1.10.0",
        "1.2.0",
        "1.0.0+build.5",
        "0.9.0",
    ];
    let (s, meta) = srv.get("/api/v1/skills/%40acme%2Fgreeter", None).await;
    assert_eq!(s, StatusCode::OK, "{meta}");
    assert_eq!(
        keys(&meta),
        sorted(&[
            "name",
            "description",
            "visibility",
            "latestVersion",
            "publisher",
            "createdAt",
            "updatedAt",
            "repository",
            "downloads",
            "stars",
            "auditScore",
            "verdict",
            "scanVerdict",
            "auditStatus",
            "permissions",
            "readme",
            "versions",
        ])
    );
    assert_eq!(meta["name"], name);
    assert_eq!(meta["latestVersion"], "1.10.0", "highest non-prerelease");
    assert_eq!(meta["visibility"], "public");
    // Skill-level fields come from latestVersion, not from the most recent publication.
    assert_eq!(meta["description"], "Newest stable greeter.");
    assert_eq!(meta["repository"], "https://github.com/acme/greeter");
    assert_eq!(
        meta["permissions"],
        json!({"filesystem": {"read": ["./data/**"]}, "subprocess": false})
    );
    assert!(
        meta["readme"]
            .as_str()
            .unwrap()
            .contains("Version 1.10.0 greets."),
        "{}",
        meta["readme"]
    );
    // Publisher of latestVersion; no display name → the username.
    assert_eq!(
        meta["publisher"],
        json!({"name": "bob", "displayName": "bob"})
    );
    assert_eq!(meta["createdAt"], published_at[0], "first publication");
    assert_eq!(
        meta["updatedAt"], published_at[7],
        "most recent publication"
    );
    assert!(is_ts(&meta["createdAt"]) && is_ts(&meta["updatedAt"]));
    assert_eq!(meta["downloads"], 0);
    assert_eq!(meta["stars"], 0);
    assert_eq!(meta["auditStatus"], "completed");
    assert_eq!(
        meta["scanVerdict"],
        meta["verdict"].as_str().unwrap().to_lowercase()
    );
    let listed: Vec<&str> = meta["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(listed, expected_order);
    for v in meta["versions"].as_array().unwrap() {
        assert_eq!(keys(v), sorted(&SUMMARY_KEYS), "{v}");
        let ver = v["version"].as_str().unwrap();
        assert_eq!(v["integrity"], integrity(&bytes[ver]));
        assert_eq!(v["tarballSize"], bytes[ver].len());
        assert_eq!(v["fileCount"], 2);
        assert_eq!(v["auditStatus"], "completed");
        assert!(v["auditScore"].as_u64().unwrap() <= 10);
        assert!(is_ts(&v["publishedAt"]));
    }

    let (s, vers) = srv
        .get("/api/v1/skills/%40acme%2Fgreeter/versions", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(keys(&vers), sorted(&["name", "versions"]));
    assert_eq!(vers["name"], name);
    assert_eq!(vers["versions"], meta["versions"]);

    // Detail of bob's version: fields of this version's manifest.
    let (s, d) = srv
        .get("/api/v1/skills/%40acme%2Fgreeter/1.10.0", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(
        keys(&d),
        sorted(&[
            "name",
            "version",
            "description",
            "visibility",
            "permissions",
            "repository",
            "auditScore",
            "verdict",
            "scanVerdict",
            "integrity",
            "publishedAt",
            "downloadUrl",
            "auditStatus",
            "scanFindings",
            "dependencies",
            "downloads",
            "fileCount",
            "tarballSize",
            "publisher",
        ])
    );
    assert_eq!(d["version"], "1.10.0");
    assert_eq!(d["description"], "Newest stable greeter.");
    assert_eq!(
        d["dependencies"],
        json!({"@acme/core": "^2.0.0", "helper": "1.x"})
    );
    assert_eq!(
        d["permissions"],
        json!({"filesystem": {"read": ["./data/**"]}, "subprocess": false})
    );
    assert_eq!(d["repository"], "https://github.com/acme/greeter");
    assert_eq!(d["publisher"], json!({"name": "bob", "displayName": "bob"}));
    assert_eq!(d["integrity"], integrity(&bytes["1.10.0"]));
    assert_eq!(d["tarballSize"], bytes["1.10.0"].len());
    assert_eq!(d["fileCount"], 2);
    assert!(d["scanFindings"].is_array());
    assert_eq!(d["publishedAt"], published_at[2]);

    // Detail of alice's version: her display name, empty dependencies/permissions, null repository.
    let (s, d) = srv
        .get("/api/v1/skills/%40acme%2Fgreeter/1.2.0", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        d["publisher"],
        json!({"name": "alice", "displayName": "Alice Doe"})
    );
    assert_eq!(d["description"], "Greeter 1.2.0.");
    assert_eq!(d["dependencies"], json!({}));
    assert_eq!(d["permissions"], json!({}));
    assert_eq!(d["repository"], Value::Null);
    assert_eq!(d["visibility"], "public");

    // Prerelease detail.
    let (s, d) = srv
        .get("/api/v1/skills/@acme/greeter/2.0.0-alpha.10", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["version"], "2.0.0-alpha.10");
    assert_eq!(d["integrity"], integrity(&bytes["2.0.0-alpha.10"]));
}

#[tokio::test]
async fn only_prereleases_latest_is_highest_prerelease() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    for v in ["1.0.0-rc.2", "1.0.0-rc.10", "0.1.0-alpha"] {
        srv.publish(
            &alice,
            json!({"name": "pre", "version": v}),
            tgz_with("pre", v),
        )
        .await;
    }
    let (_, meta) = srv.get("/api/v1/skills/pre", None).await;
    assert_eq!(meta["latestVersion"], "1.0.0-rc.10");
    let (_, d) = srv.get("/api/v1/skills/pre/1.0.0", None).await;
    assert_eq!(d["error"], "NOT_FOUND", "1.0.0 does not match a prerelease");
}

#[tokio::test]
async fn version_matching_with_build_metadata() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let tgz = tgz_with("built", "build metadata");
    srv.publish(
        &alice,
        json!({"name": "built", "version": "1.0.0+build.5"}),
        tgz.clone(),
    )
    .await;
    let plain = tgz_with("built", "plain");
    srv.publish(
        &alice,
        json!({"name": "built", "version": "1.2.0"}),
        plain.clone(),
    )
    .await;
    for req in [
        "1.0.0",
        "1.0.0+build.5",
        "1.0.0%2Bbuild.5",
        "1.0.0%2bbuild.5",
    ] {
        let (s, d) = srv.get(&format!("/api/v1/skills/built/{req}"), None).await;
        assert_eq!(s, StatusCode::OK, "{req}: {d}");
        assert_eq!(d["version"], "1.0.0+build.5", "{req}");
        // The canonical version, build metadata included, encoded as a component.
        assert_eq!(
            d["downloadUrl"],
            format!("{}/api/v1/skills/built/1.0.0%2Bbuild.5/tarball", srv.url)
        );
    }
    for req in [
        "1.0.0+build.6",
        "1.0.0+build",
        "1.2.0+build.5",
        "v1.0.0",
        "01.0.0",
        "1.0",
        "1",
        "1.0.0-",
        "latest",
    ] {
        let (s, e) = srv.get(&format!("/api/v1/skills/built/{req}"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{req}");
        assert_eq!(
            e,
            json!({"error": "NOT_FOUND", "message": format!("Version {req} of built was not found.")}),
            "{req}"
        );
    }
    // Every version-addressed route follows the same rule.
    let resp = srv
        .req(Method::GET, "/api/v1/skills/built/1.0.0/tarball", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), tgz.as_slice());
    let resp = srv
        .req(
            Method::GET,
            "/api/v1/skills/built/1.0.0+build.5/tarball",
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), tgz.as_slice());
    for sub in ["tarball", "files", "files/SKILL.md", "scan"] {
        let (s, _) = srv
            .get(&format!("/api/v1/skills/built/1.0.0+other/{sub}"), None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{sub}");
        let (s, _) = srv
            .get(&format!("/api/v1/skills/built/1.0.0+build.5/{sub}"), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{sub}");
    }
    let (_, d) = srv.get("/api/v1/skills/built/1.0.0", None).await;
    assert_eq!(
        d["downloads"], 3,
        "three 200 GETs; 404 tarballs are not counted"
    );
}

#[tokio::test]
async fn file_list_sorted_normalised_package_prefix_stripped() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let skill = skill_md("files-demo", "Files demo.");
    // 1.0.0: an npm-style tarball, every file under package/ (one spelled ./package/).
    let mut b = TarBuilder::new();
    b.dir("package/")
        .file("package/SKILL.md", skill.as_bytes())
        .file("./package/tank.json", b"{\"name\":\"files-demo\"}")
        .dir("package/scripts/")
        .file("package/scripts/run.py", b"print(1)\n");
    let v1 = b.tgz();
    srv.publish(
        &alice,
        json!({"name": "files-demo", "version": "1.0.0"}),
        v1.clone(),
    )
    .await;
    let (s, list) = srv.get("/api/v1/skills/files-demo/1.0.0/files", None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(
        list,
        json!({
            "name": "files-demo",
            "version": "1.0.0",
            "files": ["SKILL.md", "scripts/run.py", "tank.json"],
            "entries": [
                {"path": "SKILL.md", "size": skill.len()},
                {"path": "scripts/run.py", "size": 9},
                {"path": "tank.json", "size": 21},
            ],
        })
    );
    let resp = srv
        .req(
            Method::GET,
            "/api/v1/skills/files-demo/1.0.0/files/tank.json",
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        b"{\"name\":\"files-demo\"}"
    );
    let (s, _) = srv
        .get(
            "/api/v1/skills/files-demo/1.0.0/files/package/tank.json",
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "the stripped prefix is not a path"
    );

    // 1.1.0: mixed entries; one not under package/ so nothing is stripped; byte-wise order.
    let mut b = TarBuilder::new();
    b.file("./SKILL.md", skill.as_bytes())
        .file("tank.json", b"{}")
        .file("a/b.txt", b"bee")
        .file("a/b c.md", b"# spaced")
        .file("Zeta.txt", b"zeta")
        .file("Makefile", b"all:\n")
        .file("package/inner.txt", b"inner")
        .dir("docs/")
        .file("docs/page.html", b"<script>alert(1)</script>")
        .file("x.svg", b"<svg onload=alert(1)/>")
        .file("img/logo.PNG", &[0x89, b'P', b'N', b'G', 0x00, 0xff, 0xfe])
        .file("pic.JPEG", &[0xff, 0xd8, 0xff])
        .file("notes.pdf", b"%PDF-1.4")
        .file("data.JSON", b"[1,2]");
    let v2 = b.tgz();
    srv.publish(
        &alice,
        json!({"name": "files-demo", "version": "1.1.0"}),
        v2,
    )
    .await;
    let (_, list) = srv.get("/api/v1/skills/files-demo/1.1.0/files", None).await;
    assert_eq!(
        list["files"],
        json!([
            "Makefile",
            "SKILL.md",
            "Zeta.txt",
            "a/b c.md",
            "a/b.txt",
            "data.JSON",
            "docs/page.html",
            "img/logo.PNG",
            "notes.pdf",
            "package/inner.txt",
            "pic.JPEG",
            "tank.json",
            "x.svg",
        ])
    );
    let entries = list["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 13);
    assert_eq!(entries[3], json!({"path": "a/b c.md", "size": 8}));
    assert_eq!(entries[7], json!({"path": "img/logo.PNG", "size": 7}));
    let (_, vers) = srv.get("/api/v1/skills/files-demo/versions", None).await;
    assert_eq!(vers["versions"][0]["fileCount"], 13);

    // Content: raw bytes, type by extension, never active content.
    for (path, ct, body) in [
        (
            "SKILL.md",
            "text/markdown; charset=utf-8",
            skill.as_bytes().to_vec(),
        ),
        ("Makefile", "text/plain; charset=utf-8", b"all:\n".to_vec()),
        (
            "a/b%20c.md",
            "text/markdown; charset=utf-8",
            b"# spaced".to_vec(),
        ),
        (
            "docs/page.html",
            "text/plain; charset=utf-8",
            b"<script>alert(1)</script>".to_vec(),
        ),
        (
            "x.svg",
            "text/plain; charset=utf-8",
            b"<svg onload=alert(1)/>".to_vec(),
        ),
        (
            "img/logo.PNG",
            "image/png",
            vec![0x89, b'P', b'N', b'G', 0x00, 0xff, 0xfe],
        ),
        ("pic.JPEG", "image/jpeg", vec![0xff, 0xd8, 0xff]),
        ("notes.pdf", "application/pdf", b"%PDF-1.4".to_vec()),
        ("data.JSON", "application/json", b"[1,2]".to_vec()),
        (
            "package/inner.txt",
            "text/plain; charset=utf-8",
            b"inner".to_vec(),
        ),
    ] {
        let url = format!("/api/v1/skills/files-demo/1.1.0/files/{path}");
        let resp = srv.req(Method::GET, &url, None).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], ct, "{path}");
        assert_eq!(
            h["content-length"],
            body.len().to_string().as_str(),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
        assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(
            resp.bytes().await.unwrap().as_ref(),
            body.as_slice(),
            "{path}"
        );
        let head = srv.req(Method::HEAD, &url, None).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()["content-type"], ct);
        assert!(head.bytes().await.unwrap().is_empty());
    }
    // The two-segment name form reaches the same file.
    let (s, _) = srv
        .get("/api/v1/skills/files-demo/1.1.0/files/a/b.txt", None)
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn file_path_traversal_and_encoding_tricks() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let tgz = build_tgz(&[
        ("SKILL.md", skill_md("trav", "Traversal target.").as_bytes()),
        ("a/b c", b"spaced"),
        ("a/b", b"plain b"),
        ("b", b"root b"),
    ]);
    srv.publish(&alice, json!({"name": "trav", "version": "1.0.0"}), tgz)
        .await;
    let base = "/api/v1/skills/trav/1.0.0/files";
    for p in [
        "a/../b",
        "../SKILL.md",
        "a/..",
        "./SKILL.md",
        "a/./b",
        "%2e%2e/SKILL.md",
        "a/%2E%2E/b",
        "a/%2e./b",
        "a/.%2E/b",
        "%2E/SKILL.md",
        "a/%2e",
        "a%2F..%2Fb",
        "a%2f%2e%2e%2fb",
        "%2E%2E%2FSKILL.md",
        "a%2F.%2Fb",
        "a%5Cb",
        "a%5cb",
        "..%5CSKILL.md",
        "a\\b",
        "%00",
        "SKILL.md%00",
        "a/b%00.txt",
    ] {
        let r = raw(&srv, "GET", &format!("{base}/{p}"), &[], b"").await;
        assert_eq!(r.status, 400, "{p}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["error"], "BAD_REQUEST", "{p}");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    for p in [
        "nope.txt", "a/c", "A/b", "a", "%2Fb", "a%2F%2Fb", "skill.md",
    ] {
        let r = raw(&srv, "GET", &format!("{base}/{p}"), &[], b"").await;
        assert_eq!(r.status, 404, "{p}");
        assert_eq!(r.json()["error"], "NOT_FOUND", "{p}");
    }
    let r = raw(&srv, "GET", &format!("{base}/nope.txt"), &[], b"").await;
    assert_eq!(
        r.json()["message"],
        "File nope.txt was not found in trav@1.0.0."
    );
    // Percent-decoding is per segment: `b%20c` is the file `a/b c`; `a%2Fb` is the path `a/b`.
    let r = raw(&srv, "GET", &format!("{base}/a/b%20c"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"spaced");
    let r = raw(&srv, "GET", &format!("{base}/a%2Fb"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"plain b");
    // An empty segment is a 404 before any file lookup.
    let r = raw(&srv, "GET", &format!("{base}/a//b"), &[], b"").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn download_counter_and_tarball_headers() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let v1 = tgz_with("counted", "one");
    let v2 = tgz_with("counted", "two");
    srv.publish(
        &alice,
        json!({"name": "counted", "version": "1.0.0"}),
        v1.clone(),
    )
    .await;
    srv.publish(
        &alice,
        json!({"name": "counted", "version": "1.1.0"}),
        v2.clone(),
    )
    .await;
    let t1 = "/api/v1/skills/counted/1.0.0/tarball";
    let t2 = "/api/v1/skills/counted/1.1.0/tarball";

    let resp = srv.req(Method::GET, t1, None).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/gzip");
    assert_eq!(h["content-length"], v1.len().to_string().as_str());
    assert_eq!(h["etag"], format!("\"{}\"", integrity(&v1)).as_str());
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"counted-1.0.0.tgz\""
    );
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), v1.as_slice());
    // Conditional and range headers are ignored: always 200 and the full body.
    let resp = srv
        .req(Method::GET, t1, None)
        .header("If-None-Match", format!("\"{}\"", integrity(&v1)))
        .header("Range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), v1.as_slice());
    let resp = srv.req(Method::GET, t1, None).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), v1.as_slice());
    let resp = srv.req(Method::GET, t2, None).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), v2.as_slice());

    // None of these count.
    for _ in 0..2 {
        let head = srv.req(Method::HEAD, t1, None).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(
            head.headers()["content-length"],
            v1.len().to_string().as_str()
        );
        assert_eq!(
            head.headers()["etag"],
            format!("\"{}\"", integrity(&v1)).as_str()
        );
    }
    for p in [
        "/api/v1/skills/counted",
        "/api/v1/skills/counted/versions",
        "/api/v1/skills/counted/1.0.0",
        "/api/v1/skills/counted/1.0.0/files",
        "/api/v1/skills/counted/1.0.0/files/SKILL.md",
        "/api/v1/skills/counted/1.0.0/scan",
        "/api/v1/skills/counted/9.9.9/tarball",
    ] {
        srv.req(Method::GET, p, None).send().await.unwrap();
    }

    // Read-your-writes, before any flush can be relied on.
    let (_, d1) = srv.get("/api/v1/skills/counted/1.0.0", None).await;
    let (_, d2) = srv.get("/api/v1/skills/counted/1.1.0", None).await;
    let (_, meta) = srv.get("/api/v1/skills/counted", None).await;
    assert_eq!(d1["downloads"], 3);
    assert_eq!(d2["downloads"], 1);
    assert_eq!(meta["downloads"], 4);

    // After the flush (at least once per second) the stored counts match and nothing is counted twice.
    let mut stored = 0;
    for _ in 0..50 {
        stored = srv.count("SELECT COALESCE(SUM(downloads), 0) FROM versions");
        if stored == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 4);
    assert_eq!(
        srv.count("SELECT downloads FROM versions WHERE version = '1.0.0'"),
        3
    );
    let (_, meta) = srv.get("/api/v1/skills/counted", None).await;
    assert_eq!(meta["downloads"], 4);
    srv.req(Method::GET, t2, None).send().await.unwrap();
    let (_, d2) = srv.get("/api/v1/skills/counted/1.1.0", None).await;
    assert_eq!(d2["downloads"], 2);
    let (_, meta) = srv.get("/api/v1/skills/counted", None).await;
    assert_eq!(meta["downloads"], 5);
}

#[tokio::test]
async fn stars_idempotent_and_authenticated() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    create_user_named(&srv, "bob", None, false);
    let bob_read = srv.token("bob", "skills:read");
    create_user_named(&srv, "root", None, true);
    let root_admin = srv.token("root", "skills:admin");
    srv.publish(
        &alice,
        json!({"name": "starry", "version": "1.0.0"}),
        tgz_with("starry", "stars"),
    )
    .await;
    let star = "/api/v1/skills/starry/star";

    // No credentials → 401 before any lookup, for a missing skill too.
    for path in [
        star,
        "/api/v1/skills/missing/star",
        "/api/v1/skills/%40no%2Fsuch/star",
    ] {
        for m in [Method::GET, Method::POST, Method::DELETE] {
            let resp = srv.req(m.clone(), path, None).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{m} {path}");
            assert_eq!(
                resp.headers()["www-authenticate"],
                "Bearer realm=\"tank-registry\""
            );
            let (_, e) = json_of(resp).await;
            assert_eq!(e["error"], "UNAUTHORIZED");
        }
        let resp = srv
            .req(Method::POST, path, Some("tank_invalid"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
    assert_eq!(srv.count("SELECT COUNT(*) FROM stars"), 0);

    let (s, e) = srv
        .post("/api/v1/skills/missing/star", Some(&alice), json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        e,
        json!({"error": "NOT_FOUND", "message": "Skill missing was not found."})
    );

    let (s, g) = srv.get(star, Some(&alice)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        g,
        json!({"starred": false, "stars": 0, "isStarred": false, "count": 0})
    );
    for _ in 0..2 {
        let (s, p) = srv.post(star, Some(&alice), json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(p, json!({"starred": true, "stars": 1, "success": true}));
    }
    assert_eq!(srv.count("SELECT COUNT(*) FROM stars"), 1);
    // A read-only token and an admin-only token (scopes are hierarchical) may star.
    let (s, p) = srv.post(star, Some(&bob_read), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["stars"], 2);
    let (s, p) = srv.post(star, Some(&root_admin), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p, json!({"starred": true, "stars": 3, "success": true}));
    let (_, g) = srv.get(star, Some(&bob_read)).await;
    assert_eq!(
        g,
        json!({"starred": true, "stars": 3, "isStarred": true, "count": 3})
    );
    let (_, meta) = srv.get("/api/v1/skills/starry", None).await;
    assert_eq!(meta["stars"], 3);

    // DELETE, idempotent.
    for _ in 0..2 {
        let resp = srv
            .req(Method::DELETE, star, Some(&bob_read))
            .send()
            .await
            .unwrap();
        let (s, d) = json_of(resp).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(d, json!({"starred": false, "stars": 2, "success": true}));
    }
    let (_, g) = srv.get(star, Some(&bob_read)).await;
    assert_eq!(g["isStarred"], false);
    assert_eq!(g["count"], 2);
    assert_eq!(srv.count("SELECT COUNT(*) FROM stars"), 2);

    // A star belongs to (user, skill) and survives new versions; two-segment and encoded names agree.
    srv.publish(
        &alice,
        json!({"name": "starry", "version": "1.1.0"}),
        tgz_with("starry", "stars 2"),
    )
    .await;
    let (_, g) = srv.get(star, Some(&alice)).await;
    assert_eq!(g["starred"], true);
    assert_eq!(g["stars"], 2);
    let (_, meta) = srv.get("/api/v1/skills/starry", None).await;
    assert_eq!(meta["stars"], 2);
}

#[tokio::test]
async fn whoami_fields() {
    let srv = TestServer::start().await;
    create_user_named(&srv, "alice", Some("Alice Doe"), false);
    create_user_named(&srv, "root", None, true);
    let alice = srv.token_with("alice", "skills:read", Some(30));
    let root = srv.token("root", "skills:admin");
    let (s, me) = srv.get("/api/v1/auth/whoami", Some(&alice)).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(
        keys(&me),
        sorted(&[
            "userId",
            "name",
            "email",
            "scopes",
            "displayName",
            "isAdmin",
            "tokenExpiresAt"
        ])
    );
    assert_eq!(me["name"], "alice");
    assert_eq!(me["displayName"], "Alice Doe");
    assert_eq!(me["isAdmin"], false);
    assert_eq!(me["scopes"], json!(["skills:read"]));
    assert!(is_ts(&me["tokenExpiresAt"]), "{}", me["tokenExpiresAt"]);
    let exp = time::OffsetDateTime::parse(
        me["tokenExpiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (exp - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{days}");

    let (s, me) = srv.get("/api/v1/auth/whoami", Some(&root)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["displayName"], "root", "falls back to the username");
    assert_eq!(me["isAdmin"], true);
    assert_eq!(me["scopes"], json!(["skills:admin"]));
    assert_eq!(me["tokenExpiresAt"], Value::Null);
    assert!(me["userId"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(me["userId"].as_str().unwrap().len(), 4 + 26);

    // Revoked and malformed tokens → 401 invalid_token.
    let list = tank_registry::admin::token(
        &srv.config,
        TokenCommand::List {
            user: "alice".into(),
            json: true,
        },
    )
    .unwrap();
    let list: Value = serde_json::from_str(&list).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    tank_registry::admin::token(&srv.config, TokenCommand::Revoke { id }).unwrap();
    for tok in [alice.as_str(), "tank_nope", "nope"] {
        let resp = srv
            .req(Method::GET, "/api/v1/auth/whoami", Some(tok))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{tok}");
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer realm=\"tank-registry\", error=\"invalid_token\""
        );
    }
    // A session cookie alone is not enough for whoami (Bearer only): 401 without `invalid_token`.
    let r = raw(
        &srv,
        "GET",
        "/api/v1/auth/whoami",
        &[("Cookie", "tank_session=0123456789abcdef")],
        b"",
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"tank-registry\"")
    );
    // Not Bearer → 401 too.
    let r = raw(
        &srv,
        "GET",
        "/api/v1/auth/whoami",
        &[("Authorization", &format!("Basic {root}"))],
        b"",
    )
    .await;
    assert_eq!(r.status, 401);
    let r = raw(
        &srv,
        "GET",
        "/api/v1/auth/whoami",
        &[("Authorization", &format!("bearer   {root}  "))],
        b"",
    )
    .await;
    assert_eq!(
        r.status, 200,
        "scheme is case-insensitive, credentials trimmed"
    );
    assert_eq!(r.json()["name"], "root");
}
