//! Markdown for stage 3: a pulldown-cmark parse with source offsets turned into blocks (`doc.rs`), link and
//! image destinations (PI-007), the ranges of closed code blocks and inline code (PI-005's low severity),
//! and the hidden regions of PI-006 (HTML comments, hidden elements, link-reference comments, alt text,
//! link titles).
//!
//! §8.2 (chosen): a fence that is never closed does not create a code block for stage 3. pulldown-cmark
//! runs such a fence to the end of its container, so the fence's content is parsed again as Markdown prose.

use super::doc::{Block, LineIndex, Region};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use regex::Regex;
use std::ops::Range;
use std::sync::LazyLock;

/// An image or link destination.
#[derive(Debug, Clone)]
pub struct Dest {
    pub url: String,
    pub line: u32,
    /// Alt text or link text.
    pub label: String,
}

#[derive(Debug, Default)]
pub struct MdDoc {
    pub blocks: Vec<Block>,
    pub dests: Vec<Dest>,
    /// Closed fenced and indented code blocks.
    pub code: Vec<Range<usize>>,
    pub inline: Vec<Range<usize>>,
}

/// `at` lies in one of `ranges` (sorted by start, not overlapping).
fn in_ranges(ranges: &[Range<usize>], at: usize) -> bool {
    let i = ranges.partition_point(|r| r.start <= at);
    i > 0 && ranges[i - 1].contains(&at)
}

impl MdDoc {
    pub fn in_code(&self, at: usize) -> bool {
        in_ranges(&self.code, at)
    }
    pub fn in_inline(&self, at: usize) -> bool {
        in_ranges(&self.inline, at)
    }
}

/// Nesting limit for re-parsing unclosed fences.
const MAX_DEPTH: u8 = 4;

struct Md<'a> {
    src: &'a str,
    lines: LineIndex,
    doc: MdDoc,
    section: usize,
    heading: String,
    next_group: usize,
    /// (line, section, heading) at each heading, for hidden regions found after the parse.
    headings: Vec<(u32, usize, String)>,
}

pub fn parse(src: &str) -> MdDoc {
    let mut md = Md {
        src,
        lines: LineIndex::new(src),
        doc: MdDoc::default(),
        section: 0,
        heading: String::new(),
        next_group: 0,
        headings: Vec::new(),
    };
    md.parse_range(0, src.len(), 0);
    md.doc.code.sort_by_key(|r| r.start);
    md.doc.inline.sort_by_key(|r| r.start);
    md.hidden_regions();
    md.doc
}

/// True when the fenced block in `s` (opening fence first) ends with a closing fence.
fn fence_closed(s: &str) -> bool {
    let mut lines = s.lines();
    let Some(open) = lines.next() else {
        return false;
    };
    let open = open.trim_start_matches([' ', '>', '\t', '-', '*', '+']);
    let Some(fc) = open.chars().next().filter(|c| *c == '`' || *c == '~') else {
        return false;
    };
    let n = open.chars().take_while(|c| *c == fc).count();
    let rest: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    rest.last().is_some_and(|l| {
        let t = l.trim().trim_start_matches(['>', ' ']);
        t.chars().count() >= n && t.chars().all(|c| c == fc)
    })
}

