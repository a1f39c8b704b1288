//! Ephemeral mode, `serve --ephemeral` (SPEC §11.10): black-box tests that spawn the binary — the release
//! build when `TANK_EPHEMERAL_BIN` names it (scripts/test.sh does), else the one cargo built — each with its
//! own `TMPDIR`, and check the ready line and ready file, HTTP answers, seeding, exit codes and what is left
//! on disk. Timing is never asserted (that is `benches/ephemeral.rs`).
//!
//! `ephemeral_real_clients` also drives the official Python client when a Python with `tank-sdk` is found
//! (`TANK_COMPAT_PY`, else `<target>/compat-venv/bin/python` as tests/compat/run.sh prepares it); the headless
//! CLI login half of that test always runs.

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn bin() -> String {
    std::env::var("TANK_EPHEMERAL_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tank-registry").to_string())
}

const READY_KEYS: [&str; 8] = [
    "event", "url", "token", "user", "dataDir", "pid", "version", "seeded",
];
const WAIT: Duration = Duration::from_secs(60);

/// A `Command` for the binary with every `TANK_*` variable of the test's environment removed, `TMPDIR` set.
fn command(tmpdir: &Path) -> Command {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TANK_") {
            c.env_remove(k);
        }
    }
    c.env("TMPDIR", tmpdir)
        .env("NO_COLOR", "1")
        .env("TANK_LOG", "info");
    c
}

/// A spawned `tank-registry serve …` with its stdout lines on a channel and stderr in a file.
struct Instance {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdin: Option<ChildStdin>,
    stderr_path: PathBuf,
    exit: Option<i32>,
}

struct Spawn<'a> {
    tmpdir: &'a Path,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    stdin_pipe: bool,
}

