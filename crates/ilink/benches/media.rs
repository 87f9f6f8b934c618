//! Throughput and memory of the media pipeline's CPU work, printed as figures (nothing is
//! asserted). Run with `cargo bench -p ilink --bench media`.
//!
//! 1. On a generated 64 MiB file, the two passes of an upload as `upload_file` runs them
//!    (`checksum_file`, then the `encrypted_chunks` its request body streams, the bytes
//!    dropped where the connection would take them) and the download's decrypt + MD5
//!    check, in the CDN code's chunk sizes; the same two passes by the `openssl` CLI
//!    (`dgst -md5`, `enc -aes-128-ecb`) and by `media_node.js`, which does what the
//!    official Node client does (reads the whole file, `createHash('md5')`,
//!    `createCipheriv('aes-128-ecb')`). Each peer is skipped when its program is not on
//!    PATH; their outputs are checked against ours. Every run also measures the one-core
//!    hardware bound with `openssl speed` (MD5 and AES-128-ECB with AES-NI) and prints
//!    each path's "ratio to the hardware bound": for MD5 then AES over the same bytes the
//!    bound is 1 / (1/md5 + 1/aes). Both sides are timed in CPU time (openssl's default;
//!    ours is the whole process's, so tokio's blocking pool counts), so other work on
//!    the machine does not move the ratio. The download's decrypt + MD5 check is also
//!    run with the hashing on a second thread while this one decrypts; that variant is
//!    compared with the one-thread run in wall time.
//! 2. Peak resident memory (VmHWM) of a 100 MiB upload in fresh child processes: ours
//!    streamed, through the real `upload_file`, against Node's whole-file way.

#[path = "media/peak.rs"]
mod peak;
#[path = "media/peers.rs"]
mod peers;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ilink::crypto::{self, Decryptor};
use ilink::md5sum::Md5;
use ilink::media::{checksum_file, encrypted_chunks, CdnConfig};

