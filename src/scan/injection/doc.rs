//! The text model stage 3 reads: a document is a list of blocks (paragraph, list item, heading, table
//! cell, code block, hidden region, string value …), each with its raw text, line anchors and the context
//! the gates need (section heading, paragraph/list group, region). Builders for the non-Markdown sources
//! (text and YAML files read as paragraphs, JSON string values) live here too; Markdown is `markdown.rs`.

/// Where a block's text sits (drives the §8.2 gates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// Prose: paragraphs, list items, table cells, HTML text, frontmatter, text files, string values.
    Prose,
    Heading,
    /// A closed fenced or indented code block (code-block gate).
    Code,
    /// HTML comments, hidden elements, link-reference comments, alt text, link titles (PI-006).
    Hidden,
    /// Tool metadata (§8.2): never pattern-gated; tool-metadata tags count for PI-005.
    Meta,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub region: Region,
    pub text: String,
    /// (byte offset in `text`, 1-based file line), sorted by offset; the first is at 0.
    pub anchors: Vec<(usize, u32)>,
    /// Section number (increments at each heading) and the raw text of its heading.
    pub section: usize,
    pub heading: String,
    /// Paragraph or list/table id: PI-008(b) and PI-012 read a paragraph or a whole list together.
    pub group: usize,
    /// A list item or table cell (the lead-in sentence of the warning-context gate applies).
    pub in_list: bool,
    /// Code blocks: the info string's first word, lower-cased.
    pub info: String,
    /// Inline code spans: (byte offset in `text`, code).
    pub inline_code: Vec<(usize, String)>,
    /// Inside a block quote (PI-014 reads the quote after a sentence ending in `:`).
    pub quoted: bool,
    /// Pattern-table gate (§8.2): a code-file string in a regex or a list of ≥ 3 strings.
    pub pattern_gate: bool,
}

impl Block {
    pub fn new(region: Region, line: u32) -> Block {
        Block {
            region,
            text: String::new(),
            anchors: vec![(0, line)],
            section: 0,
            heading: String::new(),
            group: 0,
            in_list: false,
            info: String::new(),
            inline_code: Vec::new(),
            quoted: false,
            pattern_gate: false,
        }
    }

    /// A block holding `text` whose first character is on `line`; later lines are counted from it.
    pub fn from_text(region: Region, text: &str, line: u32) -> Block {
        let mut b = Block::new(region, line);
        b.push_lines(text, line);
        b
    }

    /// Appends `s`, whose first character is on `line`, anchoring every newline in it.
    pub fn push_lines(&mut self, s: &str, line: u32) {
        self.anchor(line);
        let mut l = line;
        for (i, c) in s.char_indices() {
            if c == '\n' {
                l += 1;
                self.anchors.push((self.text.len() + i + 1, l));
            }
        }
        self.text.push_str(s);
    }

    /// Records that the text appended next starts on `line`.
    pub fn anchor(&mut self, line: u32) {
        let at = self.text.len();
        match self.anchors.last_mut() {
            Some(last) if last.0 == at => last.1 = line,
            _ => self.anchors.push((at, line)),
        }
    }

    /// The file line of byte `at` of `text`.
    pub fn line_at(&self, at: usize) -> u32 {
        let i = self.anchors.partition_point(|a| a.0 <= at);
        self.anchors.get(i.saturating_sub(1)).map_or(1, |a| a.1)
    }

    pub fn first_line(&self) -> u32 {
        self.anchors.first().map_or(1, |a| a.1)
    }

    pub fn is_code(&self) -> bool {
        self.region == Region::Code
    }
}

/// Byte offsets of line starts, for offset → line.
pub struct LineIndex(Vec<usize>);

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut v = vec![0];
        v.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex(v)
    }
    pub fn line(&self, at: usize) -> u32 {
        self.0.partition_point(|&s| s <= at) as u32
    }
}

/// Text files: one block per paragraph (blank-line separated). YAML (read as text, §8.3, and `SKILL.md`
/// frontmatter) also starts a block at every top-level line, so each key's value is its own block and
/// a multi-line scalar stays one. `first` is the line of the first line of `text`.
pub fn text_blocks(text: &str, yaml: bool, first: u32) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Option<Block> = None;
    for (i, line) in text.split('\n').enumerate() {
        let n = first + i as u32;
        if line.trim().is_empty() || (yaml && !line.starts_with([' ', '\t', '-'])) {
            out.extend(cur.take());
            if line.trim().is_empty() {
                continue;
            }
        }
        let b = cur.get_or_insert_with(|| {
            let mut b = Block::new(Region::Prose, n);
            b.group = out.len() + 1;
            b
        });
        if !b.text.is_empty() {
            b.text.push('\n');
        }
        b.anchor(n);
        b.text.push_str(line);
    }
    out.extend(cur);
    out
}

/// JSON string values (not keys) with their lines, decoded; `key` is the member name the value sits under.
pub fn json_strings(text: &str) -> Vec<(u32, Option<String>, String)> {
    let b = text.as_bytes();
    let idx = LineIndex::new(text);
    let mut out = Vec::new();
    let mut last_key: Option<String> = None;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < b.len() && b[i] != b'"' {
            i += if b[i] == b'\\' { 2 } else { 1 };
        }
        let end = (i + 1).min(b.len());
        i = end;
        let lit = text.get(start..end).unwrap_or("");
        let Ok(s) = serde_json::from_str::<String>(lit) else {
            continue;
        };
        let mut j = end;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b.get(j) == Some(&b':') {
            last_key = Some(s);
        } else {
            out.push((idx.line(start), last_key.clone(), s));
        }
    }
    out
}