impl<'a> Spawn<'a> {
    fn new(tmpdir: &'a Path, args: &[&str]) -> Spawn<'a> {
        Spawn {
            tmpdir,
            args: args.iter().map(|s| s.to_string()).collect(),
            envs: Vec::new(),
            stdin_pipe: false,
        }
    }
    fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.envs.push((k.to_string(), v.into()));
        self
    }
    fn stdin_pipe(mut self) -> Self {
        self.stdin_pipe = true;
        self
    }
    fn start(self) -> Instance {
        let stderr_path = self
            .tmpdir
            .join(format!("stderr-{}.log", rand::random::<u64>()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut c = command(self.tmpdir);
        c.args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(if self.stdin_pipe {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = c.spawn().expect("spawn tank-registry");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Instance {
            child,
            lines: rx,
            stdin,
            stderr_path,
            exit: None,
        }
    }
}

/// Starts `serve --ephemeral <args>` and waits for its ready line.
fn ephemeral(tmpdir: &Path, args: &[&str]) -> (Instance, Ready) {
    let mut all = vec!["serve", "--ephemeral"];
    all.extend_from_slice(args);
    let mut i = Spawn::new(tmpdir, &all).start();
    let r = i.ready();
    (i, r)
}

/// The parsed ready line.
#[derive(Debug, Clone)]
struct Ready {
    raw: String,
    json: Value,
}

impl Ready {
    fn url(&self) -> &str {
        self.json["url"].as_str().unwrap()
    }
    fn token(&self) -> &str {
        self.json["token"].as_str().unwrap()
    }
    fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.json["dataDir"].as_str().unwrap())
    }
}

impl Instance {
    /// The first stdout line, or None when the process exits without one.
    fn first_line(&mut self) -> Option<String> {
        self.lines.recv_timeout(WAIT).ok()
    }

    fn ready(&mut self) -> Ready {
        let raw = self.first_line().unwrap_or_else(|| {
            panic!(
                "no ready line; exit {:?}; stderr:\n{}",
                self.child.try_wait().ok().flatten(),
                self.stderr()
            )
        });
        let json: Value = serde_json::from_str(&raw).expect("ready line is JSON");
        Ready { raw, json }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for the exit code (bounded).
    fn wait(&mut self) -> i32 {
        if let Some(c) = self.exit {
            return c;
        }
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                let code = s.code().unwrap_or(-1);
                self.exit = Some(code);
                return code;
            }
            assert!(
                start.elapsed() < WAIT,
                "the server did not exit; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn stop(&mut self) -> i32 {
        self.signal("TERM");
        self.wait()
    }

    /// Every further stdout line until exit (call after `wait`).
    fn rest_of_stdout(&self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            out.push(l);
        }
        out
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if self.exit.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `tank-ephemeral-*` entries of a temporary directory.
fn ephemeral_dirs(tmpdir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(tmpdir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tank-ephemeral-"))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------------------
// HTTP

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

fn http(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut req = client.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap().to_vec();
        Reply { status, body }
    })
}

fn get(url: &str) -> Reply {
    http("GET", url, None, None)
}

fn enc(name: &str) -> String {
    name.replace('@', "%40").replace('/', "%2F")
}

fn sri(bytes: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(bytes))
    )
}

/// The version's recorded integrity, after checking that the tarball download hashes to it.
fn download_checked(url: &str, name: &str, version: &str) -> (String, Vec<u8>) {
    let detail = get(&format!("{url}/api/v1/skills/{}/{version}", enc(name)));
    assert_eq!(
        detail.status,
        200,
        "{}",
        String::from_utf8_lossy(&detail.body)
    );
    let integrity = detail.json()["integrity"].as_str().unwrap().to_string();
    let tgz = get(&format!(
        "{url}/api/v1/skills/{}/{version}/tarball",
        enc(name)
    ));
    assert_eq!(tgz.status, 200);
    assert_eq!(sri(&tgz.body), integrity, "download of {name}@{version}");
    (integrity, tgz.body)
}

fn search_names(url: &str, q: &str) -> Vec<String> {
    let r = get(&format!("{url}/api/v1/search?q={q}"));
    assert_eq!(r.status, 200);
    r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Seed directories

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A skill directory `dir` with `tank.json` (name, version, description and `extra` keys) and a SKILL.md.
fn skill_dir(dir: &Path, name: &str, version: &str, description: &str, extra: Value) {
    let mut m = json!({"name": name, "version": version, "description": description});
    if let (Some(o), Some(e)) = (m.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    write(
        &dir.join("tank.json"),
        &serde_json::to_string_pretty(&m).unwrap(),
    );
    let bare = name.rsplit('/').next().unwrap();
    write(
        &dir.join("SKILL.md"),
        &format!(
            "---\nname: {bare}\ndescription: {description}\n---\n\n# {bare}\n\n{description}\n"
        ),
    );
}

// ---------------------------------------------------------------------------------------------------------
// §11.10

#[test]
fn ephemeral_ready_line() {
    let tmp = tempdir();
    let (mut inst, ready) = ephemeral(tmp.path(), &[]);
    // Exactly the keys of §11.4, in order.
    let obj = ready.json.as_object().unwrap();
    assert_eq!(obj.len(), READY_KEYS.len(), "{}", ready.raw);
    let mut last = 0;
    for k in READY_KEYS {
        let pos = ready
            .raw
            .find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("{k} missing"));
        assert!(pos >= last, "{k} out of order in {}", ready.raw);
        last = pos;
    }
    assert_eq!(ready.json["event"], "ready");
    assert_eq!(ready.json["user"], "admin");
    assert_eq!(ready.json["pid"], inst.pid());
    assert_eq!(ready.json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(ready.json["seeded"], json!({"skills": 0, "versions": 0}));
    assert!(
        ready.url().starts_with("http://127.0.0.1:"),
        "{}",
        ready.url()
    );
    assert!(!ready.url().ends_with('/'));
    let token = ready.token();
    assert!(token.starts_with("tank_") && token.len() == 48, "{token}");
    let dir = ready.data_dir();
    assert!(dir.is_absolute());
    let dir_name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let prefix = format!("tank-ephemeral-{}-", inst.pid());
    assert!(dir_name.starts_with(&prefix), "{dir_name}");
    let suffix = &dir_name[prefix.len()..];
    assert!(suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(dir.parent().unwrap(), tmp.path());
    assert!(dir.join("EPHEMERAL").is_file());
    assert!(!dir.join("index").exists(), "the index lives in memory");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
    // Health right after the line, no retry.
    let h = get(&format!("{}/api/v1/health", ready.url()));
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["version"], env!("CARGO_PKG_VERSION"));
    let me = http(
        "GET",
        &format!("{}/api/v1/auth/whoami", ready.url()),
        Some(token),
        None,
    );
    assert_eq!(me.status, 200);
    let me = me.json();
    assert_eq!(me["name"], "admin");
    assert_eq!(me["displayName"], "Ephemeral Admin");
    assert_eq!(me["email"], Value::Null);
    assert_eq!(
        me["scopes"],
        json!(["skills:read", "skills:publish", "skills:admin"])
    );
    // Rate limiting is off by default: no X-RateLimit headers.
    // (Checked through the absence of 429s on a burst of anonymous searches over the anonymous limit.)
    for _ in 0..105 {
        assert_eq!(
            get(&format!("{}/api/v1/search?q=x", ready.url())).status,
            200
        );
    }
    // The token never appears in the logs.
    assert!(!inst.stderr().contains(token));
    assert!(inst.stderr().contains("WARNING: ephemeral mode:"));
    assert_eq!(inst.stop(), 0);
    assert!(inst.rest_of_stdout().is_empty(), "a second stdout line");
}

#[test]
fn ephemeral_ready_file_atomic() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let tmp = tempdir();
    let file = tmp.path().join("ready.json");
    for _ in 0..50 {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let watcher = {
            let (stop, seen, file) = (stop.clone(), seen.clone(), file.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(b) = std::fs::read(&file)
                        && !b.is_empty()
                    {
                        let mut s = seen.lock().unwrap();
                        if s.last() != Some(&b) {
                            s.push(b);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let (mut inst, ready) = ephemeral(tmp.path(), &["--ready-file", file.to_str().unwrap()]);
        let line = format!("{}\n", ready.raw);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), line);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(inst.stop(), 0);
        stop.store(true, Ordering::Relaxed);
        watcher.join().unwrap();
        for b in seen.lock().unwrap().iter() {
            assert_eq!(
                String::from_utf8_lossy(b),
                line,
                "a partial ready file was seen"
            );
        }
        assert!(!file.exists(), "the ready file is deleted at exit");
        // No temporary file is left beside it.
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}

#[test]
fn ephemeral_ready_file_stale() {
    let tmp = tempdir();
    let file = tmp.path().join("ready.json");
    // A start that fails before ready still deletes a stale file first (step 2), and writes none.
    std::fs::write(&file, "stale\n").unwrap();
    let mut failed = Spawn::new(
        tmp.path(),
        &[
            "serve",
            "--ephemeral",
            "--ready-file",
            file.to_str().unwrap(),
            "--seed",
            tmp.path().join("missing").to_str().unwrap(),
        ],
    )
    .start();
    assert_eq!(failed.wait(), 1);
    assert!(!file.exists(), "the stale ready file is gone");
    // A successful start replaces it; it is deleted at exit also with --keep-data.
    std::fs::write(&file, "stale\n").unwrap();
    let (mut inst, ready) = ephemeral(
        tmp.path(),
        &["--ready-file", file.to_str().unwrap(), "--keep-data"],
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{}\n", ready.raw)
    );
    assert_eq!(inst.stop(), 0);
    assert!(!file.exists());
    assert!(ready.data_dir().is_dir(), "--keep-data keeps the directory");
    // An unwritable ready-file directory is exit 1 before anything is created.
    let mut bad = Spawn::new(
        tmp.path(),
        &[
            "serve",
            "--ephemeral",
            "--ready-file",
            tmp.path().join("no/such/dir/ready").to_str().unwrap(),
        ],
    )
    .start();
    assert_eq!(bad.wait(), 1);
    assert!(
        bad.stderr().contains("error: cannot write ready file"),
        "{}",
        bad.stderr()
    );
    assert!(bad.first_line().is_none());
}

#[test]
fn ephemeral_port_zero_parallel() {
    let tmp = tempdir();
    let mut instances: Vec<Instance> = (0..8)
        .map(|_| Spawn::new(tmp.path(), &["serve", "--ephemeral"]).start())
        .collect();
    let readies: Vec<Ready> = instances.iter_mut().map(|i| i.ready()).collect();
    let ports: std::collections::BTreeSet<String> =
        readies.iter().map(|r| r.url().to_string()).collect();
    assert_eq!(ports.len(), 8, "{ports:?}");
    let dirs: std::collections::BTreeSet<PathBuf> = readies.iter().map(|r| r.data_dir()).collect();
    assert_eq!(dirs.len(), 8);
    for r in &readies {
        assert_eq!(get(&format!("{}/api/health", r.url())).status, 200);
    }
    for i in instances.iter_mut() {
        assert_eq!(i.stop(), 0);
    }
    assert!(ephemeral_dirs(tmp.path()).is_empty());
}

#[test]
fn ephemeral_bind_failure() {
    let tmp = tempdir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut inst = Spawn::new(tmp.path(), &["serve", "--ephemeral", "--listen", &addr]).start();
    assert_eq!(inst.wait(), 1);
    assert!(inst.first_line().is_none(), "no ready line");
    let err = inst.stderr();
    assert!(
        err.contains(&format!("error: cannot listen on {addr}:")),
        "{err}"
    );
    assert!(
        ephemeral_dirs(tmp.path()).is_empty(),
        "the data directory is removed"
    );
}

#[test]
fn ephemeral_seed_dir() {
    let tmp = tempdir();
    let seeds = tmp.path().join("seeds");
    skill_dir(
        &seeds.join("one"),
        "alpha-tool",
        "1.0.0",
        "Formats marmalade recipes",
        json!({}),
    );
    skill_dir(
        &seeds.join("two"),
        "@acme/beta",
        "0.3.0",
        "Summarises quokka sightings",
        json!({}),
    );
    skill_dir(
        &seeds.join("three"),
        "@admin/gamma",
        "2.1.0",
        "Translates walrus poetry",
        json!({}),
    );
    // Ignored: a hidden directory and a directory without tank.json.
    skill_dir(
        &seeds.join(".hidden"),
        "hidden-skill",
        "1.0.0",
        "Never seeded",
        json!({}),
    );
    write(&seeds.join("notes/readme.txt"), "not a skill");
    let (mut inst, ready) = ephemeral(tmp.path(), &["--seed", seeds.to_str().unwrap()]);
    assert_eq!(ready.json["seeded"], json!({"skills": 3, "versions": 3}));
    let url = ready.url();
    for (word, name, version) in [
        ("marmalade", "alpha-tool", "1.0.0"),
        ("quokka", "@acme/beta", "0.3.0"),
        ("walrus", "@admin/gamma", "2.1.0"),
    ] {
        assert_eq!(
            search_names(url, word),
            vec![name.to_string()],
            "search {word}"
        );
        download_checked(url, name, version);
        let meta = get(&format!("{url}/api/v1/skills/{}", enc(name))).json();
        assert_eq!(meta["latestVersion"], version);
        let detail = get(&format!("{url}/api/v1/skills/{}/{version}", enc(name))).json();
        assert_eq!(detail["publisher"]["name"], "admin");
        assert!(
            detail["auditScore"].is_u64(),
            "every seed is scanned: {detail}"
        );
    }
    assert!(search_names(url, "seeded").is_empty());
    assert_eq!(
        get(&format!("{url}/api/v1/skills/hidden-skill")).status,
        404
    );
    assert_eq!(inst.stop(), 0);
}

#[test]
fn ephemeral_seed_deterministic() {
    let tmp = tempdir();
    let dir = tmp.path().join("skill");
    skill_dir(
        &dir,
        "steady",
        "1.0.0",
        "Deterministic packing check",
        json!({}),
    );
    write(&dir.join("scripts/run.py"), "print('hi')\n");
    let mut integrities = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let (mut inst, ready) = ephemeral(tmp.path(), &["--seed", dir.to_str().unwrap()]);
        let (integrity, body) = download_checked(ready.url(), "steady", "1.0.0");
        integrities.push(integrity);
        bodies.push(body);
        assert_eq!(inst.stop(), 0);
        // Touching the files changes mtimes, which must not matter.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.join("scripts/run.py"), "print('hi')\n").unwrap();
    }
    assert_eq!(integrities[0], integrities[1]);
    assert_eq!(bodies[0], bodies[1]);
    // Gzip header: mtime 0, no file name, OS 255.
    let b = &bodies[0];
    assert_eq!(&b[..3], &[0x1f, 0x8b, 8]);
    assert_eq!(b[3] & 0x08, 0, "no file name");
    assert_eq!(&b[4..8], &[0, 0, 0, 0]);
    assert_eq!(b[9], 255);
}

/// Each tar entry (uname and gname are checked empty) and the decompressed tar stream.
/// (path, mode, uid, gid, mtime) of one tar entry.
type TarEntry = (String, u32, u64, u64, u64);

fn tar_entries(tgz: &[u8]) -> (Vec<TarEntry>, Vec<u8>) {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(tgz)
        .read_to_end(&mut raw)
        .unwrap();
    let mut archive = tar::Archive::new(&raw[..]);
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(h.entry_type(), tar::EntryType::Regular);
        assert_eq!(h.username().unwrap(), Some(""));
        assert_eq!(h.groupname().unwrap(), Some(""));
        out.push((
            e.path().unwrap().to_string_lossy().into_owned(),
            h.mode().unwrap(),
            h.uid().unwrap(),
            h.gid().unwrap(),
            h.mtime().unwrap(),
        ));
    }
    (out, raw)
}

#[test]
fn ephemeral_seed_selection() {
    let tmp = tempdir();
    let dir = tmp.path().join("sel");
    skill_dir(
        &dir,
        "selective",
        "1.0.0",
        "Selection rules check",
        json!({}),
    );
    write(&dir.join("README.md"), "# Selective\n");
    write(
        &dir.join(".tankignore"),
        "# comment\n*.tmp\n!keep.tmp\nsecret/\n/top-only.txt\n",
    );
    write(&dir.join(".gitignore"), "scripts/\n");
    write(&dir.join("a.tmp"), "ignored");
    write(&dir.join("keep.tmp"), "kept by negation");
    write(&dir.join("secret/key.txt"), "ignored dir");
    write(&dir.join("top-only.txt"), "ignored at the root");
    write(&dir.join("sub/top-only.txt"), "kept below the root");
    write(&dir.join("node_modules/m/index.js"), "ignored always");
    write(&dir.join(".git/config"), "ignored always");
    write(&dir.join("scripts/run.sh"), "#!/bin/sh\necho hi\n");
    let long = format!("refs/{}/notes.md", "x".repeat(120));
    write(&dir.join(&long), "a path over 100 bytes");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("scripts/run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink(dir.join("SKILL.md"), dir.join("link.md")).unwrap();
    }
    let (mut inst, ready) = ephemeral(tmp.path(), &["--seed", dir.to_str().unwrap()]);
    let url = ready.url();
    let files = get(&format!("{url}/api/v1/skills/selective/1.0.0/files"));
    assert_eq!(files.status, 200);
    let expected = vec![
        "README.md".to_string(),
        "SKILL.md".into(),
        "keep.tmp".into(),
        long.clone(),
        "scripts/run.sh".into(),
        "sub/top-only.txt".into(),
        "tank.json".into(),
    ];
    assert_eq!(files.json()["files"], json!(expected));
    let (_, tgz) = download_checked(url, "selective", "1.0.0");
    let (entries, raw) = tar_entries(&tgz);
    let paths: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        paths,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for (path, mode, uid, gid, mtime) in &entries {
        let want = if path == "scripts/run.sh" && cfg!(unix) {
            0o755
        } else {
            0o644
        };
        assert_eq!(*mode, want, "{path}");
        assert_eq!((*uid, *gid, *mtime), (0, 0, 0), "{path}");
    }
    // Ends with exactly two zero blocks after the last entry's data.
    assert_eq!(raw.len() % 512, 0);
    assert!(raw[raw.len() - 1024..].iter().all(|b| *b == 0));
    assert!(
        raw[raw.len() - 1536..raw.len() - 1024]
            .iter()
            .any(|b| *b != 0)
    );
    // The tank.json inside is the file as it is on disk.
    let on_disk = std::fs::read_to_string(dir.join("tank.json")).unwrap();
    let served = get(&format!(
        "{url}/api/v1/skills/selective/1.0.0/files/tank.json"
    ));
    assert_eq!(String::from_utf8_lossy(&served.body), on_disk);
    assert_eq!(inst.stop(), 0);

    // publish.files is an allow-list; tank.json, SKILL.md and README.md are always included.
    let tmp2 = tempdir();
    let dir2 = tmp2.path().join("allow");
    skill_dir(
        &dir2,
        "allowlisted",
        "1.0.0",
        "Allow list check",
        json!({"publish": {"files": ["src/**/*.py", "docs"]}}),
    );
    write(&dir2.join("src/a/b.py"), "x = 1\n");
    write(&dir2.join("src/a/b.txt"), "not listed");
    write(&dir2.join("docs/guide.md"), "guide");
    write(&dir2.join("other.md"), "not listed");
    let (mut inst, ready) = ephemeral(tmp2.path(), &["--seed", dir2.to_str().unwrap()]);
    let files = get(&format!(
        "{}/api/v1/skills/allowlisted/1.0.0/files",
        ready.url()
    ));
    assert_eq!(
        files.json()["files"],
        json!(["SKILL.md", "docs/guide.md", "src/a/b.py", "tank.json"])
    );
    // The stored manifest has no `publish` key.
    let detail = get(&format!("{}/api/v1/skills/allowlisted/1.0.0", ready.url())).json();
    assert!(detail.get("publish").is_none());
    assert_eq!(inst.stop(), 0);
}

#[test]
fn ephemeral_seed_order() {
    let tmp = tempdir();
    let seeds = tmp.path().join("seeds");
    // Directory names sort opposite to the versions.
    skill_dir(
        &seeds.join("a-newer"),
        "hello",
        "1.1.0",
        "Says hello",
        json!({"permissions": {"network": {"outbound": ["api.example.com"]}}}),
    );
    skill_dir(
        &seeds.join("b-older"),
        "hello",
        "1.0.0",
        "Says hello",
        json!({}),
    );
    let mut inst = Spawn::new(
        tmp.path(),
        &["serve", "--ephemeral", "--seed", seeds.to_str().unwrap()],
    )
    .start();
    assert_eq!(inst.wait(), 1);
    assert!(inst.first_line().is_none(), "no ready line");
    let err = inst.stderr();
    let newer = seeds.join("a-newer").display().to_string();
    let refusal = err
        .lines()
        .find(|l| l.starts_with("error: seed "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        refusal.contains(&newer) && refusal.contains("hello@1.1.0"),
        "{err}"
    );
    assert!(err.contains("escalation"), "{err}");
    // 1.0.0 was published first (it is the baseline); nothing names it as refused.
    assert!(!err.contains("hello@1.0.0:"), "{err}");
    assert!(ephemeral_dirs(tmp.path()).is_empty());

    // In ascending order and with a major bump, both publish.
    std::fs::remove_dir_all(&seeds).unwrap();
    skill_dir(
        &seeds.join("a-newer"),
        "hello",
        "2.0.0",
        "Says hello",
        json!({"permissions": {"network": {"outbound": ["api.example.com"]}}}),
    );
    skill_dir(
        &seeds.join("b-older"),
        "hello",
        "1.0.0",
        "Says hello",
        json!({}),
    );
    let (mut inst, ready) = ephemeral(tmp.path(), &["--seed", seeds.to_str().unwrap()]);
    assert_eq!(ready.json["seeded"], json!({"skills": 1, "versions": 2}));
    let versions = get(&format!("{}/api/v1/skills/hello/versions", ready.url())).json();
    let listed: Vec<&str> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&"1.0.0") && listed.contains(&"2.0.0"),
        "{versions}"
    );
    let meta = get(&format!("{}/api/v1/skills/hello", ready.url())).json();
    assert_eq!(meta["latestVersion"], "2.0.0");
    assert_eq!(inst.stop(), 0);

    // The same (name, version) from two paths is refused, naming the other path.
    let other = tmp.path().join("other");
    skill_dir(&other, "hello", "1.0.0", "Says hello again", json!({}));
    let mut dup = Spawn::new(
        tmp.path(),
        &[
            "serve",
            "--ephemeral",
            "--seed",
            seeds.join("b-older").to_str().unwrap(),
            "--seed",
            other.to_str().unwrap(),
        ],
    )
    .start();
    assert_eq!(dup.wait(), 1);
    let err = dup.stderr();
    assert!(
        err.contains(&format!(
            "error: seed {}: hello@1.0.0 is already seeded by {}",
            other.display(),
            seeds.join("b-older").display()
        )),
        "{err}"
    );
}

#[test]
fn ephemeral_seed_failure() {
    let tmp = tempdir();
    let dir = tmp.path().join("broken");
    skill_dir(&dir, "broken", "1.0", "Bad version", json!({}));
    let mut inst = Spawn::new(
        tmp.path(),
        &["serve", "--ephemeral", "--seed", dir.to_str().unwrap()],
    )
    .start();
    assert_eq!(inst.wait(), 1);
    assert!(inst.first_line().is_none());
    let err = inst.stderr();
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.starts_with(&format!(
            "error: seed {}: manifest.version: ",
            dir.display()
        )),
        "{line}"
    );
    assert!(
        ephemeral_dirs(tmp.path()).is_empty(),
        "data directory removed"
    );

    // Not a directory, and a directory without any skill.
    let file = tmp.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for (path, message) in [
        (&file, "not a skill directory"),
        (&empty, "no tank.json found"),
    ] {
        let mut inst = Spawn::new(
            tmp.path(),
            &["serve", "--ephemeral", "--seed", path.to_str().unwrap()],
        )
        .start();
        assert_eq!(inst.wait(), 1);
        assert!(
            inst.stderr()
                .contains(&format!("error: seed {}: {message}", path.display())),
            "{}",
            inst.stderr()
        );
    }
    // More than 64 seeds is a usage error.
    let mut args = vec!["serve".to_string(), "--ephemeral".to_string()];
    for _ in 0..65 {
        args.push("--seed".into());
        args.push(dir.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut inst = Spawn::new(tmp.path(), &args).start();
    assert_eq!(inst.wait(), 2);
    assert!(ephemeral_dirs(tmp.path()).is_empty());
}

#[test]
fn ephemeral_seed_org() {
    let tmp = tempdir();
    let dir = tmp.path().join("x");
    skill_dir(&dir, "@acme/x", "1.0.0", "Org scoped seed", json!({}));
    let (mut inst, ready) = ephemeral(tmp.path(), &["--seed", dir.to_str().unwrap()]);
    let url = ready.url();
    // admin is a member of the new org acme: it may publish further versions and new skills under @acme.
    for (name, version) in [("@acme/x", "1.0.1"), ("@acme/y", "1.0.0")] {
        let r = http(
            "POST",
            &format!("{url}/api/v1/skills"),
            Some(ready.token()),
            Some(json!({"manifest": {"name": name, "version": version, "description": "More"}})),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    // A token of another user is refused there (the org is admin's alone).
    let out = command(tmp.path())
        .args(["--data-dir"])
        .arg(ready.data_dir())
        .args(["user", "create", "bob"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let bob = command(tmp.path())
        .args(["--data-dir"])
        .arg(ready.data_dir())
        .args(["token", "create", "--user", "bob"])
        .output()
        .unwrap();
    let bob = String::from_utf8(bob.stdout).unwrap().trim().to_string();
    let r = http(
        "POST",
        &format!("{url}/api/v1/skills"),
        Some(&bob),
        Some(json!({"manifest": {"name": "@acme/z", "version": "1.0.0", "description": "No"}})),
    );
    assert_eq!(r.status, 403);
    assert_eq!(inst.stop(), 0);
}

#[test]
fn ephemeral_preset_token() {
    let tmp = tempdir();
    let preset = format!("tank_{}", &"Ab3".repeat(11)[..32]);
    let mut inst = Spawn::new(tmp.path(), &["serve", "--ephemeral"])
        .env("TANK_ADMIN_TOKEN", preset.clone())
        .start();
    let ready = inst.ready();
    assert_eq!(ready.token(), preset);
    let me = http(
        "GET",
        &format!("{}/api/v1/auth/whoami", ready.url()),
        Some(&preset),
        None,
    );
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["name"], "admin");
    assert_eq!(inst.stop(), 0);

    for bad in ["tank_short", "tok_0123456789012345678901234567890123"] {
        let mut inst = Spawn::new(tmp.path(), &["serve", "--ephemeral"])
            .env("TANK_ADMIN_TOKEN", bad)
            .start();
        assert_eq!(inst.wait(), 2);
        assert!(inst.first_line().is_none());
        assert!(
            inst.stderr().contains(
                "error: --admin-token must be \"tank_\" followed by 32 to 64 characters of [0-9A-Za-z]"
            ),
            "{}",
            inst.stderr()
        );
    }
    assert!(ephemeral_dirs(tmp.path()).is_empty());
}

/// The public URL from a plain server's `listening on … (public URL …)` log line.
fn wait_listening(inst: &Instance) -> String {
    let start = Instant::now();
    loop {
        let err = inst.stderr();
        if let Some(i) = err.find("(public URL ") {
            let rest = &err[i + "(public URL ".len()..];
            return rest[..rest.find(')').unwrap()].to_string();
        }
        assert!(start.elapsed() < WAIT, "no listening line:\n{err}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ephemeral_flag_without_mode() {
    let tmp = tempdir();
    for (flag, args) in [
        ("--seed", vec!["serve", "--seed", "x"]),
        ("--ready-file", vec!["serve", "--ready-file", "r"]),
        ("--admin-token", vec!["serve", "--admin-token", "tank_x"]),
        ("--keep-data", vec!["serve", "--keep-data"]),
        (
            "--exit-on-stdin-close",
            vec!["serve", "--exit-on-stdin-close"],
        ),
    ] {
        let mut inst = Spawn::new(tmp.path(), &args).start();
        assert_eq!(inst.wait(), 2, "{args:?}");
        assert!(
            inst.stderr()
                .contains(&format!("error: {flag} requires --ephemeral")),
            "{}",
            inst.stderr()
        );
    }
    // The variables are ignored by a plain serve, which starts normally.
    let data = tmp.path().join("plain-data");
    let mut inst = Spawn::new(
        tmp.path(),
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    )
    .env("TANK_SEED", "x")
    .env("TANK_KEEP_DATA", "on")
    .env("TANK_READY_FILE", tmp.path().join("r").to_str().unwrap())
    .start();
    let url = wait_listening(&inst);
    assert_eq!(get(&format!("{url}/api/v1/health")).status, 200);
    assert_eq!(inst.stop(), 0);
    assert!(
        inst.rest_of_stdout().is_empty(),
        "plain serve prints nothing"
    );
    assert!(!tmp.path().join("r").exists());
    assert!(data.join("registry.db").exists());
    assert!(!data.join("EPHEMERAL").exists());
}

#[test]
fn ephemeral_stop_sigterm() {
    let tmp = tempdir();
    let file = tmp.path().join("ready");
    let (mut inst, ready) = ephemeral(tmp.path(), &["--ready-file", file.to_str().unwrap()]);
    assert!(ready.data_dir().is_dir() && file.exists());
    assert_eq!(inst.stop(), 0);
    assert!(!ready.data_dir().exists());
    assert!(!file.exists());
    assert!(ephemeral_dirs(tmp.path()).is_empty());
    // SIGINT too.
    let (mut inst, ready) = ephemeral(tmp.path(), &[]);
    inst.signal("INT");
    assert_eq!(inst.wait(), 0);
    assert!(!ready.data_dir().exists());
}

#[test]
fn ephemeral_stop_stdin() {
    let tmp = tempdir();
    let file = tmp.path().join("ready");
    let mut inst = Spawn::new(
        tmp.path(),
        &[
            "serve",
            "--ephemeral",
            "--exit-on-stdin-close",
            "--ready-file",
            file.to_str().unwrap(),
        ],
    )
    .stdin_pipe()
    .start();
    let ready = inst.ready();
    // Input is read and discarded; the server keeps running while the pipe is open.
    use std::io::Write;
    inst.stdin
        .as_mut()
        .unwrap()
        .write_all(b"ignored\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(inst.child.try_wait().unwrap().is_none());
    assert_eq!(get(&format!("{}/api/health", ready.url())).status, 200);
    drop(inst.stdin.take());
    assert_eq!(inst.wait(), 0);
    assert!(!ready.data_dir().exists());
    assert!(!file.exists());

    // With stdin at end of file from the start, it stops right after it is ready.
    let mut inst = Spawn::new(
        tmp.path(),
        &["serve", "--ephemeral", "--exit-on-stdin-close"],
    )
    .start();
    let ready = inst.ready();
    assert_eq!(inst.wait(), 0);
    assert!(!ready.data_dir().exists());
}

#[test]
fn ephemeral_keep_data() {
    let tmp = tempdir();
    let dir = tmp.path().join("kept-skill");
    skill_dir(&dir, "keeper", "1.0.0", "Survives the instance", json!({}));
    let (mut inst, ready) = ephemeral(
        tmp.path(),
        &["--keep-data", "--seed", dir.to_str().unwrap()],
    );
    let (integrity, _) = download_checked(ready.url(), "keeper", "1.0.0");
    assert_eq!(inst.stop(), 0);
    let data = ready.data_dir();
    assert!(data.join("registry.db").exists());
    assert!(!data.join("EPHEMERAL").exists(), "the marker is removed");
    // An ordinary serve on it rebuilds the index and serves the seeded skill.
    let mut plain = Spawn::new(
        tmp.path(),
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    )
    .start();
    let url = wait_listening(&plain);
    assert_eq!(search_names(&url, "survives"), vec!["keeper".to_string()]);
    assert_eq!(download_checked(&url, "keeper", "1.0.0").0, integrity);
    assert_eq!(plain.stop(), 0);
    assert!(data.join("index").is_dir());
    // The kept directory is never swept: it has no marker.
    let (mut other, _) = ephemeral(tmp.path(), &[]);
    assert!(data.join("registry.db").exists());
    assert_eq!(other.stop(), 0);
}

#[test]
fn ephemeral_stale_sweep() {
    let tmp = tempdir();
    // A leftover of a killed instance: marker, unlocked serve.lock.
    let stale = tmp.path().join("tank-ephemeral-1-x");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("EPHEMERAL"), "").unwrap();
    std::fs::write(stale.join("serve.lock"), "").unwrap();
    std::fs::write(stale.join("registry.db"), "junk").unwrap();
    // Without the marker: never removed.
    let unmarked = tmp.path().join("tank-ephemeral-2-y");
    std::fs::create_dir(&unmarked).unwrap();
    std::fs::write(unmarked.join("serve.lock"), "").unwrap();
    // A live instance: its lock is held.
    let (mut live, live_ready) = ephemeral(tmp.path(), &[]);
    // A SIGKILLed instance leaves its directory behind…
    let (mut killed, killed_ready) = ephemeral(tmp.path(), &[]);
    killed.child.kill().unwrap();
    killed.wait();
    assert!(killed_ready.data_dir().exists());
    // …and the next start removes it and the stale one, keeping the others.
    let (mut next, next_ready) = ephemeral(tmp.path(), &[]);
    assert!(!stale.exists(), "stale directory swept");
    assert!(
        !killed_ready.data_dir().exists(),
        "killed instance's directory swept"
    );
    assert!(unmarked.exists(), "a directory without the marker is kept");
    assert!(
        live_ready.data_dir().join("EPHEMERAL").exists(),
        "a live instance is kept"
    );
    assert_eq!(get(&format!("{}/api/health", live_ready.url())).status, 200);
    assert_eq!(next.stop(), 0);
    assert!(!next_ready.data_dir().exists());
    assert_eq!(live.stop(), 0);
}

#[test]
fn ephemeral_data_dir_not_empty() {
    let tmp = tempdir();
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("precious.txt"), "keep me").unwrap();
    let mut inst = Spawn::new(
        tmp.path(),
        &["serve", "--ephemeral", "--data-dir", full.to_str().unwrap()],
    )
    .start();
    assert_eq!(inst.wait(), 1);
    assert!(
        inst.stderr().contains(&format!(
            "error: ephemeral data dir {} is not empty",
            full.display()
        )),
        "{}",
        inst.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(full.join("precious.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    // TANK_DATA_DIR is ignored in ephemeral mode.
    let (mut inst, ready) = {
        let mut i = Spawn::new(tmp.path(), &["serve", "--ephemeral"])
            .env("TANK_DATA_DIR", full.to_str().unwrap())
            .start();
        let r = i.ready();
        (i, r)
    };
    assert_ne!(ready.data_dir(), full);
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    assert_eq!(inst.stop(), 0);
    // An explicit empty (or absent) directory is used, then removed.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (mut inst, ready) = ephemeral(tmp.path(), &["--data-dir", empty.to_str().unwrap()]);
    assert_eq!(ready.data_dir(), empty);
    assert!(empty.join("EPHEMERAL").exists());
    assert_eq!(inst.stop(), 0);
    assert!(!empty.exists());
}

#[test]
fn ephemeral_admin_cli() {
    let tmp = tempdir();
    let (mut inst, ready) = ephemeral(tmp.path(), &[]);
    let data = ready.data_dir();
    let out = command(tmp.path())
        .arg("--data-dir")
        .arg(&data)
        .args([
            "token",
            "create",
            "--user",
            "admin",
            "--scopes",
            "skills:read",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("tank_"));
    let me = http(
        "GET",
        &format!("{}/api/v1/auth/whoami", ready.url()),
        Some(&token),
        None,
    );
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["scopes"], json!(["skills:read"]));
    // The admin token is listed with its label; the token itself never is.
    let list = command(tmp.path())
        .arg("--data-dir")
        .arg(&data)
        .args(["token", "list", "--user", "admin", "--json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    let labels: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"ephemeral"), "{list}");
    assert!(!list.to_string().contains(ready.token()));
    let check = command(tmp.path())
        .arg("--data-dir")
        .arg(&data)
        .arg("check")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("warning: the search index is in the memory of the ephemeral server"),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l == "ok"), "{stdout}");
    assert_eq!(inst.stop(), 0);
}

/// A Python with tank-sdk: `TANK_COMPAT_PY`, else the venv tests/compat/run.sh prepares.
fn compat_python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TANK_COMPAT_PY") {
        return Some(PathBuf::from(p));
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let py = target.join("compat-venv/bin/python");
    py.exists().then_some(py)
}

#[test]
fn ephemeral_real_clients() {
    let tmp = tempdir();
    let dir = tmp.path().join("client-skill");
    skill_dir(
        &dir,
        "@acme/client-check",
        "1.0.0",
        "Exercised by the pelican client",
        json!({}),
    );
    write(&dir.join("scripts/run.py"), "print('hello')\n");
    let (mut inst, ready) = ephemeral(tmp.path(), &["--seed", dir.to_str().unwrap()]);
    let url = ready.url();

    // Headless CLI login: start, JSON approval with the admin token, exchange.
    let start = http(
        "POST",
        &format!("{url}/api/v1/cli-auth/start"),
        None,
        Some(json!({"deviceName": "ci"})),
    );
    assert_eq!(start.status, 200);
    let start = start.json();
    let auth_url = start["authUrl"].as_str().unwrap();
    assert!(auth_url.starts_with(&format!("{url}/api/v1/cli-auth/authorize?token=")));
    let code = auth_url.split("token=").nth(1).unwrap();
    let approve = http(
        "POST",
        &format!("{url}/api/v1/cli-auth/authorize"),
        Some(ready.token()),
        Some(json!({"token": code, "action": "approve"})),
    );
    assert_eq!(
        approve.status,
        200,
        "{}",
        String::from_utf8_lossy(&approve.body)
    );
    assert_eq!(
        approve.json(),
        json!({"success": true, "status": "approved"})
    );
    let exchange = http(
        "POST",
        &format!("{url}/api/v1/cli-auth/exchange"),
        None,
        Some(json!({"pollToken": start["pollToken"]})),
    );
    assert_eq!(exchange.status, 200);
    let cli_token = exchange.json()["token"].as_str().unwrap().to_string();
    let me = http(
        "GET",
        &format!("{url}/api/v1/auth/whoami"),
        Some(&cli_token),
        None,
    );
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["name"], "admin");

    // The official Python client reads, downloads and searches the seeded skill.
    match compat_python() {
        None => eprintln!(
            "ephemeral_real_clients: no Python with tank-sdk (set TANK_COMPAT_PY or run tests/compat/run.sh once); \
             the Python half was skipped"
        ),
        Some(py) => {
            let script = r#"
import sys, tempfile
from tankpkg import TankClient
url, token = sys.argv[1], sys.argv[2]
cfg = tempfile.mkdtemp()
anon = TankClient(token=None, registry_url=url, config_dir=cfg, max_retries=0)
found = anon.search("pelican")
names = [r["name"] for r in found["results"]]
assert names == ["@acme/client-check"], found
info = anon.info("@acme/client-check")
assert info["latestVersion"] == "1.0.0", info
data = anon.download("@acme/client-check", "1.0.0")
assert len(data) > 0
files = anon.list_files("@acme/client-check", "1.0.0")
admin = TankClient(token=token, registry_url=url, config_dir=cfg, max_retries=0)
me = admin.whoami()
assert me is not None and me.name == "admin", me
print("python-ok", len(data))
"#;
            let out = Command::new(py)
                .arg("-c")
                .arg(script)
                .arg(url)
                .arg(&cli_token)
                .env_remove("TANK_TOKEN")
                .env_remove("TANK_REGISTRY_URL")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("python-ok"),
                "python client failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert_eq!(inst.stop(), 0);
}

/// SPEC §11.3: SIGTERM before the ready line stops start-up: exit 1, `interrupted before ready`, no ready line,
/// data directory removed. Many seeds keep start-up busy long enough for the signal to land during it.
#[test]
fn ephemeral_interrupted_before_ready() {
    let tmp = tempdir();
    let seeds = tmp.path().join("many");
    for i in 0..300 {
        skill_dir(
            &seeds.join(format!("s{i:03}")),
            &format!("slow-{i:03}"),
            "1.0.0",
            "Keeps start-up busy",
            json!({}),
        );
        write(
            &seeds.join(format!("s{i:03}/scripts/run.py")),
            &"import os\nprint(os.getcwd())\n".repeat(50),
        );
    }
    let mut inst = Spawn::new(
        tmp.path(),
        &["serve", "--ephemeral", "--seed", seeds.to_str().unwrap()],
    )
    .start();
    // The banner is printed once the signal handlers are installed.
    let start = Instant::now();
    while !inst.stderr().contains("WARNING: ephemeral mode:") {
        assert!(start.elapsed() < WAIT);
        std::thread::sleep(Duration::from_millis(1));
    }
    inst.signal("TERM");
    assert_eq!(inst.wait(), 1, "{}", inst.stderr());
    assert!(inst.first_line().is_none(), "no ready line");
    assert!(
        inst.stderr().contains("error: interrupted before ready"),
        "{}",
        inst.stderr()
    );
    assert!(ephemeral_dirs(tmp.path()).is_empty());
}

/// SPEC §11.1: `TANK_SEED` holds paths separated by `:`; any `--seed` flag makes it ignored.
#[test]
fn ephemeral_seed_env() {
    let tmp = tempdir();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    skill_dir(
        &a,
        "env-a",
        "1.0.0",
        "First from the environment",
        json!({}),
    );
    skill_dir(
        &b,
        "env-b",
        "1.0.0",
        "Second from the environment",
        json!({}),
    );
    let both = format!("{}:{}", a.display(), b.display());
    let mut inst = Spawn::new(tmp.path(), &["serve", "--ephemeral"])
        .env("TANK_SEED", both.clone())
        .start();
    let ready = inst.ready();
    assert_eq!(ready.json["seeded"], json!({"skills": 2, "versions": 2}));
    assert_eq!(inst.stop(), 0);
    let mut inst = Spawn::new(
        tmp.path(),
        &["serve", "--ephemeral", "--seed", a.to_str().unwrap()],
    )
    .env("TANK_SEED", both)
    .start();
    let ready = inst.ready();
    assert_eq!(ready.json["seeded"], json!({"skills": 1, "versions": 1}));
    assert_eq!(
        get(&format!("{}/api/v1/skills/env-b", ready.url())).status,
        404
    );
    assert_eq!(inst.stop(), 0);
}
