//! The tantivy index: opening and start-up reconciliation (SPEC §4.4 item 5), the single writer behind a
//! mutex that applies skills with `index_seq > N` and commits N in the payload (§4.4 step 3), full
//! rebuilds (§9.5), and the current snapshot that searches read. Ranking lives in `rank.rs`.

use super::schema::{Fields, SCHEMA_VERSION, build_schema, register_tokenizers, to_document};
use crate::store::{IndexDoc, LiveCache, Store, StoreError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tantivy::index::SegmentId;
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, SegmentReader, Term,
};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("search index: {0}")]
    Io(String),
    #[error("search index: {0}")]
    Unusable(String),
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;

/// Documents read from SQLite per batch while catching up.
const CATCH_UP_BATCH: usize = 2000;
/// Writer memory (split over its threads; tantivy needs at least 15 MB per thread).
const WRITER_MEMORY: usize = 64_000_000;

/// Commit payload: the schema version and N (SPEC §4.4 step 3).
#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    schema: u32,
    seq: i64,
}

/// What start-up found (logged; tests and `reindex` look at it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// An existing index, caught up from its N.
    Existing,
    /// Missing, unreadable, of an unknown schema, or holding other skills than SQLite once caught up:
    /// rebuilt from SQLite (the reason).
    Rebuilt(String),
}

/// Per-document data every search needs, read once per segment from fast fields (segments are immutable).
pub(crate) struct DocMeta {
    pub id: Arc<str>,
    pub name: Arc<str>,
    pub updated_at: i64,
}

pub(crate) struct SegmentDocs {
    pub segment_id: SegmentId,
    pub docs: Vec<DocMeta>,
    pub by_id: HashMap<Arc<str>, DocId>,
}

/// A searcher with the per-segment document data, indexed by segment ordinal.
pub(crate) struct Snapshot {
    pub searcher: Searcher,
    pub segments: Vec<Arc<SegmentDocs>>,
}

pub struct SearchIndex {
    pub(crate) fields: Fields,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    snapshot: RwLock<Arc<Snapshot>>,
    /// N: every skill with `index_seq ≤ N` is indexed in its current state.
    committed: tokio::sync::watch::Sender<i64>,
    /// Wakes the index-writer task after a publication (SPEC §4.4 step 3).
    signal: tokio::sync::Notify,
    pub(crate) live: Option<LiveCache>,
    pub(crate) mask: Mutex<Option<super::rank::PrivateMask>>,
    pub(crate) downloads: Mutex<Option<super::rank::DownloadCache>>,
    /// The per-segment matches of prefix and fuzzy clauses (`automata.rs`).
    pub(crate) clauses: Arc<super::automata::ClauseCache>,
    dir: Option<PathBuf>,
}

fn io(e: impl std::fmt::Display) -> SearchError {
    SearchError::Io(e.to_string())
}

fn payload_of(index: &Index) -> Result<Payload> {
    let meta = index.load_metas()?;
    match meta.payload {
        // A fresh index that never committed: empty, N = 0.
        None if meta.segments.is_empty() => Ok(Payload {
            schema: SCHEMA_VERSION,
            seq: 0,
        }),
        None => Err(SearchError::Unusable("no commit payload".into())),
        Some(p) => serde_json::from_str(&p)
            .map_err(|e| SearchError::Unusable(format!("unreadable commit payload: {e}"))),
    }
}

/// Opens an existing on-disk index and checks that it is ours and current: schema and payload.
fn open_existing(dir: &Path) -> Result<(Index, i64)> {
    if !dir.join("meta.json").exists() {
        return Err(SearchError::Unusable("missing".into()));
    }
    let index = Index::open_in_dir(dir)?;
    let (expected, _) = build_schema();
    if index.schema() != expected {
        return Err(SearchError::Unusable("unknown schema".into()));
    }
    let p = payload_of(&index)?;
    if p.schema != SCHEMA_VERSION {
        return Err(SearchError::Unusable(format!(
            "unknown schema version {}",
            p.schema
        )));
    }
    register_tokenizers(&index);
    Ok((index, p.seq))
}

impl SearchIndex {
    /// (entries, bytes) of the cache of prefix and fuzzy clause matches.
    pub fn clause_cache_usage(&self) -> (usize, usize) {
        self.clauses.usage()
    }

