//! Inbound voice (docs/protocol.md §7.5, §11 q10): SILK v3 is decoded to a 24 kHz mono WAV; any
//! other codec, or a SILK blob that does not decode, is kept as it came, with the codec
//! named so the caller can store it under the right MIME type and say why.
//!
//! Prefer `voice_item.text` (the server's transcript) whenever it is present; this
//! module only deals with the audio.

mod codec;
mod silk;
mod wav;

pub use codec::{detect_codec, VoiceCodec};
pub use silk::{decode_silk_to_wav, MAX_SILK_PACKETS};
pub use wav::{wav_header, wrap_pcm, WAV_HEADER_LEN, WAV_MIME};

use crate::models::VoiceEncoding;

/// Sample rate of decoded voice: 24 000 Hz.
pub const VOICE_SAMPLE_RATE: u32 = 24_000;

/// Why voice audio could not be turned into WAV. Every variant names the codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoiceError {
    /// No decoder for this codec is built in.
    #[error("no decoder for {codec} voice; the audio is kept as it came")]
    Unsupported {
        /// The codec.
        codec: VoiceCodec,
    },
    /// The data is not valid in the codec it claims.
    #[error("cannot decode {codec} voice ({reason}); the audio is kept as it came")]
    Corrupt {
        /// The codec.
        codec: VoiceCodec,
        /// What was wrong.
        reason: String,
    },
    /// The audio is longer than the decoder accepts.
    #[error("the {codec} voice is too long to decode; the audio is kept as it came")]
    TooLong {
        /// The codec.
        codec: VoiceCodec,
    },
}

impl VoiceError {
    /// The codec the error is about.
    pub fn codec(&self) -> VoiceCodec {
        match self {
            Self::Unsupported { codec } | Self::Corrupt { codec, .. } | Self::TooLong { codec } => {
                *codec
            }
        }
    }
}

/// Voice that stays in its original form: the bytes as downloaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct UndecodedVoice {
    /// The audio exactly as it came.
    pub raw: Vec<u8>,
    /// Why it was not converted; names the codec.
    pub error: VoiceError,
}

impl UndecodedVoice {
    /// The MIME type to store [`UndecodedVoice::raw`] under (`audio/silk` for SILK).
    pub fn mime(&self) -> &'static str {
        self.error.codec().mime()
    }
}

/// Turns downloaded voice into a WAV file ([`WAV_MIME`]) when it can: SILK is decoded,
/// a WAV file is returned as it is. The codec comes from the magic bytes, then from
/// `voice_item.encode_type`. Anything else comes back untouched in [`UndecodedVoice`].
pub fn voice_to_wav(
    encode_type: Option<VoiceEncoding>,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, UndecodedVoice> {
    let result = match detect_codec(encode_type, &bytes) {
        VoiceCodec::Wav => return Ok(bytes),
        VoiceCodec::Silk => decode_silk_to_wav(&bytes),
        codec => Err(VoiceError::Unsupported { codec }),
    };
    result.map_err(|error| UndecodedVoice { raw: bytes, error })
}

#[cfg(test)]
mod tests;
