//! Untrusted voice bytes through the codec dispatch and the SILK decoder: no panic, no
//! crash in the C decoder, and a failure hands the bytes back untouched.

#![no_main]

use ilink::models::VoiceEncoding;
use ilink::voice;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&encode_type, audio)) = data.split_first() else {
        return;
    };
    // Half the inputs get the SILK header, so the fuzzer reaches the decoder quickly.
    let mut bytes = Vec::with_capacity(audio.len() + 10);
    if encode_type & 0x80 != 0 {
        bytes.extend_from_slice(b"\x02#!SILK_V3");
    }
    bytes.extend_from_slice(audio);
    let encode_type = VoiceEncoding::from_wire(i64::from(encode_type & 0x0F));
    match voice::voice_to_wav(Some(encode_type), bytes.clone()) {
        Ok(wav) => assert!(wav.starts_with(b"RIFF")),
        Err(kept) => assert_eq!(kept.raw, bytes),
    }
});
