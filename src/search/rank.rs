//! Executing a search (SPEC §7): the visibility filter from SQLite, matching and scoring in tantivy, tiers,
//! and the order tier → relevance → live downloads → name, with the page cut out of it. Only the documents
//! that can reach the page (those ranked above the page's last position and everything tied with it) get
//! their live download count looked up.

use super::index::{Result, SearchIndex, SegmentDocs, Snapshot};
use super::query::{self, Parsed, ParsedQuery};
use super::schema::Fields;
use crate::store::{PrivateSkill, SearchRow, Store, Viewer};
use std::cmp::Ordering;
use std::sync::Arc;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::AllQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED, Term};

/// Page and limit bounds (SPEC §3.3).
pub const MAX_PAGE: u64 = 10_000;
pub const MAX_LIMIT: u64 = 50;

/// One ranked result: the skill id and the live download count it was ranked with.
#[derive(Debug, Clone)]
pub struct Hit {
    pub skill_id: Arc<str>,
    pub downloads: i64,
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub total: u64,
    pub hits: Vec<Hit>,
    /// The [`Store::download_epoch`] of the stored counts in `hits` when they came from the store's
    /// in-memory totals (None: read from SQLite, or none read). Unflushed increments taken before reading
    /// the epoch belong with these counts only when the epochs are equal.
    pub downloads_epoch: Option<u64>,
}

/// Marks a document whose stored download count is not cached.
const UNKNOWN: i64 = i64::MIN;

/// Stored download counts per document of one snapshot (SPEC §7: downloads are live). Read from the
/// store's in-memory totals under one download epoch (a flush or publication changes it), or, when the
/// store has not loaded them, from SQLite under one data version (any commit changes it).
pub(crate) struct DownloadCache {
    key: CacheKey,
    segments: Vec<Vec<i64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CacheKey {
    /// (`PRAGMA data_version`, snapshot generation).
    DataVersion(i64, u64),
    /// ([`Store::download_epoch`], snapshot generation).
    Epoch(u64, u64),
}

impl DownloadCache {
    fn get(&self, m: &Match) -> Option<i64> {
        self.segments
            .get(m.seg as usize)
            .and_then(|s| s.get(m.doc as usize))
            .copied()
            .filter(|n| *n != UNKNOWN)
    }

    fn set(&mut self, m: &Match, n: i64) {
        if let Some(slot) = self
            .segments
            .get_mut(m.seg as usize)
            .and_then(|s| s.get_mut(m.doc as usize))
        {
            *slot = n;
        }
    }
}

/// Hidden documents of one segment, as a bit per document.
pub(crate) struct Hidden(Vec<u64>);

impl Hidden {
    fn contains(&self, doc: DocId) -> bool {
        self.0
            .get((doc / 64) as usize)
            .is_some_and(|w| w & (1u64 << (doc % 64)) != 0)
    }
}

#[derive(Clone, Copy)]
struct Match {
    seg: u32,
    doc: DocId,
    tier: u8,
    score: Score,
}

struct MatchCollector<'a> {
    snapshot: &'a Snapshot,
    hidden: &'a [Option<Arc<Hidden>>],
    query: Option<Arc<ParsedQuery>>,
    fields: Fields,
    scoring: bool,
}

struct MatchSegment {
    seg: u32,
    docs: Arc<SegmentDocs>,
    hidden: Option<Arc<Hidden>>,
    query: Option<Arc<ParsedQuery>>,
    /// The only documents of the segment that can be in tier 1 or 2 (sorted), or None to check every match.
    tier_candidates: Option<Vec<DocId>>,
    out: Vec<Match>,
}

