//! The prefix and fuzzy clauses of a search term (SPEC §7), with the documents they match kept per segment.
//!
//! Such a clause streams every term of a field's dictionary through a DFA and reads the postings of each
//! accepted term: for a short prefix or a distance-2 typo that is thousands of postings lists, and with the
//! DFA build it was the largest item of a search's CPU time (docs/BENCHMARKS.md, "Search: clause cache").
//! Its result depends on nothing but the segment, the field and the clause, and segments never change (a
//! document deleted later is filtered by the segment's alive bit set when the search collects), so it is
//! kept, keyed by segment id, in a cache bounded in bytes and evicted least recently used. A new segment has
//! a new id: a publication is never answered from an older segment's entry.

use lru::LruCache;
use std::sync::{Arc, Mutex, OnceLock};
use tantivy::query::{
    AutomatonWeight, BitSetDocSet, ConstScorer, DfaWrapper, EnableScoring, Explanation,
    FuzzyTermQuery, Query, Scorer, Weight,
};
use tantivy::schema::Field;
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

/// Default bound of the cache: at 100,000 documents a dense entry takes 12.5 KB, a sparse one 4 bytes per
/// matching document.
pub const DEFAULT_CACHE_BYTES: usize = 32 << 20;

/// What a clause accepts: a term within `distance` edits (a transposition counting one) of `text`, or, as a
/// prefix clause, a term that `text` begins within that distance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Clause {
    text: String,
    distance: u8,
    prefix: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    segment: tantivy::index::SegmentId,
    field: Field,
    clause: Clause,
}

/// The matching documents of one clause in one segment: sorted ids when that is smaller than a bit per
/// document of the segment.
enum Docs {
    Sparse(Arc<[DocId]>),
    Dense(BitSet),
}

/// A cached sparse entry as a doc set, without copying it.
struct SortedDocs {
    ids: Arc<[DocId]>,
    cursor: usize,
}

impl DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        self.cursor = (self.cursor + 1).min(self.ids.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let rest = &self.ids[self.cursor..];
        self.cursor += rest.partition_point(|d| *d < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.ids.get(self.cursor).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        (self.ids.len() - self.cursor) as u32
    }
}

impl Docs {
    fn bytes(&self) -> usize {
        match self {
            Docs::Sparse(v) => v.len() * 4,
            Docs::Dense(b) => (b.max_value() as usize).div_ceil(64) * 8,
        }
    }

    fn scorer(&self, boost: Score) -> Box<dyn Scorer> {
        match self {
            Docs::Sparse(ids) => Box::new(ConstScorer::new(
                SortedDocs {
                    ids: ids.clone(),
                    cursor: 0,
                },
                boost,
            )),
            Docs::Dense(b) => Box::new(ConstScorer::new(BitSetDocSet::from(b.clone()), boost)),
        }
    }

    fn collect(mut scorer: Box<dyn Scorer>, max_doc: DocId) -> Docs {
        let mut ids = Vec::new();
        let mut doc = scorer.doc();
        while doc != TERMINATED {
            ids.push(doc);
            doc = scorer.advance();
        }
        if ids.len() * 4 <= (max_doc as usize).div_ceil(64) * 8 {
            return Docs::Sparse(ids.into());
        }
        let mut bits = BitSet::with_max_value(max_doc);
        for d in ids {
            bits.insert(d);
        }
        Docs::Dense(bits)
    }
}

/// What an entry costs besides its documents: the key, the list node and the allocation headers. Counted so
/// that entries matching nothing (any query of random letters) still fill the bound.
const ENTRY_OVERHEAD: usize = 128;

struct Entries {
    /// Each entry with its cost in bytes.
    lru: LruCache<Key, (Arc<Docs>, usize)>,
    bytes: usize,
}

/// The per-segment matches of prefix and fuzzy clauses, at most `limit` bytes of them.
pub struct ClauseCache {
    entries: Mutex<Entries>,
    limit: usize,
}

impl ClauseCache {
    pub fn new(limit: usize) -> ClauseCache {
        ClauseCache {
            entries: Mutex::new(Entries {
                lru: LruCache::unbounded(),
                bytes: 0,
            }),
            limit,
        }
    }

    fn get(&self, key: &Key) -> Option<Arc<Docs>> {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.lru.get(key).map(|(docs, _)| docs.clone())
    }

    fn put(&self, key: Key, docs: Arc<Docs>) {
        let cost = ENTRY_OVERHEAD + key.clause.text.len() + docs.bytes();
        if cost > self.limit {
            return;
        }
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, old)) = e.lru.put(key, (docs, cost)) {
            e.bytes -= old;
        }
        e.bytes += cost;
        while e.bytes > self.limit {
            match e.lru.pop_lru() {
                Some((_, (_, old))) => e.bytes -= old,
                None => break,
            }
        }
    }

    /// (entries, bytes) held.
    pub fn usage(&self) -> (usize, usize) {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        (e.lru.len(), e.bytes)
    }
}