    fn from_index(
        index: Index,
        seq: i64,
        live: Option<LiveCache>,
        dir: Option<PathBuf>,
    ) -> Result<SearchIndex> {
        let (_, fields) = build_schema();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get().min(2))
            .unwrap_or(1);
        let writer = index.writer_with_num_threads(threads, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let snapshot = build_snapshot(&reader, &[])?;
        warm_up();
        Ok(SearchIndex {
            fields,
            writer: Mutex::new(writer),
            reader,
            snapshot: RwLock::new(Arc::new(snapshot)),
            committed: tokio::sync::watch::Sender::new(seq),
            signal: tokio::sync::Notify::new(),
            live,
            mask: Mutex::new(None),
            downloads: Mutex::new(None),
            clauses: Arc::new(super::automata::ClauseCache::new(
                super::automata::DEFAULT_CACHE_BYTES,
            )),
            dir,
        })
    }

    /// An index held in memory (for ephemeral instances, SPEC §11): always built from SQLite.
    pub fn open_in_ram(live: Option<LiveCache>) -> Result<SearchIndex> {
        let (schema, _) = build_schema();
        let index = Index::create_in_ram(schema);
        register_tokenizers(&index);
        SearchIndex::from_index(index, 0, live, None)
    }

    /// Opens `dir` as it is, without reconciling: an error when it is missing, unreadable or of another
    /// schema. Used by start-up and by `reindex`.
    pub fn open_dir(dir: &Path, live: Option<LiveCache>) -> Result<SearchIndex> {
        let (index, seq) = open_existing(dir)?;
        SearchIndex::from_index(index, seq, live, Some(dir.to_path_buf()))
    }

