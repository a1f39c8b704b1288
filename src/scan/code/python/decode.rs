//! Decoding and formatting helpers of Python constant folding (SPEC §8.2): string escapes, base64 /
//! base32 / hex / zlib / rot13 decoders (PY-003 decoders that fold), `%` and `str.format`.

use super::fold::{MAX_LEN, Val};
use base64::Engine;
use std::io::Read;

/// Python string-literal escapes (`\n`, `\xHH`, `\uXXXX`, …); unknown escapes stay as they are.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some('"') => out.push('"'),
            Some('\n') => {}
            Some(k @ ('x' | 'u' | 'U')) => {
                let n = match k {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).filter_map(|_| it.next()).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) if hex.len() == n => out.push(ch),
                    _ => {
                        out.push('\\');
                        out.push(k);
                        out.push_str(&hex);
                    }
                }
            }
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Decodes base64 leniently (standard or URL-safe alphabet, padding optional, whitespace ignored).
pub fn b64(s: &[u8]) -> Option<Vec<u8>> {
    let clean: Vec<u8> = s
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let trimmed: Vec<u8> = clean.iter().copied().filter(|b| *b != b'=').collect();
    let e = base64::engine::general_purpose::STANDARD_NO_PAD;
    let u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    e.decode(&trimmed).or_else(|_| u.decode(&trimmed)).ok()
}

fn inflate(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let lim = MAX_LEN as u64;
    if flate2::read::ZlibDecoder::new(b)
        .take(lim)
        .read_to_end(&mut out)
        .is_ok()
    {
        return Some(out);
    }
    out.clear();
    flate2::read::GzDecoder::new(b)
        .take(lim)
        .read_to_end(&mut out)
        .ok()
        .map(|_| out)
}

fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

fn bytes_of(v: &Val) -> Option<Vec<u8>> {
    match v {
        Val::Str(s) => Some(s.as_bytes().to_vec()),
        Val::Bytes(b) => Some(b.clone()),
        _ => None,
    }
}

/// The decoder functions of PY-003 that fold, by qualified name.
pub fn decode(q: &str, arg: &Val, extra: Option<&Val>) -> Option<Val> {
    let b = bytes_of(arg)?;
    let out = match q {
        "base64.b64decode"
        | "base64.standard_b64decode"
        | "base64.urlsafe_b64decode"
        | "base64.decodebytes"
        | "base64.decodestring"
        | "binascii.a2b_base64" => b64(&b)?,
        "base64.b32decode" => {
            let s = String::from_utf8_lossy(&b).to_ascii_uppercase();
            b32(&s)?
        }
        "base64.b16decode"
        | "binascii.unhexlify"
        | "binascii.a2b_hex"
        | "builtins.bytes.fromhex" => {
            let s: String = String::from_utf8_lossy(&b)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            hex::decode(s).ok()?
        }
        "zlib.decompress" | "gzip.decompress" => inflate(&b)?,
        "codecs.decode" => {
            let enc = extra
                .and_then(Val::text)
                .unwrap_or_default()
                .to_ascii_lowercase();
            let enc = enc.replace(['-', '_'], "");
            match enc.as_str() {
                "rot13" => return Some(Val::Str(rot13(&String::from_utf8_lossy(&b)))),
                "hex" | "hexcodec" => hex::decode(String::from_utf8_lossy(&b).trim()).ok()?,
                "base64" | "base64codec" => b64(&b)?,
                "zlib" | "zlibcodec" => inflate(&b)?,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(Val::Bytes(out))
}

fn b32(s: &str) -> Option<Vec<u8>> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()) {
        let v = A.iter().position(|x| *x == c)? as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

/// Qualified names of the PY-003 decoders (folding or not).
pub fn is_decoder(q: &str) -> bool {
    q.strip_prefix("base64.")
        .is_some_and(|n| n.starts_with('b') && n.ends_with("decode") && !n.contains(['.', '(']))
        || matches!(
            q,
            "base64.decodebytes"
                | "base64.decodestring"
                | "binascii.unhexlify"
                | "binascii.a2b_hex"
                | "binascii.a2b_base64"
                | "binascii.a2b_uu"
                | "binascii.a2b_qp"
                | "builtins.bytes.fromhex"
                | "codecs.decode"
                | "zlib.decompress"
                | "gzip.decompress"
                | "bz2.decompress"
                | "lzma.decompress"
                | "marshal.loads"
                | "builtins.chr"
        )
}

pub fn format_percent(fmt: &str, args: &[Val]) -> Option<String> {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut i = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // Skip flags/width; take the conversion char.
        let mut conv = None;
        for n in it.by_ref() {
            if n.is_ascii_alphabetic() || n == '%' {
                conv = Some(n);
                break;
            }
        }
        match conv? {
            '%' => out.push('%'),
            _ => {
                out.push_str(&args.get(i)?.text()?);
                i += 1;
            }
        }
    }
    Some(out)
}

pub fn format_braces(fmt: &str, pos: &[Val], kw: &[(String, Val)]) -> Option<String> {
    let mut out = String::new();
    let mut rest = fmt;
    let mut auto = 0;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return None;
        }
        let end = tail.find('}')?;
        let field = &tail[1..end];
        let name = field.split([':', '!']).next().unwrap_or("");
        let v = if name.is_empty() {
            auto += 1;
            pos.get(auto - 1)?
        } else if let Ok(n) = name.parse::<usize>() {
            pos.get(n)?
        } else {
            &kw.iter().find(|(k, _)| k == name)?.1
        };
        out.push_str(&v.text()?);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}
