//! Crash safety (SPEC §4.4 "What MUST hold after a kill -9").
//!
//! Spawns the real binary on a temporary data directory, drives concurrent publish flows (start → upload →
//! confirm), kills the process with SIGKILL at seeded-random moments — mixed traffic, upload storms (large
//! bodies in flight) and confirm storms (hash, scan, blob write and publication transaction in flight) — restarts
//! it on the same data directory and checks, after every restart:
//!
//! * `PRAGMA integrity_check` is `ok` (read-only connection), also on the raw post-crash files;
//! * `tank-registry check` exits 0 and prints `ok`;
//! * no `*.part` / `*.tmp` file anywhere in the data directory;
//! * every blob is named by its own SHA-512, every published version has its blob, and no blob is orphaned;
//! * every upload file left belongs to a live unpublished row and holds exactly the bytes uploaded to it;
//! * every confirm that answered 200 is published; nothing is published that was never confirmed; every
//!   published version's integrity is that of the bytes its flow uploaded;
//! * the versions each skill lists over HTTP are exactly its published rows, and every published version
//!   downloads byte-identically (SHA-512 checked);
//! * interrupted flows can be finished: an upload that answered 200 is confirmable after the restart, a
//!   confirm that was in flight either committed (409) or can be repeated (200), a start that answered 201
//!   can be uploaded and confirmed.
//!
//! Loopback only, bounded (a time budget stops the cycles early), and it stops the server by itself.
//! `TANK_CRASH_SEED=<u64>` selects the kill schedule and payloads (default fixed); the seed is printed.

mod common;

use base64::Engine;
use common::Server;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test: `TANK_CRASH_BIN` (scripts/test.sh points it at the release build, as the issue asks),
/// else the one cargo built for this test run.
fn bin() -> String {
    std::env::var("TANK_CRASH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tank-registry").to_string())
}
const ORG: &str = "crash";
const SKILLS: usize = 4;
const USERS: usize = 6;
const MAX_CYCLES: usize = 7;
const MIN_CYCLES: usize = 3;
/// No new cycle starts after this much time (the test then does one final restart and verification).
const BUDGET: Duration = Duration::from_secs(30);
const DEFAULT_SEED: u64 = 0x7a6e_6b5f_6372_6173;

// ---------------------------------------------------------------------------------------------------------
// The binary: CLI commands and a killable server.

fn cli(data: &Path, args: &[&str]) -> (i32, String, String) {
    common::cli(&bin(), data, args)
}

fn cli_ok(data: &Path, args: &[&str]) -> String {
    common::cli_ok(&bin(), data, args)
}

// ---------------------------------------------------------------------------------------------------------
// Publish flows and the client-side oracle.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Start answered 201.
    Started,
    /// Upload answered 200.
    Uploaded,
    /// Confirm answered 200 (before a kill, or during recovery).
    Published,
}

#[derive(Clone, Debug)]
struct Flow {
    user: usize,
    name: String,
    version: String,
    tgz: Arc<Vec<u8>>,
    version_id: String,
    /// Path and query of the upload URL (the origin changes with every restart: port 0).
    upload_pq: String,
    stage: Stage,
    upload_attempted: bool,
    /// A confirm was sent and its outcome is unknown or 200.
    confirm_attempted: bool,
    /// A confirm was answered 503 (scanner busy) before the kill.
    scan_busy: bool,
}

type Flows = Arc<Mutex<Vec<Flow>>>;
type Errors = Arc<Mutex<Vec<String>>>;

fn sri(bytes: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(bytes))
    )
}

fn enc(name: &str) -> String {
    name.replace('@', "%40").replace('/', "%2F")
}

/// A skill tarball: small text files plus `size` incompressible bytes (so large uploads take a while).
fn tarball(rng: &mut StdRng, name: &str, version: &str, size: usize) -> Vec<u8> {
    let skill_md = format!(
        "---\nname: {name}\ndescription: Crash test skill {version}.\n---\n\n# {name}\n\nVersion {version}.\n"
    );
    let tank_json = json!({"name": name, "version": version}).to_string();
    let mut payload = vec![0u8; size];
    rng.fill_bytes(&mut payload);
    tank_registry::archive::testutil::build_tgz(&[
        ("SKILL.md", skill_md.as_bytes()),
        ("tank.json", tank_json.as_bytes()),
        ("data/payload.bin", &payload),
    ])
}

