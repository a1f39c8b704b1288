//! §8.2 decoders: recognising them on a simple command and, for constant input, decoding in Rust
//! (base64, hex, gzip, `rev`, `tr` rotations). xz, bzip2, zstd and uuencode are recognised but not
//! decoded (no decoder in this build): they still count as decoders for SH-001.

use super::model::{Cmd, Word};
use super::terms::{self, cluster_has, has_arg};
use base64::Engine;
use std::io::Read;

/// Decoded output is capped (§8.2: ≤ 64 KiB per file).
pub(crate) const MAX_DECODED: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decoder {
    Base64,
    Base16,
    /// `xxd -r -p` (plain) or `xxd -r` (dump format).
    Hex {
        plain: bool,
    },
    Gzip,
    /// Recognised, not decoded here.
    Opaque,
    Rev,
    Tr(String, String),
}

/// The decoder a command is, if any (program already stripped of wrappers).
pub(crate) fn decoder(p: &str, args: &[Word]) -> Option<Decoder> {
    let dflag = |a: &str| a == "--decode" || a == "--decompress" || cluster_has(a, 'd');
    match p {
        "base64" | "gbase64" => has_arg(args, |a| {
            a == "--decode" || cluster_has(a, 'd') || cluster_has(a, 'D')
        })
        .then_some(Decoder::Base64),
        "basenc" => {
            if !has_arg(args, |a| a == "--decode" || cluster_has(a, 'd')) {
                return None;
            }
            if has_arg(args, |a| a == "--base16") {
                Some(Decoder::Base16)
            } else if has_arg(args, |a| a.starts_with("--base64")) {
                Some(Decoder::Base64)
            } else {
                Some(Decoder::Opaque)
            }
        }
        "openssl" => {
            let sub = args.first().map(|a| a.s()).unwrap_or("");
            let d = has_arg(args, |a| a == "-d");
            match sub {
                "base64" if d => Some(Decoder::Base64),
                "enc" if d && has_arg(args, |a| a == "-a" || a == "-base64" || a == "-A") => {
                    // `openssl enc -d -a` alone is base64; with a cipher it is decryption (opaque).
                    if args.iter().skip(1).any(|a| {
                        let t = a.s();
                        t.starts_with('-') && !matches!(t, "-d" | "-a" | "-A" | "-base64" | "-in")
                    }) {
                        Some(Decoder::Opaque)
                    } else {
                        Some(Decoder::Base64)
                    }
                }
                _ => None,
            }
        }
        "xxd" => has_arg(args, |a| a == "-r" || a == "-revert" || cluster_has(a, 'r')).then(|| {
            Decoder::Hex {
                plain: has_arg(args, |a| {
                    a == "-p" || a == "-ps" || a == "-plain" || cluster_has(a, 'p')
                }),
            }
        }),
        "uudecode" => Some(Decoder::Opaque),
        "gzip" | "pigz" => has_arg(args, dflag).then_some(Decoder::Gzip),
        "gunzip" | "zcat" | "gzcat" => Some(Decoder::Gzip),
        "xz" | "bzip2" | "zstd" | "lzma" => has_arg(args, dflag).then_some(Decoder::Opaque),
        "unxz" | "xzcat" | "bunzip2" | "bzcat" | "unzstd" | "zstdcat" | "unlzma" | "lzcat" => {
            Some(Decoder::Opaque)
        }
        "rev" => Some(Decoder::Rev),
        "tr" => {
            let sets: Vec<&str> = args
                .iter()
                .map(|a| a.s())
                .filter(|a| !a.starts_with('-'))
                .collect();
            let [a, b] = sets.as_slice() else {
                return None;
            };
            is_rotation(a, b).then(|| Decoder::Tr(a.to_string(), b.to_string()))
        }
        _ => None,
    }
}

/// `tr` with a rotated alphabet (rot13 and friends): both sets are letter ranges and map a letter to a
/// different letter.
fn is_rotation(a: &str, b: &str) -> bool {
    let (x, y) = (expand_set(a), expand_set(b));
    x.len() >= 13
        && y.len() >= 13
        && x.iter().all(|c| c.is_ascii_alphabetic())
        && y.iter().all(|c| c.is_ascii_alphabetic())
        && x.first() != y.first()
}

fn expand_set(s: &str) -> Vec<char> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() && out.len() < 512 {
        if i + 2 < cs.len() && cs[i + 1] == '-' && cs[i] <= cs[i + 2] {
            let (lo, hi) = (cs[i] as u32, cs[i + 2] as u32);
            if hi - lo > 256 {
                return Vec::new();
            }
            out.extend((lo..=hi).filter_map(char::from_u32));
            i += 3;
        } else {
            out.push(cs[i]);
            i += 1;
        }
    }
    out
}

fn b64(data: &[u8]) -> Option<Vec<u8>> {
    let clean: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let cfg = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    let std = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, cfg);
    let url = base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, cfg);
    std.decode(&clean).or_else(|_| url.decode(&clean)).ok()
}

fn hex_plain(data: &[u8]) -> Option<Vec<u8>> {
    let clean: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    hex::decode(clean).ok()
}

/// `xxd` dump lines: `00000000: 6865 6c6c 6f0a  hello.`
fn hex_dump(data: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((_, rest)) = line.split_once(':') else {
            continue;
        };
        let hexpart = rest
            .split("  ")
            .find(|s| !s.trim().is_empty())
            .unwrap_or("");
        let h: String = hexpart.chars().filter(|c| !c.is_whitespace()).collect();
        out.extend(hex::decode(h).ok()?);
    }
    (!out.is_empty()).then_some(out)
}

fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let d = flate2::read::MultiGzDecoder::new(data);
    d.take(MAX_DECODED as u64 + 1).read_to_end(&mut out).ok()?;
    Some(out)
}

fn tr(data: &[u8], a: &str, b: &str) -> Vec<u8> {
    let (x, y) = (expand_set(a), expand_set(b));
    let text = String::from_utf8_lossy(data);
    text.chars()
        .map(|c| match x.iter().position(|&k| k == c) {
            Some(i) => y.get(i).or(y.last()).copied().unwrap_or(c),
            None => c,
        })
        .collect::<String>()
        .into_bytes()
}

/// Applies a decoder to constant bytes; None when it cannot (opaque formats, bad input).
pub(crate) fn apply(d: &Decoder, data: &[u8]) -> Option<Vec<u8>> {
    let mut out = match d {
        Decoder::Base64 => b64(data)?,
        Decoder::Base16 => hex_plain(data)?,
        Decoder::Hex { plain: true } => hex_plain(data)?,
        Decoder::Hex { plain: false } => hex_dump(data).or_else(|| hex_plain(data))?,
        Decoder::Gzip => gunzip(data)?,
        Decoder::Opaque => return None,
        Decoder::Rev => {
            let text = String::from_utf8_lossy(data);
            let mut s = String::with_capacity(text.len());
            for (i, l) in text.split('\n').enumerate() {
                if i > 0 {
                    s.push('\n');
                }
                s.extend(l.chars().rev());
            }
            s.into_bytes()
        }
        Decoder::Tr(a, b) => tr(data, a, b),
    };
    out.truncate(MAX_DECODED);
    Some(out)
}

/// Constant output of a producer command: `echo`/`printf` of constants, or a command fed a here-string
/// / here-document (`cat <<EOF`, `base64 -d <<< …`: then the decoder applies to that input).
fn producer_output(c: &Cmd) -> Option<Vec<u8>> {
    let (p, args) = terms::prog(c)?;
    match p.as_str() {
        "echo" => {
            let mut no_newline = false;
            let mut escapes = false;
            let mut words = Vec::new();
            for a in args {
                let t = a.text.as_deref()?;
                if words.is_empty()
                    && t.starts_with('-')
                    && t.len() > 1
                    && t[1..].chars().all(|c| "neE".contains(c))
                {
                    no_newline |= t.contains('n');
                    escapes |= t.contains('e');
                    continue;
                }
                words.push(t);
            }
            let mut s = words.join(" ");
            if escapes {
                s = s.replace("\\n", "\n").replace("\\t", "\t");
            }
            if !no_newline {
                s.push('\n');
            }
            Some(s.into_bytes())
        }
        "printf" => {
            let texts: Option<Vec<&str>> = args.iter().map(|a| a.text.as_deref()).collect();
            let texts = texts?;
            let (fmt, rest) = texts.split_first()?;
            // `printf '%s' X` and `printf X` (the common forms).
            let s = if fmt.contains("%s") && !rest.is_empty() {
                rest.concat()
            } else {
                fmt.replace("\\n", "\n")
            };
            Some(s.into_bytes())
        }
        "cat" => {
            let operands = args.iter().any(|a| a.s() != "-");
            if operands {
                return None;
            }
            Some(c.stdin.as_ref()?.text.clone()?.into_bytes())
        }
        _ => None,
    }
}

/// The constant output of `cmds[from..to]`: a producer followed only by decoders, or a decoder fed a
/// here-string. Returns the bytes and the number of decoders applied (0 = a plain constant).
pub(crate) fn pipeline_output(cmds: &[Cmd], from: usize, to: usize) -> Option<(Vec<u8>, usize)> {
    let first = cmds.get(from)?;
    let mut decoders = 0;
    let mut data = match producer_output(first) {
        Some(d) => d,
        None => {
            let (p, args) = terms::prog(first)?;
            let d = decoder(&p, args)?;
            let input = first.stdin.as_ref()?.text.clone()?;
            decoders += 1;
            apply(&d, input.as_bytes())?
        }
    };
    for c in cmds.get(from + 1..to)? {
        let (p, args) = terms::prog(c)?;
        let d = decoder(&p, args)?;
        // A decoder reading a file operand does not decode the pipe.
        if args
            .iter()
            .any(|a| !a.s().starts_with('-') && p != "tr" && p != "openssl" && p != "basenc")
        {
            return None;
        }
        data = apply(&d, &data)?;
        decoders += 1;
    }
    Some((data, decoders))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_decode() {
        assert_eq!(apply(&Decoder::Base64, b"aGVsbG8=\n").unwrap(), b"hello");
        assert_eq!(apply(&Decoder::Base64, b"aGVsbG8").unwrap(), b"hello");
        assert_eq!(
            apply(&Decoder::Hex { plain: true }, b"68 65\n6c6c6f").unwrap(),
            b"hello"
        );
        assert_eq!(apply(&Decoder::Rev, b"olleh").unwrap(), b"hello");
        let rot = Decoder::Tr("A-Za-z".into(), "N-ZA-Mn-za-m".into());
        assert_eq!(apply(&rot, b"uryyb").unwrap(), b"hello");
        let gz = crate::archive::testutil::gzip(b"hello");
        assert_eq!(apply(&Decoder::Gzip, &gz).unwrap(), b"hello");
        assert!(apply(&Decoder::Gzip, b"not gzip").is_none());
        assert!(apply(&Decoder::Opaque, b"x").is_none());
        assert!(!is_rotation("a-z", "a-z"));
        assert!(!is_rotation("abc", "xyz"));
    }
}
