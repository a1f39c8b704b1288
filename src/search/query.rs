//! Query parsing, matching clauses and tiers (SPEC §7). Pure functions of the query text; the tantivy query
//! is built here, executed in `index.rs`.

use super::automata::{CachedClause, ClauseCache, Shared};
use super::schema::Fields;
use crate::domain::{is_valid_skill_name, split_name};
use std::sync::Arc;
use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;

/// `q` longer than this many Unicode scalar values after trimming → 422 (SPEC §3.3).
pub const MAX_QUERY_CHARS: usize = 256;

/// What `q` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Empty `q`: every accessible skill, newest first.
    Empty,
    /// Non-empty, but no terms and not a scope query: no results (SPEC §7).
    Nothing,
    Terms(ParsedQuery),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuery {
    /// Trimmed and lower-cased.
    pub q: String,
    /// Maximal runs of letters and digits, in order, without duplicates.
    pub terms: Vec<String>,
    /// The scope of a scope query (`@org` or `@org/`), without `@`.
    pub scope: Option<String>,
    /// `q` is a valid skill name (tier 1 is possible).
    pub name_query: bool,
}

/// SPEC §7 query parsing.
pub fn parse(raw: &str) -> Parsed {
    let q = raw.trim().to_lowercase();
    if q.is_empty() {
        return Parsed::Empty;
    }
    let mut terms: Vec<String> = Vec::new();
    for t in q.split(|c: char| !c.is_alphanumeric()) {
        if !t.is_empty() && !terms.iter().any(|x| x == t) {
            terms.push(t.to_string());
        }
    }
    let scope = scope_of_query(&q);
    if terms.is_empty() && scope.is_none() {
        return Parsed::Nothing;
    }
    Parsed::Terms(ParsedQuery {
        name_query: is_valid_skill_name(&q),
        terms,
        scope,
        q,
    })
}

/// `^@[a-z0-9-]+/?$` → the scope.
fn scope_of_query(q: &str) -> Option<String> {
    let rest = q.strip_prefix('@')?;
    let s = rest.strip_suffix('/').unwrap_or(rest);
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then(|| s.to_string())
}

