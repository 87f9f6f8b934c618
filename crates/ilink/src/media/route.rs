//! Outbound MIME routing (docs/protocol.md §7.6): which item type a local file is sent as.
//!
//! The extension decides as in the official client, but the content is sniffed too: a
//! file whose magic bytes say image or video goes out as that, and a file whose
//! extension claims image or video while its bytes say otherwise goes out as a FILE,
//! so a mislabelled file never shows as a broken picture.

use crate::models::{ItemType, UploadMediaType};

/// How an outbound file is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboundKind {
    /// IMAGE item, upload type 1.
    Image,
    /// VIDEO item, upload type 2.
    Video,
    /// FILE item, upload type 3 (everything else, audio included).
    File,
}

impl OutboundKind {
    /// `getuploadurl.media_type`.
    pub fn upload_media_type(self) -> UploadMediaType {
        match self {
            Self::Image => UploadMediaType::Image,
            Self::Video => UploadMediaType::Video,
            Self::File => UploadMediaType::File,
        }
    }

    /// The message item type.
    pub fn item_type(self) -> ItemType {
        match self {
            Self::Image => ItemType::Image,
            Self::Video => ItemType::Video,
            Self::File => ItemType::File,
        }
    }
}

/// The routing decision with the MIME type it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedMedia {
    /// How to send it.
    pub kind: OutboundKind,
    /// The sniffed MIME type, else the one the extension implies, else
    /// `application/octet-stream`.
    pub mime: String,
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "bmp"];
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "webm", "mkv", "avi"];
const IMAGE_MIMES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
];
const VIDEO_MIMES: &[&str] = &[
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-matroska",
    "video/x-msvideo",
    "video/x-m4v",
];

/// Routes a file by its name and its first bytes (a few KiB are plenty).
pub fn route_media(file_name: &str, head: &[u8]) -> RoutedMedia {
    let extension = std::path::Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let by_extension = if IMAGE_EXTENSIONS.contains(&extension.as_str()) {
        OutboundKind::Image
    } else if VIDEO_EXTENSIONS.contains(&extension.as_str()) {
        OutboundKind::Video
    } else {
        OutboundKind::File
    };
    match infer::get(head).map(|t| t.mime_type()) {
        Some(mime) if IMAGE_MIMES.contains(&mime) => RoutedMedia {
            kind: OutboundKind::Image,
            mime: mime.to_owned(),
        },
        Some(mime) if VIDEO_MIMES.contains(&mime) => RoutedMedia {
            kind: OutboundKind::Video,
            mime: mime.to_owned(),
        },
        Some(mime) => RoutedMedia {
            kind: OutboundKind::File,
            mime: mime.to_owned(),
        },
        // Unrecognised bytes cannot be a picture or a video WeChat will show.
        None => RoutedMedia {
            kind: OutboundKind::File,
            mime: match by_extension {
                OutboundKind::File => extension_mime(&extension),
                _ => "application/octet-stream",
            }
            .to_owned(),
        },
    }
}

/// Routes a local file: reads its first 8 KiB for sniffing, and uses its name.
pub async fn route_path(path: &std::path::Path) -> std::io::Result<RoutedMedia> {
    use tokio::io::AsyncReadExt;

    let mut head = Vec::with_capacity(8192);
    tokio::fs::File::open(path)
        .await?
        .take(8192)
        .read_to_end(&mut head)
        .await?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(route_media(&name, &head))
}

fn extension_mime(extension: &str) -> &'static str {
    match extension {
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "zip" => "application/zip",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";
    const MP4: &[u8] = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom";
    const PDF: &[u8] = b"%PDF-1.7\n";

    #[test]
    fn honest_extensions() {
        assert_eq!(route_media("a.png", PNG).kind, OutboundKind::Image);
        assert_eq!(route_media("a.JPG", JPEG).kind, OutboundKind::Image);
        assert_eq!(route_media("clip.mp4", MP4).kind, OutboundKind::Video);
        let pdf = route_media("doc.pdf", PDF);
        assert_eq!(pdf.kind, OutboundKind::File);
        assert_eq!(pdf.mime, "application/pdf");
        assert_eq!(route_media("notes.txt", b"hello").mime, "text/plain");
    }

    #[test]
    fn content_wins_over_a_lying_extension() {
        assert_eq!(route_media("photo.jpg", PDF).kind, OutboundKind::File);
        assert_eq!(
            route_media("photo.jpg", b"not an image").kind,
            OutboundKind::File
        );
        assert_eq!(route_media("download.bin", PNG).kind, OutboundKind::Image);
        let video = route_media("noext", MP4);
        assert_eq!(
            (video.kind, video.mime.as_str()),
            (OutboundKind::Video, "video/mp4")
        );
    }

    #[tokio::test]
    async fn routes_a_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("picture.dat");
        std::fs::write(&path, [PNG, &[0u8; 20_000][..]].concat()).unwrap();
        assert_eq!(route_path(&path).await.unwrap().kind, OutboundKind::Image);
        assert!(route_path(&dir.path().join("missing")).await.is_err());
    }

    #[test]
    fn kinds_map_to_wire_numbers() {
        assert_eq!(OutboundKind::Image.upload_media_type().to_wire(), 1);
        assert_eq!(OutboundKind::Video.upload_media_type().to_wire(), 2);
        assert_eq!(OutboundKind::File.upload_media_type().to_wire(), 3);
        assert_eq!(OutboundKind::Image.item_type().to_wire(), 2);
        assert_eq!(OutboundKind::Video.item_type().to_wire(), 5);
        assert_eq!(OutboundKind::File.item_type().to_wire(), 4);
    }
}
