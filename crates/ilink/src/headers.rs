//! Header values the server expects on every API call (docs/protocol.md §1.2–1.4).

use base64::Engine as _;

/// `X-WECHAT-UIN`: a uint32 written in decimal, then standard base64 with padding.
/// A new random value goes on every request; see [`random_wechat_uin`].
pub fn wechat_uin(value: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// A fresh `X-WECHAT-UIN` from 4 random bytes.
pub fn random_wechat_uin() -> String {
    wechat_uin(rand::random::<u32>())
}

/// `iLink-App-ClientVersion`: `major<<16 | minor<<8 | patch`, each part masked to 8 bits.
/// Each dot-separated part is read as its leading digits (`3-beta` is 3); a missing or
/// non-numeric part is 0.
pub fn client_version(version: &str) -> u32 {
    let mut parts = version.split('.').map(leading_integer);
    let mut next = || parts.next().unwrap_or(0) & 0xFF;
    let (major, minor, patch) = (next(), next(), next());
    (major << 16) | (minor << 8) | patch
}

fn leading_integer(part: &str) -> u32 {
    part.bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u32, |acc, d| {
            acc.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uin_vectors() {
        // Spec §10.4.
        assert_eq!(wechat_uin(0), "MA==");
        assert_eq!(wechat_uin(12345), "MTIzNDU=");
        assert_eq!(wechat_uin(3735928559), "MzczNTkyODU1OQ==");
        assert_eq!(wechat_uin(4294967295), "NDI5NDk2NzI5NQ==");
    }

    #[test]
    fn random_uin_is_base64_of_decimal_digits() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(random_wechat_uin())
            .unwrap();
        let text = String::from_utf8(decoded).unwrap();
        assert!((1..=10).contains(&text.len()));
        text.parse::<u32>().unwrap();
    }

    #[test]
    fn client_version_vectors() {
        // Spec §10.5.
        for (v, expected) in [
            ("1.0.11", 65547),
            ("2.0.0", 131072),
            ("2.1.1", 131329),
            ("2.4.3", 132099),
            ("2.4.3-beta.1", 132099),
            ("2.4.9", 132105),
            ("2.4.9-beta.0", 132105),
            ("3.1.6", 196870),
            ("2", 131072),
            ("1.300.5", 76805),
            ("0.0.0", 0),
        ] {
            assert_eq!(client_version(v), expected, "{v}");
        }
    }
}
