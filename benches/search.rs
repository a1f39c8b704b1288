//! Search benchmark (issue "Search: embedded tantivy index …"): a deterministic corpus of skills written
//! straight into SQLite, a full index build, in-process latency per query kind, then the release server
//! binary on loopback: sequential latency per kind over keep-alive, throughput with 4 and 16 clients, RSS,
//! and start-up with a missing index.
//!
//! Run: `cargo bench --bench search` (optional: `-- --skills 100000 --seconds 5`; for profiling,
//! `--data DIR` keeps the corpus and index in DIR and reuses them, `--only inprocess|http` runs one half and
//! `--loops N` repeats the in-process measurement; `TANK_SEARCH_BENCH_BIN=PATH` serves with another build of
//! the server, for A/B comparisons). Under `cargo test` it does nothing (it only runs when
//! cargo passes `--bench`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tank_registry::search::{self, SearchIndex};
use tank_registry::store::{Durability, LiveCache, Store, Viewer};

/// splitmix64: the corpus depends on nothing but the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const REAL_WORDS: &[&str] = &[
    "audit",
    "seo",
    "search",
    "deploy",
    "build",
    "test",
    "lint",
    "format",
    "review",
    "docs",
    "pdf",
    "image",
    "resize",
    "translate",
    "summarize",
    "email",
    "calendar",
    "slack",
    "github",
    "jira",
    "database",
    "query",
    "migrate",
    "backup",
    "monitor",
    "alert",
    "log",
    "trace",
    "metrics",
    "cloud",
    "docker",
    "kubernetes",
    "terraform",
    "python",
    "rust",
    "typescript",
    "react",
    "next",
    "api",
    "client",
    "server",
    "security",
    "scanner",
    "secret",
    "token",
    "auth",
    "login",
    "cache",
    "queue",
    "stream",
    "video",
    "audio",
    "speech",
    "chart",
    "report",
    "invoice",
    "finance",
    "tax",
    "legal",
    "contract",
    "research",
    "paper",
    "citation",
    "notes",
    "todo",
    "planner",
    "agent",
    "prompt",
    "workflow",
    "pipeline",
    "scaffold",
    "template",
    "generator",
    "refactor",
    "debug",
    "profile",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "te", "su", "no", "vi", "pe", "da", "ren", "tor", "lin", "mar", "sel",
    "qua", "bri", "fen", "gol", "hux", "zan", "pol", "cre", "dro", "ést",
];

struct Corpus {
    vocab: Vec<String>,
    names: Vec<String>,
    orgs: Vec<String>,
    descriptions: Vec<String>,
}

fn pseudo_word(rng: &mut Rng) -> String {
    let n = 2 + rng.below(3);
    (0..n)
        .map(|_| *rng.pick(SYLLABLES))
        .collect::<String>()
        .replace('é', "e")
}

