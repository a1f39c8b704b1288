//! Search (issue "Search: embedded tantivy index with BM25, prefix and fuzzy matching, download tie-break"):
//! the ranking rules with SPEC §7's example table, typos, scope listing, empty query, pagination, visibility,
//! read-your-writes, live downloads and stars, start-up rebuilds, `reindex` and `check`.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use tank_registry::cli::{AccessCommand, SkillCommand};
use tank_registry::config::Config;

/// A tarball whose readme says nothing beyond the skill's name, so that searches test the fields they mean.
fn tgz(name: &str, version: &str) -> Vec<u8> {
    let skill_md = format!("---\nname: {name}\ndescription: Fixture.\n---\n\n# {name}\n");
    let tank_json = json!({"name": name, "version": version}).to_string();
    tank_registry::archive::testutil::build_tgz(&[
        ("SKILL.md", skill_md.as_bytes()),
        ("tank.json", tank_json.as_bytes()),
    ])
}

async fn publish(srv: &TestServer, token: &str, name: &str, description: &str, private: bool) {
    let mut manifest = json!({"name": name, "version": "1.0.0", "description": description});
    if private {
        manifest["visibility"] = json!("private");
    }
    srv.publish(token, manifest, tgz(name, "1.0.0")).await;
}

fn set_downloads(data_dir: &Path, name: &str, n: i64) {
    let c = rusqlite::Connection::open(data_dir.join("registry.db")).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let changed = c
        .execute(
            "UPDATE versions SET downloads = ?1 WHERE skill_id = (SELECT id FROM skills WHERE name = ?2)",
            rusqlite::params![n, name],
        )
        .unwrap();
    assert_eq!(changed, 1, "{name}");
}

async fn search(srv: &TestServer, query: &str, token: Option<&str>) -> Value {
    let (s, body) = srv.get(&format!("/api/v1/search?{query}"), token).await;
    assert_eq!(s, StatusCode::OK, "{query}: {body}");
    body
}