/// Documents of a segment whose full name or bare name equals `q`: a superset of tiers 1 and 2 for a query
/// that is not a scope query (the `name` and `bare` fields hold exactly the values `query::tier` compares:
/// the lower-case name and its bare part). Scope queries return None: every match is checked.
fn tier_candidates(
    reader: &SegmentReader,
    fields: &Fields,
    pq: &ParsedQuery,
) -> tantivy::Result<Option<Vec<DocId>>> {
    if pq.scope.is_some() {
        return Ok(None);
    }
    let mut docs = Vec::new();
    for field in [fields.name, fields.bare] {
        let inverted = reader.inverted_index(field)?;
        let term = Term::from_field_text(field, &pq.q);
        if let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)? {
            let mut doc = postings.doc();
            while doc != TERMINATED {
                docs.push(doc);
                doc = postings.advance();
            }
        }
    }
    docs.sort_unstable();
    docs.dedup();
    Ok(Some(docs))
}

impl Collector for MatchCollector<'_> {
    type Fruit = Vec<Match>;
    type Child = MatchSegment;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<MatchSegment> {
        let docs = self
            .snapshot
            .segments
            .get(ord as usize)
            .cloned()
            .ok_or_else(|| {
                tantivy::TantivyError::InternalError("segment data missing from snapshot".into())
            })?;
        let tier_candidates = match &self.query {
            Some(pq) => tier_candidates(reader, &self.fields, pq)?,
            None => None,
        };
        Ok(MatchSegment {
            seg: ord,
            docs,
            hidden: self.hidden.get(ord as usize).cloned().flatten(),
            query: self.query.clone(),
            tier_candidates,
            out: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Match>>) -> tantivy::Result<Vec<Match>> {
        let mut all = Vec::with_capacity(fruits.iter().map(Vec::len).sum());
        for f in fruits {
            all.extend(f);
        }
        Ok(all)
    }
}

impl SegmentCollector for MatchSegment {
    type Fruit = Vec<Match>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.hidden.as_ref().is_some_and(|h| h.contains(doc)) {
            return;
        }
        let candidate = self
            .tier_candidates
            .as_ref()
            .is_none_or(|c| c.binary_search(&doc).is_ok());
        let tier = match (&self.query, self.docs.docs.get(doc as usize)) {
            (Some(q), Some(meta)) if candidate => query::tier(q, &meta.name),
            _ => 3,
        };
        // Tiers 1 and 2 have no relevance order: only downloads and name (SPEC §7).
        let score = if tier < 3 { 0.0 } else { score };
        self.out.push(Match {
            seg: self.seg,
            doc,
            tier,
            score,
        });
    }

    fn harvest(self) -> Vec<Match> {
        self.out
    }
}

/// Per segment, the documents a search must skip.
pub(crate) type HiddenSets = Arc<Vec<Option<Arc<Hidden>>>>;

/// The documents of every private skill in one snapshot, reused while neither the snapshot nor the private
/// list changes (building it costs a hash lookup per private skill and segment).
pub(crate) struct PrivateMask {
    private: Arc<Vec<PrivateSkill>>,
    generation: u64,
    bits: HiddenSets,
}

fn bitsets<'a>(snapshot: &Snapshot, ids: impl Iterator<Item = &'a str> + Clone) -> HiddenSets {
    Arc::new(
        snapshot
            .segments
            .iter()
            .map(|seg| {
                let mut bits: Option<Vec<u64>> = None;
                for id in ids.clone() {
                    if let Some(&doc) = seg.by_id.get(id) {
                        let b = bits.get_or_insert_with(|| vec![0u64; seg.docs.len().div_ceil(64)]);
                        b[(doc / 64) as usize] |= 1u64 << (doc % 64);
                    }
                }
                bits.map(|b| Arc::new(Hidden(b)))
            })
            .collect(),
    )
}

