//! Keeping the index current: the index-writer task of the server (SPEC §4.4 step 3: signalled after each
//! publication and every 5 s; it also serves `reindex` requests left in the database), the `reindex`
//! command (SPEC §9.5) and the index part of `check`.

use super::index::{SearchIndex, check_dir};
use crate::admin::AdminError;
use crate::config::Config;
use crate::store::Store;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the writer looks for work it was not signalled about (admin commands, reindex requests).
const WRITER_PERIOD: Duration = Duration::from_secs(5);
/// How long `reindex` waits for a running server to complete its request (SPEC §9.5).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// One pass of the writer: a pending reindex request first, then the skills above N.
fn writer_pass(index: &SearchIndex, store: &Store) -> Result<(), super::SearchError> {
    if let Some(request) = store.pending_reindex()? {
        tracing::info!("reindex requested: rebuilding the search index");
        let mut progress = Progress::new(false);
        let n = index.rebuild(store, &mut |d, t| progress.update(d, t))?;
        store.complete_reindex(&request, n as i64)?;
        tracing::info!(documents = n, "search index rebuilt");
    }
    index.catch_up(store)?;
    // Merges finished in the background are picked up here.
    index.refresh()?;
    Ok(())
}

/// The index-writer task: runs until aborted.
pub async fn run_writer(index: Arc<SearchIndex>, store: Arc<Store>) {
    let mut tick = tokio::time::interval(WRITER_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = index.signalled() => {}
        }
        let (i, s) = (index.clone(), store.clone());
        match tokio::task::spawn_blocking(move || writer_pass(&i, &s)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "search index update failed"),
            Err(e) => tracing::error!(error = %e, "search index writer panicked"),
        }
    }
}

/// A progress bar on a terminal, a log line every 5 s otherwise.
struct Progress {
    tty: bool,
    last: Option<Instant>,
}

impl Progress {
    fn new(interactive: bool) -> Progress {
        Progress {
            tty: interactive && std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn update(&mut self, done: u64, total: u64) {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if self.tty {
            let filled = (pct / 4) as usize;
            eprint!(
                "\rindexing [{}{}] {pct:>3}% {done}/{total}",
                "#".repeat(filled),
                " ".repeat(25 - filled)
            );
            let _ = std::io::stderr().flush();
            if done == total {
                eprintln!();
            }
        } else if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
            || done == total
        {
            if self.last.is_some() || done == total {
                tracing::info!("indexed {done} of {total} skills ({pct}%)");
            }
            self.last = Some(Instant::now());
        }
    }
}

/// `tank-registry reindex` (SPEC §9.5): rebuilds `index/` itself while holding `serve.lock`, or asks the
/// running server to and waits for it. Prints `indexed <n> skills`.
pub fn reindex(config: &Config) -> Result<String, AdminError> {
    if !config.db_path().exists() {
        return Err(AdminError::op(format!(
            "no database in {}",
            config.data_dir.display()
        )));
    }
    match crate::server::DataDir::open(config) {
        Ok(data) => {
            let index = SearchIndex::create_dir(&config.index_dir(), None)
                .map_err(|e| AdminError::op(e.to_string()))?;
            let mut progress = Progress::new(true);
            let n = index
                .rebuild(&data.store, &mut |d, t| progress.update(d, t))
                .map_err(|e| AdminError::op(e.to_string()))?;
            // The index (and its writer lock) goes before serve.lock is released.
            drop(index);
            drop(data);
            Ok(format!("indexed {n} skills\n"))
        }
        Err(crate::server::StartError::Locked(_)) => {
            let store = crate::admin::open_store(config)?;
            let id = store.request_reindex()?;
            eprintln!("a server is running: asked it to rebuild the index");
            let started = Instant::now();
            while started.elapsed() < REQUEST_TIMEOUT {
                if let Some(n) = store.reindex_result(&id)? {
                    return Ok(format!("indexed {n} skills\n"));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(AdminError::op(format!(
                "the server did not complete the reindex within {} s",
                REQUEST_TIMEOUT.as_secs()
            )))
        }
        Err(e) => Err(AdminError::op(e.to_string())),
    }
}

/// The index part of `check` (SPEC §9.5): it opens and holds one document per skill with a published
/// version. Returns problem lines.
pub fn check_index(config: &Config, store: &Store) -> Result<Vec<String>, AdminError> {
    let expected = store.searchable_ids()?;
    Ok(check_dir(&config.index_dir(), &expected))
}

/// Start-up reconciliation for `serve` (SPEC §4.4 item 5), off the async threads. Logs what it found.
pub async fn open_for_server(
    config: &Config,
    store: Arc<Store>,
) -> Result<Arc<SearchIndex>, super::SearchError> {
    let dir = config.index_dir();
    let db = config.db_path();
    tokio::task::spawn_blocking(move || {
        let live = crate::store::LiveCache::open(&db)?;
        let started = Instant::now();
        let (index, opened) = SearchIndex::open_reconciled(&dir, &store, Some(live))?;
        // Stored download totals in memory before the first query (ranking ties on them, SPEC §7).
        let t = Instant::now();
        store.load_download_totals()?;
        tracing::info!(
            elapsed_ms = t.elapsed().as_millis() as u64,
            "download totals loaded"
        );
        match opened {
            super::Opened::Existing => {
                tracing::info!(documents = index.num_docs(), "search index up to date")
            }
            super::Opened::Rebuilt(reason) => tracing::warn!(
                documents = index.num_docs(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "search index rebuilt from the database ({reason})"
            ),
        }
        Ok(Arc::new(index))
    })
    .await
    .map_err(|e| super::SearchError::Io(e.to_string()))?
}
