//! What a CDN transfer can fail with. No variant carries a key or a CDN parameter.

use crate::crypto::CryptoError;
use crate::error::IlinkError;

/// Errors of uploads and downloads.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Reading or writing a local file failed.
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
    /// The file changed size between the checksum pass and the upload pass.
    #[error("the file changed while it was being uploaded")]
    FileChanged,
    /// `getuploadurl` failed.
    #[error("getUploadUrl failed: {0}")]
    UploadUrl(IlinkError),
    /// `getuploadurl` returned neither `upload_full_url` nor `upload_param`.
    #[error("getUploadUrl returned no upload_param")]
    NoUploadUrl,
    /// The CDN refused the upload with a 4xx status (not retried).
    #[error("CDN upload rejected with HTTP {status}: {message}")]
    UploadRejected {
        /// The status.
        status: u16,
        /// `x-error-message`, or the start of the body.
        message: String,
    },
    /// Every attempt failed with a retryable error; the last one is kept.
    #[error("CDN upload failed after {attempts} attempts: {last}")]
    UploadFailed {
        /// How many attempts were made.
        attempts: u32,
        /// What went wrong the last time.
        last: String,
    },
    /// The media names neither `full_url` nor `encrypt_query_param`.
    #[error("the media has no download parameter")]
    NoDownloadParam,
    /// A voice, file or video item without `aes_key`.
    #[error("the media has no key")]
    MissingKey,
    /// The key is in none of the known encodings.
    #[error("the media key is malformed: {0}")]
    BadKey(CryptoError),
    /// The CDN answered a download with a non-2xx status.
    #[error("CDN download failed with HTTP {status}")]
    DownloadStatus {
        /// The status.
        status: u16,
    },
    /// The transfer broke or timed out.
    #[error("CDN transfer failed: {0}")]
    Network(IlinkError),
    /// The decrypted media grew past the cap; the partial file was deleted.
    #[error("the media is larger than the {limit}-byte limit")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// The padding did not check out: the key does not fit this blob (or it is corrupt;
    /// the CDN's de-duplication can hand out a mismatched key, docs/protocol.md §7.3).
    #[error("cannot decrypt the media: wrong key or corrupt data")]
    WrongKey,
    /// The download is not what the message announced (its length or MD5): cut short,
    /// or changed on the way.
    #[error("the download does not match the message: {0}")]
    NotAsAnnounced(String),
    /// The ciphertext length is not a positive multiple of 16.
    #[error("the downloaded media is truncated or not encrypted ({0} bytes)")]
    BadLength(u64),
}

impl From<CryptoError> for MediaError {
    fn from(err: CryptoError) -> Self {
        match err {
            CryptoError::BadPadding => MediaError::WrongKey,
            CryptoError::BadLength(n) => MediaError::BadLength(n),
            CryptoError::BadKey => MediaError::BadKey(err),
        }
    }
}