/// One clause and its DFA, built on the first cache miss only and then shared by every field the clause
/// runs on (a distance-2 DFA costs more to build than to run over a term dictionary).
pub(super) struct Shared {
    clause: Clause,
    dfa: OnceLock<Option<Arc<DfaWrapper>>>,
}

impl Shared {
    pub(super) fn new(text: &str, distance: u8, prefix: bool) -> Arc<Shared> {
        Arc::new(Shared {
            clause: Clause {
                text: text.to_string(),
                distance,
                prefix,
            },
            dfa: OnceLock::new(),
        })
    }

    /// None when the term cannot have an automaton (tantivy refuses distances above 2): matches nothing.
    fn dfa(&self, field: Field) -> Option<Arc<DfaWrapper>> {
        self.dfa
            .get_or_init(|| {
                let c = &self.clause;
                let term = Term::from_field_text(field, &c.text);
                let q = if c.prefix {
                    FuzzyTermQuery::new_prefix(term, c.distance, true)
                } else {
                    FuzzyTermQuery::new(term, c.distance, true)
                };
                q.automaton().ok().map(Arc::new)
            })
            .clone()
    }
}

/// A prefix or fuzzy clause on one field. Matches and scores as tantivy's `FuzzyTermQuery` does: a constant
/// score (the boost) per matching document.
#[derive(Clone)]
pub(super) struct CachedClause {
    pub(super) field: Field,
    pub(super) shared: Arc<Shared>,
    pub(super) cache: Arc<ClauseCache>,
}

impl std::fmt::Debug for CachedClause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedClause")
            .field("field", &self.field)
            .field("clause", &self.shared.clause)
            .finish_non_exhaustive()
    }
}

