//! Inbound media for tests (E16): the emulator encrypts the bytes itself, stores them on
//! its CDN and queues a message whose item carries the key in one of the forms seen on
//! the wire (docs/protocol.md §7.3).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::cdn::{cdn_base, encode_component, Blob};
use crate::knobs::VideoPoster;
use crate::state::{SimError, State};
use crate::{crypto, voice};

/// The poster sent with injected videos (see [`crate::VideoPoster`]): a 320×180 JPEG
/// of colour bars.
pub const VIDEO_POSTER: &[u8] = include_bytes!("../assets/video-poster.jpg");
const VIDEO_POSTER_SIZE: (u32, u32) = (320, 180);

/// What the inbound item is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    File {
        name: String,
    },
    /// SILK voice; `text` is the server's transcription, if any.
    Voice {
        text: Option<String>,
    },
}

/// How the AES key is given to the client (docs/protocol.md §7.3, E16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyForm {
    /// Images: `image_item.aeskey` (hex) plus `media.aes_key` as base64 of the raw bytes.
    HexAndRawBase64,
    /// `media.aes_key` as base64 of the 16 raw bytes only.
    RawBase64,
    /// `media.aes_key` as base64 of the 32-char hex text (file, voice, video).
    HexBase64,
    /// No key at all: the CDN holds the plain bytes (only valid for images).
    Unencrypted,
    /// A key that does not decrypt the stored blob (the CDN dedupe bug, I #193).
    Mismatched,
}

/// An inbound media message to inject.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundMedia {
    #[serde(flatten)]
    pub kind: MediaKind,
    /// The plaintext; the emulator encrypts it. Empty for a voice message: the sim's
    /// own SILK clip ([`crate::silk_voice_clip`], 1.5 s); over HTTP `bytes` may then be
    /// left out.
    #[serde(default, with = "base64_bytes")]
    pub bytes: Vec<u8>,
    pub key_form: KeyForm,
    /// Also give `media.full_url`.
    pub full_url: bool,
}

impl InboundMedia {
    /// A voice message carrying the sim's real SILK v3 clip (Tencent variant, 1.5 s,
    /// 24 kHz), with or without a transcript, key as base64 of hex (E16).
    pub fn silk_voice(text: Option<String>) -> InboundMedia {
        InboundMedia {
            kind: MediaKind::Voice { text },
            bytes: voice::silk_voice_clip(),
            key_form: KeyForm::HexBase64,
            full_url: false,
        }
    }
}

mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

