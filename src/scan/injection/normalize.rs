//! The §8.2 "Normalised text" of stage 3: NFKC, removal of invisible characters (zero-width, Tag block,
//! variation selectors, bidi controls — the UNI rules report them), a confusables skeleton, lower case,
//! whitespace collapse, then sentences and `[a-z0-9']+` tokens.
//!
//! The skeleton is a compact built-in table of the common Cyrillic and Greek look-alikes plus typographic
//! quotes and dashes (chosen: UTS #39's full table is large; these are the letters attacks use).

use unicode_normalization::UnicodeNormalization;

/// Characters removed before matching (§8.2); U+200E/U+200F/U+061C are bidi marks and removed too.
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x2064 | 0x2066..=0x2069 | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF
        | 0xE0000..=0xE007F | 0xE0100..=0xE01EF)
}

/// The Latin skeleton of a Cyrillic or Greek look-alike, typographic quote or dash.
pub fn skeleton(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'А' | 'Α' => 'A',
        'В' | 'Β' => 'B',
        'с' | 'ϲ' => 'c',
        'С' | 'Ϲ' => 'C',
        'ԁ' => 'd',
        'е' => 'e',
        'Е' | 'Ε' => 'E',
        'ɡ' => 'g',
        'һ' => 'h',
        'Н' | 'Η' => 'H',
        'і' | 'ι' => 'i',
        'І' | 'Ι' => 'I',
        'ј' => 'j',
        'Ј' => 'J',
        'κ' | 'к' => 'k',
        'К' | 'Κ' => 'K',
        'ӏ' => 'l',
        'М' | 'Μ' => 'M',
        'Ν' => 'N',
        'о' | 'ο' => 'o',
        'О' | 'Ο' => 'O',
        'р' | 'ρ' => 'p',
        'Р' | 'Ρ' => 'P',
        'ԛ' => 'q',
        'ѕ' => 's',
        'Ѕ' => 'S',
        'Т' | 'Τ' => 'T',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' => 'w',
        'х' | 'χ' => 'x',
        'Х' | 'Χ' => 'X',
        'у' => 'y',
        'У' | 'Υ' => 'Y',
        'Ζ' => 'Z',
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' | '`' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201F}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        _ => c,
    }
}

/// True for a Cyrillic or Greek letter (UNI-004 script mixing).
pub fn is_cyrillic_or_greek(c: char) -> bool {
    matches!(c as u32, 0x0370..=0x03FF | 0x0400..=0x052F | 0x1F00..=0x1FFF)
}

/// Normalised characters of `raw`, each with the byte offset of the raw character it came from.
pub fn normalize(raw: &str) -> Vec<(char, usize)> {
    let mut out: Vec<(char, usize)> = Vec::with_capacity(raw.len());
    let push = |c: char, at: usize, out: &mut Vec<(char, usize)>| {
        if c.is_whitespace() {
            if out.last().is_some_and(|l| l.0 != ' ') {
                out.push((' ', at));
            }
        } else if c.is_ascii() {
            out.push((c.to_ascii_lowercase(), at));
        } else {
            out.extend(c.to_lowercase().map(|l| (l, at)));
        }
    };
    for (i, c) in raw.char_indices() {
        if c.is_ascii() {
            push(c, i, &mut out);
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        for n in std::iter::once(c).nfkc() {
            if !is_invisible(n) {
                push(skeleton(n), i, &mut out);
            }
        }
    }
    out
}

/// One sentence of normalised text.
#[derive(Debug, Clone)]
pub struct Sentence {
    /// Normalised text (punctuation kept).
    pub norm: String,
    /// Tokens joined by single spaces: the string the phrase rules match.
    pub tstr: String,
    pub toks: Vec<Tok>,
    /// Byte range of the sentence in the raw text it came from.
    pub raw_start: usize,
    pub raw_end: usize,
}

#[derive(Debug, Clone)]
pub struct Tok {
    pub s: String,
    /// Byte offset in `Sentence::norm`.
    pub at: usize,
    /// Byte offset in `Sentence::tstr`.
    pub ts: usize,
}

impl Sentence {
    /// The token index at or after byte `b` of `tstr`.
    pub fn tok_at_tstr(&self, b: usize) -> usize {
        self.toks.partition_point(|t| t.ts < b)
    }
    /// The token index at or after byte `b` of `norm`.
    pub fn tok_at_norm(&self, b: usize) -> usize {
        self.toks.partition_point(|t| t.at < b)
    }
    pub fn has(&self, words: &[&str]) -> bool {
        self.toks.iter().any(|t| words.contains(&t.s.as_str()))
    }
}

fn tokenize(norm: &str) -> (Vec<Tok>, String) {
    let mut toks = Vec::new();
    let mut tstr = String::with_capacity(norm.len());
    let mut cur: Option<usize> = None;
    let is_tok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '\'';
    let flush = |start: usize, end: usize, toks: &mut Vec<Tok>, tstr: &mut String| {
        let s = norm.get(start..end).unwrap_or("").trim_matches('\'');
        if s.is_empty() {
            return;
        }
        if !tstr.is_empty() {
            tstr.push(' ');
        }
        toks.push(Tok {
            s: s.to_string(),
            at: start,
            ts: tstr.len(),
        });
        tstr.push_str(s);
    };
    for (i, c) in norm.char_indices() {
        match (is_tok(c), cur) {
            (true, None) => cur = Some(i),
            (false, Some(s)) => {
                flush(s, i, &mut toks, &mut tstr);
                cur = None;
            }
            _ => {}
        }
    }
    if let Some(s) = cur {
        flush(s, norm.len(), &mut toks, &mut tstr);
    }
    (toks, tstr)
}

/// Abbreviations that do not end a sentence (§8.2).
fn ends_with_abbrev(s: &str) -> bool {
    ["e.g", "i.e", "etc", "vs"].iter().any(|a| {
        s.strip_suffix(a).is_some_and(|p| {
            p.is_empty()
                || p.ends_with(|c: char| !c.is_ascii_alphanumeric() && c != '.')
                || *a == "e.g" && p.ends_with(' ')
        })
    })
}

/// Splits `raw` into normalised sentences at `.`, `!`, `?`, `;` followed by whitespace or the end, except
/// after `e.g.`, `i.e.`, `etc.`, `vs.` (§8.2). Block ends are the caller's: one call per block.
pub fn sentences(raw: &str) -> Vec<Sentence> {
    let chars = normalize(raw);
    let mut out = Vec::new();
    let mut start = 0;
    let mut cur = String::new();
    for i in 0..chars.len() {
        let (c, _) = chars[i];
        cur.push(c);
        let next_ws = chars.get(i + 1).is_none_or(|n| n.0 == ' ');
        let ends = matches!(c, '.' | '!' | '?' | ';')
            && next_ws
            && !(c == '.' && ends_with_abbrev(&cur[..cur.len() - 1]));
        if ends || i + 1 == chars.len() {
            while start < i && chars[start].0 == ' ' {
                start += 1;
            }
            let raw_start = chars[start].1;
            let raw_end = chars.get(i + 1).map_or(raw.len(), |n| n.1).max(raw_start);
            let norm = std::mem::take(&mut cur).trim().to_string();
            let (toks, tstr) = tokenize(&norm);
            if !norm.is_empty() {
                out.push(Sentence {
                    norm,
                    tstr,
                    toks,
                    raw_start,
                    raw_end,
                });
            }
            start = i + 1;
        }
    }
    out
}

/// Normalised text of `raw` as one string (for whole-block checks).
pub fn norm_string(raw: &str) -> String {
    normalize(raw).into_iter().map(|(c, _)| c).collect()
}

/// True when `w` (or `w` + s/es/ed/ing) is `base`.
pub fn inflects(w: &str, base: &str) -> bool {
    w == base
        || w.strip_prefix(base).is_some_and(|rest| {
            matches!(rest, "s" | "es" | "ed" | "d" | "ing") || base.ends_with('e') && rest == "d"
        })
        || base
            .strip_suffix('e')
            .is_some_and(|stem| w.strip_prefix(stem) == Some("ing"))
}