impl Query for CachedClause {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl CachedClause {
    fn docs(&self, reader: &SegmentReader) -> tantivy::Result<Option<Arc<Docs>>> {
        let key = Key {
            segment: reader.segment_id(),
            field: self.field,
            clause: self.shared.clause.clone(),
        };
        if let Some(docs) = self.cache.get(&key) {
            return Ok(Some(docs));
        }
        let Some(dfa) = self.shared.dfa(self.field) else {
            return Ok(None);
        };
        let scorer = AutomatonWeight::<DfaWrapper>::new(self.field, dfa).scorer(reader, 1.0)?;
        let docs = Arc::new(Docs::collect(scorer, reader.max_doc()));
        self.cache.put(key, docs.clone());
        Ok(Some(docs))
    }
}

impl Weight for CachedClause {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(match self.docs(reader)? {
            Some(docs) => docs.scorer(boost),
            None => Box::new(ConstScorer::new(
                SortedDocs {
                    ids: Arc::new([]),
                    cursor: 0,
                },
                boost,
            )),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) == doc {
            Ok(Explanation::new("CachedClause", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(
                "Document does not exist".to_string(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::DocSetCollector;
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{Index, IndexWriter, TantivyDocument};

    /// An in-memory index of `field` over the given texts, one segment per chunk (so that segment ids differ).
    fn index(chunks: &[&[&str]]) -> (Index, Field) {
        let mut b = Schema::builder();
        let field = b.add_text_field("t", TEXT);
        let index = Index::create_in_ram(b.build());
        let mut w: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for chunk in chunks {
            for text in *chunk {
                let mut d = TantivyDocument::default();
                d.add_text(field, text);
                w.add_document(d).unwrap();
            }
            w.commit().unwrap();
        }
        (index, field)
    }

    fn docs(index: &Index, q: &dyn Query) -> Vec<(u32, DocId)> {
        let searcher = index.reader().unwrap().searcher();
        let mut v: Vec<_> = searcher
            .search(q, &DocSetCollector)
            .unwrap()
            .into_iter()
            .map(|a| (a.segment_ord, a.doc_id))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn matches_what_tantivy_matches_and_is_answered_from_the_cache_the_second_time() {
        let words: Vec<String> = (0..300)
            .map(|i| format!("search{i} seo{} deploy audit{}", i % 7, i % 3))
            .collect();
        let first: Vec<&str> = words[..200].iter().map(String::as_str).collect();
        let second: Vec<&str> = words[200..].iter().map(String::as_str).collect();
        let (index, field) = index(&[&first, &second, &["serch", "sea", "unrelated"]]);
        let cache = Arc::new(ClauseCache::new(1 << 20));
        let cases: [(&str, u8, bool); 6] = [
            ("se", 0, true),
            ("search1", 0, true),
            ("serch", 1, false),
            ("audti", 1, false),
            ("deploi", 2, false),
            ("zzzz", 1, false),
        ];
        for (text, distance, prefix) in cases {
            let term = Term::from_field_text(field, text);
            let theirs = if prefix {
                FuzzyTermQuery::new_prefix(term, distance, true)
            } else {
                FuzzyTermQuery::new(term, distance, true)
            };
            let ours = CachedClause {
                field,
                shared: Shared::new(text, distance, prefix),
                cache: cache.clone(),
            };
            let want = docs(&index, &theirs);
            let (entries_before, _) = cache.usage();
            assert_eq!(docs(&index, &ours), want, "{text} first");
            let (entries_after, _) = cache.usage();
            assert_eq!(
                entries_after,
                entries_before + 3,
                "{text}: one entry per segment"
            );
            assert_eq!(docs(&index, &ours), want, "{text} from the cache");
            assert_eq!(cache.usage().0, entries_after, "{text}: no new entry");
        }
        // A broad prefix is kept as a bit set, a narrow typo as a short id list.
        let searcher = index.reader().unwrap().searcher();
        // Segments by size: the searcher's order is not the commit order.
        let by_size = |max_doc: DocId| {
            searcher
                .segment_readers()
                .iter()
                .find(|r| r.max_doc() == max_doc)
                .unwrap()
                .segment_id()
        };
        let key = |max_doc: DocId, text: &str, distance: u8, prefix: bool| Key {
            segment: by_size(max_doc),
            field,
            clause: Clause {
                text: text.into(),
                distance,
                prefix,
            },
        };
        assert!(matches!(
            cache.get(&key(200, "se", 0, true)).as_deref(),
            Some(Docs::Dense(_))
        ));
        assert!(matches!(
            cache.get(&key(3, "serch", 1, false)).as_deref(),
            Some(Docs::Sparse(ids)) if ids.len() == 1
        ));
    }

    #[test]
    fn the_cache_stays_within_its_byte_bound_dropping_the_least_recently_used() {
        let (index, field) = index(&[&["alpha beta", "alpha gamma", "beta delta"]]);
        let run = |cache: &Arc<ClauseCache>, text: &str| {
            let q = CachedClause {
                field,
                shared: Shared::new(text, 0, true),
                cache: cache.clone(),
            };
            docs(&index, &q)
        };
        // What one entry costs: the overhead, the clause text, 4 bytes per matching document.
        let cost = |text: &str, matches: usize| ENTRY_OVERHEAD + text.len() + 4 * matches;
        let probe = Arc::new(ClauseCache::new(1 << 20));
        run(&probe, "alpha");
        assert_eq!(probe.usage(), (1, cost("alpha", 2)), "two sparse ids");

        let cache = Arc::new(ClauseCache::new(cost("alpha", 2) + cost("beta", 2)));
        run(&cache, "alpha");
        run(&cache, "beta");
        assert_eq!(cache.usage(), (2, cost("alpha", 2) + cost("beta", 2)));
        run(&cache, "alpha"); // now the most recent
        run(&cache, "gamma"); // evicts "beta", the least recently used
        assert_eq!(cache.usage(), (2, cost("alpha", 2) + cost("gamma", 1)));
        let seg = index
            .reader()
            .unwrap()
            .searcher()
            .segment_reader(0)
            .segment_id();
        let key = |text: &str| Key {
            segment: seg,
            field,
            clause: Clause {
                text: text.into(),
                distance: 0,
                prefix: true,
            },
        };
        assert!(cache.get(&key("alpha")).is_some());
        assert!(cache.get(&key("gamma")).is_some());
        assert!(cache.get(&key("beta")).is_none());
    }

    /// Clauses that match nothing still count: a flood of random queries cannot grow the cache unbounded.
    #[test]
    fn entries_matching_nothing_fill_the_bound_too() {
        let (index, field) = index(&[&["alpha beta"]]);
        let cache = Arc::new(ClauseCache::new(10 * (ENTRY_OVERHEAD + 8)));
        for i in 0..200 {
            let q = CachedClause {
                field,
                shared: Shared::new(&format!("zq{i:06}"), 0, true),
                cache: cache.clone(),
            };
            assert!(docs(&index, &q).is_empty());
        }
        let (entries, bytes) = cache.usage();
        assert_eq!(entries, 10, "{bytes} bytes");
        assert!(bytes <= 10 * (ENTRY_OVERHEAD + 8));
    }

    #[test]
    fn sorted_docs_advance_and_seek() {
        let mut d = SortedDocs {
            ids: Arc::from(vec![2u32, 5, 9, 40]),
            cursor: 0,
        };
        assert_eq!(d.doc(), 2);
        assert_eq!(d.seek(2), 2, "seeking the current doc stays");
        assert_eq!(d.seek(6), 9);
        assert_eq!(d.size_hint(), 2);
        assert_eq!(d.advance(), 40);
        assert_eq!(d.advance(), TERMINATED);
        assert_eq!(d.advance(), TERMINATED);
        assert_eq!(d.seek(100), TERMINATED);
        let mut empty = SortedDocs {
            ids: Arc::new([]),
            cursor: 0,
        };
        assert_eq!(empty.doc(), TERMINATED);
        assert_eq!(empty.seek(3), TERMINATED);
    }
}
