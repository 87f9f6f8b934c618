//! The canonical 44-byte WAV header for 16-bit mono PCM (docs/protocol.md §7.5, vector §10.10).

/// Length of the header [`wav_header`] writes.
pub const WAV_HEADER_LEN: usize = 44;
/// MIME type of decoded voice.
pub const WAV_MIME: &str = "audio/wav";

/// The 44-byte RIFF/WAVE header for `pcm_len` bytes of 16-bit signed little-endian mono
/// PCM at `sample_rate` Hz: format 1 (PCM), 1 channel, byte rate `2 * sample_rate`,
/// block align 2, 16 bits per sample.
///
/// The RIFF size field is `36 + pcm_len`; it saturates at `u32::MAX` for payloads that
/// no WAV file can describe (the decoder never produces such payloads).
pub fn wav_header(pcm_len: u32, sample_rate: u32) -> [u8; WAV_HEADER_LEN] {
    const CHANNELS: u16 = 1;
    const BITS: u16 = 16;
    let block_align = CHANNELS * BITS / 8;
    let byte_rate = sample_rate.saturating_mul(u32::from(block_align));

    let mut header = [0u8; WAV_HEADER_LEN];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &pcm_len.saturating_add(36).to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &CHANNELS.to_le_bytes(),
        &sample_rate.to_le_bytes(),
        &byte_rate.to_le_bytes(),
        &block_align.to_le_bytes(),
        &BITS.to_le_bytes(),
        b"data",
        &pcm_len.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    debug_assert_eq!(at, WAV_HEADER_LEN);
    header
}

/// `pcm` (16-bit mono little-endian samples) wrapped in a WAV header. `None` if the
/// payload is too large for a WAV file (4 GiB).
pub fn wrap_pcm(pcm: &[u8], sample_rate: u32) -> Option<Vec<u8>> {
    let len = u32::try_from(pcm.len())
        .ok()
        .filter(|n| *n <= u32::MAX - 36)?;
    let mut wav = Vec::with_capacity(WAV_HEADER_LEN + pcm.len());
    wav.extend_from_slice(&wav_header(len, sample_rate));
    wav.extend_from_slice(pcm);
    Some(wav)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_vector() {
        // Spec §10.10: 24 kHz mono s16le, 4-byte payload.
        assert_eq!(
            hex::encode(wav_header(4, 24_000)),
            "524946462800000057415645666d74201000000001000100c05d000080bb0000020010006461746104000000"
        );
    }

    #[test]
    fn wrap_prepends_the_header() {
        let wav = wrap_pcm(&[1, 2, 3, 4], 24_000).unwrap();
        assert_eq!(wav[..WAV_HEADER_LEN], wav_header(4, 24_000));
        assert_eq!(wav[WAV_HEADER_LEN..], [1, 2, 3, 4]);
        assert_eq!(wav_header(u32::MAX, 8_000)[4..8], u32::MAX.to_le_bytes());
    }
}