/// Damerau–Levenshtein distance allowed for a term: 0 (no fuzzy) below 4 characters, 1 for 4–7, 2 from 8.
pub fn fuzzy_distance(term: &str) -> u8 {
    match term.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Ranking tier of a matching skill (SPEC §7): 1 exact name, 2 bare name or scope member, 3 the rest.
pub fn tier(pq: &ParsedQuery, name: &str) -> u8 {
    if pq.name_query && name == pq.q {
        return 1;
    }
    let (scope, bare) = split_name(name);
    if bare == pq.q {
        return 2;
    }
    if pq.scope.is_some() && scope == pq.scope.as_deref() {
        return 2;
    }
    3
}

// Relevance weights (SPEC §7 leaves them to the implementation). The constant clauses dominate BM25 so that,
// for one term, an exact name token ranks above a prefix match above a fuzzy-only match whatever the field
// statistics: BM25 of one term in one field stays below ~2.2 · ln(1 + docs) ≈ 25 at 100k documents, times
// the field boosts (4 + 2 + 1 + 0.3) ≈ 190 at most, below the 200 gap between the classes.
const EXACT_NAME: f32 = 600.0;
const PREFIX_NAME: f32 = 300.0;
const FUZZY: f32 = 50.0;
const BM25_NAME: f32 = 4.0;
const BM25_DESCRIPTION: f32 = 2.0;
const BM25_PUBLISHER: f32 = 1.0;
const BM25_README: f32 = 0.3;

fn boosted(q: Box<dyn Query>, boost: f32) -> (Occur, Box<dyn Query>) {
    (Occur::Should, Box::new(BoostQuery::new(q, boost)))
}

/// One term matches an exact token of any indexed text field, a name token by prefix, or a name or
/// description token within the fuzzy distance.
fn term_query(f: &Fields, cache: &Arc<ClauseCache>, term: &str) -> Box<dyn Query> {
    let t = |field| Term::from_field_text(field, term);
    let bm25 = |field| -> Box<dyn Query> {
        Box::new(TermQuery::new(t(field), IndexRecordOption::WithFreqs))
    };
    let mut clauses = vec![
        boosted(
            Box::new(ConstScoreQuery::new(
                Box::new(TermQuery::new(t(f.name_tokens), IndexRecordOption::Basic)),
                1.0,
            )),
            EXACT_NAME,
        ),
        boosted(
            Box::new(CachedClause {
                field: f.name_tokens,
                shared: Shared::new(term, 0, true),
                cache: cache.clone(),
            }),
            PREFIX_NAME,
        ),
        boosted(bm25(f.name_tokens), BM25_NAME),
        boosted(bm25(f.description), BM25_DESCRIPTION),
        boosted(bm25(f.publisher), BM25_PUBLISHER),
        boosted(bm25(f.readme), BM25_README),
    ];
    let d = fuzzy_distance(term);
    if d > 0 {
        // The automaton depends on the text only, not the field: one build serves both fields.
        let shared = Shared::new(term, d, false);
        for field in [f.name_tokens, f.description] {
            clauses.push(boosted(
                Box::new(CachedClause {
                    field,
                    shared: shared.clone(),
                    cache: cache.clone(),
                }),
                FUZZY,
            ));
        }
    }
    Box::new(BooleanQuery::new(clauses))
}

/// Every term must match (AND); a scope query also matches every skill of its scope.
pub fn build(f: &Fields, cache: &Arc<ClauseCache>, pq: &ParsedQuery) -> Box<dyn Query> {
    let all_terms: Option<Box<dyn Query>> = match pq.terms.len() {
        0 => None,
        1 => Some(term_query(f, cache, &pq.terms[0])),
        _ => Some(Box::new(BooleanQuery::new(
            pq.terms
                .iter()
                .map(|t| (Occur::Must, term_query(f, cache, t)))
                .collect(),
        ))),
    };
    let scope = pq.scope.as_ref().map(|s| -> Box<dyn Query> {
        Box::new(ConstScoreQuery::new(
            Box::new(TermQuery::new(
                Term::from_field_text(f.scope, s),
                IndexRecordOption::Basic,
            )),
            0.0,
        ))
    });
    match (all_terms, scope) {
        (Some(a), None) => a,
        (None, Some(s)) => s,
        (Some(a), Some(s)) => Box::new(BooleanQuery::new(vec![
            (Occur::Should, a),
            (Occur::Should, s),
        ])),
        (None, None) => Box::new(tantivy::query::EmptyQuery),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(q: &str) -> ParsedQuery {
        match parse(q) {
            Parsed::Terms(p) => p,
            other => panic!("{q:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn parsing() {
        assert_eq!(parse("   "), Parsed::Empty);
        assert_eq!(parse(""), Parsed::Empty);
        assert_eq!(parse(" -- / "), Parsed::Nothing);
        let p = terms("  Seo  AUDIT ");
        assert_eq!(p.q, "seo  audit");
        assert_eq!(p.terms, vec!["seo", "audit"]);
        assert!(!p.name_query);
        assert_eq!(p.scope, None);
        let p = terms("@acme/seo-audit");
        assert_eq!(p.terms, vec!["acme", "seo", "audit"]);
        assert!(p.name_query);
        let p = terms("hello-hello");
        assert_eq!(p.terms, vec!["hello"], "duplicates dropped");
        let p = terms("Ünïcode_wörd");
        assert_eq!(p.terms, vec!["ünïcode", "wörd"]);
    }

    #[test]
    fn scope_queries() {
        assert_eq!(terms("@acme").scope.as_deref(), Some("acme"));
        assert_eq!(terms("@Acme/").scope.as_deref(), Some("acme"));
        assert_eq!(terms("@my-org").scope.as_deref(), Some("my-org"));
        assert_eq!(terms("@my-org").terms, vec!["my", "org"]);
        assert_eq!(terms("@acme/x").scope, None);
        assert_eq!(terms("acme").scope, None);
        assert_eq!(terms("@ac me").scope, None);
        // `@-` has no terms but is a scope query.
        assert_eq!(terms("@-").scope.as_deref(), Some("-"));
    }

    #[test]
    fn fuzzy_distances() {
        assert_eq!(fuzzy_distance("pdf"), 0);
        assert_eq!(fuzzy_distance("seoo"), 1);
        assert_eq!(fuzzy_distance("scafold"), 1);
        assert_eq!(fuzzy_distance("scaffold"), 2);
        assert_eq!(fuzzy_distance("äöüß"), 1, "characters, not bytes");
    }

    #[test]
    fn tiers() {
        let p = terms("@acme/seo-audit");
        assert_eq!(tier(&p, "@acme/seo-audit"), 1);
        assert_eq!(tier(&p, "@acme/seo-audit-pro"), 3);
        let p = terms("hello");
        assert_eq!(tier(&p, "hello"), 1);
        assert_eq!(tier(&p, "@tank/hello"), 2);
        assert_eq!(tier(&p, "@acme/hello-world"), 3);
        let p = terms("@acme");
        assert_eq!(tier(&p, "@acme/hello-world"), 2);
        assert_eq!(tier(&p, "@acme-corp/x"), 3);
        assert_eq!(tier(&p, "acme"), 3);
        let p = terms("seo audit");
        assert_eq!(tier(&p, "@acme/seo-audit"), 3);
    }
}
