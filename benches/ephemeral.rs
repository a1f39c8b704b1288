//! Ephemeral-mode benchmark (SPEC §11.9, issue #9): the release binary started with `serve --ephemeral`,
//! measured from `exec` to the ready line (the ready file is written just before it), over N runs each: no
//! seed, and 200 small skill directories (scans on); idle RSS after ready; RSS and start-up after seeding 1,000
//! versions; a 3-step HTTP publish of a small skill; stop (SIGTERM → exit, directory removed); binary size.
//!
//! Run: `cargo bench --bench ephemeral` (optional: `-- --runs 30 --skills 200 --versions 1000 --publishes 50`;
//! `TANK_EPHEMERAL_BIN` selects another binary). Under `cargo test` it does nothing (it only runs when cargo
//! passes `--bench`).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> String {
    std::env::var("TANK_EPHEMERAL_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tank-registry").to_string())
}

struct Started {
    child: Child,
    ready: Value,
    elapsed: Duration,
}

/// Spawns `serve --ephemeral <args>` and waits for the ready line.
fn start(tmp: &Path, args: &[&str]) -> Started {
    let t0 = Instant::now();
    let mut child = Command::new(bin())
        .args(["serve", "--ephemeral"])
        .args(args)
        .env("TMPDIR", tmp)
        .env("TANK_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tank-registry");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let elapsed = t0.elapsed();
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("no ready line (got {line:?})")
    });
    Started {
        child,
        ready,
        elapsed,
    }
}

/// SIGTERM, then the time until the process has exited and its data directory is gone.
fn stop(mut s: Started) -> Duration {
    let dir = PathBuf::from(s.ready["dataDir"].as_str().unwrap());
    let t0 = Instant::now();
    let ok = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = s.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let d = t0.elapsed();
    assert!(!dir.exists(), "data directory left behind");
    d
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, p99) in ms; p99 is the nearest-rank percentile (for 30 runs: the largest).
fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let n = v.len();
    let median = if n % 2 == 1 {
        ms(v[n / 2])
    } else {
        (ms(v[n / 2 - 1]) + ms(v[n / 2])) / 2.0
    };
    let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
    (median, ms(v[rank - 1]))
}

