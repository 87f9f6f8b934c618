use proptest::prelude::*;

use super::*;

fn speex_like() -> Vec<u8> {
    vec![0x1e, 0x9d, 0x00, 0x10, 0x42]
}

#[test]
fn unsupported_codecs_keep_the_raw_bytes_and_name_the_codec() {
    let raw = speex_like();
    let kept = voice_to_wav(Some(VoiceEncoding::Speex), raw.clone()).unwrap_err();
    assert_eq!(kept.raw, raw);
    assert_eq!(
        kept.error,
        VoiceError::Unsupported {
            codec: VoiceCodec::Speex
        }
    );
    assert_eq!(kept.mime(), "audio/speex");
    assert!(kept.to_string().contains("Speex"), "{kept}");

    let kept = voice_to_wav(Some(VoiceEncoding::Unknown(12)), raw.clone()).unwrap_err();
    assert_eq!(kept.error.codec(), VoiceCodec::Unknown(Some(12)));
    assert!(kept.to_string().contains("encode_type 12"), "{kept}");
}

#[test]
fn broken_silk_is_kept_as_audio_silk() {
    // SILK magic, then a packet whose length runs past the 1024-byte limit.
    let raw = [b"\x02#!SILK_V3".as_slice(), &[0xFF, 0x7F, 1, 2, 3]].concat();
    let kept = voice_to_wav(Some(VoiceEncoding::Silk), raw.clone()).unwrap_err();
    assert_eq!(kept.raw, raw);
    assert_eq!(kept.mime(), "audio/silk");
    assert!(matches!(
        kept.error,
        VoiceError::Corrupt {
            codec: VoiceCodec::Silk,
            ..
        }
    ));
    assert!(kept.to_string().contains("SILK"), "{kept}");

    // encode_type says SILK but the bytes are not: still SILK's error, bytes kept.
    let kept = voice_to_wav(Some(VoiceEncoding::Silk), speex_like()).unwrap_err();
    assert_eq!(kept.raw, speex_like());
    assert_eq!(kept.error.codec(), VoiceCodec::Silk);
}

#[test]
fn wav_passes_through() {
    let wav = wrap_pcm(&[0, 1, 2, 3], VOICE_SAMPLE_RATE).unwrap();
    assert_eq!(voice_to_wav(None, wav.clone()), Ok(wav));
}

#[cfg(feature = "silk")]
mod silk_round_trip {
    use super::*;

    const RATE: i32 = 24_000;

    /// One second of a 440 Hz tone.
    fn tone() -> Vec<i16> {
        (0..RATE)
            .map(|i| {
                let t = f64::from(i) / f64::from(RATE);
                ((t * 440.0 * std::f64::consts::TAU).sin() * 8_000.0) as i16
            })
            .collect()
    }

    fn encode(tencent: bool) -> Vec<u8> {
        silk_codec::SilkCoder::builder()
            .encoder()
            .sample_rate(RATE)
            .bit_rate(24_000)
            .build()
            .unwrap()
            .encode(&tone(), tencent)
            .unwrap()
    }

    fn samples(wav: &[u8]) -> Vec<i16> {
        wav[WAV_HEADER_LEN..]
            .chunks_exact(2)
            .map(|s| i16::from_le_bytes([s[0], s[1]]))
            .collect()
    }

    fn check_tone(wav: &[u8]) {
        let pcm_len = wav.len() - WAV_HEADER_LEN;
        assert_eq!(
            wav[..WAV_HEADER_LEN],
            wav_header(pcm_len as u32, VOICE_SAMPLE_RATE)
        );
        let pcm = samples(wav);
        // 50 packets of 20 ms: exactly one second at 24 kHz.
        assert_eq!(pcm.len(), RATE as usize);
        let rms =
            (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt();
        assert!(rms > 2_000.0, "decoded audio is near silence: rms {rms}");
        // A 440 Hz tone crosses zero about 880 times a second.
        let crossings = pcm.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!(
            (780..=980).contains(&crossings),
            "{crossings} zero crossings"
        );
    }

    #[test]
    fn tencent_silk_decodes_to_24khz_wav() {
        let silk = encode(true);
        assert!(silk.starts_with(b"\x02#!SILK_V3"));
        let wav = decode_silk_to_wav(&silk).unwrap();
        check_tone(&wav);
        assert_eq!(
            voice_to_wav(Some(VoiceEncoding::Silk), silk).unwrap(),
            wav,
            "dispatch gives the same WAV"
        );
    }

    #[test]
    fn skype_silk_with_terminator_decodes() {
        let silk = encode(false);
        assert!(silk.starts_with(b"#!SILK_V3") && silk.ends_with(&[0xFF, 0xFF]));
        // The magic decides even when encode_type says otherwise.
        let wav = voice_to_wav(Some(VoiceEncoding::Speex), silk).unwrap();
        check_tone(&wav);
    }

    #[test]
    fn a_truncated_last_packet_is_dropped() {
        let silk = encode(true);
        let wav = decode_silk_to_wav(&silk[..silk.len() - 3]).unwrap();
        // 49 whole packets of 480 samples are left.
        assert_eq!(samples(&wav).len(), 49 * 480);
    }

    #[test]
    fn header_without_packets_is_corrupt() {
        assert!(matches!(
            decode_silk_to_wav(b"\x02#!SILK_V3"),
            Err(VoiceError::Corrupt { .. })
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random packets behind a valid header: an error or a WAV, never a panic or a crash
    /// in the C decoder.
    #[test]
    fn random_silk_packets_never_panic(
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
        tencent in any::<bool>(),
    ) {
        let mut bytes = if tencent { vec![0x02] } else { Vec::new() };
        bytes.extend_from_slice(b"#!SILK_V3");
        for packet in &packets {
            bytes.extend_from_slice(&(packet.len() as u16).to_le_bytes());
            bytes.extend_from_slice(packet);
        }
        match voice_to_wav(Some(VoiceEncoding::Silk), bytes.clone()) {
            Ok(wav) => prop_assert_eq!(&wav[..4], b"RIFF"),
            Err(kept) => prop_assert_eq!(kept.raw, bytes),
        }
    }

    /// Arbitrary bytes through the dispatcher never panic, and failures keep them.
    #[test]
    fn arbitrary_voice_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        encode_type in proptest::option::of(0i64..10),
    ) {
        let encode_type = encode_type.map(VoiceEncoding::from_wire);
        if let Err(kept) = voice_to_wav(encode_type, bytes.clone()) {
            prop_assert_eq!(kept.raw, bytes);
        }
    }
}
