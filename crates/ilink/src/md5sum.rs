//! MD5 (RFC 1321): the checksum the protocol puts on media (`rawfilemd5`, docs/protocol.md
//! §7.1) and on quoted text, in the lower-case hex the protocol writes. The hashing is
//! the `md-5` crate's, with its x86 assembly backend where it builds (crates/ilink/Cargo.toml):
//! on x86-64 it hashes about 15 % faster than the portable code (BENCHMARKS.md, media).

use md5::Digest as _;

/// An MD5 computation fed in pieces of any size.
#[derive(Clone, Default)]
pub struct Md5(md5::Md5);

impl Md5 {
    /// A computation over no bytes yet.
    pub fn new() -> Md5 {
        Md5::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finalize(self) -> [u8; 16] {
        self.0.finalize().into()
    }

    /// The digest as 32 lower-case hex digits.
    pub fn finalize_hex(self) -> String {
        hex::encode(self.finalize())
    }
}

/// The MD5 of `data` as 32 lower-case hex digits.
pub fn md5_hex(data: &[u8]) -> String {
    let mut md5 = Md5::new();
    md5.update(data);
    md5.finalize_hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1321_vectors() {
        for (input, digest) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            assert_eq!(md5_hex(input.as_bytes()), digest, "{input:?}");
        }
    }

    #[test]
    fn pieces_hash_as_the_whole() {
        let data: Vec<u8> = (0..1000u32).map(|n| (n * 7 % 251) as u8).collect();
        let mut md5 = Md5::new();
        for piece in data.chunks(37) {
            md5.update(piece);
        }
        assert_eq!(md5.finalize_hex(), md5_hex(&data));
    }
}
