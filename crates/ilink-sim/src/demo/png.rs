//! A minimal PNG writer for the demo's pictures: 8-bit RGB, no filtering, and zlib
//! "stored" (uncompressed) deflate blocks, so it needs no compression library. A 48×48
//! picture comes out at about 7 KB.

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// The largest payload of one stored deflate block.
const STORED_BLOCK_MAX: usize = 65_535;

/// A `size`×`size` picture of `background` with a diagonal band of `band`.
pub(crate) fn two_tone(size: u32, background: [u8; 3], band: [u8; 3]) -> Vec<u8> {
    let mut raw = Vec::with_capacity((size * (1 + 3 * size)) as usize);
    for y in 0..size {
        raw.push(0); // filter type: none
        for x in 0..size {
            let on_band = x.abs_diff(y) < size / 8;
            raw.extend_from_slice(if on_band { &band } else { &background });
        }
    }
    encode_rgb(size, size, &raw)
}

/// `raw` holds the scanlines, each prefixed with its filter byte.
fn encode_rgb(width: u32, height: u32, raw: &[u8]) -> Vec<u8> {
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // bit depth 8, colour type 2 (RGB), compression 0, filter 0, no interlace
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = SIGNATURE.to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(STORED_BLOCK_MAX).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        out.push(u8::from(last));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn a_picture_is_a_well_formed_png_of_a_few_kb() {
        let png = two_tone(48, [0x2e, 0x86, 0xde], [0xff, 0xff, 0xff]);
        assert_eq!(&png[..8], &SIGNATURE);
        assert!((4_000..10_000).contains(&png.len()), "{}", png.len());
        // Walk the chunks: lengths add up and every CRC is right.
        let mut at = 8;
        let mut kinds = Vec::new();
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let body = &png[at + 4..at + 8 + len];
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc32(body), crc);
            kinds.push(String::from_utf8_lossy(&body[..4]).into_owned());
            at += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
    }

    #[test]
    fn large_data_spans_several_stored_blocks() {
        let data = vec![7u8; STORED_BLOCK_MAX + 10];
        let z = zlib_stored(&data);
        // header, two block headers, data, adler
        assert_eq!(z.len(), 2 + 5 + 5 + data.len() + 4);
        assert_eq!(z[2], 0, "first block is not final");
        assert_eq!(z[2 + 5 + STORED_BLOCK_MAX], 1, "second block is final");
    }
}
