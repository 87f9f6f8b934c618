//! The message items that carry uploaded media (docs/protocol.md §7.2). The media key goes out as
//! base64 of its **hex text**; base64 of the raw bytes is accepted by the server but the
//! recipient cannot decrypt it.

use super::route::OutboundKind;
use super::upload::UploadedMedia;
use crate::crypto;
use crate::models::{CdnMedia, FileItem, ImageItem, MessageItem, VideoItem};

/// `encrypt_type` of outbound media: always 1.
const ENCRYPT_TYPE: i64 = 1;

/// The `media` object for an upload.
pub fn cdn_media(uploaded: &UploadedMedia) -> CdnMedia {
    CdnMedia {
        encrypt_query_param: Some(uploaded.download_param.clone()),
        aes_key: Some(crypto::key_for_outbound_media(&uploaded.key)),
        encrypt_type: Some(ENCRYPT_TYPE),
        full_url: None,
    }
}

/// An IMAGE item: `mid_size` is the ciphertext length.
pub fn image_item(uploaded: &UploadedMedia) -> MessageItem {
    MessageItem {
        item_type: Some(OutboundKind::Image.item_type()),
        image_item: Some(ImageItem {
            media: Some(cdn_media(uploaded)),
            mid_size: Some(uploaded.filesize),
            ..ImageItem::default()
        }),
        ..MessageItem::default()
    }
}

/// A VIDEO item: `video_size` is the ciphertext length.
pub fn video_item(uploaded: &UploadedMedia) -> MessageItem {
    MessageItem {
        item_type: Some(OutboundKind::Video.item_type()),
        video_item: Some(VideoItem {
            media: Some(cdn_media(uploaded)),
            video_size: Some(uploaded.filesize),
            ..VideoItem::default()
        }),
        ..MessageItem::default()
    }
}

/// A FILE item: the base name, and `len` as the plaintext length **in a string**.
pub fn file_item(uploaded: &UploadedMedia) -> MessageItem {
    MessageItem {
        item_type: Some(OutboundKind::File.item_type()),
        file_item: Some(FileItem {
            media: Some(cdn_media(uploaded)),
            file_name: Some(uploaded.file_name.clone()),
            len: Some(uploaded.rawsize.to_string()),
            ..FileItem::default()
        }),
        ..MessageItem::default()
    }
}

/// The item for the kind the media was uploaded as.
pub fn media_item(uploaded: &UploadedMedia) -> MessageItem {
    match uploaded.kind {
        OutboundKind::Image => image_item(uploaded),
        OutboundKind::Video => video_item(uploaded),
        OutboundKind::File => file_item(uploaded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn uploaded(kind: OutboundKind) -> UploadedMedia {
        UploadedMedia {
            kind,
            download_param: "DP".into(),
            key: crypto::parse_hex_key("00112233445566778899aabbccddeeff").unwrap(),
            rawsize: 1000,
            filesize: 1008,
            md5_hex: "x".into(),
            file_name: "report.pdf".into(),
        }
    }

    #[test]
    fn items_match_the_spec_shapes() {
        let media = json!({
            "encrypt_query_param": "DP",
            "aes_key": "MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY=",
            "encrypt_type": 1,
        });
        assert_eq!(
            serde_json::to_value(media_item(&uploaded(OutboundKind::Image))).unwrap(),
            json!({ "type": 2, "image_item": { "media": media, "mid_size": 1008 } })
        );
        assert_eq!(
            serde_json::to_value(media_item(&uploaded(OutboundKind::Video))).unwrap(),
            json!({ "type": 5, "video_item": { "media": media, "video_size": 1008 } })
        );
        assert_eq!(
            serde_json::to_value(media_item(&uploaded(OutboundKind::File))).unwrap(),
            json!({ "type": 4, "file_item": {
                "media": media, "file_name": "report.pdf", "len": "1000"
            } })
        );
    }
}