impl Md<'_> {
    fn new_block(&mut self, region: Region, at: usize, in_list: bool, group: usize) -> Block {
        let mut b = Block::new(region, self.lines.line(at));
        b.section = self.section;
        b.heading = self.heading.clone();
        b.in_list = in_list;
        b.group = group;
        b
    }

    fn group(&mut self) -> usize {
        self.next_group += 1;
        self.next_group
    }

    fn flush(&mut self, cur: &mut Option<Block>) {
        if let Some(b) = cur.take()
            && !b.text.trim().is_empty()
        {
            if b.region == Region::Heading {
                self.section += 1;
                self.heading = b.text.trim().to_string();
                self.headings
                    .push((b.first_line(), self.section, self.heading.clone()));
                let mut h = b;
                h.section = self.section;
                h.heading = self.heading.clone();
                self.doc.blocks.push(h);
            } else {
                self.doc.blocks.push(b);
            }
        }
    }

    fn parse_range(&mut self, start: usize, end: usize, depth: u8) {
        let Some(text) = self.src.get(start..end) else {
            return;
        };
        let opts = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
        let mut cur: Option<Block> = None;
        let mut list_depth = 0usize;
        let mut list_group = 0usize;
        let mut table_group: Option<usize> = None;
        let mut quote = 0usize;
        // Inside an image: its alt text is a hidden region, not prose.
        let mut image: Option<(Block, String, String)> = None;
        let mut link: Option<(String, String, u32, String)> = None;
        let mut code: Option<(Block, bool, Range<usize>)> = None;
        let mut html: Option<Block> = None;
        let mut meta = false;
        for (ev, r) in Parser::new_ext(text, opts).into_offset_iter() {
            let r = (r.start + start)..(r.end + start);
            let line = self.lines.line(r.start);
            match ev {
                Event::Start(Tag::MetadataBlock(_)) => meta = true,
                Event::End(TagEnd::MetadataBlock(_)) => meta = false,
                Event::Start(Tag::Heading { .. }) => {
                    self.flush(&mut cur);
                    let g = self.group();
                    cur = Some(self.new_block(Region::Heading, r.start, false, g));
                }
                // An empty block just opened (an item's first paragraph) is reused.
                Event::Start(Tag::Paragraph) | Event::Start(Tag::Item)
                    if cur.as_ref().is_none_or(|b| !b.text.trim().is_empty()) =>
                {
                    self.flush(&mut cur);
                    let in_list = list_depth > 0;
                    let g = if in_list { list_group } else { self.group() };
                    let mut b = self.new_block(Region::Prose, r.start, in_list, g);
                    b.quoted = quote > 0;
                    cur = Some(b);
                }
                Event::Start(Tag::List(_)) => {
                    self.flush(&mut cur);
                    if list_depth == 0 {
                        list_group = self.group();
                    }
                    list_depth += 1;
                }
                Event::End(TagEnd::List(_)) => {
                    self.flush(&mut cur);
                    list_depth = list_depth.saturating_sub(1);
                }
                Event::Start(Tag::BlockQuote(_)) => {
                    self.flush(&mut cur);
                    quote += 1;
                }
                Event::End(TagEnd::BlockQuote(_)) => {
                    self.flush(&mut cur);
                    quote = quote.saturating_sub(1);
                }
                Event::Start(Tag::Table(_)) => {
                    self.flush(&mut cur);
                    table_group = Some(self.group());
                }
                Event::End(TagEnd::Table) => table_group = None,
                Event::Start(Tag::TableCell) => {
                    self.flush(&mut cur);
                    let g = table_group.unwrap_or(0);
                    cur = Some(self.new_block(Region::Prose, r.start, true, g));
                }
                Event::End(TagEnd::Paragraph)
                | Event::End(TagEnd::Heading(_))
                | Event::End(TagEnd::Item)
                | Event::End(TagEnd::TableCell) => self.flush(&mut cur),
                Event::Start(Tag::CodeBlock(kind)) => {
                    self.flush(&mut cur);
                    let block_src = self.src.get(r.clone()).unwrap_or("");
                    let (closed, info) = match &kind {
                        CodeBlockKind::Indented => (true, String::new()),
                        CodeBlockKind::Fenced(i) => (
                            fence_closed(block_src),
                            i.split_whitespace()
                                .next()
                                .unwrap_or("")
                                .to_ascii_lowercase(),
                        ),
                    };
                    if !closed && depth < MAX_DEPTH {
                        // Rescan the fence's content as prose (§8.2, chosen).
                        let body = block_src.find('\n').map_or(r.end, |i| r.start + i + 1);
                        self.parse_range(body, r.end, depth + 1);
                        code = Some((Block::new(Region::Code, 0), false, r.clone()));
                    } else {
                        let g = self.group();
                        let mut b = self.new_block(Region::Code, r.start, list_depth > 0, g);
                        b.info = info;
                        b.anchors.clear();
                        code = Some((b, true, r.clone()));
                    }
                }
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((b, closed, range)) = code.take()
                        && closed
                    {
                        self.doc.code.push(range);
                        if b.anchors.is_empty() {
                            continue;
                        }
                        self.doc.blocks.push(b);
                    }
                }
                Event::Start(Tag::HtmlBlock) => {
                    self.flush(&mut cur);
                    let g = self.group();
                    html = Some(self.new_block(Region::Prose, r.start, false, g));
                }
                Event::End(TagEnd::HtmlBlock) => {
                    if let Some(mut b) = html.take() {
                        b.text = blank_html(&b.text);
                        cur = Some(b);
                        self.flush(&mut cur);
                    }
                }
                Event::Start(Tag::Image {
                    dest_url, title, ..
                }) => {
                    let mut b = self.new_block(Region::Hidden, r.start, false, 0);
                    b.section = self.section;
                    image = Some((b, dest_url.to_string(), title.to_string()));
                }
                Event::End(TagEnd::Image) => {
                    if let Some((b, url, title)) = image.take() {
                        self.doc.dests.push(Dest {
                            url,
                            line: b.first_line(),
                            label: b.text.clone(),
                        });
                        self.hidden_text(&title, b.first_line());
                        let l = b.first_line();
                        let t = b.text;
                        self.hidden_text(&t, l);
                    }
                }
                Event::Start(Tag::Link {
                    dest_url, title, ..
                }) => link = Some((dest_url.to_string(), title.to_string(), line, String::new())),
                Event::End(TagEnd::Link) => {
                    if let Some((url, title, l, label)) = link.take() {
                        self.doc.dests.push(Dest {
                            url,
                            line: l,
                            label,
                        });
                        self.hidden_text(&title, l);
                    }
                }
                Event::Text(t) => {
                    if let Some((b, _, _)) = code.as_mut() {
                        if b.region == Region::Code && b.anchors.is_empty() {
                            b.anchors.push((0, line));
                        }
                        b.push_lines(&t, line);
                    } else if let Some((b, _, _)) = image.as_mut() {
                        b.text.push_str(&t);
                    } else if meta {
                        // Frontmatter read as YAML text; `allowed-tools` is STR-012's, not PI-009's.
                        for mut b in super::doc::text_blocks(&t, true, line) {
                            if b.text.trim_start().starts_with("allowed-tools:") {
                                continue;
                            }
                            b.group = self.group();
                            self.doc.blocks.push(b);
                        }
                    } else {
                        if let Some(l) = link.as_mut() {
                            l.3.push_str(&t);
                        }
                        self.push_text(&mut cur, &t, r.start, list_depth > 0, quote > 0);
                    }
                }
                Event::Code(t) => {
                    self.doc.inline.push(r.clone());
                    let b = self.ensure(&mut cur, r.start, list_depth > 0, quote > 0);
                    b.anchor(line);
                    // Backticks kept: a `.` inside inline code must not end the sentence.
                    b.text.push('`');
                    b.inline_code.push((b.text.len(), t.to_string()));
                    b.text.push_str(&t);
                    b.text.push('`');
                }
                Event::Html(t) => {
                    if let Some(b) = html.as_mut() {
                        b.push_lines(&t, line);
                    }
                }
                Event::SoftBreak | Event::HardBreak => {
                    if let Some(b) = cur.as_mut() {
                        b.text.push(' ');
                    }
                }
                _ => {}
            }
        }
        self.flush(&mut cur);
    }

    fn ensure<'b>(
        &mut self,
        cur: &'b mut Option<Block>,
        at: usize,
        in_list: bool,
        quoted: bool,
    ) -> &'b mut Block {
        if cur.is_none() {
            let g = self.group();
            let mut b = self.new_block(Region::Prose, at, in_list, g);
            b.quoted = quoted;
            *cur = Some(b);
        }
        cur.get_or_insert_with(|| Block::new(Region::Prose, 1))
    }

    fn push_text(&mut self, cur: &mut Option<Block>, t: &str, at: usize, in_list: bool, q: bool) {
        let line = self.lines.line(at);
        let b = self.ensure(cur, at, in_list, q);
        b.push_lines(t, line);
    }

    fn hidden_text(&mut self, t: &str, line: u32) {
        if t.trim().is_empty() {
            return;
        }
        let mut b = Block::from_text(Region::Hidden, t, line);
        b.section = self.section;
        b.group = self.group();
        self.doc.blocks.push(b);
    }

    /// HTML comments, hidden elements and link-reference comments anywhere outside code (PI-006).
    fn hidden_regions(&mut self) {
        static COMMENT: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"(?s)<!--(.*?)-->").expect("regex"));
        static OPEN: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r#"(?is)<([a-z][a-z0-9]*)\b([^>]*)>"#).expect("regex"));
        static HIDDEN_ATTR: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"(?i)(\bhidden\b|aria-hidden\s*=\s*["']?true|display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(px|em|rem|pt|%)?\s*[;"']|opacity\s*:\s*0(\.0+)?\s*[;"'])"#)
                .expect("regex")
        });
        static REFCOMMENT: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"(?m)^ {0,3}\[[^\]\n]*\]:\s*(?:#|<>)\s*(?:\((.*)\)|"(.*)"|'(.*)')\s*$"#)
                .expect("regex")
        });
        let src = self.src;
        let mut found: Vec<(usize, String)> = Vec::new();
        for c in COMMENT.captures_iter(src) {
            if let Some(m) = c.get(1) {
                found.push((m.start(), m.as_str().to_string()));
            }
        }
        for c in OPEN.captures_iter(src) {
            let (Some(all), Some(name), Some(attrs)) = (c.get(0), c.get(1), c.get(2)) else {
                continue;
            };
            if !HIDDEN_ATTR.is_match(attrs.as_str()) {
                continue;
            }
            let close = format!("</{}", name.as_str().to_ascii_lowercase());
            let rest = src.get(all.end()..).unwrap_or("");
            let end = rest.to_ascii_lowercase().find(&close).unwrap_or(rest.len());
            if let Some(inner) = rest.get(..end) {
                found.push((all.end(), blank_html(inner)));
            }
        }
        for c in REFCOMMENT.captures_iter(src) {
            if let Some(m) = c.get(1).or(c.get(2)).or(c.get(3)) {
                found.push((m.start(), m.as_str().to_string()));
            }
        }
        for (at, text) in found {
            if self.doc.in_code(at) || self.doc.in_inline(at) {
                continue;
            }
            let line = self.lines.line(at);
            let mut b = Block::from_text(Region::Hidden, &text, line);
            let i = self.headings.partition_point(|h| h.0 <= line);
            if let Some((_, sec, h)) = i.checked_sub(1).and_then(|k| self.headings.get(k)) {
                b.section = *sec;
                b.heading = h.clone();
            }
            b.group = self.group();
            self.doc.blocks.push(b);
        }
    }
}

/// HTML with comments and tags blanked to spaces of the same byte length (offsets stay valid).
pub fn blank_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = if tail.starts_with("<!--") {
            tail.find("-->").map_or(tail.len(), |j| j + 3)
        } else if tail[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!') {
            tail.find('>').map_or(tail.len(), |j| j + 1)
        } else {
            1
        };
        if end == 1 {
            out.push('<');
        } else {
            for c in tail[..end].chars() {
                if c == '\n' {
                    out.push('\n');
                } else {
                    out.extend(std::iter::repeat_n(' ', c.len_utf8()));
                }
            }
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}
