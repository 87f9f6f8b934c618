//! Reading media keys from untrusted text never panics; a key that parses re-encodes
//! to text that parses back to it.

#![no_main]

use ilink::crypto;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(key) = crypto::parse_media_key(&text) {
        let outbound = crypto::key_for_outbound_media(&key);
        assert_eq!(crypto::parse_media_key(&outbound), Ok(key));
    }
    if let Ok(key) = crypto::parse_hex_key(&text) {
        assert_eq!(crypto::parse_hex_key(&crypto::key_hex(&key)), Ok(key));
    }
});
