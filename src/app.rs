//! Application state shared by every handler: configuration, store, blobs, the per-version publish locks
//! (SPEC §4.3), batched download counts (SPEC §3.10), the scan pool (SPEC §8.1) and the rate-limit buckets
//! (SPEC §2.9).

use crate::blobs::LocalBlobs;
use crate::config::Config;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub type AppState = Arc<App>;

pub struct App {
    pub config: Config,
    /// Resolved public URL without a trailing `/` (SPEC §2.1).
    pub public_url: String,
    pub store: Arc<Store>,
    pub blobs: Arc<LocalBlobs>,
    pub secret: Vec<u8>,
    pub locks: Arc<VersionLocks>,
    pub downloads: Downloads,
    pub scans: ScanPool,
    /// The one-time first-run setup token, while no user exists (SPEC §9.2 step 5); new on every start.
    pub setup_token: Option<String>,
    pub throttle: crate::web::LoginThrottle,
    /// The search index (SPEC §7) and its writer.
    pub search: Arc<crate::search::SearchIndex>,
    /// Rate-limit buckets (SPEC §2.9); `http::limit` decides what is counted.
    pub limiter: crate::ratelimit::Limiter,
    /// Counters of `GET /metrics` (SPEC §3.22).
    pub metrics: crate::metrics::Metrics,
}

/// In-process locks per (skill, version without build metadata), SPEC §4.3. Entries are dropped when no
/// one holds or waits for them.
#[derive(Default)]
pub struct VersionLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl VersionLocks {
    /// Locks (skill name, version key). Names map 1:1 to skill ids, and a name also works before the skill row
    /// exists (publish start).
    pub async fn lock(self: &Arc<Self>, skill_name: &str, version_key: &str) -> LockGuard {
        let key = format!("{skill_name}\n{version_key}");
        let m = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let guard = m.lock_owned().await;
        LockGuard {
            guard: Some(guard),
            key,
            locks: self.clone(),
        }
    }
}

pub struct LockGuard {
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    key: String,
    locks: Arc<VersionLocks>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = map.get(&self.key) {
            // Only the map holds it: nobody waits, so the entry can go.
            if Arc::strong_count(m) == 1 {
                map.remove(&self.key);
            }
        }
    }
}

/// Download increments accumulated in memory and flushed to SQLite at least once per second.
#[derive(Default)]
pub struct Downloads {
    pending: Mutex<HashMap<String, (String, i64)>>,
}

impl Downloads {
    pub fn add(&self, version_id: &str, skill_id: &str) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.entry(version_id.to_string())
            .or_insert_with(|| (skill_id.to_string(), 0))
            .1 += 1;
    }

    /// Unflushed increments of one version.
    pub fn pending_for_version(&self, version_id: &str) -> i64 {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.get(version_id).map(|v| v.1).unwrap_or(0)
    }

    /// Unflushed increments per skill, summed over its versions (one pass; a search looks up many skills).
    pub fn pending_by_skill(&self) -> HashMap<String, i64> {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: HashMap<String, i64> = HashMap::new();
        for (s, n) in p.values() {
            *out.entry(s.clone()).or_insert(0) += n;
        }
        out
    }

    /// Unflushed increments of all versions of a skill.
    pub fn pending_for_skill(&self, skill_id: &str) -> i64 {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.values()
            .filter(|(s, _)| s == skill_id)
            .map(|(_, n)| n)
            .sum()
    }

    /// Writes the pending increments in one transaction; on failure they are put back.
    pub fn flush(&self, store: &Store) -> crate::store::Result<()> {
        // Readers add pending to stored values; holding the lock from the take across the write (and the
        // store's update of its in-memory totals) keeps them from counting an increment twice or not at all.
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let batch: HashMap<String, (String, i64)> = std::mem::take(&mut *p);
        if batch.is_empty() {
            return Ok(());
        }
        let counts: HashMap<String, i64> =
            batch.iter().map(|(k, (_, n))| (k.clone(), *n)).collect();
        match store.add_downloads(&counts) {
            Ok(()) => Ok(()),
            Err(e) => {
                for (k, (s, n)) in batch {
                    p.entry(k).or_insert_with(|| (s, 0)).1 += n;
                }
                Err(e)
            }
        }
    }
}

/// A bounded pool of scan slots: `workers` scans run at once and at most `2 × workers` wait (SPEC §8.1).
pub struct ScanPool {
    running: Arc<Semaphore>,
    queued: Arc<Semaphore>,
}

#[derive(Debug)]
pub struct ScanBusy;

impl ScanPool {
    pub fn new(workers: usize) -> ScanPool {
        ScanPool {
            running: Arc::new(Semaphore::new(workers)),
            queued: Arc::new(Semaphore::new(workers * 3)),
        }
    }

    /// A permit to run one scan, or `ScanBusy` when the queue is full or the wait exceeds 3 s.
    pub async fn acquire(&self, wait: bool) -> Result<OwnedSemaphorePermit, ScanBusy> {
        let _queued = if wait {
            self.queued
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| ScanBusy)?
        } else {
            self.queued
                .clone()
                .try_acquire_owned()
                .map_err(|_| ScanBusy)?
        };
        if wait {
            return self
                .running
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| ScanBusy);
        }
        tokio::time::timeout(Duration::from_secs(3), self.running.clone().acquire_owned())
            .await
            .map_err(|_| ScanBusy)?
            .map_err(|_| ScanBusy)
    }
}
