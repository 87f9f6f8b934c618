//! Which codec a voice blob is in: the magic bytes decide, `encode_type` is the fallback
//! (docs/protocol.md §7.5, §11 q10: captures show Speex as well as SILK).

use std::fmt;

use crate::models::VoiceEncoding;

/// A voice codec, as far as it can be told from the bytes and `encode_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VoiceCodec {
    /// SILK v3, with or without Tencent's leading `0x02` byte.
    Silk,
    /// Raw Speex frames (`encode_type` 4).
    Speex,
    /// Speex in an Ogg container (`encode_type` 8).
    OggSpeex,
    /// Opus in an Ogg container.
    OggOpus,
    /// Any other Ogg stream.
    Ogg,
    /// AMR (`#!AMR` magic or `encode_type` 5).
    Amr,
    /// MP3 (ID3 tag or MPEG frame sync, or `encode_type` 7).
    Mp3,
    /// Already a RIFF/WAVE file.
    Wav,
    /// Raw PCM of an unstated layout (`encode_type` 1).
    Pcm,
    /// ADPCM (`encode_type` 2).
    Adpcm,
    /// Speech features (`encode_type` 3).
    Feature,
    /// Nothing recognisable; the `encode_type` number if one was sent.
    Unknown(Option<i64>),
}

impl VoiceCodec {
    /// The MIME type to store the undecoded bytes under.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Silk => "audio/silk",
            Self::Speex => "audio/speex",
            Self::OggSpeex | Self::OggOpus | Self::Ogg => "audio/ogg",
            Self::Amr => "audio/amr",
            Self::Mp3 => "audio/mpeg",
            Self::Wav => super::WAV_MIME,
            Self::Pcm | Self::Adpcm | Self::Feature | Self::Unknown(_) => {
                "application/octet-stream"
            }
        }
    }
}

impl fmt::Display for VoiceCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Silk => "SILK",
            Self::Speex => "Speex",
            Self::OggSpeex => "Ogg/Speex",
            Self::OggOpus => "Ogg/Opus",
            Self::Ogg => "Ogg",
            Self::Amr => "AMR",
            Self::Mp3 => "MP3",
            Self::Wav => "WAV",
            Self::Pcm => "PCM",
            Self::Adpcm => "ADPCM",
            Self::Feature => "speech-feature",
            Self::Unknown(Some(n)) => return write!(f, "unknown (encode_type {n})"),
            Self::Unknown(None) => "unknown",
        };
        f.write_str(name)
    }
}

/// The SILK v3 magic, after Tencent's optional leading `0x02`.
pub(crate) const SILK_MAGIC: &[u8] = b"#!SILK_V3";

/// The bytes after the SILK magic (and Tencent's `0x02`), if `bytes` is SILK v3.
pub(crate) fn silk_body(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(&[0x02]).unwrap_or(bytes);
    rest.strip_prefix(SILK_MAGIC)
}

/// The codec of `bytes`: magic bytes first, since they cannot lie about what a decoder
/// will see; otherwise what `encode_type` says.
pub fn detect_codec(encode_type: Option<VoiceEncoding>, bytes: &[u8]) -> VoiceCodec {
    if let Some(codec) = sniff(bytes) {
        return codec;
    }
    match encode_type {
        Some(VoiceEncoding::Pcm) => VoiceCodec::Pcm,
        Some(VoiceEncoding::Adpcm) => VoiceCodec::Adpcm,
        Some(VoiceEncoding::Feature) => VoiceCodec::Feature,
        Some(VoiceEncoding::Speex) => VoiceCodec::Speex,
        Some(VoiceEncoding::Amr) => VoiceCodec::Amr,
        Some(VoiceEncoding::Silk) => VoiceCodec::Silk,
        Some(VoiceEncoding::Mp3) => VoiceCodec::Mp3,
        Some(VoiceEncoding::OggSpeex) => VoiceCodec::OggSpeex,
        Some(VoiceEncoding::Unknown(n)) => VoiceCodec::Unknown(Some(n)),
        None => VoiceCodec::Unknown(None),
    }
}

fn sniff(bytes: &[u8]) -> Option<VoiceCodec> {
    if silk_body(bytes).is_some() {
        return Some(VoiceCodec::Silk);
    }
    if bytes.starts_with(b"#!AMR") {
        return Some(VoiceCodec::Amr);
    }
    if bytes.starts_with(b"OggS") {
        // The first page's payload starts at 28 when it has one segment, as the
        // identification header pages of Speex and Opus do.
        return Some(match bytes.get(28..36) {
            Some(b"Speex   ") => VoiceCodec::OggSpeex,
            Some(b"OpusHead") => VoiceCodec::OggOpus,
            _ => VoiceCodec::Ogg,
        });
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WAVE") {
        return Some(VoiceCodec::Wav);
    }
    if bytes.starts_with(b"ID3") {
        return Some(VoiceCodec::Mp3);
    }
    match bytes {
        // MPEG audio frame sync: 11 set bits, and a layer that is not "reserved".
        [0xFF, second, ..] if second & 0xE0 == 0xE0 && second & 0x06 != 0 => Some(VoiceCodec::Mp3),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_wins_over_encode_type() {
        let tencent = b"\x02#!SILK_V3\x00\x00";
        assert_eq!(
            detect_codec(Some(VoiceEncoding::Speex), tencent),
            VoiceCodec::Silk
        );
        assert_eq!(detect_codec(None, b"#!SILK_V3"), VoiceCodec::Silk);
        assert_eq!(detect_codec(None, b"#!AMR\n"), VoiceCodec::Amr);
        assert_eq!(detect_codec(None, b"ID3\x04"), VoiceCodec::Mp3);
        assert_eq!(detect_codec(None, &[0xFF, 0xFB, 0x90]), VoiceCodec::Mp3);
        assert_eq!(
            detect_codec(None, b"RIFF\x24\0\0\0WAVEfmt "),
            VoiceCodec::Wav
        );
        let mut ogg = b"OggS".to_vec();
        ogg.resize(28, 0);
        assert_eq!(detect_codec(None, &ogg), VoiceCodec::Ogg);
        ogg.extend_from_slice(b"Speex   ");
        assert_eq!(detect_codec(None, &ogg), VoiceCodec::OggSpeex);
        ogg.truncate(28);
        ogg.extend_from_slice(b"OpusHead");
        assert_eq!(detect_codec(None, &ogg), VoiceCodec::OggOpus);
    }

    #[test]
    fn encode_type_is_the_fallback() {
        let raw = b"\x1e\x9d\x00\x00";
        assert_eq!(
            detect_codec(Some(VoiceEncoding::Speex), raw),
            VoiceCodec::Speex
        );
        assert_eq!(
            detect_codec(Some(VoiceEncoding::Silk), raw),
            VoiceCodec::Silk
        );
        assert_eq!(
            detect_codec(Some(VoiceEncoding::Unknown(42)), raw),
            VoiceCodec::Unknown(Some(42))
        );
        assert_eq!(detect_codec(None, raw), VoiceCodec::Unknown(None));
        assert_eq!(detect_codec(None, b""), VoiceCodec::Unknown(None));
    }

    #[test]
    fn names_and_mime_types() {
        assert_eq!(VoiceCodec::Silk.mime(), "audio/silk");
        assert_eq!(VoiceCodec::Speex.to_string(), "Speex");
        assert_eq!(
            VoiceCodec::Unknown(Some(9)).to_string(),
            "unknown (encode_type 9)"
        );
    }
}