const SIZE: usize = 64 * 1024 * 1024;
const PEAK_SIZE: usize = 100 * 1024 * 1024;
/// The upload's read size (`CdnConfig::default().chunk_size`).
const CHUNK: usize = 256 * 1024;
/// The pieces the download side decrypts (it takes what the connection hands it).
const DECRYPT_CHUNK: usize = 256 * 1024;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if peak::child_main(&args)? {
        return Ok(());
    }

    assert_eq!(
        CHUNK,
        CdnConfig::default().chunk_size,
        "the bench reads as the CDN code does"
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.bin");
    write_file(&path, SIZE)?;
    let key = crypto::random_key();
    println!("Throughput on a {} MiB file:", SIZE >> 20);
    let bound = hardware_bound()?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (md5_time, md5_cpu, (rawsize, digest)) = time(|| {
        runtime
            .block_on(checksum_file(&path, CHUNK))
            .map_err(std::io::Error::other)
    })?;
    report(
        "ours: MD5 pass (read + hash, upload's checksum_file)",
        md5_time,
    );

    let (enc_time, enc_cpu, ()) = time(|| {
        runtime.block_on(for_ciphertext(&path, &key, rawsize, |chunk| {
            std::hint::black_box(chunk);
            Ok(())
        }))
    })?;
    report(
        "ours: encrypt pass (read + encrypt, upload's encrypted_chunks)",
        enc_time,
    );
    // The same stream again, untimed, into a file: the download side's input and the
    // peers' cross-check.
    let cipher_path = dir.path().join("bench.enc");
    let mut cipher_file = std::io::BufWriter::new(std::fs::File::create(&cipher_path)?);
    runtime.block_on(for_ciphertext(&path, &key, rawsize, |chunk| {
        cipher_file.write_all(&chunk)
    }))?;
    cipher_file.flush()?;
    drop(cipher_file);

    let (dec_time, dec_cpu, roundtrip) = time(|| {
        let mut dec = Decryptor::new(&key);
        let mut out = Vec::with_capacity(DECRYPT_CHUNK + 32);
        let mut hasher = Md5::new();
        for_chunks(&cipher_path, |chunk| {
            out.clear();
            dec.update(chunk, &mut out);
            hasher.update(&out);
        })?;
        out.clear();
        dec.finish(&mut out).map_err(std::io::Error::other)?;
        hasher.update(&out);
        Ok(hasher.finalize_hex())
    })?;
    assert_eq!(roundtrip, digest, "decrypted data differs");
    report("ours: AES-128-ECB decrypt + MD5 check", dec_time);
    let (piped_time, _, roundtrip) =
        time(|| decrypt_hashing_on_a_second_thread(&cipher_path, &key))?;
    assert_eq!(roundtrip, digest, "decrypted data differs (two threads)");
    report(
        "ours: decrypt + MD5 check, hashing on a second thread",
        piped_time,
    );
    let ours = md5_time + enc_time;
    report("ours: upload CPU path (MD5 pass + encrypt pass)", ours);
    if let Some(bound) = bound {
        bound_ratio("upload CPU path", md5_cpu + enc_cpu, bound);
        bound_ratio("decrypt + MD5 check", dec_cpu, bound);
    }
    ratio(
        "decrypt + MD5 check, two threads/one thread (wall time)",
        dec_time,
        piped_time,
    );
    let our_ct_md5 = file_md5(&cipher_path)?;

    if peers::available("openssl", &["version"]) {
        let (md5_took, md5_hex) = peers::openssl_md5(&path)?;
        report("openssl dgst -md5 (process)", md5_took);
        let ossl_path = dir.path().join("bench.openssl");
        let enc_took = peers::openssl_encrypt(&path, &ossl_path, &key)?;
        report("openssl enc -aes-128-ecb (process)", enc_took);
        report("openssl: both passes", md5_took + enc_took);
        let same = md5_hex == digest && file_md5(&ossl_path)? == our_ct_md5;
        println!("  openssl output identical to ours: {same}");
        ratio("ours/openssl", md5_took + enc_took, ours);
    } else {
        println!("  openssl: not on PATH, skipped");
    }

    if let Some(script) = node_script() {
        let node = peers::run_node(&script, &path, &key)?;
        report("node: readFileSync (whole file)", node.read);
        report("node: createHash('md5')", node.md5);
        report("node: createCipheriv('aes-128-ecb')", node.encrypt);
        let node_total = node.read + node.md5 + node.encrypt;
        report("node: total in-process", node_total);
        report("node: process wall time (start-up included)", node.wall);
        let same = node.md5_hex == digest && node.ct_md5_hex == our_ct_md5;
        println!("  node output identical to ours: {same}");
        ratio("ours/node (in-process)", node_total, ours);
    } else {
        println!("  node: not on PATH, skipped");
    }

    drop(std::fs::remove_file(&cipher_path));
    let peak_path = dir.path().join("peak.bin");
    write_file(&peak_path, PEAK_SIZE)?;
    peak::report(&peak_path, PEAK_SIZE as u64)
}

/// The one-core bound for MD5 then AES-128-ECB over the same bytes, in MiB/s, from
/// `openssl speed` (printed with its two parts); `None` without `openssl`.
fn hardware_bound() -> std::io::Result<Option<f64>> {
    if !peers::available("openssl", &["version"]) {
        println!("  hardware bound: openssl not on PATH, no ratios");
        return Ok(None);
    }
    let mib = |bytes_per_s: f64| bytes_per_s / (1024.0 * 1024.0);
    let md5 = mib(peers::openssl_speed(&["md5"])?);
    let aes = mib(peers::openssl_speed(&["-evp", "aes-128-ecb"])?);
    let both = 1.0 / (1.0 / md5 + 1.0 / aes);
    println!("  hardware bound (openssl speed, one core) MD5: {md5:.1} MiB/s");
    println!("  hardware bound (openssl speed, one core) AES-128-ECB: {aes:.1} MiB/s");
    println!("  hardware bound (openssl speed, one core) MD5 then AES-128-ECB: {both:.1} MiB/s");
    Ok(Some(both))
}

