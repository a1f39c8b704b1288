//! The index schema of SPEC §7 and how a skill becomes a document. Changing a field, a tokenizer or what a
//! field holds means bumping [`SCHEMA_VERSION`]: an index of another version is rebuilt at start-up.

use crate::domain::split_name;
use crate::store::IndexDoc;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, TantivyDocument};

/// Stored in the commit payload with N; any other value means "unknown schema" (SPEC §4.4 item 5).
pub const SCHEMA_VERSION: u32 = 1;

/// Name tokens: split on everything outside letters and digits, lower-cased, never dropped for length (a
/// long bare name must still match itself).
pub const NAME_TOKENIZER: &str = "tank_name";
/// Free text (description, publisher, readme): Unicode letter/digit runs, lower-cased, no stemming and no
/// stop words (SPEC §7). Tokens over 100 bytes (base64, hashes) in readmes are dropped.
pub const TEXT_TOKENIZER: &str = "tank_text";

#[derive(Clone, Copy)]
pub struct Fields {
    /// Skill id (`skill_…`): the key documents are replaced by.
    pub id: Field,
    /// Full name, exact and lower-case.
    pub name: Field,
    pub scope: Field,
    pub bare: Field,
    pub name_tokens: Field,
    pub description: Field,
    pub publisher: Field,
    pub readme: Field,
    pub updated_at: Field,
}

pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let fields = Fields {
        id: b.add_text_field("id", STRING | FAST),
        name: b.add_text_field("name", STRING | FAST),
        scope: b.add_text_field("scope", STRING),
        bare: b.add_text_field("bare", STRING),
        name_tokens: b.add_text_field("name_tokens", text(NAME_TOKENIZER)),
        description: b.add_text_field("description", text(TEXT_TOKENIZER)),
        publisher: b.add_text_field("publisher", text(TEXT_TOKENIZER)),
        readme: b.add_text_field("readme", text(TEXT_TOKENIZER)),
        updated_at: b.add_i64_field("updated_at", INDEXED | FAST),
    };
    (b.build(), fields)
}

/// Registers the analyzers every index handle needs (they are not stored in the index).
pub fn register_tokenizers(index: &Index) {
    let t = index.tokenizers();
    t.register(
        NAME_TOKENIZER,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    t.register(
        TEXT_TOKENIZER,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(100))
            .filter(LowerCaser)
            .build(),
    );
}

pub fn to_document(f: &Fields, d: &IndexDoc) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    let name = d.name.to_lowercase();
    let (scope, bare) = split_name(&name);
    doc.add_text(f.id, &d.id);
    doc.add_text(f.name, &name);
    if let Some(s) = d.scope.as_deref().or(scope) {
        doc.add_text(f.scope, s.to_lowercase());
    }
    doc.add_text(f.bare, bare);
    doc.add_text(f.name_tokens, &name);
    doc.add_text(f.description, &d.description);
    let publisher = match &d.publisher_display_name {
        Some(dn) => format!("{} {dn}", d.publisher_username),
        None => d.publisher_username.clone(),
    };
    doc.add_text(f.publisher, publisher);
    doc.add_text(f.readme, &d.readme);
    doc.add_i64(f.updated_at, d.updated_at);
    doc
}