/// The documents `viewer` may not see (SPEC §6): private skills, read from SQLite at query time, minus
/// those the viewer's ownership, organisations or grants open.
fn hidden_sets(
    index: &SearchIndex,
    store: &Store,
    snapshot: &Snapshot,
    viewer: &Viewer,
) -> Result<HiddenSets> {
    if viewer.admin {
        return Ok(Arc::new(Vec::new()));
    }
    let private: Arc<Vec<PrivateSkill>> = match &index.live {
        Some(live) => live.private_skills(store)?,
        None => Arc::new(store.private_skills()?),
    };
    if private.is_empty() {
        return Ok(Arc::new(Vec::new()));
    }
    let generation = snapshot.searcher.generation().generation_id();
    let mask = {
        let mut cache = index.mask.lock().unwrap_or_else(|e| e.into_inner());
        match &*cache {
            Some(m) if m.generation == generation && Arc::ptr_eq(&m.private, &private) => {
                m.bits.clone()
            }
            _ => {
                let bits = bitsets(snapshot, private.iter().map(|p| p.id.as_str()));
                *cache = Some(PrivateMask {
                    private: private.clone(),
                    generation,
                    bits: bits.clone(),
                });
                bits
            }
        }
    };
    let Some(uid) = viewer.user_id.as_deref() else {
        return Ok(mask);
    };
    let (orgs, grants) = store.viewer_access(uid)?;
    let visible: Vec<&str> = private
        .iter()
        .filter(|p| {
            (match p.scope.as_deref() {
                Some(s) => viewer.username.as_deref() == Some(s) || orgs.contains(s),
                None => p.owner_user_id.as_deref() == Some(uid),
            }) || grants.contains(&p.id)
        })
        .map(|p| p.id.as_str())
        .collect();
    if visible.is_empty() {
        return Ok(mask);
    }
    let open = bitsets(snapshot, visible.iter().copied());
    Ok(Arc::new(
        mask.iter()
            .zip(open.iter())
            .map(|(m, o)| match (m, o) {
                (Some(m), Some(o)) => Some(Arc::new(Hidden(
                    m.0.iter().zip(&o.0).map(|(a, b)| a & !b).collect(),
                ))),
                (m, _) => m.clone(),
            })
            .collect(),
    ))
}

impl SearchIndex {
    /// Runs `q` for `viewer` and returns the total of accessible matches and the page (SPEC §3.3, §7).
    /// `pending` gives a skill's unflushed download increments (added to the stored count).
    pub fn search(
        &self,
        store: &Store,
        viewer: &Viewer,
        pending: &dyn Fn(&str) -> i64,
        q: &Parsed,
        page: u64,
        limit: u64,
    ) -> Result<SearchPage> {
        let page = page.clamp(1, MAX_PAGE);
        let limit = limit.clamp(1, MAX_LIMIT);
        let offset = ((page - 1) * limit) as usize;
        let snapshot = self.snapshot();
        let hidden = hidden_sets(self, store, &snapshot, viewer)?;
        match q {
            Parsed::Nothing => Ok(SearchPage {
                total: 0,
                hits: Vec::new(),
                downloads_epoch: None,
            }),
            Parsed::Empty => {
                let matches = snapshot.searcher.search(
                    &AllQuery,
                    &MatchCollector {
                        snapshot: &snapshot,
                        hidden: &hidden,
                        query: None,
                        fields: self.fields,
                        scoring: false,
                    },
                )?;
                self.page_by_recency(store, pending, &snapshot, matches, offset, limit as usize)
            }
            Parsed::Terms(pq) => {
                let tq = query::build(&self.fields, &self.clauses, pq);
                let matches = snapshot.searcher.search(
                    &*tq,
                    &MatchCollector {
                        snapshot: &snapshot,
                        hidden: &hidden,
                        query: Some(Arc::new(pq.clone())),
                        fields: self.fields,
                        scoring: true,
                    },
                )?;
                self.page_by_relevance(store, pending, &snapshot, matches, offset, limit as usize)
            }
        }
    }

    /// The result rows of `skill_ids` (SPEC §3.3), read live: through the cache of the live data when the
    /// index has one, else straight from SQLite. Same order and omissions as [`Store::search_rows`].
    pub fn result_rows(&self, store: &Store, skill_ids: &[&str]) -> Result<Vec<SearchRow>> {
        Ok(match &self.live {
            Some(live) => live.search_rows(store, skill_ids)?,
            None => store.search_rows(skill_ids)?,
        })
    }

