//! Credentials: API token generation and hashing, scopes, capability-URL signatures.
//! Pure functions; the HTTP layer decides what a failure means.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const SCOPE_READ: &str = "skills:read";
pub const SCOPE_PUBLISH: &str = "skills:publish";
pub const SCOPE_ADMIN: &str = "skills:admin";
pub const ALL_SCOPES: [&str; 3] = [SCOPE_READ, SCOPE_PUBLISH, SCOPE_ADMIN];

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// 32 bytes from the OS CSPRNG as a big-endian integer in base62, left-padded to 43 characters (SPEC §2.8).
pub fn random_base62_43() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base62_43(&bytes)
}

fn base62_43(bytes: &[u8; 32]) -> String {
    // Repeated division of a 256-bit big-endian number by 62.
    let mut num = bytes.to_vec();
    let mut digits = Vec::with_capacity(43);
    while num.iter().any(|&b| b != 0) {
        let mut rem: u32 = 0;
        for b in num.iter_mut() {
            let cur = (rem << 8) | *b as u32;
            *b = (cur / 62) as u8;
            rem = cur % 62;
        }
        digits.push(BASE62[rem as usize]);
    }
    while digits.len() < 43 {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("base62 is ASCII")
}

/// A new API token: `tank_` + 43 base62 characters.
pub fn generate_token() -> String {
    format!("tank_{}", random_base62_43())
}

/// SHA-256 hex: how tokens, session ids and login secrets are stored.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Display prefix of a token: its first 12 characters.
pub fn token_prefix(token: &str) -> String {
    token.chars().take(12).collect()
}

pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Effective scopes are hierarchical: admin ⊃ publish ⊃ read (SPEC §2.8).
pub fn has_scope(granted: &[String], needed: &str) -> bool {
    let rank = |s: &str| match s {
        SCOPE_READ => 1,
        SCOPE_PUBLISH => 2,
        SCOPE_ADMIN => 3,
        _ => 0,
    };
    let need = rank(needed);
    granted.iter().any(|g| rank(g) >= need && need > 0)
}

type HmacSha256 = Hmac<Sha256>;

/// Lowercase hex HMAC-SHA256 of `message`.
pub fn sign(secret: &[u8], message: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time check of a hex signature.
pub fn verify(secret: &[u8], message: &str, signature_hex: &str) -> bool {
    let Ok(sig) = hex::decode(signature_hex) else {
        return false;
    };
    if signature_hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return false;
    }
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(message.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// The signed message of an upload URL (SPEC §3.5).
pub fn upload_message(version_id: &str, expires: i64) -> String {
    format!("PUT\n/api/v1/uploads/{version_id}\n{expires}")
}

/// The signed message of a private download URL (SPEC §3.9).
pub fn download_message(name: &str, version: &str, uid: &str, expires: i64) -> String {
    format!("GET\n/api/v1/skills/{name}/{version}/tarball\n{uid}\n{expires}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape() {
        let t = generate_token();
        assert_eq!(t.len(), 48);
        assert!(t.starts_with("tank_"));
        assert!(t[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(generate_token(), t);
    }

    #[test]
    fn base62_padding_and_max() {
        assert_eq!(base62_43(&[0u8; 32]), "0".repeat(43));
        let mut one = [0u8; 32];
        one[31] = 61;
        assert_eq!(base62_43(&one), format!("{}z", "0".repeat(42)));
        assert_eq!(base62_43(&[0xff; 32]).len(), 43);
    }

    #[test]
    fn scopes_are_hierarchical() {
        let admin = vec![SCOPE_ADMIN.to_string()];
        let read = vec![SCOPE_READ.to_string()];
        assert!(has_scope(&admin, SCOPE_READ));
        assert!(has_scope(&admin, SCOPE_PUBLISH));
        assert!(!has_scope(&read, SCOPE_PUBLISH));
        assert!(has_scope(&read, SCOPE_READ));
    }

    #[test]
    fn signatures() {
        let s = sign(b"k", "m");
        assert!(verify(b"k", "m", &s));
        assert!(!verify(b"k", "m2", &s));
        assert!(!verify(b"k", "m", &s.to_uppercase()));
        assert!(!verify(b"k", "m", "zz"));
    }
}