impl State {
    /// Stores the media on the CDN and queues the message. Returns the message_id.
    pub fn inject_media(
        &mut self,
        bot_id: &str,
        peer: &str,
        mut media: InboundMedia,
    ) -> Result<u64, SimError> {
        // A voice without bytes gets the sim's own SILK clip. SILK gives its real
        // length; other bytes get 1 s.
        if matches!(media.kind, MediaKind::Voice { .. }) && media.bytes.is_empty() {
            media.bytes = voice::silk_voice_clip();
        }
        let playtime = voice::silk_playtime_ms(&media.bytes).unwrap_or(1000);
        // Fail before storing anything if the bot or peer is wrong.
        let bot = self.bot(bot_id)?;
        if !bot.peers.iter().any(|p| p == peer) {
            return Err(SimError::UnknownPeer {
                bot: bot_id.to_owned(),
                peer: peer.to_owned(),
            });
        }
        let key: [u8; 16] = rand::random();
        let (ciphertext, stored_key) = if media.key_form == KeyForm::Unencrypted {
            (media.bytes.clone(), None)
        } else {
            (crypto::encrypt(&key, &media.bytes), Some(key))
        };
        let told_key: [u8; 16] = if media.key_form == KeyForm::Mismatched {
            key_that_does_not_decrypt(&ciphertext)
        } else {
            key
        };
        let cipher_len = ciphertext.len();
        let param = self.cdn.put_blob(Blob {
            ciphertext,
            key: stored_key,
            rawsize: media.bytes.len() as u64,
        });
        let mut cdn_media = Map::new();
        cdn_media.insert("encrypt_query_param".into(), json!(param));
        cdn_media.insert("encrypt_type".into(), json!(1));
        match media.key_form {
            KeyForm::HexAndRawBase64 | KeyForm::RawBase64 => {
                cdn_media.insert("aes_key".into(), json!(STANDARD.encode(told_key)));
            }
            KeyForm::HexBase64 | KeyForm::Mismatched => {
                cdn_media.insert(
                    "aes_key".into(),
                    json!(STANDARD.encode(hex::encode(told_key))),
                );
            }
            KeyForm::Unencrypted => {}
        }
        if media.full_url {
            let url = format!(
                "{}/download?encrypted_query_param={}",
                cdn_base(self),
                encode_component(&param)
            );
            cdn_media.insert("full_url".into(), json!(url));
        }
        let cdn_media = Value::Object(cdn_media);
        let item = match &media.kind {
            MediaKind::Image => {
                let mut image = json!({ "media": cdn_media, "mid_size": cipher_len });
                if media.key_form == KeyForm::HexAndRawBase64 {
                    image["aeskey"] = json!(hex::encode(told_key));
                }
                json!({ "type": 2, "image_item": image })
            }
            MediaKind::Video => {
                let mut video = json!({
                    "media": cdn_media, "video_size": cipher_len,
                    "video_md5": crypto::md5_hex(&media.bytes),
                });
                let poster = match self.knobs.video_poster {
                    VideoPoster::Sent => Some(VIDEO_POSTER),
                    VideoPoster::Damaged => Some(&b"these bytes are no picture"[..]),
                    VideoPoster::Missing => None,
                };
                if let Some(poster) = poster {
                    let (thumb_media, thumb_size) = self.store_video_poster(poster);
                    video["thumb_media"] = thumb_media;
                    video["thumb_size"] = json!(thumb_size);
                    video["thumb_width"] = json!(VIDEO_POSTER_SIZE.0);
                    video["thumb_height"] = json!(VIDEO_POSTER_SIZE.1);
                }
                json!({ "type": 5, "video_item": video })
            }
            MediaKind::File { name } => json!({ "type": 4, "file_item": {
                "media": cdn_media, "file_name": name,
                "md5": crypto::md5_hex(&media.bytes), "len": media.bytes.len().to_string(),
            }}),
            MediaKind::Voice { text } => {
                let mut voice = json!({
                    "media": cdn_media, "encode_type": 6, "bits_per_sample": 16,
                    "sample_rate": voice::SILK_SAMPLE_RATE, "playtime": playtime,
                });
                if let Some(text) = text {
                    voice["text"] = json!(text);
                }
                json!({ "type": 3, "voice_item": voice })
            }
        };
        self.inject_items(bot_id, peer, vec![item])
    }

    /// Stores a video's poster (the server sends one with each video) under its own
    /// key; returns its `thumb_media` and stored size.
    fn store_video_poster(&mut self, poster: &[u8]) -> (Value, usize) {
        let key: [u8; 16] = rand::random();
        let ciphertext = crypto::encrypt(&key, poster);
        let size = ciphertext.len();
        let param = self.cdn.put_blob(Blob {
            ciphertext,
            key: Some(key),
            rawsize: poster.len() as u64,
        });
        let media = json!({
            "encrypt_query_param": param, "encrypt_type": 1,
            "aes_key": STANDARD.encode(hex::encode(key)),
        });
        (media, size)
    }

    /// The plaintext of a stored CDN blob: what a client uploaded, or injected media.
    pub fn cdn_plaintext(&self, download_param: &str) -> Option<Vec<u8>> {
        let blob = self.cdn.blobs.get(download_param)?;
        match blob.key {
            None => Some(blob.ciphertext.clone()),
            Some(key) => crypto::decrypt(&key, &blob.ciphertext).ok(),
        }
    }
}

/// A random key under which `ciphertext` does not decrypt: about one random key in 256
/// turns it into something with valid padding, which a client would take for the file.
fn key_that_does_not_decrypt(ciphertext: &[u8]) -> [u8; 16] {
    loop {
        let key: [u8; 16] = rand::random();
        if crypto::decrypt(&key, ciphertext).is_err() {
            return key;
        }
    }
}
