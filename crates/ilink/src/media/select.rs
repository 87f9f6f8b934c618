//! Which media of an inbound message to download (docs/protocol.md §7.4): only one per message.

use crate::models::{CdnMedia, ItemType, MessageItem};

/// The item chosen for download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectedMedia<'a> {
    /// The item holding the media (for a quote, the quoted item).
    pub item: &'a MessageItem,
    /// Whether it came from a quote (`ref_msg.message_item` of a TEXT item). Such media
    /// belongs to the quote, not to the message itself.
    pub quoted: bool,
}

fn downloadable(media: Option<&CdnMedia>) -> bool {
    media.is_some_and(|m| {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        set(&m.encrypt_query_param) || set(&m.full_url)
    })
}

/// The item's media if it is an image, video, file or voice item that can be fetched.
fn media_kind(item: &MessageItem) -> Option<ItemType> {
    let kind = item.item_type?;
    let media = match kind {
        ItemType::Image => item.image_item.as_ref()?.media.as_ref(),
        ItemType::Video => item.video_item.as_ref()?.media.as_ref(),
        ItemType::File => item.file_item.as_ref()?.media.as_ref(),
        ItemType::Voice => item.voice_item.as_ref()?.media.as_ref(),
        _ => return None,
    };
    downloadable(media).then_some(kind)
}

fn voice_untranscribed(item: &MessageItem) -> bool {
    item.voice_item
        .as_ref()
        .and_then(|v| v.text.as_deref())
        .is_none_or(|t| t.is_empty())
}

/// Picks the one media to download: the first image, else video, else file; else the
/// first voice without a transcription; else the media quoted by the first TEXT item
/// that quotes media.
pub fn select_download(items: &[MessageItem]) -> Option<SelectedMedia<'_>> {
    let first_of = |kind: ItemType| {
        items.iter().find(|i| {
            media_kind(i) == Some(kind) && (kind != ItemType::Voice || voice_untranscribed(i))
        })
    };
    let own = [
        ItemType::Image,
        ItemType::Video,
        ItemType::File,
        ItemType::Voice,
    ]
    .into_iter()
    .find_map(first_of);
    if let Some(item) = own {
        return Some(SelectedMedia {
            item,
            quoted: false,
        });
    }
    items
        .iter()
        .filter(|i| i.item_type == Some(ItemType::Text))
        .filter_map(|i| i.ref_msg.as_ref()?.message_item.as_ref())
        .find(|quoted| media_kind(quoted).is_some())
        .map(|item| SelectedMedia { item, quoted: true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{FileItem, ImageItem, RefMessage, TextItem, VoiceItem};

    fn media() -> Option<CdnMedia> {
        Some(CdnMedia {
            encrypt_query_param: Some("p".into()),
            ..CdnMedia::default()
        })
    }

    fn image() -> MessageItem {
        MessageItem {
            item_type: Some(ItemType::Image),
            image_item: Some(ImageItem {
                media: media(),
                ..ImageItem::default()
            }),
            ..MessageItem::default()
        }
    }

    fn file() -> MessageItem {
        MessageItem {
            item_type: Some(ItemType::File),
            file_item: Some(FileItem {
                media: media(),
                ..FileItem::default()
            }),
            ..MessageItem::default()
        }
    }

    fn voice(text: Option<&str>) -> MessageItem {
        MessageItem {
            item_type: Some(ItemType::Voice),
            voice_item: Some(VoiceItem {
                media: media(),
                text: text.map(str::to_owned),
                ..VoiceItem::default()
            }),
            ..MessageItem::default()
        }
    }

    fn text_quoting(quoted: MessageItem) -> MessageItem {
        MessageItem {
            item_type: Some(ItemType::Text),
            text_item: Some(TextItem {
                text: Some("look".into()),
            }),
            ref_msg: Some(Box::new(RefMessage {
                message_item: Some(quoted),
                ..RefMessage::default()
            })),
            ..MessageItem::default()
        }
    }

    #[test]
    fn order_of_preference() {
        let items = [file(), image()];
        let picked = select_download(&items).unwrap();
        assert_eq!((picked.item, picked.quoted), (&items[1], false));

        let items = [voice(None), file()];
        assert_eq!(select_download(&items).unwrap().item, &items[1]);

        // A transcribed voice is not downloaded; an untranscribed one is.
        assert_eq!(select_download(&[voice(Some("hello"))]), None);
        let items = [voice(Some("")), voice(None)];
        assert_eq!(select_download(&items).unwrap().item, &items[0]);
    }

    #[test]
    fn quoted_media_comes_last() {
        let items = [text_quoting(image())];
        let picked = select_download(&items).unwrap();
        assert!(picked.quoted);
        assert_eq!(picked.item.item_type, Some(ItemType::Image));

        let mut bare = image();
        bare.image_item.as_mut().unwrap().media = Some(CdnMedia::default());
        assert_eq!(select_download(&[bare.clone()]), None);
        assert_eq!(select_download(&[text_quoting(bare)]), None);
    }
}
