//! Property tests of the CDN crypto (docs/protocol.md §7.1, §7.3): round trips for random data cut
//! into random chunks, the padded size, wrong keys, and our MD5 against the `md-5` crate's.

use ilink::crypto::{self, AesKey, CryptoError, Decryptor, Encryptor, BLOCK};
use proptest::prelude::*;

/// Cuts `data` at the given points (taken modulo its length, sorted).
fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| {
            if data.is_empty() {
                0
            } else {
                c % (data.len() + 1)
            }
        })
        .collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for point in points {
        out.push(&data[start..point]);
        start = point;
    }
    out.push(&data[start..]);
    out
}

fn encrypt_in(key: &AesKey, parts: &[&[u8]]) -> Vec<u8> {
    let mut enc = Encryptor::new(key);
    let mut out = Vec::new();
    for part in parts {
        enc.update(part, &mut out);
    }
    enc.finish(&mut out);
    out
}

fn encrypt_in_place_in(key: &AesKey, parts: &[&[u8]]) -> Vec<u8> {
    let mut enc = Encryptor::new(key);
    let mut out = Vec::new();
    for part in parts {
        let mut buf = part.to_vec();
        enc.update_in_place(&mut buf);
        out.extend_from_slice(&buf);
    }
    enc.finish(&mut out);
    out
}

fn decrypt_in(key: &AesKey, parts: &[&[u8]]) -> Result<Vec<u8>, CryptoError> {
    let mut dec = Decryptor::new(key);
    let mut out = Vec::new();
    for part in parts {
        dec.update(part, &mut out);
    }
    dec.finish(&mut out).map(|()| out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chunked_round_trip_matches_one_shot(
        key in any::<AesKey>(),
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        enc_cuts in proptest::collection::vec(any::<usize>(), 0..12),
        dec_cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = crypto::encrypt(&key, &data);
        prop_assert_eq!(whole.len() as u64, crypto::padded_size(data.len() as u64));
        prop_assert_eq!(whole.len() % BLOCK, 0);
        prop_assert!(whole.len() > data.len() && whole.len() <= data.len() + BLOCK);

        let chunked = encrypt_in(&key, &pieces(&data, &enc_cuts));
        prop_assert_eq!(&chunked, &whole);
        let in_place = encrypt_in_place_in(&key, &pieces(&data, &enc_cuts));
        prop_assert_eq!(&in_place, &whole);

        prop_assert_eq!(crypto::decrypt(&key, &whole)?, data.clone());
        prop_assert_eq!(decrypt_in(&key, &pieces(&whole, &dec_cuts))?, data);
    }

    #[test]
    fn a_different_key_never_panics(
        key in any::<AesKey>(),
        other in any::<AesKey>(),
        data in proptest::collection::vec(any::<u8>(), 0..1024),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        prop_assume!(key != other);
        let cipher = crypto::encrypt(&key, &data);
        // Usually a padding error; by chance (about 1 in 256) the padding checks out
        // and garbage of a plausible length comes back. Never a panic.
        match decrypt_in(&other, &pieces(&cipher, &cuts)) {
            Ok(plain) => prop_assert!(plain.len() < cipher.len()),
            Err(err) => prop_assert_eq!(err, CryptoError::BadPadding),
        }
    }

    #[test]
    fn arbitrary_ciphertext_never_panics(
        key in any::<AesKey>(),
        cipher in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        match decrypt_in(&key, &pieces(&cipher, &cuts)) {
            Ok(plain) => {
                prop_assert!(!cipher.is_empty() && cipher.len() % BLOCK == 0);
                prop_assert!(plain.len() < cipher.len() && plain.len() + BLOCK >= cipher.len());
            }
            Err(CryptoError::BadLength(n)) => {
                prop_assert_eq!(n, cipher.len() as u64);
                prop_assert!(cipher.is_empty() || cipher.len() % BLOCK != 0);
            }
            Err(err) => prop_assert_eq!(err, CryptoError::BadPadding),
        }
    }

    #[test]
    fn padded_size_is_the_next_whole_block(n in 0u64..(u64::MAX / 2)) {
        let size = crypto::padded_size(n);
        prop_assert_eq!(size % BLOCK as u64, 0);
        prop_assert!(size > n && size - n <= BLOCK as u64);
    }

    #[test]
    fn media_key_encodings_round_trip(key in any::<AesKey>()) {
        prop_assert_eq!(crypto::parse_media_key(&crypto::key_for_outbound_media(&key))?, key);
        prop_assert_eq!(crypto::parse_hex_key(&crypto::key_hex(&key))?, key);
    }

    #[test]
    fn key_parsers_never_panic(text in "\\PC{0,64}") {
        let _ = crypto::parse_media_key(&text);
        let _ = crypto::parse_hex_key(&text);
    }
}