fn names(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

/// The registry of SPEC §7's examples. Returns (alice's token = member of acme, bob's token = no access).
async fn example_registry(srv: &TestServer) -> (String, String) {
    let alice = srv.user_with_token("alice");
    let bob = srv.user_with_token("bob");
    let tank = srv.user_with_token("tanker");
    let vercel = srv.user_with_token("vdev");
    srv.create_org("acme", "alice");
    srv.create_org("tank", "tanker");
    srv.create_org("vercel", "vdev");
    publish(
        srv,
        &alice,
        "@acme/hello-world",
        "Greets the user in several languages.",
        false,
    )
    .await;
    publish(srv, &tank, "@tank/hello", "Minimal example skill.", false).await;
    publish(
        srv,
        &alice,
        "@acme/seo-audit",
        "Audits a website for SEO problems.",
        false,
    )
    .await;
    publish(
        srv,
        &vercel,
        "@vercel/next-skill",
        "Teaches agents to scaffold, build, and deploy Next.js apps.",
        false,
    )
    .await;
    publish(
        srv,
        &bob,
        "pdf-tools",
        "Extract text and tables from PDF files.",
        false,
    )
    .await;
    publish(
        srv,
        &alice,
        "@acme/internal-tools",
        "Internal release tooling.",
        true,
    )
    .await;
    let dir = srv.data_dir();
    for (name, n) in [
        ("@acme/hello-world", 10),
        ("@tank/hello", 2),
        ("@acme/seo-audit", 5),
        ("@vercel/next-skill", 50),
        ("pdf-tools", 7),
        ("@acme/internal-tools", 1),
    ] {
        set_downloads(dir, name, n);
    }
    (alice, bob)
}

#[tokio::test]
async fn ranking_follows_the_spec_example_table() {
    let srv = TestServer::start().await;
    let (alice, bob) = example_registry(&srv).await;

    // Tier 1: exact name.
    for token in [None, Some(bob.as_str()), Some(alice.as_str())] {
        let b = search(&srv, "q=%40acme%2Fseo-audit", token).await;
        assert_eq!(names(&b)[0], "@acme/seo-audit", "{b}");
    }
    let b = search(&srv, "q=@acme/seo-audit", None).await;
    assert_eq!(names(&b), vec!["@acme/seo-audit"], "{b}");

    // Tier 2 (bare name) before tier 3 (name token).
    let b = search(&srv, "q=hello", None).await;
    assert_eq!(names(&b), vec!["@tank/hello", "@acme/hello-world"], "{b}");
    assert_eq!(b["total"], 2);

    // Scope query: downloads order, private excluded for anonymous and non-members.
    for token in [None, Some(bob.as_str())] {
        let b = search(&srv, "q=%40acme", token).await;
        assert_eq!(
            names(&b),
            vec!["@acme/hello-world", "@acme/seo-audit"],
            "{b}"
        );
        assert_eq!(b["total"], 2);
    }
    let b = search(&srv, "q=%40acme", Some(&alice)).await;
    assert_eq!(
        names(&b),
        vec![
            "@acme/hello-world",
            "@acme/seo-audit",
            "@acme/internal-tools"
        ],
        "{b}"
    );
    assert_eq!(b["total"], 3);
    let b = search(&srv, "q=%40acme%2F", None).await;
    assert_eq!(names(&b), vec!["@acme/hello-world", "@acme/seo-audit"]);

    // AND semantics.
    for q in ["q=seo+audit", "q=seo%20audit"] {
        let b = search(&srv, q, None).await;
        assert_eq!(names(&b), vec!["@acme/seo-audit"], "{q}: {b}");
        assert_eq!(b["total"], 1);
    }

    // Fuzzy (distance 1) on the description token "scaffold".
    let b = search(&srv, "q=scafold", None).await;
    assert_eq!(names(&b), vec!["@vercel/next-skill"], "{b}");

    let b = search(&srv, "q=pdf", None).await;
    assert_eq!(names(&b), vec!["pdf-tools"], "{b}");

    for q in ["q=internal", "q=zzzz"] {
        let b = search(&srv, q, None).await;
        assert_eq!(b["results"], json!([]), "{q}: {b}");
        assert_eq!(b["total"], 0, "{q}");
    }
    let b = search(&srv, "q=internal", Some(&bob)).await;
    assert_eq!(b["total"], 0, "a non-member does not see it either");
    let b = search(&srv, "q=internal", Some(&alice)).await;
    assert_eq!(names(&b), vec!["@acme/internal-tools"]);

    // Empty query: every public skill, newest first.
    let b = search(&srv, "q=", None).await;
    assert_eq!(
        names(&b),
        vec![
            "pdf-tools",
            "@vercel/next-skill",
            "@acme/seo-audit",
            "@tank/hello",
            "@acme/hello-world"
        ],
        "{b}"
    );
    assert_eq!(b["total"], 5);

    // Pagination.
    let b = search(&srv, "q=hello&limit=1&page=2", None).await;
    assert_eq!(names(&b), vec!["@acme/hello-world"]);
    assert_eq!(b["total"], 2);
    assert_eq!(b["page"], 2);
    assert_eq!(b["limit"], 1);
}

#[tokio::test]
async fn result_rows_have_the_documented_shape() {
    let srv = TestServer::start().await;
    example_registry(&srv).await;
    let b = search(&srv, "q=seo", None).await;
    let row = &b["results"][0];
    assert_eq!(row["name"], "@acme/seo-audit");
    assert_eq!(row["description"], "Audits a website for SEO problems.");
    assert_eq!(row["visibility"], "public");
    assert_eq!(row["latestVersion"], "1.0.0");
    assert!(row["auditScore"].is_u64(), "{row}");
    assert_eq!(
        row["scanVerdict"],
        row["verdict"].as_str().unwrap().to_lowercase()
    );
    assert_eq!(row["publisher"], "alice");
    assert_eq!(row["downloads"], 5);
    assert_eq!(row["stars"], 0);
    let updated = row["updatedAt"].as_str().unwrap();
    assert!(updated.ends_with('Z') && updated.len() == 24, "{updated}");
    let (_, meta) = srv.get("/api/v1/skills/@acme/seo-audit", None).await;
    assert_eq!(row["updatedAt"], meta["updatedAt"]);
    assert_eq!(b["page"], 1);
    assert_eq!(b["limit"], 20);
}

#[tokio::test]
async fn every_term_matches_exact_prefix_or_fuzzy() {
    let srv = TestServer::start().await;
    example_registry(&srv).await;
    // Bare name by a kebab-case word, by prefix, description and publisher words.
    assert_eq!(
        names(&search(&srv, "q=audit", None).await),
        vec!["@acme/seo-audit"]
    );
    assert_eq!(
        names(&search(&srv, "q=aud", None).await),
        vec!["@acme/seo-audit"]
    );
    assert_eq!(
        names(&search(&srv, "q=website", None).await),
        vec!["@acme/seo-audit"]
    );
    assert_eq!(
        names(&search(&srv, "q=vercel", None).await),
        vec!["@vercel/next-skill"]
    );
    assert_eq!(
        names(&search(&srv, "q=next+scaffold", None).await),
        vec!["@vercel/next-skill"]
    );
    // Publisher username finds everything alice published that the caller may see.
    assert_eq!(
        names(&search(&srv, "q=alice", None).await),
        vec!["@acme/hello-world", "@acme/seo-audit"]
    );
    // Case and punctuation do not matter; a query of only punctuation finds nothing.
    assert_eq!(
        names(&search(&srv, "q=SEO-Audit", None).await),
        vec!["@acme/seo-audit"]
    );
    let b = search(&srv, "q=%2F%2F--", None).await;
    assert_eq!(b["total"], 0);
    // A prefix does not reach descriptions: "scaff" is neither a name-token prefix nor within distance.
    assert_eq!(search(&srv, "q=scaff", None).await["total"], 0);
}

#[tokio::test]
async fn exact_name_token_ranks_above_prefix_above_fuzzy() {
    let srv = TestServer::start().await;
    let t = srv.user_with_token("ranker");
    // Give the weaker matches more downloads so that only relevance can put the exact match first.
    publish(
        &srv,
        &t,
        "@ranker/lint-fuzzy",
        "Has the token linter.",
        false,
    )
    .await;
    publish(&srv, &t, "@ranker/linters-prefix", "Nothing else.", false).await;
    publish(&srv, &t, "@ranker/linter-exact", "Nothing else.", false).await;
    publish(&srv, &t, "@ranker/lintr-typo", "Nothing else.", false).await;
    set_downloads(srv.data_dir(), "@ranker/linters-prefix", 100);
    set_downloads(srv.data_dir(), "@ranker/lintr-typo", 1000);
    let b = search(&srv, "q=linter", None).await;
    let n = names(&b);
    assert_eq!(n[0], "@ranker/linter-exact", "{b}");
    assert_eq!(n[1], "@ranker/linters-prefix", "{b}");
    let fuzzy_pos = n
        .iter()
        .position(|x| x == "@ranker/lintr-typo")
        .expect("fuzzy match");
    assert!(fuzzy_pos >= 2, "{b}");
}

#[tokio::test]
async fn typo_queries_find_the_intended_skill_in_the_top_three() {
    let srv = TestServer::start().await;
    example_registry(&srv).await;
    for (q, want) in [
        // One edit (terms of 4–7 characters allow one).
        ("q=helo", "@tank/hello"),
        ("q=audti", "@acme/seo-audit"),
        ("q=scafold", "@vercel/next-skill"),
        ("q=tols", "pdf-tools"),
        // Two edits (terms of 8 or more characters).
        ("q=lnaguagse", "@acme/hello-world"),
        ("q=scaffoldd+deplyo", "@vercel/next-skill"),
        ("q=extarct", "pdf-tools"),
    ] {
        let b = search(&srv, q, None).await;
        let top: Vec<String> = names(&b).into_iter().take(3).collect();
        assert!(top.iter().any(|n| n == want), "{q}: {b}");
    }
    // Three characters allow no edit; eight characters allow two but not three.
    assert_eq!(search(&srv, "q=pdx", None).await["total"], 0);
    assert_eq!(search(&srv, "q=lnaguagxx", None).await["total"], 0);
}

#[tokio::test]
async fn pagination_has_no_duplicates_or_gaps() {
    let srv = TestServer::start().await;
    let t = srv.user_with_token("pager");
    for i in 0..13 {
        publish(
            &srv,
            &t,
            &format!("@pager/page-skill-{i:02}"),
            "Paged skill.",
            false,
        )
        .await;
        set_downloads(
            srv.data_dir(),
            &format!("@pager/page-skill-{i:02}"),
            (i % 4) as i64,
        );
    }
    for q in ["q=page", "q=%40pager", "q=", "q=paged+skill"] {
        let mut seen = Vec::new();
        for page in 1..=3 {
            let b = search(&srv, &format!("{q}&limit=5&page={page}"), None).await;
            assert_eq!(b["total"], 13, "{q}");
            assert_eq!(b["page"], page);
            let n = names(&b);
            assert_eq!(n.len(), if page < 3 { 5 } else { 3 }, "{q} page {page}");
            seen.extend(n);
        }
        let all = names(&search(&srv, &format!("{q}&limit=50"), None).await);
        assert_eq!(seen, all, "{q}: pages concatenate to the full list");
        let mut dedup = seen.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 13, "{q}: no duplicates");
        let b = search(&srv, &format!("{q}&limit=5&page=4"), None).await;
        assert_eq!(b["results"], json!([]));
        assert_eq!(b["total"], 13);
    }
    // Ties by downloads then name: 3 downloads for 03, 07, 11.
    let b = search(&srv, "q=%40pager&limit=3", None).await;
    assert_eq!(
        names(&b),
        vec![
            "@pager/page-skill-03",
            "@pager/page-skill-07",
            "@pager/page-skill-11"
        ]
    );
}