    /// Creates an empty index in `dir`, replacing whatever is there.
    pub fn create_dir(dir: &Path, live: Option<LiveCache>) -> Result<SearchIndex> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(io)?;
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let (schema, _) = build_schema();
        let index = Index::create_in_dir(dir, schema)?;
        register_tokenizers(&index);
        SearchIndex::from_index(index, 0, live, Some(dir.to_path_buf()))
    }

    /// Start-up reconciliation (SPEC §4.4 item 5): a missing, unreadable or unknown-schema index is rebuilt
    /// from SQLite; otherwise it is brought up to date from its N. Both finish before the caller serves.
    pub fn open_reconciled(
        dir: &Path,
        store: &Store,
        live: Option<LiveCache>,
    ) -> Result<(SearchIndex, Opened)> {
        match SearchIndex::open_dir(dir, None) {
            Ok(mut idx) => {
                idx.live = live;
                idx.catch_up(store)?;
                // Caught up, it must hold exactly the published skills. If it does not (a crash at a bad
                // moment, a file changed behind our back), it is rebuilt rather than served wrong.
                let problems = differences(
                    &live_ids(&idx.snapshot().searcher)?,
                    &store.searchable_ids()?,
                );
                if problems.is_empty() {
                    return Ok((idx, Opened::Existing));
                }
                idx.rebuild(store, &mut |_, _| {})?;
                Ok((
                    idx,
                    Opened::Rebuilt(format!(
                        "it differed from the database: {}",
                        problems.join("; ")
                    )),
                ))
            }
            Err(e) => {
                let reason = e.to_string();
                let idx = SearchIndex::create_dir(dir, live)?;
                idx.rebuild(store, &mut |_, _| {})?;
                Ok((idx, Opened::Rebuilt(reason)))
            }
        }
    }

    /// The index directory (None in memory).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// N of the last commit.
    pub fn committed_seq(&self) -> i64 {
        *self.committed.borrow()
    }

    /// Number of live documents in the current snapshot.
    pub fn num_docs(&self) -> u64 {
        self.snapshot().searcher.num_docs()
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Wakes the index-writer task.
    pub fn signal(&self) {
        self.signal.notify_one();
    }

    pub(crate) async fn signalled(&self) {
        self.signal.notified().await
    }

    /// Waits until N ≥ `seq`, at most `timeout`; false on timeout (SPEC §4.4 step 3: confirm waits 2 s).
    pub async fn wait_for(&self, seq: i64, timeout: Duration) -> bool {
        let mut rx = self.committed.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n >= seq))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, w: &IndexWriter, doc: &IndexDoc) -> Result<()> {
        w.delete_term(Term::from_field_text(self.fields.id, &doc.id));
        w.add_document(to_document(&self.fields, doc))?;
        Ok(())
    }

    /// Commits with N = `seq`, reloads the reader and publishes N.
    fn commit(&self, w: &mut IndexWriter, seq: i64) -> Result<()> {
        let payload = serde_json::to_string(&Payload {
            schema: SCHEMA_VERSION,
            seq,
        })
        .map_err(io)?;
        let mut prepared = w.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.refresh()?;
        self.committed.send_replace(seq);
        Ok(())
    }

    /// Reloads the reader and swaps in a new snapshot, reusing the data of unchanged segments.
    pub fn refresh(&self) -> Result<()> {
        self.reader.reload()?;
        let old = self.snapshot();
        if old.searcher.generation().generation_id()
            == self.reader.searcher().generation().generation_id()
        {
            return Ok(());
        }
        let snap = build_snapshot(&self.reader, &old.segments)?;
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snap);
        Ok(())
    }

    /// Applies every skill with `index_seq > N` and commits the highest `index_seq` read (SPEC §4.4 step 3).
    /// Returns the number of documents written.
    pub fn catch_up(&self, store: &Store) -> Result<usize> {
        let mut w = self.writer();
        let start = self.committed_seq();
        let mut n = start;
        let mut written = 0;
        loop {
            let docs = store.skills_to_index(n, CATCH_UP_BATCH)?;
            for d in &docs {
                if let Err(e) = self.add(&w, d) {
                    let _ = w.rollback();
                    return Err(e);
                }
                n = n.max(d.index_seq);
            }
            written += docs.len();
            if docs.len() < CATCH_UP_BATCH {
                break;
            }
        }
        if n > start {
            if let Err(e) = self.commit(&mut w, n) {
                let _ = w.rollback();
                return Err(e);
            }
        }
        Ok(written)
    }

    /// Replaces every document with the searchable skills of SQLite in one commit; searches see the old
    /// index until it lands. `progress(done, total)` is called as documents are added. Returns the count.
    pub fn rebuild(&self, store: &Store, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        let mut w = self.writer();
        let total = std::cell::Cell::new(0u64);
        let max_seq = std::cell::Cell::new(0i64);
        let mut done = 0u64;
        let out = (|| -> Result<()> {
            w.delete_all_documents()?;
            store.for_each_searchable(
                |count, max| -> Result<()> {
                    total.set(count.max(0) as u64);
                    max_seq.set(max);
                    Ok(())
                },
                |doc| -> Result<()> {
                    w.add_document(to_document(&self.fields, &doc))?;
                    done += 1;
                    if done % 1000 == 0 {
                        progress(done, total.get());
                    }
                    Ok(())
                },
            )?;
            self.commit(&mut w, max_seq.get())
        })();
        if let Err(e) = out {
            let _ = w.rollback();
            return Err(e);
        }
        // One segment instead of one per writer flush: every query term (and every fuzzy or prefix
        // automaton) is looked up once per segment. The merge keeps the commit payload; if it fails the
        // committed index is still complete, only slower.
        let merged = w
            .index()
            .searchable_segment_ids()
            .map_err(SearchError::from)
            .and_then(|ids| {
                if ids.len() > 1 {
                    w.merge(&ids).wait()?;
                    self.refresh()?;
                }
                Ok(())
            });
        if let Err(e) = merged {
            tracing::warn!(error = %e, "search index: merging segments after the rebuild failed");
        }
        let total = total.get();
        progress(done, total);
        Ok(done)
    }
}

/// Builds the Levenshtein automata builders once (distance 2 takes a noticeable moment).
fn warm_up() {
    use tantivy::query::FuzzyTermQuery;
    use tantivy::schema::Field;
    for d in 0..=2u8 {
        let t = Term::from_field_text(Field::from_field_id(0), "warmup");
        let _ = FuzzyTermQuery::new(t.clone(), d, true).automaton();
        let _ = FuzzyTermQuery::new_prefix(t, d, true).automaton();
    }
}

