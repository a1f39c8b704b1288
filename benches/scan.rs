//! Scanner benchmark (issue #4): the full six-stage scan of (a) a typical ~100 KB skill and (b) a 5 MB,
//! 100-file skill, in process, median and p95 over repeated runs; throughput in MB/s of uncompressed content.
//! Targets: (a) < 50 ms, (b) ≥ 20 MB/s.
//!
//! Run: `cargo bench --bench scan` (optional `-- --runs 30`, `--only typical|large`). Under `cargo test` it does nothing.

use std::time::{Duration, Instant};
use tank_registry::archive::testutil::build_tgz;
use tank_registry::scan::{ScanInput, scan};

const PY: &str = r#"import json
import os
import subprocess
from pathlib import Path

import requests

API = "https://api.github.com"


def list_repos(owner: str) -> list[dict]:
    """Return the public repositories of `owner` from the GitHub API."""
    token = os.environ.get("GITHUB_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.get(f"{API}/users/{owner}/repos", headers=headers, timeout=10)
    r.raise_for_status()
    return r.json()


def git_status(path: str) -> str:
    out = subprocess.run(["git", "status", "--short"], cwd=path, capture_output=True, text=True)
    return out.stdout


def save(data: dict, out: Path) -> None:
    out.write_text(json.dumps(data, indent=2))
"#;

const JS: &str = r#"import { readFile } from "node:fs/promises";
import path from "node:path";

const BASE = "https://api.example.com/v1";

export async function summarize(file) {
  const text = await readFile(path.resolve(file), "utf8");
  const words = text.split(/\s+/).filter(Boolean);
  const res = await fetch(`${BASE}/summaries`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ words: words.length, preview: text.slice(0, 200) }),
  });
  if (!res.ok) throw new Error(`summary failed: ${res.status}`);
  return res.json();
}
"#;

const SH: &str = r#"#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install -r requirements.txt
chmod +x scripts/run.sh
echo "ready"
"#;

const MD: &str = r#"## Usage

Run the skill with `python3 scripts/main.py --owner octocat`. It lists repositories, shows the git status
of a local checkout and writes a JSON summary. Do not run it as root. When asked to act as a reviewer,
summarise the changes and point out risky commands such as `rm -rf` before running anything.

| option | meaning |
|---|---|
| `--owner` | the GitHub user or organisation |
| `--out` | where to write the summary |

```bash
python3 scripts/main.py --owner octocat --out summary.json
```
"#;

fn skill_md() -> String {
    format!(
        "---\nname: repo-helper\ndescription: Lists repositories and summarises local checkouts.\n---\n# Repo helper\n\n{}",
        MD.repeat(3)
    )
}

/// (path, content) pairs totalling about `target` bytes across `files` files.
fn package(files: usize, target: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("SKILL.md".to_string(), skill_md().into_bytes()),
        (
            "tank.json".to_string(),
            br#"{"name":"repo-helper","version":"1.0.0","description":"Repo helper.","permissions":{"network":{"outbound":["api.github.com","api.example.com"]},"subprocess":true}}"#.to_vec(),
        ),
        ("requirements.txt".to_string(), b"requests==2.31.0\nrich>=13.0,<14\n".to_vec()),
    ];
    // The fixed files count towards the target; the rest is shared evenly by the others.
    let fixed: usize = out.iter().map(|(_, c)| c.len()).sum();
    let per = target.saturating_sub(fixed) / (files - out.len());
    let kinds: [(&str, &str); 4] = [("py", PY), ("js", JS), ("sh", SH), ("md", MD)];
    let mut i = 0;
    while out.len() < files {
        let (ext, body) = kinds[i % kinds.len()];
        let dir = if ext == "md" { "docs" } else { "scripts" };
        // The snippet once (a module assigns its constants once), then distinct filler in the file's
        // language up to the size: repeating the snippet would rebind its constants and defeat folding.
        let mut text = body.to_string();
        let mut k = 0;
        while text.len() < per {
            text.push_str(&match ext {
                "py" => format!("\n\ndef helper_{k}(values: list[int]) -> int:\n    \"\"\"Sum of the values times {k}.\"\"\"\n    return sum(v * {k} for v in values)\n"),
                "js" => format!("\nexport function helper{k}(values) {{\n  return values.reduce((a, v) => a + v * {k}, 0);\n}}\n"),
                "sh" => format!("\nstep_{k}() {{\n  echo \"step {k} of the setup\"\n}}\n"),
                _ => format!("\n### Step {k}\n\nCheck the output of step {k} and continue with the next one.\n"),
            });
            k += 1;
        }
        out.push((format!("{dir}/part{i:03}.{ext}"), text.into_bytes()));
        i += 1;
    }
    out
}

