//! SILK v3 → 24 kHz WAV, through the C SILK SDK that the `silk-codec` crate vendors.
//!
//! The container is checked here before the C decoder sees it: packets are
//! `i16` little-endian length + payload, `-1` ends the stream (Skype's files; Tencent's
//! have no terminator), a truncated last packet is dropped, and the packet count is
//! capped so that a small hostile file cannot expand into gigabytes of PCM (every
//! packet, even an empty one, decodes to at least 20 ms of audio).
//!
//! The SDK's range decoder reads the first four bytes of every packet whatever its
//! length (`SKP_Silk_range_dec_init`), and `silk-codec` hands it packets in place, so a
//! short last packet would be read past the end of the buffer (found by the `voice`
//! fuzz target under AddressSanitizer). The decoder therefore gets a copy that ends in
//! a terminator and zero padding.

use super::codec::{silk_body, VoiceCodec};
use super::wav::wrap_pcm;
use super::{VoiceError, VOICE_SAMPLE_RATE};

/// Most packets accepted in one SILK file: 6 000 (two minutes of 20 ms packets; WeChat
/// voice messages last at most 60 s). A packet holds up to five 20 ms frames, so the
/// decoded PCM stays under 30 MB.
pub const MAX_SILK_PACKETS: usize = 6_000;
/// Largest payload of one packet that the SILK SDK accepts.
const MAX_PACKET_BYTES: usize = 1024;
/// Appended after the last whole packet: the `-1` terminator, then zeros, so the SDK's
/// four-byte read at the start of a short last packet stays inside the buffer.
const TAIL: [u8; 10] = [0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0];

/// Decodes SILK v3 (Tencent's variant with the leading `0x02` byte, or Skype's plain
/// one) to a WAV file: 16-bit signed little-endian mono PCM at 24 000 Hz behind the
/// 44-byte header of [`super::wav_header`].
///
/// Errors name the codec: [`VoiceError::Corrupt`] for a bad header or bitstream,
/// [`VoiceError::TooLong`] past [`MAX_SILK_PACKETS`], and [`VoiceError::Unsupported`]
/// when the crate is built without the `silk` feature.
pub fn decode_silk_to_wav(bytes: &[u8]) -> Result<Vec<u8>, VoiceError> {
    let body = silk_body(bytes).ok_or_else(|| corrupt("no #!SILK_V3 header"))?;
    let used = scan_packets(body)?;
    let header_len = bytes.len() - body.len();
    let mut framed = Vec::with_capacity(header_len + used + TAIL.len());
    framed.extend_from_slice(&bytes[..header_len + used]);
    framed.extend_from_slice(&TAIL);
    let pcm = decode_pcm(&framed)?;
    if pcm.is_empty() {
        return Err(corrupt("no audio in the stream"));
    }
    wrap_pcm(&pcm, VOICE_SAMPLE_RATE).ok_or(VoiceError::TooLong {
        codec: VoiceCodec::Silk,
    })
}

/// Checks the packet framing of `body` and returns how many of its bytes hold whole
/// packets (up to the terminator, if any).
fn scan_packets(body: &[u8]) -> Result<usize, VoiceError> {
    let mut at = 0;
    let mut packets = 0;
    while let Some(len_bytes) = body.get(at..at + 2) {
        let len = i16::from_le_bytes([len_bytes[0], len_bytes[1]]);
        if len == -1 {
            return Ok(at);
        }
        let len = usize::try_from(len).map_err(|_| corrupt("negative packet length"))?;
        if len > MAX_PACKET_BYTES {
            return Err(corrupt("packet longer than 1024 bytes"));
        }
        if body.len() - (at + 2) < len {
            // A truncated last packet: keep the audio before it.
            break;
        }
        packets += 1;
        if packets > MAX_SILK_PACKETS {
            return Err(VoiceError::TooLong {
                codec: VoiceCodec::Silk,
            });
        }
        at += 2 + len;
    }
    Ok(at)
}

#[cfg(feature = "silk")]
fn decode_pcm(silk: &[u8]) -> Result<Vec<u8>, VoiceError> {
    let rate = i32::try_from(VOICE_SAMPLE_RATE).map_err(|_| corrupt("bad sample rate"))?;
    silk_codec::decode_silk(silk, rate).map_err(|err| corrupt(&err.to_string()))
}

#[cfg(not(feature = "silk"))]
fn decode_pcm(_silk: &[u8]) -> Result<Vec<u8>, VoiceError> {
    Err(VoiceError::Unsupported {
        codec: VoiceCodec::Silk,
    })
}

fn corrupt(reason: &str) -> VoiceError {
    VoiceError::Corrupt {
        codec: VoiceCodec::Silk,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_checked_before_decoding() {
        let packet = |len: i16| len.to_le_bytes().to_vec();
        assert_eq!(scan_packets(&[]), Ok(0));
        // A lone odd byte and a truncated packet are dropped.
        assert_eq!(scan_packets(&[7]), Ok(0));
        let mut body = [packet(2), vec![1, 2], packet(5), vec![1]].concat();
        assert_eq!(scan_packets(&body), Ok(4));
        // The terminator ends the stream; what follows is ignored.
        body = [packet(1), vec![9], packet(-1), vec![0xAA; 3]].concat();
        assert_eq!(scan_packets(&body), Ok(3));
        assert!(matches!(
            scan_packets(&packet(-2)),
            Err(VoiceError::Corrupt { .. })
        ));
        assert!(matches!(
            scan_packets(&packet(1025)),
            Err(VoiceError::Corrupt { .. })
        ));
        let many = packet(0).repeat(MAX_SILK_PACKETS + 1);
        assert_eq!(
            scan_packets(&many),
            Err(VoiceError::TooLong {
                codec: VoiceCodec::Silk
            })
        );
        assert_eq!(
            scan_packets(&packet(0).repeat(MAX_SILK_PACKETS)),
            Ok(2 * MAX_SILK_PACKETS)
        );
    }

    #[test]
    fn short_last_packets_decode_without_reading_past_the_input() {
        // The `voice` fuzz target's first find: empty packets at the very end made the
        // SDK read four bytes past the buffer (visible under AddressSanitizer).
        for bytes in [
            &b"\x02#!SILK_V3\x00\x00\x00\x00"[..],
            b"#!SILK_V3\x01\x00\x07",
        ] {
            let _ = decode_silk_to_wav(bytes);
        }
    }

    #[test]
    fn not_silk_is_corrupt_silk() {
        for bytes in [&b""[..], b"\x02", b"\x02#!SILK_V2", b"#!AMR\n"] {
            assert!(
                matches!(
                    decode_silk_to_wav(bytes),
                    Err(VoiceError::Corrupt {
                        codec: VoiceCodec::Silk,
                        ..
                    })
                ),
                "{bytes:?}"
            );
        }
    }
}