fn segment_docs(reader: &SegmentReader) -> Result<SegmentDocs> {
    let ff = reader.fast_fields();
    let missing = |f: &str| SearchError::Unusable(format!("fast field {f} missing"));
    let ids = ff.str("id")?.ok_or_else(|| missing("id"))?;
    let names = ff.str("name")?.ok_or_else(|| missing("name"))?;
    let updated = ff.i64("updated_at")?;
    let terms = |col: &tantivy::columnar::StrColumn| -> Result<Vec<Arc<str>>> {
        let mut out = Vec::with_capacity(col.num_terms());
        let mut s = col.dictionary().stream().map_err(io)?;
        while s.advance() {
            out.push(Arc::from(String::from_utf8_lossy(s.key()).as_ref()));
        }
        Ok(out)
    };
    let id_terms = terms(&ids)?;
    let name_terms = terms(&names)?;
    let empty: Arc<str> = Arc::from("");
    let max = reader.max_doc();
    let mut docs = Vec::with_capacity(max as usize);
    let mut by_id = HashMap::with_capacity(max as usize);
    for doc in 0..max {
        let term = |col: &tantivy::columnar::StrColumn, terms: &[Arc<str>]| {
            col.term_ords(doc)
                .next()
                .and_then(|o| terms.get(o as usize).cloned())
                .unwrap_or_else(|| empty.clone())
        };
        let id = term(&ids, &id_terms);
        let name = term(&names, &name_terms);
        by_id.insert(id.clone(), doc);
        docs.push(DocMeta {
            id,
            name,
            updated_at: updated.first(doc).unwrap_or(0),
        });
    }
    Ok(SegmentDocs {
        segment_id: reader.segment_id(),
        docs,
        by_id,
    })
}

fn build_snapshot(reader: &IndexReader, previous: &[Arc<SegmentDocs>]) -> Result<Snapshot> {
    let searcher = reader.searcher();
    let mut segments = Vec::with_capacity(searcher.segment_readers().len());
    for sr in searcher.segment_readers() {
        let reuse = previous
            .iter()
            .find(|p| p.segment_id == sr.segment_id())
            .cloned();
        segments.push(match reuse {
            Some(p) => p,
            None => Arc::new(segment_docs(sr)?),
        });
    }
    Ok(Snapshot { searcher, segments })
}

/// Problem lines `check` prints at most per kind of difference.
const CHECK_LINES: usize = 10;

/// Opens the index in `dir` read-only and compares its live documents with `expected` (skill id → name, every
/// skill with a published version): one document per skill, none for anything else. Problem lines, naming
/// the skills that differ.
pub(crate) fn check_dir(dir: &Path, expected: &HashMap<String, String>) -> Vec<String> {
    if !dir.join("meta.json").exists() && expected.is_empty() {
        // Never served yet and nothing to index: the server creates it at start.
        return Vec::new();
    }
    let counted = open_existing(dir).and_then(|(index, _)| {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        live_ids(&reader.searcher())
    });
    let held = match counted {
        Ok(held) => held,
        Err(e) => {
            return vec![format!(
                "index cannot be opened ({e}), expected {} documents",
                expected.len()
            )];
        }
    };
    differences(&held, expected)
}

/// What differs between the live documents per id of an index and the skills it should hold.
fn differences(held: &HashMap<String, u64>, expected: &HashMap<String, String>) -> Vec<String> {
    let total: u64 = held.values().sum();
    let mut problems = Vec::new();
    if total != expected.len() as u64 {
        problems.push(format!(
            "index has {total} documents, expected {}",
            expected.len()
        ));
    }
    let mut twice: Vec<String> = held
        .iter()
        .filter(|(id, n)| **n > 1 && expected.contains_key(id.as_str()))
        .map(|(id, n)| format!("index holds {} ({id}) {n} times", expected[id.as_str()]))
        .collect();
    let mut stray: Vec<String> = held
        .keys()
        .filter(|id| !expected.contains_key(id.as_str()))
        .map(|id| format!("index holds {id}, which has no published version"))
        .collect();
    let mut missing: Vec<String> = expected
        .iter()
        .filter(|(id, _)| !held.contains_key(id.as_str()))
        .map(|(id, name)| format!("index lacks {name} ({id})"))
        .collect();
    for list in [&mut twice, &mut stray, &mut missing] {
        list.sort();
        let more = list.len().saturating_sub(CHECK_LINES);
        list.truncate(CHECK_LINES);
        if more > 0 {
            list.push(format!("… and {more} more like the line above"));
        }
        problems.append(list);
    }
    problems
}

/// Live documents per skill id across the segments of `searcher`.
fn live_ids(searcher: &Searcher) -> Result<HashMap<String, u64>> {
    let mut held: HashMap<String, u64> = HashMap::new();
    for reader in searcher.segment_readers() {
        let ids = reader
            .fast_fields()
            .str("id")?
            .ok_or_else(|| SearchError::Unusable("fast field id missing".into()))?;
        let mut term = String::new();
        for doc in reader.doc_ids_alive() {
            term.clear();
            if let Some(ord) = ids.term_ords(doc).next() {
                ids.ord_to_str(ord, &mut term).map_err(io)?;
            }
            *held.entry(term.clone()).or_default() += 1;
        }
    }
    Ok(held)
}
