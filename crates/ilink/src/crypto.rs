//! CDN media crypto (docs/protocol.md §7): AES-128-ECB with PKCS#7 padding, and the three encodings
//! the wire uses for the same 16-byte key.
//!
//! The block mode and the padding are the `ecb` crate's: every call hands all the whole
//! blocks it has to the cipher at once, so AES-NI works on several blocks in parallel.
//! Both directions stream: [`Encryptor`] and [`Decryptor`] take chunks of any size and
//! keep at most one block between calls (the decryptor's is the block that may be the
//! last, held back until its padding can be checked).

use aes::Aes128;
use base64::Engine as _;
use ecb::cipher::block_padding::Pkcs7;
use ecb::cipher::consts::U16;
use ecb::cipher::inout::InOutBuf;
use ecb::cipher::{BlockDecryptMut, BlockEncryptMut, KeyInit};

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
    cipher: ecb::Encryptor<Aes128>,
    partial: [u8; BLOCK],
    partial_len: usize,
}

impl Encryptor {
    /// An encryptor at the start of a stream.
    pub fn new(key: &AesKey) -> Encryptor {
        Encryptor {
            cipher: ecb::Encryptor::new(key.into()),
            partial: [0; BLOCK],
            partial_len: 0,
        }
    }

    /// Encrypts what whole blocks `input` completes and appends them to `out`.
    pub fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        if self.partial_len > 0 {
            let take = (BLOCK - self.partial_len).min(input.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&input[..take]);
            self.partial_len += take;
            input = &input[take..];
            if self.partial_len < BLOCK {
                return;
            }
            let block = self.partial;
            self.partial_len = 0;
            process(&block, out, |blocks| {
                self.cipher.encrypt_blocks_inout_mut(blocks)
            });
        }
        let whole = input.len() - input.len() % BLOCK;
        process(&input[..whole], out, |blocks| {
            self.cipher.encrypt_blocks_inout_mut(blocks)
        });
        let rest = &input[whole..];
        self.partial[..rest.len()].copy_from_slice(rest);
        self.partial_len = rest.len();
    }

    /// Encrypts `buf` in place: on return it holds the ciphertext of the whole blocks
    /// that the bytes kept from before and `buf` complete, and the bytes of an incomplete
    /// last block are kept for the next call. Saves the second buffer of [`update`] when
    /// the plaintext buffer can be given away (a chunk read straight from a file).
    ///
    /// [`update`]: Encryptor::update
    pub fn update_in_place(&mut self, buf: &mut Vec<u8>) {
        if self.partial_len > 0 {
            buf.splice(0..0, self.partial[..self.partial_len].iter().copied());
        }
        let whole = buf.len() - buf.len() % BLOCK;
        self.partial_len = buf.len() - whole;
        self.partial[..self.partial_len].copy_from_slice(&buf[whole..]);
        buf.truncate(whole);
        let (blocks, _) = InOutBuf::from(&mut buf[..]).into_chunks::<U16>();
        self.cipher.encrypt_blocks_inout_mut(blocks);
    }

    /// Pads and encrypts the tail (always one block, a full pad block when the stream
    /// ended on a block boundary).
    pub fn finish(self, out: &mut Vec<u8>) {
        let mut last = self.partial;
        let block = self
            .cipher
            .encrypt_padded_mut::<Pkcs7>(&mut last, self.partial_len)
            .expect("fewer than 16 bytes always pad into one block");
        out.extend_from_slice(block);
    }
}

/// Runs `cipher` over the whole blocks of `input`, writing them after the end of `out`
/// (out of place: the input is read once and the output written once).
fn process(
    input: &[u8],
    out: &mut Vec<u8>,
    cipher: impl FnOnce(InOutBuf<'_, '_, ecb::cipher::Block<Aes128>>),
) {
    debug_assert_eq!(input.len() % BLOCK, 0);
    if input.is_empty() {
        return;
    }
    let start = out.len();
    out.resize(start + input.len(), 0);
    let buf = InOutBuf::new(input, &mut out[start..]).expect("equal lengths");
    let (blocks, _) = buf.into_chunks::<U16>();
    cipher(blocks);
}

