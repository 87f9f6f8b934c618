//! The CDN media pipeline (docs/protocol.md §7), streaming end to end: files are never loaded whole.
//!
//! - [`upload_file`]: MD5 and size in a first pass, `getuploadurl`, then a second pass
//!   that encrypts while the request body streams out, with retries and progress.
//! - [`download_to_file`]: decrypts while streaming into a file, with a size cap and a
//!   padding check at the end.
//! - [`route_media`] picks image, video or file for an outbound path (§7.6), and the
//!   builders in [`items`] make the message item to send (§7.2).
//! - [`select_download`] picks the one inbound media to fetch (§7.4).

mod download;
mod error;
pub mod items;
mod route;
mod select;
mod upload;
mod upload_passes;

pub use download::{
    download_into, download_item, download_item_into, download_key, download_to_file, download_url,
    media_of, video_thumbnail_item, Announced, DownloadStats, DownloadedMedia, MediaKey,
};
pub use error::MediaError;
pub use route::{route_media, route_path, OutboundKind, RoutedMedia};
pub use select::{select_download, SelectedMedia};
pub use upload::{upload_file, upload_url, Progress, UploadedMedia};
pub use upload_passes::{checksum_file, encrypted_chunks};

use std::time::Duration;

/// The CDN base of the real service.
pub const DEFAULT_CDN_BASE: &str = "https://novac2c.cdn.weixin.qq.com/c2c";
/// Largest decrypted download accepted by default: 100 MiB (§7.3).
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// How CDN transfers are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdnConfig {
    /// Where `/upload` and `/download` live when the server gives no full URL.
    pub cdn_base: String,
    /// Downloads whose plaintext grows past this are stopped and deleted.
    pub max_download_bytes: u64,
    /// Upload tries on 5xx, a missing `x-encrypted-param` or a network error: 3.
    pub upload_attempts: u32,
    /// Bound on one whole transfer. The official client sets none; a stalled
    /// connection should not hang forever, so the default is generous: 10 min.
    pub transfer_timeout: Duration,
    /// The upload's piece size: the step of its progress and of the MD5 pass's reads,
    /// 256 KiB. (The encryption pass reads four pieces at once and hands them on one by
    /// one: a fifth less CPU time than crossing threads for every piece.)
    pub chunk_size: usize,
}

impl Default for CdnConfig {
    fn default() -> Self {
        Self {
            cdn_base: DEFAULT_CDN_BASE.to_owned(),
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
            upload_attempts: 3,
            transfer_timeout: Duration::from_secs(600),
            chunk_size: 256 * 1024,
        }
    }
}
