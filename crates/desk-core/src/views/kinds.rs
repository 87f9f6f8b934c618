//! The typed words a message view carries. The store keeps the same words as text;
//! these parse them once, so the window and the CLI compare enums, not strings.

use serde::{Deserialize, Serialize};

use crate::store::OutboxState;

macro_rules! stored_words {
    ($(#[$meta:meta])* $name:ident, fallback $fallback:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every word, in the order declared.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word the store keeps.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            /// Reads a stored word; one this version does not know reads as the fallback.
            pub fn from_stored(word: &str) -> $name {
                match word {
                    $($word => $name::$variant,)+
                    _ => $name::$fallback,
                }
            }
        }
    };
    // Words the window says as sentences: `<prefix>.<word>` in the shared catalogs.
    ($(#[$meta:meta])* $name:ident, sentences $prefix:literal, fallback $fallback:ident { $($body:tt)+ }) => {
        stored_words!($(#[$meta])* $name, fallback $fallback { $($body)+ });

        impl $name {
            /// The catalog key of its sentence.
            pub fn key(self) -> String {
                format!(concat!($prefix, ".{}"), self.as_str())
            }
        }
    };
}

stored_words!(
    /// Who wrote a message.
    Direction, fallback In { In => "in", Out => "out" }
);

stored_words!(
    /// What a message is, by its main item (`undecodable`: received, but this version
    /// could not decode it; kept raw).
    ItemKind, fallback Unknown {
        Text => "text",
        Image => "image",
        Voice => "voice",
        File => "file",
        Video => "video",
        ToolCallStart => "tool_call_start",
        ToolCallResult => "tool_call_result",
        None => "none",
        Unknown => "unknown",
        Undecodable => "undecodable",
    }
);

stored_words!(
    /// Where a message's media file stands.
    MediaState, fallback None { None => "none", Pending => "pending", Ready => "ready", Failed => "failed" }
);

stored_words!(
    /// Where a message stands: received, or an outbound message's delivery
    /// (`accepted`: the server said `ret 0` but gave no message id, which it does for a
    /// recipient under risk control; such messages may never arrive).
    Delivery, fallback Failed {
        Received => "received",
        Queued => "queued",
        Sending => "sending",
        WaitingForWindow => "waiting_for_window",
        Accepted => "accepted",
        Delivered => "delivered",
        Failed => "failed",
    }
);

stored_words!(
    /// Why an outbound message failed for good, as the window says it in the user's
    /// language; the stored `error` keeps the details (the server's own words).
    /// `unsendable`: it cannot go as it is (its file unreadable or refused), also the
    /// reading of a word this version does not know.
    SendFailure, sentences "delivery.why", fallback Unsendable {
        WindowExpired => "window_expired",
        Refused => "refused",
        Unsendable => "unsendable",
        GaveUp => "gave_up",
        Cancelled => "cancelled",
        AccountRemoved => "account_removed",
    }
);

stored_words!(
    /// Why a received file could not be downloaded, as the window says it in the user's
    /// language; `media_error` keeps the details. `unavailable`: the message carries
    /// nothing to download, also the reading of a word this version does not know.
    MediaFailure, sentences "media.why", fallback Unavailable {
        Unreachable => "unreachable",
        Damaged => "damaged",
        Gone => "gone",
        TooLarge => "too_large",
        Unavailable => "unavailable",
        NotSaved => "not_saved",
        AccountRemoved => "account_removed",
    }
);

stored_words!(
    /// Why a scheduled message still waits after its time, as the window says it in the
    /// user's language; the outbox's `last_error` keeps the details.
    WaitReason, sentences "later.why", fallback Refused {
        NoWindow => "no_window",
        AllowanceUsed => "allowance_used",
        WindowClosed => "window_closed",
        Refused => "refused",
    }
);

impl Delivery {
    /// A logged message's delivery: the stored word, except that an outbound message
    /// the server took without a message id is only accepted, not confirmed
    /// (docs/architecture.md, invariant 2).
    pub fn of(direction: Direction, stored: &str, server_message_id: Option<&str>) -> Delivery {
        match Delivery::from_stored(stored) {
            Delivery::Delivered if direction == Direction::Out && server_message_id.is_none() => {
                Delivery::Accepted
            }
            delivery => delivery,
        }
    }
}

impl From<OutboxState> for Delivery {
    fn from(state: OutboxState) -> Delivery {
        Delivery::from_stored(state.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::text;
    use crate::locale::Locale;

    #[test]
    fn stored_words_round_trip_and_unknown_words_fall_back() {
        for kind in [
            ItemKind::Text,
            ItemKind::ToolCallResult,
            ItemKind::Undecodable,
        ] {
            assert_eq!(ItemKind::from_stored(kind.as_str()), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(ItemKind::from_stored("hologram"), ItemKind::Unknown);
        assert_eq!(
            Delivery::from(OutboxState::WaitingForWindow),
            Delivery::WaitingForWindow
        );
        assert_eq!(Delivery::from_stored("received"), Delivery::Received);
        assert_eq!(MediaState::from_stored("ready"), MediaState::Ready);
        assert_eq!(SendFailure::from_stored("gave_up"), SendFailure::GaveUp);
        assert_eq!(
            MediaFailure::from_stored("too_large"),
            MediaFailure::TooLarge
        );
        assert_eq!(MediaFailure::from_stored("lost"), MediaFailure::Unavailable);
        assert_eq!(WaitReason::from_stored("no_window"), WaitReason::NoWindow);
        assert_eq!(Direction::from_stored("out"), Direction::Out);
        // Confirmed only with the server's message id.
        assert_eq!(
            Delivery::of(Direction::Out, "delivered", Some("42")),
            Delivery::Delivered
        );
        assert_eq!(
            Delivery::of(Direction::Out, "delivered", None),
            Delivery::Accepted
        );
        assert_eq!(
            Delivery::of(Direction::In, "received", None),
            Delivery::Received
        );
        assert_eq!(
            Delivery::of(Direction::Out, "queued", None),
            Delivery::Queued
        );
    }

    #[test]
    fn every_failure_and_wait_has_a_sentence_in_both_languages() {
        let sends = SendFailure::ALL
            .iter()
            .map(|f| (format!("{f:?}"), f.key(), f.as_str()));
        let media = MediaFailure::ALL
            .iter()
            .map(|f| (format!("{f:?}"), f.key(), f.as_str()));
        let waits = WaitReason::ALL
            .iter()
            .map(|f| (format!("{f:?}"), f.key(), f.as_str()));
        for (failure, key, word) in sends.chain(media).chain(waits) {
            let (en, zh) = (text(Locale::En, &key), text(Locale::ZhCn, &key));
            assert_ne!(en, key, "{failure} has no English sentence");
            assert_ne!(zh, key, "{failure} has no Chinese sentence");
            assert_ne!(en, zh, "{failure} is not translated");
            assert!(key.ends_with(word));
        }
    }
}
