//! Real SILK v3 voice for inbound voice messages (docs/protocol.md §7.5, E16): a synthesised tone
//! glide, 24 kHz mono, encoded with the SILK SDK (`silk-codec`) in Tencent's variant
//! (a leading `0x02`, then `#!SILK_V3`, no end marker).

use std::collections::HashMap;
use std::f64::consts::TAU;
use std::sync::{Mutex, OnceLock};

/// The sample rate of the clips (what iLink voice uses).
pub const SILK_SAMPLE_RATE: u32 = 24_000;

/// The length of the clip [`silk_voice_clip`] returns.
pub const DEFAULT_VOICE_MS: u32 = 1500;

/// SILK frames are 20 ms; clips are cut to whole frames.
const FRAME_MS: u32 = 20;

/// A 1.5 s SILK v3 clip (Tencent variant). Encoded once, then cached.
pub fn silk_voice_clip() -> Vec<u8> {
    silk_voice(DEFAULT_VOICE_MS)
}

/// A SILK v3 clip (Tencent variant) of `duration_ms` (rounded down to 20 ms frames, at
/// least one frame): a tone gliding from 330 Hz to 660 Hz with a soft start and end.
/// Encoded on first use per length, then cached.
pub fn silk_voice(duration_ms: u32) -> Vec<u8> {
    static CACHE: OnceLock<Mutex<HashMap<u32, Vec<u8>>>> = OnceLock::new();
    let frames_ms = (duration_ms / FRAME_MS).max(1) * FRAME_MS;
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .entry(frames_ms)
        .or_insert_with(|| encode(&glide(frames_ms)))
        .clone()
}

/// The length of a SILK v3 stream (with or without Tencent's `0x02`), from its frame
/// count (20 ms each); `None` if it is not SILK or a frame is cut short.
pub(crate) fn silk_playtime_ms(silk: &[u8]) -> Option<u32> {
    let body = silk.strip_prefix(b"\x02").unwrap_or(silk);
    let mut rest = body.strip_prefix(b"#!SILK_V3")?;
    let mut frames = 0u32;
    while rest.len() >= 2 {
        let len = i16::from_le_bytes([rest[0], rest[1]]);
        if len < 0 {
            break; // the non-Tencent end marker
        }
        rest = rest.get(2 + len as usize..)?;
        frames += 1;
    }
    Some(frames * FRAME_MS)
}

/// 16-bit mono PCM at 24 kHz: a linear chirp with 50 ms fades.
fn glide(duration_ms: u32) -> Vec<i16> {
    let rate = f64::from(SILK_SAMPLE_RATE);
    let n = (u64::from(SILK_SAMPLE_RATE) * u64::from(duration_ms) / 1000) as usize;
    let seconds = n as f64 / rate;
    let (f0, f1) = (330.0, 660.0);
    let fade = (0.05 * rate) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            // Phase of a linear chirp: 2π (f0 t + (f1 - f0) t² / 2T).
            let phase = TAU * (f0 * t + (f1 - f0) * t * t / (2.0 * seconds));
            let edge = i.min(n - 1 - i);
            let envelope = if edge < fade {
                edge as f64 / fade as f64
            } else {
                1.0
            };
            (phase.sin() * envelope * 12_000.0) as i16
        })
        .collect()
}

fn encode(pcm: &[i16]) -> Vec<u8> {
    let encoded = silk_codec::SilkCoder::builder()
        .encoder()
        .sample_rate(SILK_SAMPLE_RATE as i32)
        .bit_rate(24_000)
        .build()
        .and_then(|mut encoder| encoder.encode(pcm, true));
    match encoded {
        Ok(silk) => silk,
        Err(err) => {
            // The SDK does not fail on valid 24 kHz input; keep the sim running anyway
            // with a header-only stream (still recognisable as SILK).
            tracing::error!(%err, "SILK encoding failed");
            b"\x02#!SILK_V3".to_vec()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_tencent_silk_clip_that_decodes_to_its_length() {
        let clip = silk_voice_clip();
        assert!(clip.starts_with(b"\x02#!SILK_V3"));
        assert!(clip.len() > 1000, "{} bytes", clip.len());
        let pcm = silk_codec::decode_silk(&clip, SILK_SAMPLE_RATE as i32).unwrap();
        let samples = pcm.len() / 2;
        assert_eq!(samples, 24_000 * 3 / 2, "1.5 s at 24 kHz");
        // Not silence.
        let loud = pcm
            .chunks_exact(2)
            .filter(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs() > 2000)
            .count();
        assert!(loud > samples / 4, "{loud} loud samples");
        assert_eq!(silk_voice(1500), clip, "cached and deterministic");
        assert_eq!(silk_playtime_ms(&clip), Some(1500));
        assert_eq!(silk_playtime_ms(b"not silk"), None);
        assert!(
            silk_voice(7).starts_with(b"\x02#!SILK_V3"),
            "at least one frame"
        );
    }
}