    /// Live downloads (stored + unflushed) of the given matches, in their order, and the download epoch of
    /// the stored counts (see [`SearchPage::downloads_epoch`]). Stored counts come from the per-document
    /// cache while the counts and the snapshot are unchanged; the rest from the store's in-memory totals, or
    /// from SQLite in one statement when it has not loaded them.
    fn live_downloads(
        &self,
        store: &Store,
        pending: &dyn Fn(&str) -> i64,
        snapshot: &Snapshot,
        matches: &[Match],
    ) -> Result<(Vec<i64>, Option<u64>)> {
        let id = |m: &Match| &*snapshot.segments[m.seg as usize].docs[m.doc as usize].id;
        let generation = snapshot.searcher.generation().generation_id();
        let (mut stored, epoch) = if store.download_totals_current()? {
            let epoch = store.download_epoch();
            let key = CacheKey::Epoch(epoch, generation);
            let out = self.cached_downloads(store, snapshot, key, matches)?;
            match out {
                Some(v) => (v, Some(epoch)),
                // A flush fell between reading the epoch and the totals: all from one read instead.
                None => {
                    let ids: Vec<&str> = matches.iter().map(id).collect();
                    let (v, e) = store
                        .download_totals_of(&ids)
                        .ok_or_else(|| super::SearchError::Io("download totals unloaded".into()))?;
                    (v, Some(e))
                }
            }
        } else {
            match &self.live {
                Some(live) => {
                    let key = CacheKey::DataVersion(live.version()?, generation);
                    let v = self.cached_downloads(store, snapshot, key, matches)?;
                    (v.unwrap_or_default(), None)
                }
                None => {
                    let ids: Vec<&str> = matches.iter().map(id).collect();
                    (store.downloads_of(&ids)?, None)
                }
            }
        };
        for (n, m) in stored.iter_mut().zip(matches) {
            *n += pending(id(m));
        }
        Ok((stored, epoch))
    }

