//! Helpers shared by the tests that drive the real binary as a child process (crash, storm): CLI calls and a
//! killable server whose public URL is read from its "listening on" log line.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs `bin --data-dir data args…`; (exit code, stdout, stderr).
pub fn cli(bin: &str, data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// As [`cli`], asserting success; the trimmed stdout.
pub fn cli_ok(bin: &str, data: &Path, args: &[&str]) -> String {
    let (code, out, err) = cli(bin, data, args);
    assert_eq!(code, 0, "tank-registry {args:?} failed: {err}");
    out.trim().to_string()
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `… listening on 127.0.0.1:PORT (public URL http://127.0.0.1:PORT)` → the public URL.
pub fn public_url_of(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on ")?..];
    let rest = &rest[rest.find("(public URL ")? + "(public URL ".len()..];
    Some(rest[..rest.find(')')?].to_string())
}

/// A server child process, killed with SIGKILL on drop.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `bin serve` on a free loopback port with rate limiting off and waits for its URL.
    pub fn start(bin: &str, data: &Path) -> Server {
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "off"])
            .env("NO_COLOR", "1")
            .env("TANK_LOG", "info")
            .env_remove("TANK_PUBLIC_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let line = strip_ansi(&line);
                if let Some(url) = public_url_of(&line) {
                    let _ = tx.send(url);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let mut server = Server {
            child: Some(child),
            url: String::new(),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => server.url = url,
            Err(_) => {
                server.kill();
                panic!("the server did not start:\n{}", server.log_tail());
            }
        }
        server
    }

    /// SIGKILL (std's `Child::kill` on Unix) and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The log lines so far that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(needle)).cloned().collect()
    }

    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
