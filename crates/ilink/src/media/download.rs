//! Inbound media (docs/protocol.md §7.3): URL and key choice, then a streaming download that
//! decrypts into a file under a size cap.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::error::MediaError;
use super::CdnConfig;
use crate::client::{classify, Client};
use crate::crypto::{self, AesKey, Decryptor};
use crate::error::IlinkError;
use crate::md5sum::Md5;
use crate::models::{CdnMedia, ImageItem, ItemType, MessageItem};
use crate::url;

/// How a download is to be read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MediaKey {
    /// AES-128-ECB with PKCS#7.
    Aes(AesKey),
    /// An image stored unencrypted: the bytes are used as they come.
    Unencrypted,
}

impl std::fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Aes(_) => "Aes(***)",
            Self::Unencrypted => "Unencrypted",
        })
    }
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedMedia {
    /// Where the plaintext is.
    pub path: PathBuf,
    /// Its length.
    pub size: u64,
}

/// The downloadable media of an image, voice, file or video item.
pub fn media_of(item: &MessageItem) -> Option<&CdnMedia> {
    item.image_item
        .as_ref()
        .and_then(|i| i.media.as_ref())
        .or_else(|| item.video_item.as_ref().and_then(|v| v.media.as_ref()))
        .or_else(|| item.file_item.as_ref().and_then(|f| f.media.as_ref()))
        .or_else(|| item.voice_item.as_ref().and_then(|v| v.media.as_ref()))
}

/// A video's thumbnail (`video_item.thumb_media`) as an image item, so it downloads by
/// the picture rules (§7.3: key from `media.aes_key`, or the bytes as they are). `None`
/// when the item is no video or its thumbnail has nothing to fetch.
pub fn video_thumbnail_item(item: &MessageItem) -> Option<MessageItem> {
    let video = item.video_item.as_ref()?;
    let thumb = video.thumb_media.as_ref().filter(|m| {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
        given(&m.encrypt_query_param) || given(&m.full_url)
    })?;
    Some(MessageItem {
        item_type: Some(ItemType::Image),
        image_item: Some(ImageItem {
            media: Some(thumb.clone()),
            ..ImageItem::default()
        }),
        ..MessageItem::default()
    })
}

/// The key for an item (§7.3). Images: a non-empty hex `image_item.aeskey` first, then
/// `media.aes_key`, else unencrypted. Voice, file and video: `media.aes_key` is required.
pub fn download_key(item: &MessageItem) -> Result<MediaKey, MediaError> {
    let media_key = media_of(item)
        .and_then(|m| m.aes_key.as_deref())
        .filter(|k| !k.trim().is_empty());
    if let Some(image) = &item.image_item {
        if let Some(hex) = image.aeskey.as_deref().filter(|k| !k.trim().is_empty()) {
            return crypto::parse_hex_key(hex)
                .map(MediaKey::Aes)
                .map_err(MediaError::BadKey);
        }
        return match media_key {
            Some(encoded) => Ok(MediaKey::Aes(
                crypto::parse_media_key(encoded).map_err(MediaError::BadKey)?,
            )),
            None => Ok(MediaKey::Unencrypted),
        };
    }
    let encoded = media_key.ok_or(MediaError::MissingKey)?;
    Ok(MediaKey::Aes(
        crypto::parse_media_key(encoded).map_err(MediaError::BadKey)?,
    ))
}

/// The download URL: a non-blank `full_url`, else
/// `<cdn>/download?encrypted_query_param=<escaped param>`.
pub fn download_url(cdn_base: &str, media: &CdnMedia) -> Result<String, MediaError> {
    if let Some(full) = media
        .full_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        return Ok(full.to_owned());
    }
    let param = media
        .encrypt_query_param
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or(MediaError::NoDownloadParam)?;
    Ok(format!(
        "{}?encrypted_query_param={}",
        url::join(cdn_base, "download"),
        url::encode_component(param)
    ))
}

