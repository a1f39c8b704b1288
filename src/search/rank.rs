//! Executing a search (SPEC §7): the visibility filter from SQLite, matching and scoring in tantivy, tiers,
//! and the order tier → relevance → live downloads → name, with the page cut out of it. Only the documents
//! that can reach the page (those ranked above the page's last position and everything tied with it) get
//! their live download count looked up.

use super::index::{Result, SearchIndex, SegmentDocs, Snapshot};
use super::query::{self, Parsed, ParsedQuery};
use crate::store::{PrivateSkill, Store, Viewer};
use std::cmp::Ordering;
use std::sync::Arc;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::AllQuery;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

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
    scoring: bool,
}

struct MatchSegment {
    seg: u32,
    docs: Arc<SegmentDocs>,
    hidden: Option<Arc<Hidden>>,
    query: Option<Arc<ParsedQuery>>,
    out: Vec<Match>,
}

impl Collector for MatchCollector<'_> {
    type Fruit = Vec<Match>;
    type Child = MatchSegment;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        _reader: &SegmentReader,
    ) -> tantivy::Result<MatchSegment> {
        let docs = self
            .snapshot
            .segments
            .get(ord as usize)
            .cloned()
            .ok_or_else(|| {
                tantivy::TantivyError::InternalError("segment data missing from snapshot".into())
            })?;
        Ok(MatchSegment {
            seg: ord,
            docs,
            hidden: self.hidden.get(ord as usize).cloned().flatten(),
            query: self.query.clone(),
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
        let tier = match (&self.query, self.docs.docs.get(doc as usize)) {
            (Some(q), Some(meta)) => query::tier(q, &meta.name),
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
            }),
            Parsed::Empty => {
                let matches = snapshot.searcher.search(
                    &AllQuery,
                    &MatchCollector {
                        snapshot: &snapshot,
                        hidden: &hidden,
                        query: None,
                        scoring: false,
                    },
                )?;
                self.page_by_recency(store, pending, &snapshot, matches, offset, limit as usize)
            }
            Parsed::Terms(pq) => {
                let tq = query::build(&self.fields, pq);
                let matches = snapshot.searcher.search(
                    &*tq,
                    &MatchCollector {
                        snapshot: &snapshot,
                        hidden: &hidden,
                        query: Some(Arc::new(pq.clone())),
                        scoring: true,
                    },
                )?;
                self.page_by_relevance(store, pending, &snapshot, matches, offset, limit as usize)
            }
        }
    }

    /// Live downloads (stored + unflushed) of the given skills, in their order.
    fn live_downloads(
        &self,
        store: &Store,
        pending: &dyn Fn(&str) -> i64,
        ids: &[&str],
    ) -> Result<Vec<i64>> {
        let mut stored = match &self.live {
            Some(live) => live.downloads(store, ids)?,
            None => {
                let m = store.downloads_of(ids)?;
                ids.iter()
                    .map(|id| m.get(*id).copied().unwrap_or(0))
                    .collect()
            }
        };
        for (n, id) in stored.iter_mut().zip(ids) {
            *n += pending(id);
        }
        Ok(stored)
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
        let page: Vec<&Match> = matches[offset..].iter().collect();
        let ids: Vec<&str> = page.iter().map(|m| &*meta(m).id).collect();
        let downloads = self.live_downloads(store, pending, &ids)?;
        Ok(SearchPage {
            total,
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
        let ids: Vec<&str> = matches.iter().map(|m| &*meta(m).id).collect();
        let downloads = self.live_downloads(store, pending, &ids)?;
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