fn words(rng: &mut Rng, vocab: &[String], n: usize) -> String {
    (0..n)
        .map(|_| vocab[rng.below(vocab.len())].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `n` published skills (5 % private) of 1,000 organisations and 500 publishers into SQLite.
/// With `write` false only the in-memory corpus is generated (same seed, same queries): the bench reuses a
/// data directory written by an earlier run (`--data DIR`).
fn build_corpus(store_path: &Path, n: usize, write: bool) -> Corpus {
    let mut rng = Rng(42);
    let mut vocab: Vec<String> = REAL_WORDS.iter().map(|w| w.to_string()).collect();
    let mut seen: HashSet<String> = vocab.iter().cloned().collect();
    while vocab.len() < 5000 {
        let w = pseudo_word(&mut rng);
        if seen.insert(w.clone()) {
            vocab.push(w);
        }
    }
    let mut orgs = Vec::new();
    while orgs.len() < 1000 {
        let o = format!("{}{}", pseudo_word(&mut rng), rng.below(100));
        if seen.insert(o.clone()) {
            orgs.push(o);
        }
    }
    let mut c = write.then(|| rusqlite::Connection::open(store_path).unwrap());
    let tx = c.as_mut().map(|c| c.transaction().unwrap());
    let exec = |sql: &str, p: &[&dyn rusqlite::ToSql]| {
        if let Some(tx) = &tx {
            tx.execute(sql, p).unwrap();
        }
    };
    let firsts = [
        "Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Alan", "Radia",
    ];
    let lasts = [
        "Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Kay",
    ];
    for u in 0..500 {
        let display = format!("{} {}", rng.pick(&firsts), rng.pick(&lasts));
        exec(
            "INSERT INTO users (id, username, display_name, created_at) VALUES (?1, ?2, ?3, 0)",
            rusqlite::params![format!("u{u}"), format!("dev{u}"), display],
        );
    }
    for (i, o) in orgs.iter().enumerate() {
        exec(
            "INSERT INTO orgs (id, slug, created_at) VALUES (?1, ?2, 0)",
            rusqlite::params![format!("o{i}"), o],
        );
    }
    let mut names = Vec::with_capacity(n);
    let mut descriptions = Vec::with_capacity(n);
    let mut taken = HashSet::new();
    for i in 0..n {
        let name = loop {
            let k = 1 + rng.below(3);
            let bare = (0..k)
                .map(|_| {
                    // Names lean on the common words, descriptions on the whole vocabulary.
                    if rng.below(2) == 0 {
                        rng.pick(REAL_WORDS).to_string()
                    } else {
                        vocab[rng.below(vocab.len())].clone()
                    }
                })
                .collect::<Vec<_>>()
                .join("-");
            let name = if i % 20 == 0 {
                bare
            } else {
                format!("@{}/{bare}", orgs[i % orgs.len()])
            };
            if taken.insert(name.clone()) {
                break name;
            }
        };
        let k = 6 + rng.below(10);
        let description = format!("{}.", words(&mut rng, &vocab, k));
        let k = 100 + rng.below(150);
        let readme = format!("# {name}\n\n{}\n", words(&mut rng, &vocab, k));
        let scope = name
            .strip_prefix('@')
            .and_then(|r| r.split_once('/'))
            .map(|(s, _)| s.to_string());
        let publisher = format!("u{}", rng.below(500));
        let owner = scope.is_none().then(|| publisher.clone());
        let visibility = if rng.below(20) == 0 {
            "private"
        } else {
            "public"
        };
        let downloads = (rng.next() % 1_000_000) as f64 / 1_000_000.0;
        let downloads = (downloads * downloads * downloads * 100_000.0) as i64;
        let updated = 1_700_000_000_000i64 + (i as i64) * 1000 + rng.below(1000) as i64;
        let (sid, vid) = (format!("skill_{i:07}"), format!("ver_{i:07}"));
        exec(
            "INSERT INTO skills (id, name, scope, owner_user_id, visibility, description, latest_version_id,
                 created_at, updated_at, row_created_at, index_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?7, ?7, ?8)",
            rusqlite::params![sid, name, scope, owner, visibility, description, updated, i as i64 + 1],
        );
        exec(
            "INSERT INTO versions (id, skill_id, version, version_key, state, manifest, readme, created_by,
                 created_at, audit_score, verdict, published_at, downloads, sha512_hex, integrity)
             VALUES (?1, ?2, '1.0.0', '1.0.0', 'published', '{}', ?3, ?4, ?5, 8, 'PASS', ?5, ?6, ?7, 'sha512-x')",
            rusqlite::params![vid, sid, readme, publisher, updated, downloads, format!("{i:0128x}")],
        );
        exec(
            "UPDATE skills SET latest_version_id = ?1 WHERE id = ?2",
            rusqlite::params![vid, sid],
        );
        names.push(name);
        descriptions.push(description);
    }
    exec(
        "INSERT INTO meta (key, value) VALUES ('index_seq', ?1)",
        rusqlite::params![n.to_string()],
    );
    if let Some(tx) = tx {
        tx.commit().unwrap();
    }
    Corpus {
        vocab,
        names,
        orgs,
        descriptions,
    }
}

/// One edit (4–7 characters) or two edits (8+) of a word: swap two letters, drop one.
fn typo(rng: &mut Rng, w: &str) -> String {
    let mut c: Vec<char> = w.chars().collect();
    let i = rng.below(c.len() - 1);
    c.swap(i, i + 1);
    if c.len() >= 8 {
        c.remove(rng.below(c.len()));
    }
    c.into_iter().collect()
}

