//! Decoders and path helpers used by constant folding (SPEC §8.2): numbers, char codes, base64 / hex,
//! percent-encoding, `path.join`.

use super::fold::{PKG, Val};
use base64::Engine;

pub fn parse_num(t: &str) -> Option<f64> {
    let t = t.replace('_', "");
    let lower = t.to_ascii_lowercase();
    if let Some(h) = lower.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok().map(|x| x as f64);
    }
    if let Some(o) = lower.strip_prefix("0o") {
        return i64::from_str_radix(o, 8).ok().map(|x| x as f64);
    }
    if let Some(b) = lower.strip_prefix("0b") {
        return i64::from_str_radix(b, 2).ok().map(|x| x as f64);
    }
    lower.trim_end_matches('n').parse().ok()
}

pub fn from_char_codes(xs: &[Val]) -> Option<Val> {
    let mut s = String::new();
    for x in xs {
        match x {
            Val::Num(n) => s.push(char::from_u32(*n as u32).unwrap_or('\u{fffd}')),
            Val::Str(t) => s.push(char::from_u32(parse_num(t)? as u32).unwrap_or('\u{fffd}')),
            _ => return None,
        }
    }
    Some(Val::Str(s))
}

/// Base64 / base64url, padded or not, whitespace ignored; lossy UTF-8.
pub fn decode_b64(s: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let clean: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .trim_end_matches('=')
        .to_string();
    let bytes = STANDARD_NO_PAD
        .decode(&clean)
        .or_else(|_| URL_SAFE_NO_PAD.decode(&clean))
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// `%XX` and `%uXXXX` decoding (`decodeURIComponent`, `unescape`).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if b.get(i + 1) == Some(&b'u')
                && let Some(h) = s.get(i + 2..i + 6)
                && let Ok(cp) = u32::from_str_radix(h, 16)
            {
                let mut buf = [0u8; 4];
                let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += 6;
                continue;
            }
            if let Some(h) = s.get(i + 1..i + 3)
                && let Ok(v) = u8::from_str_radix(h, 16)
            {
                bytes.push(v);
                i += 3;
                continue;
            }
        }
        bytes.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `path.join` of folded parts: forward slashes, empty and `.` segments dropped, `a/..` collapsed.
pub fn join(parts: &[String]) -> String {
    let joined = parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("/")
        .replace('\\', "/");
    let abs = joined.starts_with('/');
    let mut segs: Vec<&str> = Vec::new();
    for s in joined.split('/') {
        match s {
            "" | "." => {}
            ".." if segs
                .last()
                .is_some_and(|l| *l != ".." && *l != "~" && *l != PKG) =>
            {
                segs.pop();
            }
            other => segs.push(other),
        }
    }
    let out = segs.join("/");
    if abs { format!("/{out}") } else { out }
}

pub fn dirname(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p[..i].to_string(),
        None => ".".into(),
    }
}
