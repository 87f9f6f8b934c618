//! AES-128-ECB with PKCS#7 and MD5, as the CDN uses them (docs/protocol.md §7, §10.1). Written here,
//! not borrowed from the client crate, so the two cannot share a mistake.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes128;
use md5::{Digest, Md5};

pub(crate) fn encrypt(key: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    let cipher = Aes128::new(GenericArray::from_slice(key));
    let pad = 16 - plain.len() % 16;
    let mut data = plain.to_vec();
    data.extend(std::iter::repeat_n(pad as u8, pad));
    for block in data.chunks_exact_mut(16) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    data
}

pub(crate) fn decrypt(key: &[u8; 16], cipher_text: &[u8]) -> Result<Vec<u8>, &'static str> {
    if cipher_text.is_empty() || !cipher_text.len().is_multiple_of(16) {
        return Err("ciphertext length is not a positive multiple of 16");
    }
    let cipher = Aes128::new(GenericArray::from_slice(key));
    let mut data = cipher_text.to_vec();
    for block in data.chunks_exact_mut(16) {
        cipher.decrypt_block(GenericArray::from_mut_slice(block));
    }
    let pad = usize::from(*data.last().unwrap_or(&0));
    let valid = (1..=16).contains(&pad)
        && data[data.len() - pad..]
            .iter()
            .all(|&b| usize::from(b) == pad);
    if !valid {
        return Err("bad PKCS#7 padding after decryption (wrong key?)");
    }
    data.truncate(data.len() - pad);
    Ok(data)
}

pub(crate) fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Spec §10.2: PKCS#7 always adds 1–16 bytes.
pub(crate) fn padded_size(raw: u64) -> u64 {
    (raw / 16 + 1) * 16
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];

    /// Spec §10.1.
    #[test]
    fn known_answers() {
        let vectors = [
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
        ];
        for (plain, md5, cipher_hex) in vectors {
            assert_eq!(md5_hex(plain.as_bytes()), md5);
            let ct = encrypt(&KEY, plain.as_bytes());
            assert_eq!(hex::encode(&ct), cipher_hex, "{plain:?}");
            assert_eq!(ct.len() as u64, padded_size(plain.len() as u64));
            assert_eq!(decrypt(&KEY, &ct).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn padded_sizes() {
        for (n, want) in [
            (0, 16),
            (1, 16),
            (15, 16),
            (16, 32),
            (17, 32),
            (31, 32),
            (32, 48),
            (1000, 1008),
            (1_048_576, 1_048_592),
        ] {
            assert_eq!(padded_size(n), want);
        }
    }

    #[test]
    fn a_wrong_key_or_length_is_an_error() {
        let ct = encrypt(&KEY, b"hello world");
        let mut other = KEY;
        other[0] ^= 1;
        assert!(decrypt(&other, &ct).is_err());
        assert!(decrypt(&KEY, &ct[..15]).is_err());
        assert!(decrypt(&KEY, &[]).is_err());
    }
}
