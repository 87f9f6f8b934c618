//! CDN media crypto (spec §7): AES-128-ECB with PKCS#7 padding, and the three encodings
//! the wire uses for the same 16-byte key.
//!
//! Both directions stream: [`Encryptor`] and [`Decryptor`] take chunks of any size and keep
//! at most one block (plus the held-back last block) between calls.

use aes::cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes128;
use base64::Engine as _;

/// The AES block size in bytes.
pub const BLOCK: usize = 16;
/// A 16-byte AES-128 media key.
pub type AesKey = [u8; 16];

/// Why media could not be decrypted or a key not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The ciphertext is empty or not whole blocks (the value is its length).
    #[error("ciphertext length {0} is not a positive multiple of 16")]
    BadLength(u64),
    /// The padding is wrong: usually the wrong key.
    #[error("wrong key or corrupt data: the PKCS#7 padding does not check out")]
    BadPadding,
    /// The key text is in no known encoding.
    #[error("the media key is neither base64 of 16 raw bytes nor base64 of 32 hex digits")]
    BadKey,
}

/// Ciphertext size for `plain_len` bytes: `(n / 16 + 1) * 16` (a full pad block when n % 16 == 0).
pub fn padded_size(plain_len: u64) -> u64 {
    (plain_len / BLOCK as u64 + 1) * BLOCK as u64
}

/// A fresh random media key.
pub fn random_key() -> AesKey {
    rand::random()
}

/// `getuploadurl.aeskey` and `image_item.aeskey`: lower-case hex.
pub fn key_hex(key: &AesKey) -> String {
    hex::encode(key)
}

/// Outbound `CDNMedia.aes_key`: base64 of the **hex text** (44 characters).
pub fn key_for_outbound_media(key: &AesKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key_hex(key))
}

/// Reads an inbound `CDNMedia.aes_key`, which comes either as base64 of the raw 16 bytes
/// or as base64 of the 32-character hex text.
pub fn parse_media_key(encoded: &str) -> Result<AesKey, CryptoError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| CryptoError::BadKey)?;
    match bytes.len() {
        16 => Ok(bytes.try_into().expect("length checked")),
        32 => parse_hex_key(std::str::from_utf8(&bytes).map_err(|_| CryptoError::BadKey)?),
        _ => Err(CryptoError::BadKey),
    }
}

/// Reads a hex key such as `image_item.aeskey`.
pub fn parse_hex_key(text: &str) -> Result<AesKey, CryptoError> {
    let mut key = [0u8; 16];
    hex::decode_to_slice(text.trim(), &mut key).map_err(|_| CryptoError::BadKey)?;
    Ok(key)
}

/// Streaming AES-128-ECB encryption with PKCS#7 padding added by [`Encryptor::finish`].
pub struct Encryptor {
    cipher: Aes128,
    partial: Vec<u8>,
}

impl Encryptor {
    /// An encryptor at the start of a stream.
    pub fn new(key: &AesKey) -> Encryptor {
        Encryptor {
            cipher: Aes128::new(GenericArray::from_slice(key)),
            partial: Vec::with_capacity(BLOCK),
        }
    }

    /// Encrypts what whole blocks `input` completes and appends them to `out`.
    pub fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        if !self.partial.is_empty() {
            let take = (BLOCK - self.partial.len()).min(input.len());
            self.partial.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.partial.len() < BLOCK {
                return;
            }
            let block = std::mem::take(&mut self.partial);
            self.push_blocks(&block, out);
        }
        let whole = input.len() - input.len() % BLOCK;
        self.push_blocks(&input[..whole], out);
        self.partial.extend_from_slice(&input[whole..]);
    }

    /// Pads and encrypts the tail (always at least one block).
    pub fn finish(mut self, out: &mut Vec<u8>) {
        let pad = (BLOCK - self.partial.len()) as u8;
        let mut last = std::mem::take(&mut self.partial);
        last.resize(BLOCK, pad);
        self.push_blocks(&last, out);
    }

    fn push_blocks(&self, blocks: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(blocks);
        for block in out[start..].chunks_exact_mut(BLOCK) {
            self.cipher
                .encrypt_block(GenericArray::from_mut_slice(block));
        }
    }
}

/// Streaming decryption. The last block is held back until [`Decryptor::finish`], where
/// the padding is checked, so a wrong key is reported instead of yielding garbage.
pub struct Decryptor {
    cipher: Aes128,
    pending: Vec<u8>,
    total: u64,
}

impl Decryptor {
    /// A decryptor at the start of a stream.
    pub fn new(key: &AesKey) -> Decryptor {
        Decryptor {
            cipher: Aes128::new(GenericArray::from_slice(key)),
            pending: Vec::with_capacity(2 * BLOCK),
            total: 0,
        }
    }

