//! Throughput of the media pipeline's CPU work on a generated 64 MiB file: the MD5 pass,
//! AES-128-ECB encryption (upload) and decryption (download), streamed in the same
//! chunk size the CDN code uses. Prints figures; asserts nothing.
//!
//! Run with `cargo bench -p ilink --bench media`.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use ilink::crypto::{self, Decryptor, Encryptor};
use md5::{Digest, Md5};

const SIZE: usize = 64 * 1024 * 1024;
const CHUNK: usize = 256 * 1024;

fn main() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.bin");
    write_file(&path)?;
    let key = crypto::random_key();

    let (md5_time, digest) = time(|| {
        let mut hasher = Md5::new();
        for_chunks(&path, |chunk| hasher.update(chunk))?;
        Ok(hex::encode(hasher.finalize()))
    })?;
    report("MD5 (read + hash)", md5_time);

    let cipher_path = dir.path().join("bench.enc");
    let (enc_time, ()) = time(|| {
        let mut out_file = std::fs::File::create(&cipher_path)?;
        let mut enc = Encryptor::new(&key);
        let mut out = Vec::with_capacity(CHUNK + 16);
        for_chunks(&path, |chunk| {
            out.clear();
            enc.update(chunk, &mut out);
            out_file.write_all(&out).expect("write ciphertext");
        })?;
        out.clear();
        enc.finish(&mut out);
        out_file.write_all(&out)
    })?;
    report("AES-128-ECB encrypt (read + encrypt + write)", enc_time);

    let (dec_time, ()) = time(|| {
        let mut dec = Decryptor::new(&key);
        let mut out = Vec::with_capacity(CHUNK + 32);
        let mut hasher = Md5::new();
        for_chunks(&cipher_path, |chunk| {
            out.clear();
            dec.update(chunk, &mut out);
            hasher.update(&out);
        })?;
        out.clear();
        dec.finish(&mut out).map_err(std::io::Error::other)?;
        hasher.update(&out);
        let roundtrip = hex::encode(hasher.finalize());
        assert_eq!(roundtrip, digest, "decrypted data differs");
        Ok(())
    })?;
    report("AES-128-ECB decrypt + MD5 check", dec_time);
    report(
        "upload CPU path (MD5 pass + encrypt pass)",
        md5_time + enc_time,
    );
    Ok(())
}

fn write_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; CHUNK];
    for _ in 0..SIZE / CHUNK {
        for word in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        file.write_all(&chunk)?;
    }
    file.flush()
}

fn for_chunks(path: &std::path::Path, mut f: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        f(&buf[..n]);
    }
}

fn time<T>(f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<(Duration, T)> {
    let start = Instant::now();
    let value = f()?;
    Ok((start.elapsed(), value))
}

fn report(what: &str, took: Duration) {
    let mib = SIZE as f64 / (1024.0 * 1024.0);
    println!(
        "{what:<48} {:>8.1} ms  {:>8.1} MiB/s",
        took.as_secs_f64() * 1000.0,
        mib / took.as_secs_f64()
    );
}