/// What an item's message announced about its media (spec §5.2): `file_item.len` is the
/// plaintext length; `mid_size` and `video_size` are what the sender stored (the
/// official client sends the ciphertext length there, spec §7.2, so either length is
/// accepted); `md5` and `video_md5` are the plaintext's MD5. Fields that are absent,
/// zero or not 32 hex digits are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announced {
    /// The plaintext length.
    pub plain_len: Option<u64>,
    /// The stored length: the ciphertext's, or the plaintext's.
    pub stored_len: Option<u64>,
    /// The plaintext's MD5, lowercase hex.
    pub md5: Option<String>,
}

impl Announced {
    /// What `item` announces.
    pub fn of(item: &MessageItem) -> Announced {
        let nonzero = |n: Option<u64>| n.filter(|n| *n > 0);
        let md5 = |m: Option<&String>| {
            m.map(|m| m.trim().to_ascii_lowercase())
                .filter(|m| m.len() == 32 && m.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        if let Some(file) = &item.file_item {
            return Announced {
                plain_len: nonzero(file.len.as_deref().and_then(|l| l.trim().parse().ok())),
                stored_len: None,
                md5: md5(file.md5.as_ref()),
            };
        }
        if let Some(video) = &item.video_item {
            return Announced {
                plain_len: None,
                stored_len: nonzero(video.video_size),
                md5: md5(video.video_md5.as_ref()),
            };
        }
        if let Some(image) = &item.image_item {
            return Announced {
                stored_len: nonzero(image.mid_size),
                ..Announced::default()
            };
        }
        Announced::default()
    }

    /// Whether the body ended before the announced length: a cut transfer. The
    /// ciphertext is never shorter than the plaintext, so either announced length is a
    /// floor for the bytes received.
    fn cut_short(&self, received: u64) -> Option<String> {
        let floor = self.plain_len.into_iter().chain(self.stored_len).max()?;
        (received < floor).then(|| {
            format!("the download ended after {received} bytes; the message announced {floor}")
        })
    }

    /// Checks a finished download against the announcement.
    pub fn check(&self, got: &DownloadStats) -> Result<(), MediaError> {
        if let Some(reason) = self.cut_short(got.received) {
            return Err(MediaError::NotAsAnnounced(reason));
        }
        if let Some(n) = self.plain_len.filter(|n| *n != got.size) {
            return Err(MediaError::NotAsAnnounced(format!(
                "the media is {} bytes; the message announced {n}",
                got.size
            )));
        }
        if let Some(n) = self
            .stored_len
            .filter(|n| *n != got.size && *n != got.received)
        {
            return Err(MediaError::NotAsAnnounced(format!(
                "{} bytes arrived; the message announced {n}",
                got.received
            )));
        }
        if let Some(md5) = self.md5.as_deref().filter(|m| *m != got.md5_hex) {
            return Err(MediaError::NotAsAnnounced(format!(
                "the media's MD5 is {}; the message announced {md5}",
                got.md5_hex
            )));
        }
        Ok(())
    }
}

/// What a download delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadStats {
    /// The plaintext's length.
    pub size: u64,
    /// The bytes received (the ciphertext, or the plaintext when unencrypted).
    pub received: u64,
    /// The plaintext's MD5, lowercase hex.
    pub md5_hex: String,
}

/// Downloads the media of an inbound image, voice, file or video item into `dest`,
/// choosing URL and key per §7.3, and checks it against what the item announced
/// ([`Announced`]): a download that does not match is deleted and reported as
/// [`MediaError::NotAsAnnounced`].
///
/// ```no_run
/// # async fn example(
/// #     message: ilink::models::WeixinMessage,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// use std::path::Path;
///
/// use ilink::media::{download_item, select_download, CdnConfig};
/// use ilink::{Client, ClientConfig, Secret};
///
/// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
/// let items = message.item_list.unwrap_or_default();
/// // At most one media per inbound message (§7.4).
/// if let Some(selected) = select_download(&items) {
///     let saved = download_item(
///         &client,
///         &CdnConfig::default(),
///         selected.item,
///         Path::new("inbound.bin"),
///     )
///     .await?;
///     println!("{} bytes at {}", saved.size, saved.path.display());
/// }
/// # Ok(())
/// # }
/// ```
pub async fn download_item(
    client: &Client,
    cdn: &CdnConfig,
    item: &MessageItem,
    dest: &Path,
) -> Result<DownloadedMedia, MediaError> {
    let media = media_of(item).ok_or(MediaError::NoDownloadParam)?;
    let url = download_url(&cdn.cdn_base, media)?;
    let key = download_key(item)?;
    into_file(client, cdn, &url, key, dest, &Announced::of(item)).await
}

/// Like [`download_item`], into any writer (which is flushed, not synced). On an error
/// the writer holds a partial download: the caller discards it.
pub async fn download_item_into<W: AsyncWrite + Unpin>(
    client: &Client,
    cdn: &CdnConfig,
    item: &MessageItem,
    writer: &mut W,
) -> Result<DownloadStats, MediaError> {
    let media = media_of(item).ok_or(MediaError::NoDownloadParam)?;
    let url = download_url(&cdn.cdn_base, media)?;
    let key = download_key(item)?;
    download_into(client, cdn, &url, key, writer, &Announced::of(item)).await
}

/// Deletes the partial file unless the download completed, also when the download
/// future is dropped (cancelled) halfway.
struct PartFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: the file may not exist yet.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Downloads `url` into `dest`, decrypting on the way. The data goes to `<dest>.part`
/// (owner-only) first and is renamed on success; on any failure nothing is left
/// behind. Stops as soon as the plaintext passes `cdn.max_download_bytes`.
///
/// ```no_run
/// # async fn example(item: ilink::models::MessageItem) -> Result<(), Box<dyn std::error::Error>> {
/// use std::path::Path;
///
/// use ilink::media::{download_key, download_to_file, download_url, media_of, CdnConfig};
/// use ilink::{Client, ClientConfig, Secret};
///
/// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
/// let cdn = CdnConfig::default();
/// // What `download_item` does, step by step (without checking the announcement).
/// let media = media_of(&item).ok_or("no media")?;
/// let url = download_url(&cdn.cdn_base, media)?;
/// let key = download_key(&item)?;
/// download_to_file(&client, &cdn, &url, key, Path::new("inbound.bin")).await?;
/// # Ok(())
/// # }
/// ```
pub async fn download_to_file(
    client: &Client,
    cdn: &CdnConfig,
    url: &str,
    key: MediaKey,
    dest: &Path,
) -> Result<DownloadedMedia, MediaError> {
    into_file(client, cdn, url, key, dest, &Announced::default()).await
}

async fn into_file(
    client: &Client,
    cdn: &CdnConfig,
    url: &str,
    key: MediaKey,
    dest: &Path,
    announced: &Announced,
) -> Result<DownloadedMedia, MediaError> {
    let mut part = dest.as_os_str().to_owned();
    part.push(".part");
    let mut part = PartFile {
        path: PathBuf::from(part),
        keep: false,
    };
    let mut file = owner_only_file(&part.path).await?;
    let stats = download_into(client, cdn, url, key, &mut file, announced).await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&part.path, dest).await?;
    part.keep = true;
    Ok(DownloadedMedia {
        path: dest.to_owned(),
        size: stats.size,
    })
}