struct Ctx {
    url: String,
    http: Client,
    tokens: Vec<String>,
}

type Reply = Result<(StatusCode, Value), reqwest::Error>;

async fn reply(r: Result<reqwest::Response, reqwest::Error>) -> Reply {
    let r = r?;
    let status = r.status();
    let bytes = r.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

impl Ctx {
    fn new(url: &str, tokens: &[String]) -> Ctx {
        Ctx {
            url: url.to_string(),
            // A fresh client per server: no pooled connection survives a kill.
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            tokens: tokens.to_vec(),
        }
    }

    async fn start(&self, user: usize, name: &str, version: &str) -> Reply {
        let manifest =
            json!({"name": name, "version": version, "description": "Crash test skill."});
        reply(
            self.http
                .post(format!("{}/api/v1/skills", self.url))
                .bearer_auth(&self.tokens[user])
                .json(&json!({"manifest": manifest}))
                .send()
                .await,
        )
        .await
    }

    async fn upload(&self, upload_pq: &str, tgz: &[u8]) -> Reply {
        reply(
            self.http
                .put(format!("{}{upload_pq}", self.url))
                .header("content-type", "application/octet-stream")
                .body(tgz.to_vec())
                .send()
                .await,
        )
        .await
    }

    async fn confirm(&self, user: usize, version_id: &str, integrity: &str) -> Reply {
        reply(
            self.http
                .post(format!("{}/api/v1/skills/confirm", self.url))
                .bearer_auth(&self.tokens[user])
                .json(&json!({"versionId": version_id, "integrity": integrity}))
                .send()
                .await,
        )
        .await
    }

    async fn get_bytes(&self, url: &str) -> (StatusCode, Vec<u8>) {
        let r = self.http.get(url).send().await.expect("GET");
        let s = r.status();
        (s, r.bytes().await.expect("body").to_vec())
    }
}

fn path_and_query(url: &str) -> String {
    let u = reqwest::Url::parse(url).expect("absolute upload URL");
    format!("{}?{}", u.path(), u.query().unwrap_or(""))
}

/// Start; records the flow on 201. `None` when the server went away (or answered unexpectedly: recorded).
async fn do_start(
    ctx: &Ctx,
    flows: &Flows,
    errors: &Errors,
    user: usize,
    name: &str,
    version: &str,
    tgz: Arc<Vec<u8>>,
) -> Option<usize> {
    let Ok((s, body)) = ctx.start(user, name, version).await else {
        return None;
    };
    if s != StatusCode::CREATED {
        errors
            .lock()
            .unwrap()
            .push(format!("start {name}@{version}: {s} {body}"));
        return None;
    }
    let flow = Flow {
        user,
        name: name.to_string(),
        version: version.to_string(),
        tgz,
        version_id: body["versionId"].as_str().unwrap_or_default().to_string(),
        upload_pq: path_and_query(body["uploadUrl"].as_str().unwrap_or_default()),
        stage: Stage::Started,
        upload_attempted: false,
        confirm_attempted: false,
        scan_busy: false,
    };
    let mut f = flows.lock().unwrap();
    f.push(flow);
    Some(f.len() - 1)
}

async fn do_upload(ctx: &Ctx, flows: &Flows, errors: &Errors, i: usize) -> bool {
    let (pq, tgz) = {
        let mut f = flows.lock().unwrap();
        f[i].upload_attempted = true;
        (f[i].upload_pq.clone(), f[i].tgz.clone())
    };
    let Ok((s, body)) = ctx.upload(&pq, &tgz).await else {
        return false;
    };
    let expected = json!({"ok": true, "size": tgz.len(), "integrity": sri(&tgz)});
    if s != StatusCode::OK || body != expected {
        errors.lock().unwrap().push(format!("upload: {s} {body}"));
        return false;
    }
    flows.lock().unwrap()[i].stage = Stage::Uploaded;
    true
}

async fn do_confirm(ctx: &Ctx, flows: &Flows, errors: &Errors, i: usize) -> bool {
    let (user, vid, integrity, name, version) = {
        let mut f = flows.lock().unwrap();
        f[i].confirm_attempted = true;
        (
            f[i].user,
            f[i].version_id.clone(),
            sri(&f[i].tgz),
            f[i].name.clone(),
            f[i].version.clone(),
        )
    };
    let Ok((s, body)) = ctx.confirm(user, &vid, &integrity).await else {
        return false;
    };
    if s == StatusCode::SERVICE_UNAVAILABLE && body["error"] == "SERVICE_UNAVAILABLE" {
        // Scan queue full (SPEC §3.6 step 8, §8.1): nothing was published, the row stays uploaded.
        let mut f = flows.lock().unwrap();
        f[i].confirm_attempted = false;
        f[i].scan_busy = true;
        return true;
    }
    if s != StatusCode::OK
        || body["status"] != "published"
        || body["integrity"] != integrity.as_str()
        || body["name"] != name.as_str()
        || body["version"] != version.as_str()
    {
        errors
            .lock()
            .unwrap()
            .push(format!("confirm {name}@{version}: {s} {body}"));
        return false;
    }
    flows.lock().unwrap()[i].stage = Stage::Published;
    true
}

/// Mixed traffic: one user's loop of publish flows; some are left after start or after upload on purpose.
async fn worker(ctx: Arc<Ctx>, flows: Flows, errors: Errors, user: usize, cycle: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut abandoned = 0;
    for seq in 0..60 {
        let name = format!("@{ORG}/s{}", rng.gen_range(0..SKILLS));
        let version = format!("{cycle}.{user}.{seq}");
        let size = if rng.gen_bool(0.2) {
            rng.gen_range(100_000..600_000)
        } else {
            rng.gen_range(0..4_000)
        };
        let tgz = Arc::new(tarball(&mut rng, &name, &version, size));
        let plan = rng.gen_range(0..100);
        let Some(i) = do_start(&ctx, &flows, &errors, user, &name, &version, tgz).await else {
            return;
        };
        if plan < 8 && abandoned < 6 {
            abandoned += 1;
            continue;
        }
        if !do_upload(&ctx, &flows, &errors, i).await {
            return;
        }
        if plan < 25 && abandoned < 6 {
            abandoned += 1;
            continue;
        }
        if !do_confirm(&ctx, &flows, &errors, i).await {
            return;
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Every user runs publish loops; kill after 30–400 ms.
    Mixed,
    /// Large uploads fired together; kill after 1–40 ms.
    UploadStorm,
    /// Confirms of uploaded versions fired together; kill after 0–60 ms.
    ConfirmStorm,
}

/// Runs one cycle's traffic against `server` and kills it. Returns the number of requests cut off.
async fn crash_cycle(
    server: &mut Server,
    ctx: Arc<Ctx>,
    flows: &Flows,
    errors: &Errors,
    rng: &mut StdRng,
    cycle: usize,
    mode: Mode,
) {
    let mut tasks = Vec::new();
    let delay;
    match mode {
        Mode::Mixed => {
            for user in 0..USERS {
                tasks.push(tokio::spawn(worker(
                    ctx.clone(),
                    flows.clone(),
                    errors.clone(),
                    user,
                    cycle,
                    rng.next_u64(),
                )));
            }
            delay = rng.gen_range(30..400);
        }
        Mode::UploadStorm => {
            let mut started = Vec::new();
            for k in 0..8 {
                let user = k % USERS;
                let name = format!("@{ORG}/s{}", rng.gen_range(0..SKILLS));
                let version = format!("{cycle}.{user}.{}", 1000 + k);
                let size = rng.gen_range(300_000..1_500_000);
                let tgz = Arc::new(tarball(rng, &name, &version, size));
                let i = do_start(&ctx, flows, errors, user, &name, &version, tgz)
                    .await
                    .expect("start before the storm");
                started.push(i);
            }
            for i in started {
                let (ctx, flows, errors) = (ctx.clone(), flows.clone(), errors.clone());
                tasks.push(tokio::spawn(async move {
                    if do_upload(&ctx, &flows, &errors, i).await {
                        do_confirm(&ctx, &flows, &errors, i).await;
                    }
                }));
            }
            delay = rng.gen_range(1..40);
        }
        Mode::ConfirmStorm => {
            let mut uploaded = Vec::new();
            for k in 0..12 {
                let user = k % USERS;
                let name = format!("@{ORG}/s{}", rng.gen_range(0..SKILLS));
                let version = format!("{cycle}.{user}.{}", 2000 + k);
                let size = if k % 3 == 0 {
                    rng.gen_range(200_000..800_000)
                } else {
                    rng.gen_range(0..4_000)
                };
                let tgz = Arc::new(tarball(rng, &name, &version, size));
                let i = do_start(&ctx, flows, errors, user, &name, &version, tgz)
                    .await
                    .expect("start before the storm");
                assert!(
                    do_upload(&ctx, flows, errors, i).await,
                    "upload before the storm"
                );
                uploaded.push(i);
            }
            for i in uploaded {
                let (ctx, flows, errors) = (ctx.clone(), flows.clone(), errors.clone());
                tasks.push(tokio::spawn(async move {
                    do_confirm(&ctx, &flows, &errors, i).await;
                }));
            }
            delay = rng.gen_range(0..60);
        }
    }
    tokio::time::sleep(Duration::from_millis(delay)).await;
    server.kill();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("client task stops after the kill")
            .expect("client task panicked");
    }
    println!("cycle {cycle}: {mode:?}, killed after {delay} ms");
}

// ---------------------------------------------------------------------------------------------------------
// Verification.

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

fn temp_files(data: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    walk(data, &mut all);
    all.into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".part") || n.ends_with(".tmp")
        })
        .collect()
}

