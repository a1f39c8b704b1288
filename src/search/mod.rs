//! Search (SPEC §7): an embedded tantivy index in `<data-dir>/index/`, derived from SQLite and rebuildable
//! at any time. One writer behind a mutex, fed by the index-writer task from the skills whose `index_seq` is
//! above the index's N (SPEC §4.4 step 3); one reader whose snapshot every search uses. Visibility, downloads
//! and stars are never indexed: they are read from SQLite when a search runs. The matches of prefix and fuzzy
//! clauses are kept per segment in a bounded cache (`automata.rs`). Knows nothing about HTTP.

mod automata;
mod index;
mod maintenance;
pub mod query;
mod rank;
mod schema;

pub use index::{Opened, SearchError, SearchIndex};
pub use maintenance::{check_index, open_for_server, reindex, run_writer};
pub use query::{MAX_QUERY_CHARS, Parsed, ParsedQuery, parse};
pub use rank::{Hit, MAX_LIMIT, MAX_PAGE, SearchPage};
pub use schema::{SCHEMA_VERSION, register_tokenizers};
