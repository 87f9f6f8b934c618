//! Numeric wire enums (docs/protocol.md §5.1). Every one keeps numbers it does not know as
//! `Unknown(n)`, so a newer server never breaks decoding and the value survives a round trip.
//! A number sent as its decimal text (`"type":"1"`) reads as the number.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A number this client does not know, kept as sent.
            Unknown(i64),
        }

        impl $name {
            /// Maps a wire number to a variant, keeping unknown numbers.
            pub fn from_wire(value: i64) -> Self {
                match value {
                    $($value => Self::$variant,)*
                    other => Self::Unknown(other),
                }
            }

            /// The number sent on the wire.
            pub fn to_wire(self) -> i64 {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Unknown(other) => other,
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_i64(self.to_wire())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                super::lenient::required_int(deserializer).map(Self::from_wire)
            }
        }
    };
}

wire_enum! {
    /// `WeixinMessage.message_type`.
    MessageType {
        /// 0
        None = 0,
        /// 1: sent by the WeChat user.
        User = 1,
        /// 2: sent by the bot.
        Bot = 2,
    }
}

wire_enum! {
    /// `WeixinMessage.message_state`. Outbound messages are always `Finish`.
    MessageState {
        /// 0
        New = 0,
        /// 1
        Generating = 1,
        /// 2
        Finish = 2,
    }
}

wire_enum! {
    /// `MessageItem.type`.
    ItemType {
        /// 0
        None = 0,
        /// 1: `text_item`.
        Text = 1,
        /// 2: `image_item`.
        Image = 2,
        /// 3: `voice_item`.
        Voice = 3,
        /// 4: `file_item`.
        File = 4,
        /// 5: `video_item`.
        Video = 5,
        /// 11: `tool_call_start_item` (outbound progress).
        ToolCallStart = 11,
        /// 12: `tool_call_result_item` (outbound progress).
        ToolCallResult = 12,
    }
}

wire_enum! {
    /// `getuploadurl.media_type`; numbered differently from [`ItemType`].
    UploadMediaType {
        /// 1
        Image = 1,
        /// 2
        Video = 2,
        /// 3
        File = 3,
        /// 4 (never sent by the official client).
        Voice = 4,
    }
}

wire_enum! {
    /// `sendtyping.status`.
    TypingStatus {
        /// 1: show the typing indicator.
        Typing = 1,
        /// 2: clear it.
        Cancel = 2,
    }
}

wire_enum! {
    /// `VoiceItem.encode_type`.
    VoiceEncoding {
        /// 1
        Pcm = 1,
        /// 2
        Adpcm = 2,
        /// 3
        Feature = 3,
        /// 4
        Speex = 4,
        /// 5
        Amr = 5,
        /// 6
        Silk = 6,
        /// 7
        Mp3 = 7,
        /// 8: Ogg-wrapped Speex (not Opus).
        OggSpeex = 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_numbers_round_trip() {
        for n in [0, 1, 2, 3, 4, 5, 11, 12, 99, -1] {
            let item: ItemType = serde_json::from_str(&n.to_string()).unwrap();
            assert_eq!(item.to_wire(), n);
            assert_eq!(serde_json::to_string(&item).unwrap(), n.to_string());
        }
        assert_eq!(ItemType::from_wire(11), ItemType::ToolCallStart);
        assert_eq!(ItemType::from_wire(7), ItemType::Unknown(7));
        assert_eq!(UploadMediaType::from_wire(4), UploadMediaType::Voice);
        assert_eq!(TypingStatus::Cancel.to_wire(), 2);
        assert_eq!(VoiceEncoding::from_wire(8), VoiceEncoding::OggSpeex);
    }

    #[test]
    fn numbers_as_text_read_as_numbers() {
        let item: ItemType = serde_json::from_str(r#""4""#).unwrap();
        assert_eq!(item, ItemType::File);
        let state: MessageState = serde_json::from_str(r#"" 2 ""#).unwrap();
        assert_eq!(state, MessageState::Finish);
        assert!(serde_json::from_str::<ItemType>(r#""text""#).is_err());
        assert!(serde_json::from_str::<ItemType>("null").is_err());
    }
}
