//! Untrusted API bodies (spec §1.8, architecture invariant 5), in `cargo test` as well as
//! under the fuzzer (`fuzz/`, target `decode_json`): the fuzz seeds, mutated at random,
//! never make decoding panic, and whatever decodes survives a serialise/decode round trip.

use ilink::models::{
    GetConfigResponse, GetUpdatesResponse, GetUploadUrlResponse, QrStatusResponse,
    SendMessageResponse, WeixinMessage,
};
use proptest::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

const SEEDS: [&str; 5] = [
    include_str!("../fuzz/seeds/decode_json/getupdates.json"),
    include_str!("../fuzz/seeds/decode_json/ids.json"),
    include_str!("../fuzz/seeds/decode_json/qr.json"),
    include_str!("../fuzz/seeds/decode_json/stale.json"),
    include_str!("../fuzz/seeds/decode_json/upload.json"),
];

/// One edit: overwrite, insert or delete a byte at a position (taken modulo the length).
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to JSON more often than chance would pick them.
    let byte = prop_oneof![
        any::<u8>(),
        proptest::sample::select(b"{}[]\":,-0123456789e.tfn\\ ".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(seed: &str, edits: &[Edit]) -> Vec<u8> {
    let mut data = seed.as_bytes().to_vec();
    for edit in edits {
        match *edit {
            Edit::Set(at, b) if !data.is_empty() => {
                let at = at % data.len();
                data[at] = b;
            }
            Edit::Insert(at, b) => data.insert(at % (data.len() + 1), b),
            Edit::Delete(at) if !data.is_empty() => {
                data.remove(at % data.len());
            }
            _ => {}
        }
    }
    data
}

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    data: &[u8],
) -> Result<(), TestCaseError> {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let text = serde_json::to_vec(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again: T =
            serde_json::from_slice(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again, value);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_bodies_never_panic_and_round_trip(
        seed in proptest::sample::select(SEEDS.to_vec()),
        edits in proptest::collection::vec(edit(), 0..8),
    ) {
        let data = apply(seed, &edits);
        round_trip::<GetUpdatesResponse>(&data)?;
        round_trip::<WeixinMessage>(&data)?;
        round_trip::<SendMessageResponse>(&data)?;
        round_trip::<GetUploadUrlResponse>(&data)?;
        round_trip::<GetConfigResponse>(&data)?;
        round_trip::<QrStatusResponse>(&data)?;
    }
}

#[test]
fn the_seeds_decode() {
    for seed in SEEDS {
        assert!(
            serde_json::from_str::<serde_json::Value>(seed).is_ok(),
            "{seed}"
        );
    }
    let updates: GetUpdatesResponse = serde_json::from_str(SEEDS[0]).unwrap();
    assert_eq!(updates.msgs.map(|m| m.len()), Some(1));
}