/// Creates (or truncates) `path` readable by its owner only.
async fn owner_only_file(path: &Path) -> std::io::Result<tokio::fs::File> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path).await
}

/// Downloads `url` into `writer`, decrypting on the way, under the size cap and the
/// transfer timeout, and checks the result against `announced`.
pub async fn download_into<W: AsyncWrite + Unpin>(
    client: &Client,
    cdn: &CdnConfig,
    url: &str,
    key: MediaKey,
    writer: &mut W,
    announced: &Announced,
) -> Result<DownloadStats, MediaError> {
    let stats = tokio::time::timeout(
        cdn.transfer_timeout,
        stream_into(client, cdn, url, key, writer, announced),
    )
    .await
    .unwrap_or(Err(MediaError::Network(IlinkError::Timeout)))?;
    announced.check(&stats)?;
    Ok(stats)
}

async fn stream_into<W: AsyncWrite + Unpin>(
    client: &Client,
    cdn: &CdnConfig,
    url: &str,
    key: MediaKey,
    file: &mut W,
    announced: &Announced,
) -> Result<DownloadStats, MediaError> {
    let limit = cdn.max_download_bytes;
    let mut response = client
        .http()
        .get(url)
        .send()
        .await
        .map_err(|e| MediaError::Network(classify(e)))?;
    if !response.status().is_success() {
        return Err(MediaError::DownloadStatus {
            status: response.status().as_u16(),
        });
    }
    // The ciphertext is at most one block longer than the plaintext.
    if response
        .content_length()
        .is_some_and(|n| n > limit + crypto::BLOCK as u64)
    {
        return Err(MediaError::TooLarge { limit });
    }
    let mut decryptor = match key {
        MediaKey::Aes(key) => Some(Decryptor::new(&key)),
        MediaKey::Unencrypted => None,
    };
    let mut md5 = Md5::new();
    let mut received = 0u64;
    let mut written = 0u64;
    let mut plain = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| MediaError::Network(classify(e)))?
    {
        received += chunk.len() as u64;
        plain.clear();
        match decryptor.as_mut() {
            Some(decryptor) => decryptor.update(&chunk, &mut plain),
            None => plain.extend_from_slice(&chunk),
        }
        written += plain.len() as u64;
        if written > limit {
            return Err(MediaError::TooLarge { limit });
        }
        md5.update(&plain);
        file.write_all(&plain).await?;
    }
    // A body that ends early (no Content-Length to tell) is reported as cut, not as a
    // wrong key: its last block is data, not padding.
    if let Some(reason) = announced.cut_short(received) {
        return Err(MediaError::NotAsAnnounced(reason));
    }
    if let Some(decryptor) = decryptor {
        plain.clear();
        decryptor.finish(&mut plain)?;
        written += plain.len() as u64;
        if written > limit {
            return Err(MediaError::TooLarge { limit });
        }
        md5.update(&plain);
        file.write_all(&plain).await?;
    }
    file.flush().await?;
    Ok(DownloadStats {
        size: written,
        received,
        md5_hex: md5.finalize_hex(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{FileItem, ImageItem, VideoItem, VoiceItem};

    const HEX: &str = "00112233445566778899aabbccddeeff";
    const RAW_B64: &str = "ABEiM0RVZneImaq7zN3u/w==";
    const HEX_B64: &str = "MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY=";

    fn key() -> MediaKey {
        MediaKey::Aes(crypto::parse_hex_key(HEX).unwrap())
    }

    fn media(aes_key: Option<&str>) -> Option<CdnMedia> {
        Some(CdnMedia {
            encrypt_query_param: Some("p".into()),
            aes_key: aes_key.map(str::to_owned),
            ..CdnMedia::default()
        })
    }

    fn image(aeskey: Option<&str>, aes_key: Option<&str>) -> MessageItem {
        MessageItem {
            image_item: Some(ImageItem {
                media: media(aes_key),
                aeskey: aeskey.map(str::to_owned),
                ..ImageItem::default()
            }),
            ..MessageItem::default()
        }
    }

    #[test]
    fn image_key_choice() {
        // Hex aeskey wins even over a different media key.
        let other = crypto::key_for_outbound_media(&[9; 16]);
        assert_eq!(
            download_key(&image(Some(HEX), Some(&other))).unwrap(),
            key()
        );
        assert_eq!(download_key(&image(None, Some(RAW_B64))).unwrap(), key());
        assert_eq!(
            download_key(&image(Some(""), Some(HEX_B64))).unwrap(),
            key()
        );
        assert_eq!(
            download_key(&image(None, None)).unwrap(),
            MediaKey::Unencrypted
        );
        assert!(matches!(
            download_key(&image(Some("zz"), None)),
            Err(MediaError::BadKey(_))
        ));
    }

    #[test]
    fn other_kinds_need_a_key() {
        let file = |k: Option<&str>| MessageItem {
            file_item: Some(FileItem {
                media: media(k),
                ..FileItem::default()
            }),
            ..MessageItem::default()
        };
        assert_eq!(download_key(&file(Some(HEX_B64))).unwrap(), key());
        assert!(matches!(
            download_key(&file(None)),
            Err(MediaError::MissingKey)
        ));
        let voice = MessageItem {
            voice_item: Some(VoiceItem {
                media: media(Some("AAEC")),
                ..VoiceItem::default()
            }),
            ..MessageItem::default()
        };
        assert!(matches!(download_key(&voice), Err(MediaError::BadKey(_))));
    }

    #[test]
    fn a_video_thumbnail_downloads_as_a_picture() {
        let video = |thumb: Option<CdnMedia>| MessageItem {
            video_item: Some(VideoItem {
                media: media(Some(&crypto::key_for_outbound_media(&[9; 16]))),
                thumb_media: thumb,
                ..VideoItem::default()
            }),
            ..MessageItem::default()
        };
        let thumb = CdnMedia {
            encrypt_query_param: Some("thumb".into()),
            aes_key: Some(HEX_B64.into()),
            ..CdnMedia::default()
        };
        let item = video_thumbnail_item(&video(Some(thumb))).unwrap();
        // Its own reference and key, not the video's.
        assert_eq!(
            media_of(&item).unwrap().encrypt_query_param.as_deref(),
            Some("thumb")
        );
        assert_eq!(download_key(&item).unwrap(), key());
        let nothing = CdnMedia {
            encrypt_query_param: Some(" ".into()),
            ..CdnMedia::default()
        };
        assert!(video_thumbnail_item(&video(Some(nothing))).is_none());
        assert!(video_thumbnail_item(&video(None)).is_none());
        assert!(video_thumbnail_item(&image(None, None)).is_none());
    }

    #[test]
    fn urls() {
        let mut m = CdnMedia {
            encrypt_query_param: Some("ab+/cd==".into()),
            ..CdnMedia::default()
        };
        assert_eq!(
            download_url("https://cdn/c2c", &m).unwrap(),
            "https://cdn/c2c/download?encrypted_query_param=ab%2B%2Fcd%3D%3D"
        );
        m.full_url = Some(" https://full/x ".into());
        assert_eq!(
            download_url("https://cdn/c2c", &m).unwrap(),
            "https://full/x"
        );
        assert!(matches!(
            download_url("https://cdn", &CdnMedia::default()),
            Err(MediaError::NoDownloadParam)
        ));
    }

    #[test]
    fn announced_lengths_and_md5_are_checked() {
        let file: MessageItem = serde_json::from_value(serde_json::json!({"type": 4,
            "file_item": {"len": "20", "md5": "0123456789ABCDEF0123456789abcdef"}}))
        .unwrap();
        let announced = Announced::of(&file);
        assert_eq!(announced.plain_len, Some(20));
        let stats = |size, received, md5: &str| DownloadStats {
            size,
            received,
            md5_hex: md5.to_owned(),
        };
        let md5 = "0123456789abcdef0123456789abcdef";
        announced.check(&stats(20, 32, md5)).unwrap();
        let err = announced.check(&stats(16, 16, md5)).unwrap_err();
        assert!(err.to_string().contains("ended after 16 bytes"), "{err}");
        let err = announced.check(&stats(21, 32, md5)).unwrap_err();
        assert!(err.to_string().contains("21 bytes"), "{err}");
        let err = announced
            .check(&stats(20, 32, &"0".repeat(32)))
            .unwrap_err();
        assert!(err.to_string().contains("MD5"), "{err}");

        // Stored length: the ciphertext's or the plaintext's; a malformed MD5 is not
        // checked.
        let image: MessageItem =
            serde_json::from_value(serde_json::json!({"type": 2, "image_item": {"mid_size": 32}}))
                .unwrap();
        let announced = Announced::of(&image);
        announced.check(&stats(20, 32, md5)).unwrap();
        announced.check(&stats(32, 48, md5)).unwrap();
        assert!(announced.check(&stats(40, 48, md5)).is_err());
        let video: MessageItem = serde_json::from_value(
            serde_json::json!({"type": 5, "video_item": {"video_md5": "m", "video_size": 0}}),
        )
        .unwrap();
        assert_eq!(Announced::of(&video), Announced::default());
    }
}