    /// Decrypts whole blocks of `input`, keeping the final block back, appending to `out`.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.total += input.len() as u64;
        self.pending.extend_from_slice(input);
        let whole = self.pending.len() - self.pending.len() % BLOCK;
        let release = whole.saturating_sub(BLOCK);
        let start = out.len();
        out.extend(self.pending.drain(..release));
        for block in out[start..].chunks_exact_mut(BLOCK) {
            self.cipher
                .decrypt_block(GenericArray::from_mut_slice(block));
        }
    }

    /// Checks the length and padding and appends the last plaintext bytes.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        if self.total == 0
            || !self.total.is_multiple_of(BLOCK as u64)
            || self.pending.len() != BLOCK
        {
            return Err(CryptoError::BadLength(self.total));
        }
        let block = GenericArray::from_mut_slice(&mut self.pending[..]);
        self.cipher.decrypt_block(block);
        let pad = usize::from(self.pending[BLOCK - 1]);
        let padding_ok = (1..=BLOCK).contains(&pad)
            && self.pending[BLOCK - pad..]
                .iter()
                .all(|&b| usize::from(b) == pad);
        if !padding_ok {
            return Err(CryptoError::BadPadding);
        }
        out.extend_from_slice(&self.pending[..BLOCK - pad]);
        Ok(())
    }
}

/// Encrypts a whole buffer (small payloads; large ones stream through [`Encryptor`]).
pub fn encrypt(key: &AesKey, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(padded_size(plain.len() as u64) as usize);
    let mut enc = Encryptor::new(key);
    enc.update(plain, &mut out);
    enc.finish(&mut out);
    out
}

/// Decrypts a whole buffer.
pub fn decrypt(key: &AesKey, cipher: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(cipher.len());
    let mut dec = Decryptor::new(key);
    dec.update(cipher, &mut out);
    dec.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    const KEY_HEX: &str = "00112233445566778899aabbccddeeff";

    fn key() -> AesKey {
        parse_hex_key(KEY_HEX).unwrap()
    }

    #[test]
    fn ecb_vectors() {
        // Spec §10.1.
        for (plain, md5_hex, cipher_hex) in [
            (
                "",
                "d41d8cd98f00b204e9800998ecf8427e",
                "00657ea140655a44782747705d422fad",
            ),
            (
                "a",
                "0cc175b9c0f1b6a831c399e269772661",
                "fd73dc5d6c2b90514593708cf0f11ddc",
            ),
            (
                "hello world",
                "5eb63bbbe01eeed093cb22bb8f5acdc3",
                "c1727c593f54b2747b5ef73976b6999c",
            ),
            (
                "0123456789abcdef",
                "4032af8d61035123906e58e067140cc5",
                "aebdd39b144089d5e31cacd35b7a113a00657ea140655a44782747705d422fad",
            ),
            (
                "0123456789abcdefg",
                "461f13e3e373ff0ab8a219283afe33db",
                "aebdd39b144089d5e31cacd35b7a113a003e8e2564d816696a1f9a830e2a5fec",
            ),
        ] {
            assert_eq!(hex::encode(Md5::digest(plain.as_bytes())), md5_hex);
            let cipher = encrypt(&key(), plain.as_bytes());
            assert_eq!(hex::encode(&cipher), cipher_hex, "{plain:?}");
            assert_eq!(decrypt(&key(), &cipher).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn padded_size_vectors() {
        // Spec §10.2.
        for (n, size) in [
            (0, 16),
            (1, 16),
            (15, 16),
            (16, 32),
            (17, 32),
            (31, 32),
            (32, 48),
            (1000, 1008),
            (1048576, 1048592),
        ] {
            assert_eq!(padded_size(n), size, "{n}");
        }
    }

    #[test]
    fn key_encoding_vectors() {
        // Spec §10.3.
        assert_eq!(key_hex(&key()), KEY_HEX);
        assert_eq!(
            key_for_outbound_media(&key()),
            "MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY="
        );
        assert_eq!(
            parse_media_key("MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY=").unwrap(),
            key()
        );
        assert_eq!(parse_media_key("ABEiM0RVZneImaq7zN3u/w==").unwrap(), key());
        assert_eq!(parse_media_key("AAEC"), Err(CryptoError::BadKey));
        assert_eq!(parse_media_key("not base64!"), Err(CryptoError::BadKey));
    }

    #[test]
    fn streaming_in_odd_chunks_matches_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = encrypt(&key(), &data);
        for chunk in [1, 3, 15, 16, 17, 64, 999] {
            let mut enc = Encryptor::new(&key());
            let mut out = Vec::new();
            for piece in data.chunks(chunk) {
                enc.update(piece, &mut out);
            }
            enc.finish(&mut out);
            assert_eq!(out, whole, "encrypt chunk {chunk}");

            let mut dec = Decryptor::new(&key());
            let mut plain = Vec::new();
            for piece in whole.chunks(chunk) {
                dec.update(piece, &mut plain);
            }
            dec.finish(&mut plain).unwrap();
            assert_eq!(plain, data, "decrypt chunk {chunk}");
        }
    }

    #[test]
    fn wrong_key_and_truncation_are_errors() {
        let cipher = encrypt(&key(), b"some media bytes");
        let other = [7u8; 16];
        assert_eq!(decrypt(&other, &cipher), Err(CryptoError::BadPadding));
        assert_eq!(
            decrypt(&key(), &cipher[..20]),
            Err(CryptoError::BadLength(20))
        );
        assert_eq!(decrypt(&key(), &[]), Err(CryptoError::BadLength(0)));
    }
}
