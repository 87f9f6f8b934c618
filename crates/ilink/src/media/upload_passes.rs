//! The two passes an upload makes over its file (docs/protocol.md §7.1), without the
//! network: the MD5 and size that `getuploadurl` needs before anything is sent, then the
//! ciphertext that the request body streams. Both run on the blocking pool, and neither
//! holds more than a few chunks in memory.

use std::io::Read;
use std::path::Path;

use bytes::Bytes;

use super::error::MediaError;
use crate::crypto::{self, AesKey, Encryptor};
use crate::md5sum::Md5;

/// The error text of a file whose size changed between the two passes.
pub(super) const FILE_CHANGED: &str = "the file changed while it was being uploaded";

/// Reads the request body may run ahead of the connection.
const READS_AHEAD: usize = 2;
/// Chunks read from the file at once in pass 2: each read crosses between threads once,
/// and is handed on as that many chunks (slices of it, not copies).
const CHUNKS_PER_READ: usize = 4;

/// Pass 1: the file's size and the lower-case hex MD5 of its bytes, read `chunk_size`
/// bytes at a time.
///
/// Hashing is the upload's largest piece of CPU work (about 1.3 ms per MiB, one step
/// after another), so the whole pass is one task of the blocking pool, off the async
/// workers. Reading on a second thread while this one hashes was measured too: more CPU
/// time for the hand-overs, and no shorter in wall time on a busy machine.
pub async fn checksum_file(path: &Path, chunk_size: usize) -> Result<(u64, String), MediaError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || checksum_blocking(&path, chunk_size.max(4096)))
        .await
        .map_err(|err| std::io::Error::other(format!("the checksum task failed: {err}")))?
        .map_err(MediaError::from)
}

fn checksum_blocking(path: &Path, chunk_size: usize) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; chunk_size];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        md5.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, md5.finalize_hex()))
}

/// Pass 2: the ciphertext of `file` under `key`, in the chunks the request body
/// streams, the padded last block after the end of the file. Ends with an error if the
/// file is not `rawsize` bytes long.
///
/// A task of the blocking pool reads and encrypts [`CHUNKS_PER_READ`] chunks at a time,
/// up to [`READS_AHEAD`] reads ahead of whoever takes them (the connection), each read
/// straight into the buffer that is encrypted in place and handed on in `chunk_size`
/// slices. It stops when the stream is dropped. Call it inside a Tokio runtime (it
/// starts that task at once).
pub fn encrypted_chunks(
    file: std::fs::File,
    key: &AesKey,
    rawsize: u64,
    chunk_size: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let chunk_size = chunk_size.max(4096);
    let (tx, rx) = tokio::sync::mpsc::channel(READS_AHEAD);
    let source = Source {
        file,
        encryptor: Encryptor::new(key),
        read_size: chunk_size * CHUNKS_PER_READ,
        read: 0,
        rawsize,
    };
    tokio::task::spawn_blocking(move || source.run(tx));
    futures_util::stream::unfold((rx, Bytes::new()), move |(mut rx, mut read)| async move {
        if read.is_empty() {
            match rx.recv().await? {
                Ok(next) => read = next,
                Err(err) => return Some((Err(err), (rx, read))),
            }
        }
        let chunk = read.split_to(chunk_size.min(read.len()));
        Some((Ok(chunk), (rx, read)))
    })
}

/// The file and the encryption state of pass 2.
struct Source {
    file: std::fs::File,
    encryptor: Encryptor,
    read_size: usize,
    /// Plaintext bytes read so far.
    read: u64,
    rawsize: u64,
}

impl Source {
    /// Sends the ciphertext chunk by chunk, then the padded last block, or an error
    /// that ends the stream. A send fails when the stream was dropped: nobody wants the
    /// rest.
    fn run(mut self, tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>) {
        let changed = || std::io::Error::other(FILE_CHANGED);
        let end = loop {
            match self.next_chunk() {
                Err(err) => break Err(err),
                Ok((0, buf)) => break Ok(buf),
                Ok((n, buf)) => {
                    self.read += n as u64;
                    if self.read > self.rawsize {
                        break Err(changed());
                    }
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return;
                    }
                }
            }
        };
        let last = end.and_then(|mut buf| {
            if self.read != self.rawsize {
                return Err(changed());
            }
            self.encryptor.finish(&mut buf);
            Ok(Bytes::from(buf))
        });
        let _ = tx.blocking_send(last);
    }

    /// Reads the next chunk and encrypts what whole blocks it completes: the read
    /// length (0 at the end of the file) and the ciphertext. The file is read into the
    /// buffer that is then encrypted in place and handed on (never zeroed first).
    fn next_chunk(&mut self) -> std::io::Result<(usize, Vec<u8>)> {
        let mut buf = Vec::with_capacity(self.read_size + crypto::BLOCK);
        let n = (&mut self.file)
            .take(self.read_size as u64)
            .read_to_end(&mut buf)?;
        self.encryptor.update_in_place(&mut buf);
        Ok((n, buf))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    fn file_with(data: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, data).unwrap();
        (dir, path)
    }

    #[tokio::test]
    async fn the_checksum_is_the_md5_and_size_of_the_file() {
        // Sizes around the chunk size: a last chunk that is short, full, or empty.
        for len in [0usize, 1, 4095, 4096, 4097, 3 * 4096, 10_000] {
            let data: Vec<u8> = (0..len as u32).map(|i| (i * 13 % 251) as u8).collect();
            let (_dir, path) = file_with(&data);
            let (size, md5) = checksum_file(&path, 4096).await.unwrap();
            assert_eq!(size, len as u64);
            assert_eq!(md5, crate::md5sum::md5_hex(&data), "{len} bytes");
        }
    }

    #[tokio::test]
    async fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = checksum_file(&dir.path().join("none"), 4096)
            .await
            .unwrap_err();
        assert!(matches!(err, MediaError::Io(_)), "{err:?}");
    }

    #[tokio::test]
    async fn the_stream_yields_exactly_the_ciphertext() {
        let key = [3u8; 16];
        for len in [0usize, 15, 16, 4096, 10_000] {
            let data: Vec<u8> = (0..len as u32).map(|i| (i % 251) as u8).collect();
            let (_dir, path) = file_with(&data);
            let file = std::fs::File::open(&path).unwrap();
            let chunks: Vec<_> = encrypted_chunks(file, &key, len as u64, 4096)
                .collect()
                .await;
            let cipher: Vec<u8> = chunks
                .into_iter()
                .flat_map(|c| c.unwrap().to_vec())
                .collect();
            assert_eq!(cipher, crypto::encrypt(&key, &data), "{len} bytes");
        }
    }

    #[tokio::test]
    async fn a_file_that_grew_or_shrank_is_an_error() {
        let (_dir, path) = file_with(&[1u8; 100]);
        for rawsize in [50, 150] {
            let file = std::fs::File::open(&path).unwrap();
            let items: Vec<_> = encrypted_chunks(file, &[3u8; 16], rawsize, 4096)
                .collect()
                .await;
            let err = items.last().unwrap().as_ref().unwrap_err();
            assert_eq!(err.to_string(), FILE_CHANGED, "announced {rawsize}");
        }
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_reader() {
        // Far more chunks than may run ahead: the reader must give up, not block.
        let (_dir, path) = file_with(&vec![7u8; 64 * 4096]);
        let file = std::fs::File::open(&path).unwrap();
        let mut stream = Box::pin(encrypted_chunks(file, &[3u8; 16], 64 * 4096, 4096));
        assert!(stream.next().await.unwrap().is_ok());
        drop(stream);
    }
}
