//! Random identifiers shaped like the ones the real server issues (docs/protocol.md §2.2, E6, E9).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Ids on the wire go beyond 2^53 (docs/protocol.md §1.8); every id the emulator issues does, so a
/// client that parses them as `f64` loses precision in tests, not in production.
pub(crate) const MIN_WIRE_ID: u64 = (1 << 53) + 1;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn random_hex(len_bytes: usize) -> String {
    let bytes: Vec<u8> = (0..len_bytes).map(|_| rand::random::<u8>()).collect();
    hex(&bytes)
}

pub(crate) fn random_b64(len_bytes: usize) -> String {
    let bytes: Vec<u8> = (0..len_bytes).map(|_| rand::random::<u8>()).collect();
    STANDARD.encode(bytes)
}

/// `<12 hex>@im.bot`.
pub(crate) fn bot_id() -> String {
    format!("{}@im.bot", random_hex(6))
}

/// A mixed-case `…@im.wechat` id, so clients that lower-case peer ids get caught (§5.5).
pub(crate) fn user_id() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    loop {
        let tail: String = (0..24)
            .map(|_| ALNUM[rand::random_range(0..ALNUM.len())] as char)
            .collect();
        // Redraw the rare tail without both cases.
        if tail.bytes().any(|b| b.is_ascii_uppercase())
            && tail.bytes().any(|b| b.is_ascii_lowercase())
        {
            return format!("o9cq8{tail}@im.wechat");
        }
    }
}

/// Opaque, shaped like the one public capture: `<botid>:<hex>`.
pub(crate) fn bot_token(bot_id: &str) -> String {
    format!("{bot_id}:{}", random_hex(16))
}

/// A u64 above 2^53 and below 2^63.
pub(crate) fn wire_id() -> u64 {
    rand::random_range(MIN_WIRE_ID..(i64::MAX as u64))
}