fn open_ro(data: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open_with_flags(
        data.join("registry.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open registry.db read-only");
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

fn integrity_check(data: &Path) {
    let c = open_ro(data);
    let rows: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, vec!["ok".to_string()], "PRAGMA integrity_check");
}

struct PublishedRow {
    name: String,
    version: String,
    integrity: String,
    sha512_hex: String,
}

/// (published rows, unpublished rows as id → state). The table layout is internal (SPEC §9.6): this is a
/// white-box view used only to compare with what the API shows.
fn db_rows(data: &Path) -> (Vec<PublishedRow>, BTreeMap<String, String>) {
    let c = open_ro(data);
    let published = c
        .prepare(
            "SELECT s.name, v.version, v.integrity, v.sha512_hex FROM versions v \
             JOIN skills s ON s.id = v.skill_id WHERE v.state = 'published'",
        )
        .unwrap()
        .query_map([], |r| {
            Ok(PublishedRow {
                name: r.get(0)?,
                version: r.get(1)?,
                integrity: r.get(2)?,
                sha512_hex: r.get(3)?,
            })
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let unpublished = c
        .prepare("SELECT id, state FROM versions WHERE state != 'published'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<BTreeMap<String, String>, _>>()
        .unwrap();
    (published, unpublished)
}

/// Every invariant of SPEC §4.4 that can be observed from outside, against the restarted server.
async fn verify(data: &Path, ctx: &Ctx, flows: &[Flow], when: &str) -> usize {
    // No temporary files survive start-up clean-up.
    let temps = temp_files(data);
    assert!(temps.is_empty(), "{when}: temporary files left: {temps:?}");
    integrity_check(data);

    let (published, unpublished) = db_rows(data);
    let by_key: BTreeMap<(String, String), &Flow> = flows
        .iter()
        .map(|f| ((f.name.clone(), f.version.clone()), f))
        .collect();
    let by_vid: BTreeMap<&str, &Flow> = flows.iter().map(|f| (f.version_id.as_str(), f)).collect();

    // Published rows ↔ the oracle.
    let mut published_keys = BTreeSet::new();
    for row in &published {
        let key = (row.name.clone(), row.version.clone());
        let flow = by_key.get(&key).unwrap_or_else(|| {
            panic!(
                "{when}: {}@{} is published but was never started by us",
                row.name, row.version
            )
        });
        assert!(
            flow.confirm_attempted,
            "{when}: {}@{} is published but no confirm was ever sent",
            row.name, row.version
        );
        assert_eq!(
            row.integrity,
            sri(&flow.tgz),
            "{when}: {}@{}",
            row.name,
            row.version
        );
        assert_eq!(
            row.sha512_hex,
            hex::encode(Sha512::digest(flow.tgz.as_slice()))
        );
        published_keys.insert(key);
    }
    for f in flows.iter().filter(|f| f.stage == Stage::Published) {
        assert!(
            published_keys.contains(&(f.name.clone(), f.version.clone())),
            "{when}: {}@{} answered 200 at confirm but is not published",
            f.name,
            f.version
        );
    }

    // Blobs: named by their SHA-512, exactly the published set (orphans are removed at start-up).
    let mut blob_files = Vec::new();
    walk(&data.join("blobs"), &mut blob_files);
    let mut blob_names = BTreeSet::new();
    for p in &blob_files {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let dir = p
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.len() == 128 && name.bytes().all(|b| b.is_ascii_hexdigit()) && name[..2] == dir,
            "{when}: unexpected file in blobs/: {p:?}"
        );
        let bytes = std::fs::read(p).unwrap();
        assert_eq!(
            hex::encode(Sha512::digest(&bytes)),
            name,
            "{when}: blob {p:?} is corrupt"
        );
        blob_names.insert(name);
    }
    let referenced: BTreeSet<String> = published.iter().map(|r| r.sha512_hex.clone()).collect();
    assert_eq!(
        blob_names, referenced,
        "{when}: blobs on disk vs published versions"
    );

    // Upload files: only for live unpublished rows, and never partial.
    let mut upload_files = Vec::new();
    walk(&data.join("uploads"), &mut upload_files);
    for p in &upload_files {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let id = name
            .strip_suffix(".tgz")
            .unwrap_or_else(|| panic!("{when}: unexpected file in uploads/: {p:?}"));
        assert!(
            unpublished.contains_key(id),
            "{when}: upload file without a live unpublished row: {p:?}"
        );
        let flow = by_vid.get(id).unwrap_or_else(|| {
            panic!("{when}: upload file for a version never uploaded to: {p:?}")
        });
        assert!(
            flow.upload_attempted,
            "{when}: upload file but no upload was sent: {p:?}"
        );
        let bytes = std::fs::read(p).unwrap();
        assert!(
            bytes == *flow.tgz,
            "{when}: upload file {p:?} is not the complete upload"
        );
    }
    for (id, state) in &unpublished {
        if state == "uploaded" {
            assert!(
                data.join("uploads").join(format!("{id}.tgz")).exists(),
                "{when}: row {id} is uploaded but its file is gone"
            );
        }
    }

    // What readers see: per skill, the listed versions are exactly the published rows; every version
    // downloads byte-identically.
    for k in 0..SKILLS {
        let name = format!("@{ORG}/s{k}");
        let want: BTreeMap<String, String> = published
            .iter()
            .filter(|r| r.name == name)
            .map(|r| (r.version.clone(), r.integrity.clone()))
            .collect();
        let (s, body) = reply(
            ctx.http
                .get(format!("{}/api/v1/skills/{}/versions", ctx.url, enc(&name)))
                .send()
                .await,
        )
        .await
        .expect("versions");
        if want.is_empty() {
            assert_eq!(
                s,
                StatusCode::NOT_FOUND,
                "{when}: {name} has no published version: {body}"
            );
            continue;
        }
        assert_eq!(s, StatusCode::OK, "{when}: {name}: {body}");
        let listed: BTreeMap<String, String> = body["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["version"].as_str().unwrap().to_string(),
                    v["integrity"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            listed, want,
            "{when}: {name}: listed versions vs published rows"
        );
    }
    for row in &published {
        let flow = by_key[&(row.name.clone(), row.version.clone())];
        let (s, detail) = reply(
            ctx.http
                .get(format!(
                    "{}/api/v1/skills/{}/{}",
                    ctx.url,
                    enc(&row.name),
                    row.version
                ))
                .send()
                .await,
        )
        .await
        .expect("detail");
        assert_eq!(
            s,
            StatusCode::OK,
            "{when}: {}@{}: {detail}",
            row.name,
            row.version
        );
        assert_eq!(detail["integrity"], row.integrity.as_str());
        let (s, bytes) = ctx.get_bytes(detail["downloadUrl"].as_str().unwrap()).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "{when}: download {}@{}",
            row.name,
            row.version
        );
        assert_eq!(
            sri(&bytes),
            row.integrity,
            "{when}: downloaded bytes of {}@{}",
            row.name,
            row.version
        );
        assert!(bytes == *flow.tgz);
    }

    // The maintenance check agrees (it runs read-only next to the server).
    let (code, out, err) = cli(data, &["check"]);
    assert_eq!(code, 0, "{when}: tank-registry check failed:\n{out}{err}");
    assert!(
        out.lines().any(|l| l.trim() == "ok"),
        "{when}: check printed:\n{out}"
    );
    published.len()
}

#[derive(Default, Debug)]
struct Recovery {
    /// Upload answered 200 before the kill, no confirm sent: confirmed after the restart.
    uploaded_then_confirmed: usize,
    /// Confirm in flight at the kill and committed: 409 after the restart.
    inflight_confirm_committed: usize,
    /// Confirm in flight at the kill and not committed: 200 on the retry.
    inflight_confirm_retried: usize,
    /// Upload in flight at the kill: the row was still pending (422), uploaded and confirmed again.
    inflight_upload_redone: usize,
    /// Upload in flight at the kill but committed: confirmed directly.
    inflight_upload_committed: usize,
    /// Only the start answered: uploaded and confirmed after the restart.
    started_then_finished: usize,
}

/// Finishes every flow the oracle knows about; each outcome must be one the spec allows.
async fn recover(ctx: &Ctx, flows: &mut [Flow], stats: &mut Recovery) {
    for f in flows.iter_mut().filter(|f| f.stage != Stage::Published) {
        let what = format!("{}@{} ({})", f.name, f.version, f.version_id);
        let integrity = sri(&f.tgz);
        let (was_upload_attempted, was_confirm_attempted) =
            (f.upload_attempted, f.confirm_attempted);
        // From here on, this flow has sent an upload and a confirm (whatever the outcome).
        f.upload_attempted = true;
        f.confirm_attempted = true;
        if f.stage == Stage::Uploaded || was_upload_attempted {
            let (s, body) = ctx
                .confirm(f.user, &f.version_id, &integrity)
                .await
                .expect("confirm after restart");
            match s {
                StatusCode::OK => {
                    assert_eq!(body["integrity"], integrity.as_str(), "{what}");
                    if f.stage == Stage::Started {
                        stats.inflight_upload_committed += 1;
                    } else if was_confirm_attempted {
                        stats.inflight_confirm_retried += 1;
                    } else {
                        stats.uploaded_then_confirmed += 1;
                    }
                    f.stage = Stage::Published;
                    continue;
                }
                StatusCode::CONFLICT if was_confirm_attempted => {
                    assert_eq!(body["error"], "VERSION_EXISTS", "{what}");
                    stats.inflight_confirm_committed += 1;
                    f.stage = Stage::Published;
                    continue;
                }
                StatusCode::UNPROCESSABLE_ENTITY if f.stage == Stage::Started => {
                    assert_eq!(
                        body["issues"][0]["path"],
                        json!(["versionId"]),
                        "{what}: {body}"
                    );
                    stats.inflight_upload_redone += 1;
                }
                _ => panic!("{what}: confirm after restart answered {s} {body}"),
            }
        } else {
            stats.started_then_finished += 1;
        }
        let (s, body) = ctx
            .upload(&f.upload_pq, &f.tgz)
            .await
            .expect("upload after restart");
        assert_eq!(s, StatusCode::OK, "{what}: upload after restart: {body}");
        let (s, body) = ctx
            .confirm(f.user, &f.version_id, &integrity)
            .await
            .expect("confirm after restart");
        assert_eq!(s, StatusCode::OK, "{what}: confirm after restart: {body}");
        f.stage = Stage::Published;
    }
}

// ---------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_points_keeps_the_registry_consistent() {
    let t0 = Instant::now();
    let seed = std::env::var("TANK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    println!("TANK_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut tokens = Vec::new();
    for u in 0..USERS {
        let name = format!("crash-u{u}");
        cli_ok(
            &data,
            &[
                "user",
                "create",
                &name,
                "--email",
                &format!("{name}@example.com"),
            ],
        );
        if u == 0 {
            cli_ok(&data, &["org", "create", ORG, "--owner", &name]);
        } else {
            cli_ok(&data, &["org", "add-member", ORG, &name]);
        }
        tokens.push(cli_ok(&data, &["token", "create", "--user", &name]));
    }

    let flows: Flows = Arc::new(Mutex::new(Vec::new()));
    let errors: Errors = Arc::new(Mutex::new(Vec::new()));
    let mut stats = Recovery::default();
    // Evidence that kills landed mid-write: temp files and unreferenced blobs right after the kills.
    let mut temps_seen = 0;
    let mut orphans_seen = 0;
    let mut modes = vec![Mode::Mixed, Mode::UploadStorm, Mode::ConfirmStorm];
    while modes.len() < MAX_CYCLES {
        modes.push(match rng.gen_range(0..3) {
            0 => Mode::Mixed,
            1 => Mode::UploadStorm,
            _ => Mode::ConfirmStorm,
        });
    }

    let mut server = Server::start(&bin(), &data);
    let mut cycles = 0;
    for (cycle, mode) in modes.into_iter().enumerate() {
        if cycle >= MIN_CYCLES && t0.elapsed() > BUDGET {
            break;
        }
        let ctx = Arc::new(Ctx::new(&server.url, &tokens));
        crash_cycle(&mut server, ctx, &flows, &errors, &mut rng, cycle + 1, mode).await;
        cycles += 1;
        let errs = errors.lock().unwrap().clone();
        assert!(
            errs.is_empty(),
            "unexpected answers before the kill: {errs:#?}"
        );

        // The raw post-crash state: the database is intact before any recovery.
        integrity_check(&data);
        let (raw_published, _) = db_rows(&data);
        let referenced: BTreeSet<String> =
            raw_published.into_iter().map(|r| r.sha512_hex).collect();
        let mut blob_files = Vec::new();
        walk(&data.join("blobs"), &mut blob_files);
        orphans_seen += blob_files
            .iter()
            .filter(|p| !referenced.contains(&*p.file_name().unwrap().to_string_lossy()))
            .count();
        temps_seen += temp_files(&data).len();

        server = Server::start(&bin(), &data);
        let ctx = Ctx::new(&server.url, &tokens);
        let mut snapshot = flows.lock().unwrap().clone();
        let when = format!("after kill #{}", cycle + 1);
        verify(&data, &ctx, &snapshot, &when).await;
        recover(&ctx, &mut snapshot, &mut stats).await;
        *flows.lock().unwrap() = snapshot;
    }

    // Final: one more restart, everything the oracle knows is published and consistent.
    server.kill();
    server = Server::start(&bin(), &data);
    let ctx = Ctx::new(&server.url, &tokens);
    let all = flows.lock().unwrap().clone();
    let published = verify(&data, &ctx, &all, "final").await;
    assert!(all.iter().all(|f| f.stage == Stage::Published));
    assert_eq!(
        published,
        all.len(),
        "every started flow ended published exactly once"
    );
    server.kill();
    let (code, out, err) = cli(&data, &["check"]);
    assert_eq!(code, 0, "check on the stopped data dir:\n{out}{err}");

    println!(
        "{cycles} kill cycles, {} versions published, {temps_seen} temp files and {orphans_seen} orphan blobs (incl. .tmp) found right after kills, \
         recovery {stats:?}, {:.1} s",
        all.len(),
        t0.elapsed().as_secs_f64()
    );
    let interrupted = stats.inflight_confirm_committed
        + stats.inflight_confirm_retried
        + stats.inflight_upload_redone
        + stats.inflight_upload_committed;
    assert!(
        interrupted > 0,
        "no kill landed on an in-flight upload or confirm: {stats:?}"
    );
    assert!(
        stats.uploaded_then_confirmed > 0,
        "no completed upload was confirmed after a restart: {stats:?}"
    );
}