    /// Stored downloads of `matches` under `key`: cached values, and one read (in-memory totals for an
    /// epoch key, SQLite for a data-version key) for the documents not cached yet. Values read after the
    /// key was observed are cached only while the cache still belongs to `key` (a later change always
    /// invalidates them). None when an epoch key is no longer current by the time the totals are read
    /// (the cached values and the fresh ones would mix two epochs).
    fn cached_downloads(
        &self,
        store: &Store,
        snapshot: &Snapshot,
        key: CacheKey,
        matches: &[Match],
    ) -> Result<Option<Vec<i64>>> {
        let mut out = vec![0i64; matches.len()];
        let mut missing: Vec<usize> = Vec::new();
        {
            let mut cache = self.downloads.lock().unwrap_or_else(|e| e.into_inner());
            if cache.as_ref().is_none_or(|c| c.key != key) {
                *cache = Some(DownloadCache {
                    key,
                    segments: snapshot
                        .segments
                        .iter()
                        .map(|s| vec![UNKNOWN; s.docs.len()])
                        .collect(),
                });
            }
            if let Some(c) = cache.as_ref() {
                for (i, m) in matches.iter().enumerate() {
                    match c.get(m) {
                        Some(n) => out[i] = n,
                        None => missing.push(i),
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(Some(out));
        }
        let ids: Vec<&str> = missing
            .iter()
            .map(|&i| {
                let m = &matches[i];
                &*snapshot.segments[m.seg as usize].docs[m.doc as usize].id
            })
            .collect();
        let fresh = match key {
            CacheKey::Epoch(epoch, _) => match store.download_totals_of(&ids) {
                Some((v, e)) if e == epoch => v,
                _ => return Ok(None),
            },
            CacheKey::DataVersion(..) => store.downloads_of(&ids)?,
        };
        let mut cache = self.downloads.lock().unwrap_or_else(|e| e.into_inner());
        let mut cache = cache.as_mut().filter(|c| c.key == key);
        for (&i, &n) in missing.iter().zip(&fresh) {
            out[i] = n;
            if let Some(c) = cache.as_deref_mut() {
                c.set(&matches[i], n);
            }
        }
        Ok(Some(out))
    }

    /// Empty `q`: `updatedAt` descending, then name ascending (SPEC §7).
    fn page_by_recency(
        &self,
        store: &Store,
        pending: &dyn Fn(&str) -> i64,
        snapshot: &Snapshot,
        mut matches: Vec<Match>,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage> {
        let total = matches.len() as u64;
        if offset >= matches.len() {
            return Ok(SearchPage {
                total,
                hits: Vec::new(),
                downloads_epoch: None,
            });
        }
        let meta = |m: &Match| &snapshot.segments[m.seg as usize].docs[m.doc as usize];
        let cmp = |a: &Match, b: &Match| {
            let (x, y) = (meta(a), meta(b));
            y.updated_at
                .cmp(&x.updated_at)
                .then_with(|| x.name.as_bytes().cmp(y.name.as_bytes()))
        };
        let end = (offset + limit).min(matches.len());
        if end < matches.len() {
            matches.select_nth_unstable_by(end - 1, cmp);
            matches.truncate(end);
        }
        matches.sort_unstable_by(cmp);
        let page = &matches[offset..];
        let (downloads, downloads_epoch) = self.live_downloads(store, pending, snapshot, page)?;
        Ok(SearchPage {
            total,
            downloads_epoch,
            hits: page
                .iter()
                .zip(downloads)
                .map(|(m, downloads)| Hit {
                    skill_id: meta(m).id.clone(),
                    downloads,
                })
                .collect(),
        })
    }

    /// Tier ascending, score descending, live downloads descending, name ascending (SPEC §7). Downloads are
    /// looked up only for the matches that rank at or above the page's last position on (tier, score).
    fn page_by_relevance(
        &self,
        store: &Store,
        pending: &dyn Fn(&str) -> i64,
        snapshot: &Snapshot,
        mut matches: Vec<Match>,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage> {
        let total = matches.len() as u64;
        if offset >= matches.len() {
            return Ok(SearchPage {
                total,
                hits: Vec::new(),
                downloads_epoch: None,
            });
        }
        let primary = |a: &Match, b: &Match| {
            a.tier
                .cmp(&b.tier)
                .then_with(|| b.score.total_cmp(&a.score))
        };
        let end = (offset + limit).min(matches.len());
        if end < matches.len() {
            matches.select_nth_unstable_by(end - 1, primary);
            let boundary = matches[end - 1];
            // Everything tied with the last position may still move into the page on downloads.
            matches.retain(|m| primary(m, &boundary) != Ordering::Greater);
        }
        let meta = |m: &Match| &snapshot.segments[m.seg as usize].docs[m.doc as usize];
        let (downloads, downloads_epoch) =
            self.live_downloads(store, pending, snapshot, &matches)?;
        // Sort keys resolved once: a tie group can hold thousands of documents.
        let mut keyed: Vec<(Match, i64, &str)> = matches
            .iter()
            .zip(downloads)
            .map(|(m, n)| (*m, n, &*meta(m).name))
            .collect();
        keyed.sort_unstable_by(|(a, da, na), (b, db, nb)| {
            primary(a, b)
                .then_with(|| db.cmp(da))
                .then_with(|| na.as_bytes().cmp(nb.as_bytes()))
        });
        Ok(SearchPage {
            total,
            downloads_epoch,
            hits: keyed[offset..end]
                .iter()
                .map(|(m, d, _)| Hit {
                    skill_id: meta(m).id.clone(),
                    downloads: *d,
                })
                .collect(),
        })
    }
}