/// A small skill directory: tank.json (with a permission), SKILL.md and one script.
fn skill(dir: &Path, name: &str, version: &str, i: usize) {
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    let m = json!({
        "name": name,
        "version": version,
        "description": format!("Benchmark skill number {i} that formats reports"),
        "permissions": {"network": {"outbound": ["api.example.com"]}, "subprocess": false},
    });
    std::fs::write(dir.join("tank.json"), m.to_string()).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        format!(
            "---\nname: {}\ndescription: Benchmark skill number {i}\n---\n\n# Skill {i}\n\nFormats reports.\n",
            name.rsplit('/').next().unwrap()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("scripts/run.py"),
        "import json\nimport urllib.request\n\ndef main():\n    with urllib.request.urlopen('https://api.example.com/x') as r:\n        print(json.load(r))\n",
    )
    .unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        return; // `cargo test --all-targets` builds and runs benches in test mode: nothing to do.
    }
    let arg = |k: &str, d: usize| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let runs = arg("--runs", 30);
    let skills = arg("--skills", 200);
    let versions = arg("--versions", 1000);
    let publishes = arg("--publishes", 50);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    println!("binary: {}", bin());
    let size = std::fs::metadata(bin()).map(|m| m.len()).unwrap_or(0);

    // Warm the page cache.
    stop(start(t, &[]));

    // 1. No seed: start to ready, idle RSS, stop.
    let mut ready_times = Vec::new();
    let mut stop_times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let s = start(t, &[]);
        ready_times.push(s.elapsed);
        std::thread::sleep(Duration::from_millis(200));
        rss.push(rss_kib(s.child.id()));
        stop_times.push(stop(s));
    }
    rss.sort();
    let (r50, r99) = stats(ready_times);
    let (s50, s99) = stats(stop_times);
    let rss_median = rss[rss.len() / 2];

    // 2. 200 small skill directories.
    let seeds = t.join("seeds");
    for i in 0..skills {
        skill(
            &seeds.join(format!("s{i:04}")),
            &format!("@bench/skill-{i:04}"),
            "1.0.0",
            i,
        );
    }
    let mut seeded_times = Vec::new();
    let mut seeded_rss = 0;
    for run in 0..runs {
        let s = start(t, &["--seed", seeds.to_str().unwrap()]);
        assert_eq!(s.ready["seeded"]["versions"], skills);
        seeded_times.push(s.elapsed);
        if run == 0 {
            std::thread::sleep(Duration::from_millis(200));
            seeded_rss = rss_kib(s.child.id());
        }
        stop(s);
    }
    let (d50, d99) = stats(seeded_times);

    // 3. 1,000 versions (250 skills × 4 versions, ascending precedence).
    let many = t.join("many");
    let per = 4;
    for i in 0..versions.div_ceil(per) {
        for (j, v) in ["1.0.0", "1.1.0", "1.2.0", "2.0.0"]
            .iter()
            .enumerate()
            .take(per)
        {
            skill(
                &many.join(format!("m{i:04}-{j}")),
                &format!("many-{i:04}"),
                v,
                i,
            );
        }
    }
    let s = start(t, &["--seed", many.to_str().unwrap()]);
    let many_time = s.elapsed;
    let many_versions = s.ready["seeded"]["versions"].as_u64().unwrap_or(0);
    std::thread::sleep(Duration::from_millis(200));
    let many_rss = rss_kib(s.child.id());
    stop(s);

    // 4. HTTP publish of a small skill: start → upload → confirm, over keep-alive.
    let s = start(t, &[]);
    let url = s.ready["url"].as_str().unwrap().to_string();
    let token = s.ready["token"].as_str().unwrap().to_string();
    let pub_dir = t.join("publish");
    skill(&pub_dir, "@admin/published", "1.0.0", 0);
    let tgz = tank_registry::ephemeral::pack(&pub_dir, None)
        .unwrap()
        .tarball;
    let integrity = {
        use base64::Engine;
        use sha2::Digest;
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tgz))
        )
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let publish_times = rt.block_on(async {
        let client = reqwest::Client::new();
        let mut times = Vec::new();
        for i in 0..publishes {
            let manifest = json!({"name": "@admin/published", "version": format!("1.0.{i}"),
                "description": "Benchmark skill number 0 that formats reports",
                "permissions": {"network": {"outbound": ["api.example.com"]}, "subprocess": false}});
            let t0 = Instant::now();
            let r: Value = client
                .post(format!("{url}/api/v1/skills"))
                .bearer_auth(&token)
                .json(&json!({"manifest": manifest}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let upload = r["uploadUrl"].as_str().unwrap();
            let put = client
                .put(upload)
                .header("content-type", "application/gzip")
                .body(tgz.clone())
                .send()
                .await
                .unwrap();
            assert!(put.status().is_success());
            let c = client
                .post(format!("{url}/api/v1/skills/confirm"))
                .bearer_auth(&token)
                .json(&json!({"versionId": r["versionId"], "integrity": integrity}))
                .send()
                .await
                .unwrap();
            assert!(c.status().is_success(), "{}", c.text().await.unwrap());
            times.push(t0.elapsed());
        }
        times
    });
    stop(s);
    let (p50, p99) = stats(publish_times);

    println!();
    println!("| metric | median | p99 | target |");
    println!("|---|---|---|---|");
    println!(
        "| start → ready, no seed ({runs} runs) | {r50:.1} ms | {r99:.1} ms | ≤ 50 / ≤ 150 ms |"
    );
    println!(
        "| start → ready, {skills} skill directories ({runs} runs) | {d50:.1} ms | {d99:.1} ms | ≤ 1,500 ms |"
    );
    println!(
        "| stop: SIGTERM → exit, directory removed ({runs} runs) | {s50:.1} ms | {s99:.1} ms | ≤ 200 ms |"
    );
    println!(
        "| publish over HTTP, 3 steps ({publishes} runs) | {p50:.1} ms | {p99:.1} ms | median ≤ 30 ms |"
    );
    println!();
    println!(
        "| RSS idle after ready, no seed (median of {runs}) | {:.1} MB | target ≤ 40 MB |",
        rss_median as f64 / 1024.0
    );
    println!(
        "| RSS after seeding {skills} skills | {:.1} MB | — |",
        seeded_rss as f64 / 1024.0
    );
    println!(
        "| RSS after seeding {many_versions} versions (start → ready {:.0} ms) | {:.1} MB | target ≤ 80 MB |",
        ms(many_time),
        many_rss as f64 / 1024.0
    );
    println!(
        "| binary size | {:.1} MB ({size} bytes) | — |",
        size as f64 / 1_048_576.0
    );
}