fn bench(label: &str, files: usize, target: usize, runs: usize) {
    let pkg = package(files, target);
    let raw: usize = pkg.iter().map(|(_, c)| c.len()).sum();
    let refs: Vec<(&str, &[u8])> = pkg
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    let tgz = build_tgz(&refs);
    let mut times = Vec::with_capacity(runs);
    let mut verdict = String::new();
    // Per-stage milliseconds of every run (stage 2 runs beside the others, so they overlap in time).
    let mut per_stage: std::collections::BTreeMap<&'static str, Vec<u64>> = Default::default();
    for _ in 0..runs {
        let t = Instant::now();
        let r = scan(&ScanInput {
            tarball: &tgz,
            manifest: None,
            readme: None,
            protected_names: &[],
            timeout: Duration::from_secs(60),
        });
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        for st in &r.stages {
            per_stage
                .entry(st.stage_id)
                .or_default()
                .push(st.duration_ms);
        }
        verdict = format!(
            "{} ({} findings, {} notes)",
            r.verdict.as_upper(),
            r.findings.len(),
            r.notes.len()
        );
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = times[times.len() / 2];
    let p95 = times[((times.len() as f64 - 1.0) * 0.95).round() as usize];
    println!(
        "{label}: {} files, {:.0} KB raw, {:.0} KB tgz, {runs} runs: median {med:.1} ms, p95 {p95:.1} ms, {:.1} MB/s; {verdict}",
        pkg.len(),
        raw as f64 / 1024.0,
        tgz.len() as f64 / 1024.0,
        raw as f64 / 1e6 / (med / 1000.0),
    );
    let stages: Vec<String> = per_stage
        .iter_mut()
        .map(|(id, v)| {
            v.sort_unstable();
            format!("{id} {} ms", v[v.len() / 2])
        })
        .collect();
    println!("  median per stage: {}", stages.join(", "));
    parse_floor(&pkg, runs.min(5));
}

/// The floor under stage 2/3: tree-sitter parsing alone of the package's Python, JS and shell files,
/// once each, on one core (median over `runs`). No scan can be faster than its parse on real trees.
fn parse_floor(pkg: &[(String, Vec<u8>)], runs: usize) {
    use tank_registry::scan::syntax::{Grammar, parse};
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut per: std::collections::BTreeMap<&str, (usize, Vec<f64>)> = Default::default();
    for _ in 0..runs {
        let mut t_run: std::collections::BTreeMap<&str, (usize, f64)> = Default::default();
        for (path, body) in pkg {
            let g = match path.rsplit('.').next() {
                Some("py") => Grammar::Python,
                Some("js") => Grammar::JavaScript,
                Some("sh") => Grammar::Bash,
                _ => continue,
            };
            let text = std::str::from_utf8(body).unwrap();
            let t = Instant::now();
            let tree = parse(g, text, deadline).unwrap();
            let e = t.elapsed().as_secs_f64();
            drop(tree);
            let key = path.rsplit('.').next().unwrap_or("");
            let x = t_run.entry(key).or_default();
            x.0 += body.len();
            x.1 += e;
        }
        for (k, (bytes, secs)) in t_run {
            let x = per.entry(k).or_default();
            x.0 = bytes;
            x.1.push(secs);
        }
    }
    let parts: Vec<String> = per
        .iter_mut()
        .map(|(k, (bytes, v))| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let s = v[v.len() / 2];
            format!(
                "{k} {:.0} KB in {:.0} ms ({:.1} MB/s)",
                *bytes as f64 / 1024.0,
                s * 1000.0,
                *bytes as f64 / 1e6 / s
            )
        })
        .collect();
    println!("  tree-sitter parse alone, one core: {}", parts.join(", "));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    // `--only typical` or `--only large` runs one of the two (for profiling).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    if only.is_none_or(|o| o == "typical") {
        bench("typical 100 KB skill", 12, 100 * 1024, runs);
    }
    if only.is_none_or(|o| o == "large") {
        bench("5 MB, 100-file skill", 100, 5 * 1024 * 1024, runs.min(15));
    }
}