/// Per kind, 200 query strings drawn from the corpus.
fn query_sets(corpus: &Corpus) -> Vec<(&'static str, Vec<String>)> {
    let mut rng = Rng(7);
    let mut set = |f: &mut dyn FnMut(&mut Rng) -> String| (0..200).map(|_| f(&mut rng)).collect();
    let names = &corpus.names;
    let long: Vec<&String> = corpus
        .vocab
        .iter()
        .filter(|w| w.chars().count() >= 4)
        .collect();
    vec![
        ("exact", set(&mut |r| r.pick(names).clone())),
        (
            "bare name",
            set(&mut |r| {
                let n = r.pick(names);
                n.rsplit('/').next().unwrap().to_string()
            }),
        ),
        (
            "prefix",
            set(&mut |r| {
                let w = r.pick(REAL_WORDS);
                w.chars().take(3.min(w.len())).collect()
            }),
        ),
        (
            "typo",
            set(&mut |r| {
                let w = r.pick(&long).to_string();
                typo(r, &w)
            }),
        ),
        (
            "multi-word",
            set(&mut |r| {
                let d = r.pick(&corpus.descriptions);
                let ws: Vec<&str> = d.trim_end_matches('.').split(' ').collect();
                format!("{} {}", ws[0], ws[ws.len() - 1])
            }),
        ),
        ("scope", set(&mut |r| format!("@{}", r.pick(&corpus.orgs)))),
        ("no-hit", set(&mut |r| format!("zzqx{}", r.below(1000)))),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn rss_kb(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn encode(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

struct Server {
    child: std::process::Child,
    url: String,
}

async fn start_server(data: &Path) -> (Server, Duration) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    // TANK_SEARCH_BENCH_BIN runs another build of the server against the same corpus (A/B comparisons).
    let bin = std::env::var_os("TANK_SEARCH_BENCH_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_tank-registry").into());
    let child = std::process::Command::new(bin)
        .args(["serve", "--rate-limit", "off", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .env("TANK_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("{url}/api/health")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (Server { child, url }, started.elapsed())
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        return; // `cargo test --all-targets` builds and runs benches in test mode: nothing to do.
    }
    let arg = |k: &str, d: u64| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = arg("--skills", 100_000) as usize;
    let seconds = arg("--seconds", 5);

    // `--data DIR` keeps the corpus and its index in DIR and reuses them on the next run (for profiling);
    // `--only inprocess` or `--only http` runs one half; `--loops N` repeats the in-process queries N times.
    let text_arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let only = text_arg("--only");
    let run = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let loops = arg("--loops", 1).max(1) as usize;
    let dir = tempfile::tempdir().unwrap();
    let keep = text_arg("--data").is_some();
    let data = match text_arg("--data") {
        Some(d) => std::path::PathBuf::from(d),
        None => dir.path().join("data"),
    };
    let reuse = data.join("index").join("meta.json").exists();
    std::fs::create_dir_all(&data).unwrap();
    let config = tank_registry::config::Config::new(&data);
    let t = Instant::now();
    let store = Store::open(&config.db_path(), Durability::Off).unwrap();
    let corpus = build_corpus(&config.db_path(), n, !reuse);
    println!(
        "corpus: {n} skills {} in {:.1} s",
        if reuse {
            "reused (not rewritten)"
        } else {
            "written to SQLite"
        },
        t.elapsed().as_secs_f64()
    );

    let index = if reuse {
        SearchIndex::open_dir(
            &config.index_dir(),
            Some(LiveCache::open(&config.db_path()).unwrap()),
        )
        .unwrap()
    } else {
        let t = Instant::now();
        let index = SearchIndex::create_dir(
            &config.index_dir(),
            Some(LiveCache::open(&config.db_path()).unwrap()),
        )
        .unwrap();
        let count = index.rebuild(&store, &mut |_, _| {}).unwrap();
        let build = t.elapsed();
        let size: u64 = std::fs::read_dir(config.index_dir())
            .unwrap()
            .flatten()
            .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
            .sum();
        println!(
            "index build: {count} documents in {:.1} s; index size {:.0} MB",
            build.as_secs_f64(),
            size as f64 / 1e6
        );
        index
    };

    // As the server does at start-up: stored download totals in memory before the first query.
    let t = Instant::now();
    store.load_download_totals().unwrap();
    println!(
        "download totals loaded in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let queries = query_sets(&corpus);
    let anon = Viewer::anonymous();
    let no_pending = |_: &str| 0i64;
    if run("inprocess") {
        // The first 100 queries of a kind are warm-up, the next 1000 are measured (they cycle over 200
        // distinct queries, so ~100 of them are still seen for the first time). `first sight` is the first
        // run of each of the 200 distinct queries, whose rows, download counts and prefix/fuzzy clause matches
        // are not cached yet.
        println!(
            "\nin-process (search + result rows, anonymous, limit 20), 1000 queries per kind:"
        );
        println!(
            "| kind | p50 ms | p99 ms | mean total | first sight p50 ms | first sight p99 ms |"
        );
        println!("|---|---|---|---|---|---|");
        for (kind, qs) in &queries {
            let mut first = Vec::new();
            let mut lat = Vec::new();
            let mut totals = 0u64;
            for i in 0..100 + 1000 * loops {
                let q = search::parse(&qs[i % qs.len()]);
                let t = Instant::now();
                let page = index.search(&store, &anon, &no_pending, &q, 1, 20).unwrap();
                let ids: Vec<&str> = page.hits.iter().map(|h| &*h.skill_id).collect();
                let rows = index.result_rows(&store, &ids).unwrap();
                let d = t.elapsed();
                assert_eq!(rows.len(), page.hits.len());
                if std::env::var("SLOW").is_ok() && d > Duration::from_millis(5) {
                    println!(
                        "slow {kind} {:?} {:?} total {}",
                        qs[i % qs.len()],
                        d,
                        page.total
                    );
                }
                if i < qs.len() {
                    first.push(d);
                }
                if i >= 100 {
                    lat.push(d);
                    totals += page.total;
                }
            }
            lat.sort();
            first.sort();
            println!(
                "| {kind} | {} | {} | {} | {} | {} |",
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.99)),
                totals / lat.len() as u64,
                ms(percentile(&first, 0.5)),
                ms(percentile(&first, 0.99)),
            );
        }
        let (entries, bytes) = index.clause_cache_usage();
        println!(
            "clause cache after the in-process runs: {entries} entries, {:.1} MB",
            bytes as f64 / 1e6
        );
    }
    drop(index);
    drop(store);
    if !run("http") {
        return;
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (server, startup) = start_server(&data).await;
        println!("\nserver start-up with an up-to-date index: {:.2} s", startup.as_secs_f64());
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(32)
            .build()
            .unwrap();
        println!("\nHTTP loopback, keep-alive, sequential, 300 queries per kind:");
        println!("| kind | p50 ms | p99 ms |");
        println!("|---|---|---|");
        let mut all_urls = Vec::new();
        for (kind, qs) in &queries {
            let urls: Vec<String> = qs
                .iter()
                .map(|q| format!("{}/api/v1/search?q={}", server.url, encode(q)))
                .collect();
            let mut lat = Vec::new();
            for i in 0..330 {
                let t = Instant::now();
                let r = client.get(&urls[i % urls.len()]).send().await.unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap();
                if i >= 30 {
                    lat.push(t.elapsed());
                }
            }
            lat.sort();
            println!("| {kind} | {} | {} |", ms(percentile(&lat, 0.5)), ms(percentile(&lat, 0.99)));
            all_urls.extend(urls);
        }
        let all_urls = Arc::new(all_urls);
        println!("\nHTTP throughput, all kinds mixed, {seconds} s per run:");
        println!("| clients | searches/s | p50 ms | p99 ms |");
        println!("|---|---|---|---|");
        for clients in [4usize, 16] {
            let stop = Arc::new(AtomicBool::new(false));
            let done = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for c in 0..clients {
                let (client, urls, stop, done) = (client.clone(), all_urls.clone(), stop.clone(), done.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut i = c * 97;
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        let r = client.get(&urls[i % urls.len()]).send().await.unwrap();
                        assert!(r.status().is_success());
                        r.bytes().await.unwrap();
                        lat.push(t.elapsed());
                        done.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                    }
                    lat
                }));
            }
            let t = Instant::now();
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            stop.store(true, Ordering::Relaxed);
            let mut lat = Vec::new();
            for task in tasks {
                lat.extend(task.await.unwrap());
            }
            let rate = done.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
            lat.sort();
            println!(
                "| {clients} | {rate:.0} | {} | {} |",
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.99))
            );
        }
        let (rss, hwm) = rss_kb(server.child.id());
        println!("\nserver RSS after the load: {} MB (peak {} MB)", rss / 1024, hwm / 1024);
        drop(server);

        if keep {
            return; // `--data DIR`: the index stays for the next run.
        }
        std::fs::remove_dir_all(config.index_dir()).unwrap();
        let (server, startup) = start_server(&data).await;
        let (rss, hwm) = rss_kb(server.child.id());
        println!(
            "server start-up with the index deleted (rebuild before listening): {:.1} s; RSS {} MB (peak {} MB)",
            startup.as_secs_f64(),
            rss / 1024,
            hwm / 1024
        );
        drop(server);
    });
}