/// Streaming decryption. The last block is held back until [`Decryptor::finish`], where
/// the padding is checked, so a wrong key is reported instead of yielding garbage.
pub struct Decryptor {
    cipher: ecb::Decryptor<Aes128>,
    /// Received bytes not yet decrypted: an incomplete block, or the block that may be
    /// the last one.
    held: [u8; BLOCK],
    held_len: usize,
    total: u64,
}

impl Decryptor {
    /// A decryptor at the start of a stream.
    pub fn new(key: &AesKey) -> Decryptor {
        Decryptor {
            cipher: ecb::Decryptor::new(key.into()),
            held: [0; BLOCK],
            held_len: 0,
            total: 0,
        }
    }

    /// Decrypts the whole blocks of `input` and appends them to `out`, keeping back the
    /// final block (and any incomplete one).
    pub fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        self.total += input.len() as u64;
        if self.held_len > 0 {
            let take = (BLOCK - self.held_len).min(input.len());
            self.held[self.held_len..self.held_len + take].copy_from_slice(&input[..take]);
            self.held_len += take;
            input = &input[take..];
            // Still incomplete, or complete but possibly the last block: keep it.
            if self.held_len < BLOCK || input.is_empty() {
                return;
            }
            let block = self.held;
            self.held_len = 0;
            process(&block, out, |blocks| {
                self.cipher.decrypt_blocks_inout_mut(blocks)
            });
        }
        if input.is_empty() {
            return;
        }
        // Hold back 1..=16 bytes: the block that may be the last one, or an incomplete one.
        let keep = (input.len() - 1) % BLOCK + 1;
        let release = input.len() - keep;
        process(&input[..release], out, |blocks| {
            self.cipher.decrypt_blocks_inout_mut(blocks)
        });
        self.held[..keep].copy_from_slice(&input[release..]);
        self.held_len = keep;
    }

    /// Checks the length and padding and appends the last plaintext bytes.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        if self.total == 0 || !self.total.is_multiple_of(BLOCK as u64) || self.held_len != BLOCK {
            return Err(CryptoError::BadLength(self.total));
        }
        let plain = self
            .cipher
            .decrypt_padded_mut::<Pkcs7>(&mut self.held)
            .map_err(|_| CryptoError::BadPadding)?;
        out.extend_from_slice(plain);
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
    use crate::md5sum::md5_hex;

    const KEY_HEX: &str = "00112233445566778899aabbccddeeff";

    fn key() -> AesKey {
        parse_hex_key(KEY_HEX).unwrap()
    }

    #[test]
    fn ecb_vectors() {
        // Spec §10.1.
        for (plain, md5_hex_expected, cipher_hex) in [
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
            assert_eq!(md5_hex(plain.as_bytes()), md5_hex_expected);
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

            let mut enc = Encryptor::new(&key());
            let mut out = Vec::new();
            for piece in data.chunks(chunk) {
                let mut buf = piece.to_vec();
                enc.update_in_place(&mut buf);
                out.extend_from_slice(&buf);
            }
            enc.finish(&mut out);
            assert_eq!(out, whole, "encrypt in place, chunk {chunk}");

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
    fn many_blocks_per_call_match_the_block_cipher_one_block_at_a_time() {
        use aes::cipher::{BlockEncrypt, KeyInit as _};
        // Long enough for the parallel AES-NI path (several blocks per call) and an odd
        // tail; the reference is the bare block cipher, block by block, padded by hand.
        let data: Vec<u8> = (0..10_007u32).map(|i| (i * 31 % 253) as u8).collect();
        let aes = Aes128::new(&key().into());
        let mut expected = data.clone();
        let pad = BLOCK - data.len() % BLOCK;
        expected.resize(data.len() + pad, pad as u8);
        for block in expected.chunks_exact_mut(BLOCK) {
            aes.encrypt_block(block.into());
        }
        assert_eq!(encrypt(&key(), &data), expected);
        for chunk in [16 * 9 - 1, 16 * 9, 16 * 9 + 1, 4096] {
            let mut plain = Vec::new();
            let mut dec = Decryptor::new(&key());
            for piece in expected.chunks(chunk) {
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
