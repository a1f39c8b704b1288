//! Download throughput (issue #6): a 5 MB tarball served by the registry (`GET …/tarball`) and the same bytes
//! served by nginx as a static file, side by side on loopback, same client, same concurrency.
//!
//! Run: `scripts/bench-download.sh` (installs Debian's nginx when missing, then
//! `cargo bench --bench download -- --seconds 10 --clients 8`). Under `cargo test` it does nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Incompressible bytes from a fixed seed (splitmix64), so the tarball is ~5 MB on the wire.
fn noise(n: usize) -> Vec<u8> {
    let mut s: u64 = 0x5eed;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(n);
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_registry(data: &Path) -> (Kill, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tank-registry"))
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "off"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Some(i) = line.find("(public URL ") {
                let rest = &line[i + 12..];
                let _ = tx.send(rest[..rest.find(')').unwrap_or(rest.len())].to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("registry start");
    (Kill(child), url)
}

fn start_nginx(root: &Path, work: &Path) -> (Kill, String) {
    let port = free_port();
    let conf = work.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 2;\ndaemon off;\npid {w}/nginx.pid;\nerror_log {w}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n\
             client_body_temp_path {w}/tmp; proxy_temp_path {w}/tmp; fastcgi_temp_path {w}/tmp; uwsgi_temp_path {w}/tmp; scgi_temp_path {w}/tmp;\n\
             server {{ listen 127.0.0.1:{port}; root {r}; }} }}\n",
            w = work.display(),
            r = root.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(work.join("tmp")).unwrap();
    let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is not installed: run scripts/bench-download.sh");
    let child = Command::new(nginx)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(work)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (Kill(child), url)
}

/// `clients` keep-alive clients fetching `url` for `secs`: (MB/s, requests/s, p50 ms, p99 ms).
async fn load(url: &str, expect: usize, clients: usize, secs: u64) -> (f64, f64, f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let t0 = Instant::now();
    for _ in 0..clients {
        let (url, stop, bytes) = (url.to_string(), stop.clone(), bytes.clone());
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let body = c.get(&url).send().await.unwrap().bytes().await.unwrap();
                assert_eq!(body.len(), expect, "short body from {url}");
                bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let el = t0.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    (
        bytes.load(Ordering::Relaxed) as f64 / el / 1e6,
        lat.len() as f64 / el,
        pct(0.5),
        pct(0.99),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let arg = |k: &str, d: u64| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let secs = arg("--seconds", 10);
    let clients = arg("--clients", 8) as usize;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_tank-registry");
    let run = |a: &[&str]| {
        let o = Command::new(bin)
            .arg("--data-dir")
            .arg(&data)
            .args(a)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{a:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    run(&["user", "create", "bench"]);
    let token = run(&["token", "create", "--user", "bench"]);
    let md = b"---\nname: big\ndescription: A skill with a 5 MB data file for the download benchmark.\n---\n# Big\n\nCarries data.\n";
    let tgz = tank_registry::archive::testutil::build_tgz(&[
        ("SKILL.md", md),
        ("data/blob.bin", &noise(5_000_000)),
    ]);
    println!("tarball: {} bytes", tgz.len());
    let root = dir.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("big-1.0.0.tgz"), &tgz).unwrap();
    let (_reg, url) = start_registry(&data);
    let (_ngx, nurl) = start_nginx(&root, dir.path());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let start: serde_json::Value = c
            .post(format!("{url}/api/v1/skills"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"manifest": {"name": "big", "version": "1.0.0", "description": "Big."}}))
            .send().await.unwrap().json().await.unwrap();
        c.put(start["uploadUrl"].as_str().unwrap()).body(tgz.clone()).send().await.unwrap();
        use sha2::Digest;
        use base64::Engine;
        let integrity = format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tgz)));
        let r = c.post(format!("{url}/api/v1/skills/confirm")).bearer_auth(&token)
            .json(&serde_json::json!({"versionId": start["versionId"], "integrity": integrity}))
            .send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let reg_url = format!("{url}/api/v1/skills/big/1.0.0/tarball");
        let ngx_url = format!("{nurl}/big-1.0.0.tgz");
        // Warm both (page cache, connections).
        load(&reg_url, tgz.len(), clients, 1).await;
        load(&ngx_url, tgz.len(), clients, 1).await;
        let r = load(&reg_url, tgz.len(), clients, secs).await;
        let n = load(&ngx_url, tgz.len(), clients, secs).await;
        println!("clients {clients}, {secs} s each, 5 MB tarball, loopback, keep-alive");
        println!("registry: {:>8.1} MB/s  {:>7.1} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms", r.0, r.1, r.2, r.3);
        println!("nginx:    {:>8.1} MB/s  {:>7.1} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms", n.0, n.1, n.2, n.3);
        println!("ratio registry/nginx throughput: {:.2}", r.0 / n.0);
    });
}