/// The download side's CPU work split over two cores: this thread reads and decrypts,
/// a second one hashes the plaintext. Buffers go round between them (two in flight), so
/// memory stays constant.
fn decrypt_hashing_on_a_second_thread(
    path: &Path,
    key: &crypto::AesKey,
) -> std::io::Result<String> {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(3);
    for _ in 0..3 {
        empty_tx
            .send(Vec::with_capacity(DECRYPT_CHUNK + 32))
            .expect("room for three");
    }
    let hasher = std::thread::spawn(move || {
        let mut hasher = Md5::new();
        for buf in full_rx {
            hasher.update(&buf);
            // The decrypting side may have finished already.
            let _ = empty_tx.send(buf);
        }
        hasher.finalize_hex()
    });
    let mut dec = Decryptor::new(key);
    let mut sent = Ok(());
    for_chunks(path, |chunk| {
        let mut out = empty_rx.recv().expect("the hasher returns every buffer");
        out.clear();
        dec.update(chunk, &mut out);
        if sent.is_ok() {
            sent = full_tx.send(out).map_err(std::io::Error::other);
        }
    })?;
    sent?;
    let mut out = empty_rx.recv().expect("the hasher returns every buffer");
    out.clear();
    dec.finish(&mut out).map_err(std::io::Error::other)?;
    full_tx.send(out).map_err(std::io::Error::other)?;
    drop(full_tx);
    hasher
        .join()
        .map_err(|_| std::io::Error::other("the hashing thread panicked"))
}

/// Runs the upload's encryption pass over `path`, handing each chunk to `sink`.
async fn for_ciphertext(
    path: &Path,
    key: &crypto::AesKey,
    rawsize: u64,
    mut sink: impl FnMut(bytes::Bytes) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    let mut chunks = std::pin::pin!(encrypted_chunks(file, key, rawsize, CHUNK));
    while let Some(chunk) = chunks.next().await {
        sink(chunk?)?;
    }
    Ok(())
}

/// `benches/media_node.js`, if `node` runs.
fn node_script() -> Option<PathBuf> {
    peers::available("node", &["--version"])
        .then(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/media_node.js"))
}

fn write_file(path: &Path, size: usize) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; CHUNK];
    for _ in 0..size / CHUNK {
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

fn for_chunks(path: &Path, mut f: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; DECRYPT_CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        f(&buf[..n]);
    }
}

fn file_md5(path: &Path) -> std::io::Result<String> {
    let mut hasher = Md5::new();
    for_chunks(path, |chunk| hasher.update(chunk))?;
    Ok(hasher.finalize_hex())
}

/// Wall time and this process's CPU time (all its threads, kernel time included) of `f`.
fn time<T>(f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<(Duration, Duration, T)> {
    let cpu = process_cpu_time()?;
    let start = Instant::now();
    let value = f()?;
    Ok((start.elapsed(), process_cpu_time()? - cpu, value))
}

/// Time this process's threads have spent on a core, the ones that ended included.
fn process_cpu_time() -> std::io::Result<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
}

fn report(what: &str, took: Duration) {
    let mib = SIZE as f64 / (1024.0 * 1024.0);
    println!(
        "  {what:<58} {:>8.1} ms  {:>8.1} MiB/s",
        took.as_secs_f64() * 1000.0,
        mib / took.as_secs_f64()
    );
}

/// Our throughput in CPU time (`cpu`) over the one-core hardware bound (`bound` in
/// MiB/s): 1 is the bound.
fn bound_ratio(what: &str, cpu: Duration, bound: f64) {
    let ours = SIZE as f64 / (1024.0 * 1024.0) / cpu.as_secs_f64();
    println!(
        "  ratio to the hardware bound {what}: {:.2} ({ours:.1} MiB/s of CPU time against \
         {bound:.1}; target at least 0.9)",
        ours / bound
    );
}

/// Throughput ratio for the two-pass upload path: above 1 means ours is faster.
fn ratio(what: &str, theirs: Duration, ours: Duration) {
    println!(
        "  throughput ratio {what}: {:.2} (above 1: ours is faster)",
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}