#[tokio::test]
async fn parameters_are_clamped_and_validated() {
    let srv = TestServer::start().await;
    example_registry(&srv).await;
    let b = search(&srv, "q=&limit=0&page=0", None).await;
    assert_eq!(
        (b["limit"].clone(), b["page"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(names(&b).len(), 1);
    let b = search(&srv, "limit=500&page=999999", None).await;
    assert_eq!(
        (b["limit"].clone(), b["page"].clone()),
        (json!(50), json!(10000))
    );
    assert_eq!(b["results"], json!([]));
    assert_eq!(b["total"], 5);
    let b = search(&srv, "limit=abc&page=x", None).await;
    assert_eq!(
        (b["limit"].clone(), b["page"].clone()),
        (json!(20), json!(1))
    );
    // First occurrence wins; unknown parameters are ignored.
    let b = search(&srv, "q=pdf&q=hello&foo=bar", None).await;
    assert_eq!(names(&b), vec!["pdf-tools"]);

    // 256 characters after trimming are fine; 257 are not.
    let ok = format!("q=++{}++", "a".repeat(256));
    assert_eq!(search(&srv, &ok, None).await["total"], 0);
    let (s, body) = srv
        .get(&format!("/api/v1/search?q={}", "é".repeat(257)), None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "VALIDATION_ERROR");
    assert_eq!(body["issues"][0]["path"], json!(["q"]));

    // A bad token is 401, never a silent downgrade; bad encoding is 400.
    let (s, _) = srv.get("/api/v1/search?q=x", Some("tank_nope")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, body) = srv.get("/api/v1/search?q=%ff", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn private_skills_are_never_listed_or_counted_without_access() {
    let srv = TestServer::start().await;
    let alice = srv.user_with_token("alice");
    let bob = srv.user_with_token("bob");
    let carol = srv.user_with_token("carol");
    srv.create_org("acme", "alice");
    srv.add_member("acme", "carol");
    srv.create_user("root", true);
    let admin = srv.token("root", "skills:read,skills:admin");
    publish(
        &srv,
        &alice,
        "@acme/secret-plan",
        "Confidential secret tooling.",
        true,
    )
    .await;
    publish(
        &srv,
        &alice,
        "@acme/open-plan",
        "Public secret tooling.",
        false,
    )
    .await;
    publish(&srv, &bob, "bobs-secret", "Bob's own secret tooling.", true).await;

    let visible = |token: Option<String>| {
        let srv = &srv;
        async move {
            let b = search(srv, "q=secret", token.as_deref()).await;
            let mut n = names(&b);
            n.sort();
            assert_eq!(b["total"], n.len(), "{b}");
            let e = search(srv, "q=", token.as_deref()).await;
            assert_eq!(e["total"], n.len(), "{e}");
            n
        }
    };
    assert_eq!(visible(None).await, vec!["@acme/open-plan"]);
    assert_eq!(
        visible(Some(bob.clone())).await,
        vec!["@acme/open-plan", "bobs-secret"]
    );
    assert_eq!(
        visible(Some(carol.clone())).await,
        vec!["@acme/open-plan", "@acme/secret-plan"]
    );
    assert_eq!(
        visible(Some(alice.clone())).await,
        vec!["@acme/open-plan", "@acme/secret-plan"]
    );
    assert_eq!(
        visible(Some(admin.clone())).await,
        vec!["@acme/open-plan", "@acme/secret-plan", "bobs-secret"]
    );
    // An admin token without skills:admin sees only what the user could see anyway.
    let weak_admin = srv.token("root", "skills:read");
    assert_eq!(visible(Some(weak_admin)).await, vec!["@acme/open-plan"]);

    // Grants, membership and visibility changes apply to the next search without reindexing.
    tank_registry::admin::access(
        &srv.config,
        AccessCommand::Grant {
            skill: "bobs-secret".into(),
            user: "carol".into(),
        },
    )
    .unwrap();
    assert_eq!(
        visible(Some(carol.clone())).await,
        vec!["@acme/open-plan", "@acme/secret-plan", "bobs-secret"]
    );
    tank_registry::admin::skill(
        &srv.config,
        SkillCommand::Visibility {
            name: "@acme/secret-plan".into(),
            visibility: "public".into(),
        },
    )
    .unwrap();
    assert_eq!(
        visible(None).await,
        vec!["@acme/open-plan", "@acme/secret-plan"]
    );
}

#[tokio::test]
async fn a_confirmed_skill_is_searchable_by_the_next_request() {
    let srv = TestServer::start().await;
    let t = srv.user_with_token("fresh");
    for i in 0..5 {
        let name = format!("@fresh/just-published-{i}");
        publish(&srv, &t, &name, "Brand new.", false).await;
        let b = search(&srv, &format!("q={}", name.replace('@', "%40")), None).await;
        assert_eq!(names(&b).first(), Some(&name), "{b}");
        assert_eq!(b["total"], 1);
    }
    // A new version's description replaces the old document.
    let manifest = json!({"name": "@fresh/just-published-0", "version": "1.1.0", "description": "Rewritten entirely."});
    srv.publish(&t, manifest, tgz("@fresh/just-published-0", "1.1.0"))
        .await;
    let b = search(&srv, "q=rewritten", None).await;
    assert_eq!(names(&b), vec!["@fresh/just-published-0"]);
    assert_eq!(b["results"][0]["latestVersion"], "1.1.0");
    assert_eq!(search(&srv, "q=%40fresh", None).await["total"], 5);
}

#[tokio::test]
async fn downloads_and_stars_reach_the_ranking_without_reindex() {
    let srv = TestServer::start().await;
    let t = srv.user_with_token("dl");
    publish(&srv, &t, "@dl/alpha", "Tied skill.", false).await;
    publish(&srv, &t, "@dl/beta", "Tied skill.", false).await;
    let b = search(&srv, "q=tied", None).await;
    assert_eq!(
        names(&b),
        vec!["@dl/alpha", "@dl/beta"],
        "name breaks the tie"
    );
    assert_eq!(b["results"][1]["downloads"], 0);

    // Two downloads of beta through the tarball endpoint: counted at once (unflushed or flushed).
    for _ in 0..2 {
        let r = srv
            .req(
                reqwest::Method::GET,
                "/api/v1/skills/@dl/beta/1.0.0/tarball",
                None,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.bytes().await.unwrap();
    }
    for q in ["q=tied", "q=%40dl"] {
        let b = search(&srv, q, None).await;
        assert_eq!(names(&b), vec!["@dl/beta", "@dl/alpha"], "{q}: {b}");
        assert_eq!(b["results"][0]["downloads"], 2, "{b}");
    }
    // After the flush the value is the same.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let b = search(&srv, "q=tied", None).await;
    assert_eq!(b["results"][0]["downloads"], 2);
    // A change straight in the database counts too.
    set_downloads(srv.data_dir(), "@dl/alpha", 9);
    let b = search(&srv, "q=tied", None).await;
    assert_eq!(names(&b), vec!["@dl/alpha", "@dl/beta"], "{b}");
    assert_eq!(b["results"][0]["downloads"], 9);

    let (s, _) = srv
        .req(
            reqwest::Method::POST,
            "/api/v1/skills/@dl/beta/star",
            Some(&t),
        )
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(s, StatusCode::OK);
    let b = search(&srv, "q=tied", None).await;
    assert_eq!(b["results"][1]["stars"], 1, "{b}");
}

/// A server on a data directory the test owns, so that it can be stopped and started again.
struct Instance {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Instance {
    async fn start(config: &Config) -> Instance {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let cfg = config.clone();
        let task = tokio::spawn(async move {
            tank_registry::serve(cfg, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server failed");
        });
        Instance { url, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }

    async fn search(&self, q: &str) -> Value {
        let r = reqwest::get(format!("{}/api/v1/search?{q}", self.url))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }
}

fn check(config: &Config) -> Result<String, String> {
    tank_registry::admin::check(config).map_err(|e| e.message)
}

#[tokio::test]
async fn startup_rebuilds_a_missing_or_corrupt_index_and_check_sees_it() {
    // The data directory outlives the first server so that others can start on it.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.clone();
    let srv = TestServer::start_with(move |c| c.data_dir = d).await;
    example_registry(&srv).await;
    let config = srv.config.clone();
    srv.stop().await;
    let index = config.index_dir();

    // The index as the server left it is complete.
    assert_eq!(check(&config), Ok("ok\n".into()));

    type Corruption = (&'static str, fn(&Path));
    let corruptions: [Corruption; 3] = [
        ("deleted", |p| std::fs::remove_dir_all(p).unwrap()),
        ("garbage meta.json", |p| {
            std::fs::write(p.join("meta.json"), b"{not json").unwrap()
        }),
        ("unknown schema", |p| {
            let meta = std::fs::read_to_string(p.join("meta.json")).unwrap();
            let v: Value = serde_json::from_str(&meta).unwrap();
            let mut v = v;
            v["payload"] = json!(json!({"schema": 999, "seq": 1}).to_string());
            std::fs::write(p.join("meta.json"), v.to_string()).unwrap();
        }),
    ];
    for (what, corrupt) in corruptions {
        corrupt(&index);
        let err = check(&config).expect_err(what);
        assert!(err.contains("index"), "{what}: {err}");
        let inst = Instance::start(&config).await;
        let b = inst.search("q=hello").await;
        assert_eq!(
            names(&b),
            vec!["@tank/hello", "@acme/hello-world"],
            "{what}: {b}"
        );
        assert_eq!(inst.search("q=").await["total"], 5, "{what}");
        inst.stop().await;
        assert_eq!(check(&config), Ok("ok\n".into()), "{what}");
    }

    // A lagging index (a commit with a lower N) is caught up at start.
    let c = rusqlite::Connection::open(config.db_path()).unwrap();
    c.execute(
        "UPDATE skills SET description = 'Now about zebras.', index_seq = (SELECT MAX(index_seq) + 1 FROM skills),
             updated_at = updated_at WHERE name = 'pdf-tools'",
        [],
    )
    .unwrap();
    let inst = Instance::start(&config).await;
    assert_eq!(names(&inst.search("q=zebras").await), vec!["pdf-tools"]);
    inst.stop().await;

    // An index with fewer documents than the database: check names both counts.
    std::fs::remove_dir_all(&index).unwrap();
    std::fs::create_dir_all(&index).unwrap();
    let fresh = tantivy_empty_index(&index);
    drop(fresh);
    let err = check(&config).unwrap_err();
    assert!(err.contains("index has 0 documents, expected 6"), "{err}");
    assert!(err.contains("index lacks pdf-tools (skill_"), "{err}");

    // A second document for one skill and one for an id the database does not publish: check names both.
    tank_registry::search::reindex(&config).unwrap();
    add_raw_docs(
        &index,
        &[("pdf-tools", None), ("ghost", Some("skill_ghost"))],
    );
    let err = check(&config).unwrap_err();
    assert!(err.contains("index has 8 documents, expected 6"), "{err}");
    assert!(
        err.contains("index holds pdf-tools (skill_") && err.contains(") 2 times"),
        "{err}"
    );
    assert!(
        err.contains("index holds skill_ghost, which has no published version"),
        "{err}"
    );
    assert!(!err.contains("index lacks"), "{err}");

    // Start-up finds the same and rebuilds: one hit for pdf-tools, no ghost, and check is ok again.
    let inst = Instance::start(&config).await;
    let b = inst.search("q=pdf-tools").await;
    assert_eq!(
        names(&b).iter().filter(|n| *n == "pdf-tools").count(),
        1,
        "{b}"
    );
    assert_eq!(inst.search("q=").await["total"], 5);
    assert_eq!(inst.search("q=ghost").await["total"], 0);
    inst.stop().await;
    assert_eq!(check(&config), Ok("ok\n".into()));

    // `reindex` without a server rebuilds it.
    let out = tank_registry::search::reindex(&config).map_err(|e| e.message);
    assert_eq!(out, Ok("indexed 6 skills\n".into()));
    assert_eq!(check(&config), Ok("ok\n".into()));
}

/// Adds documents behind the server's back, keeping the commit payload: `(name, id)`, where no id means the
/// id of the skill of that name in the index (a duplicate).
fn add_raw_docs(dir: &Path, docs: &[(&str, Option<&str>)]) {
    let index = tantivy::Index::open_in_dir(dir).unwrap();
    tank_registry::search::register_tokenizers(&index);
    let schema = index.schema();
    let (id_f, name_f) = (
        schema.get_field("id").unwrap(),
        schema.get_field("name").unwrap(),
    );
    let payload = index.load_metas().unwrap().payload;
    let searcher = index.reader().unwrap().searcher();
    let mut w: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
    for (name, id) in docs {
        let id = match id {
            Some(id) => id.to_string(),
            None => {
                let q = tantivy::query::TermQuery::new(
                    tantivy::Term::from_field_text(name_f, name),
                    tantivy::schema::IndexRecordOption::Basic,
                );
                let hits = searcher
                    .search(&q, &tantivy::collector::DocSetCollector)
                    .unwrap();
                let addr = *hits.iter().next().expect("the skill is indexed");
                let seg = searcher.segment_reader(addr.segment_ord);
                let ids = seg.fast_fields().str("id").unwrap().unwrap();
                let mut id = String::new();
                let ord = ids.term_ords(addr.doc_id).next().unwrap();
                ids.ord_to_str(ord, &mut id).unwrap();
                id
            }
        };
        let mut doc = tantivy::TantivyDocument::default();
        doc.add_text(id_f, &id);
        doc.add_text(name_f, name);
        w.add_document(doc).unwrap();
    }
    let mut prepared = w.prepare_commit().unwrap();
    if let Some(p) = payload {
        prepared.set_payload(&p);
    }
    prepared.commit().unwrap();
}

/// An empty index of the current schema, as a stand-in for one that lost documents.
fn tantivy_empty_index(dir: &Path) -> tank_registry::search::SearchIndex {
    tank_registry::search::SearchIndex::create_dir(dir, None).unwrap()
}

#[tokio::test]
async fn reindex_asks_a_running_server() {
    let srv = TestServer::start().await;
    example_registry(&srv).await;
    let config = srv.config.clone();
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || tank_registry::search::reindex(&config))
        .await
        .unwrap()
        .map_err(|e| e.message);
    assert_eq!(out, Ok("indexed 6 skills\n".into()));
    assert!(started.elapsed() < std::time::Duration::from_secs(12));
    let b = search(&srv, "q=hello", None).await;
    assert_eq!(names(&b), vec!["@tank/hello", "@acme/hello-world"]);
    assert_eq!(check(&srv.config), Ok("ok\n".into()));
}

#[test]
fn reindex_binary_reports_on_an_empty_registry_and_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_tank-registry");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    };
    let out = run(&["user", "create", "solo"]);
    assert!(out.status.success(), "{out:?}");
    let out = run(&["reindex"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "indexed 0 skills\n");
    let out = run(&["check"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    let missing = dir.path().join("nothing-here");
    let out = std::process::Command::new(bin)
        .args(["reindex", "--data-dir"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
