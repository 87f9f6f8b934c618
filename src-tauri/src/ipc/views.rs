//! What the window sees of accounts, conversations and messages: camelCase views of the
//! store's records, never a token, cursor or context token. Ids and times are `number`
//! in TypeScript: row ids and epoch milliseconds stay far below 2^53, and the 64-bit
//! server ids are strings already.

use desk_core::engine::AccountStatus;
use desk_core::store::conversations::ConversationSummary;
use desk_core::store::messages::{MessagePage, PageCursor, StoredMessage};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::IpcError;

/// How long a context token lets the bot reply after the peer's last message
/// (docs/protocol.md §1.6: 24 hours).
pub const REPLY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub account_id: String,
    pub bot_id: String,
    pub alias: Option<String>,
    pub user_id: Option<String>,
    pub base_url: String,
    pub enabled: bool,
    /// The stored lifecycle word: `offline`, `online`, `replaced`, `removed` …
    pub lifecycle: String,
    /// The poller's live state.
    pub status: AccountStatus,
    pub unread: i64,
    /// Received messages this version could not decode (kept raw in the log).
    pub undecodable: i64,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub account_id: String,
    pub peer_id: String,
    pub display_name: Option<String>,
    pub last_activity_ms: i64,
    pub unread_count: i64,
    pub last_text: Option<String>,
    pub last_item_kind: Option<String>,
    /// When the reply window closes (the peer's last message + 24 h); `null` if the
    /// peer never wrote.
    pub window_closes_ms: Option<i64>,
    pub muted: bool,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: i64,
    pub account_id: String,
    pub peer_id: String,
    /// `in` or `out`.
    pub direction: String,
    pub server_message_id: Option<String>,
    pub create_time_ms: i64,
    pub item_kind: String,
    pub text: Option<String>,
    pub media_file_name: Option<String>,
    pub media_size: Option<i64>,
    /// Absolute path of the saved media file, when it is saved.
    pub media_path: Option<String>,
    /// The saved file as a `media://` URL the window loads (streamed, with ranges).
    pub media_url: Option<String>,
    /// A picture's thumbnail as a `media://` URL, once it was made.
    pub thumb_url: Option<String>,
    /// `none`, `pending`, `ready` or `failed`.
    pub media_state: String,
    pub quote_text: Option<String>,
    /// `received`, `queued`, `sending`, `waiting_for_window`, `delivered` or `failed`.
    pub delivery: String,
    pub error: Option<String>,
    pub ai_generated: bool,
    /// The outbox entry of an outbound message, for Retry and Discard.
    pub outbox_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    pub create_time_ms: i64,
    pub id: i64,
}

impl From<Cursor> for PageCursor {
    fn from(c: Cursor) -> PageCursor {
        PageCursor {
            create_time_ms: c.create_time_ms,
            id: c.id,
        }
    }
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MessagePageView {
    /// Newest first.
    pub messages: Vec<MessageView>,
    /// Where the next older page starts; `null` at the beginning of the conversation.
    pub older: Option<Cursor>,
}

pub fn message_view(backend: &Backend, m: StoredMessage, outbox_id: Option<i64>) -> MessageView {
    let (media_url, thumb_url) = m
        .media_path
        .as_deref()
        .map(|p| backend.media_urls(p))
        .unwrap_or_default();
    let media_path = m.media_path.map(|p| {
        let path = std::path::Path::new(&p);
        if path.is_absolute() {
            p
        } else {
            backend
                .data_dir
                .root()
                .join(path)
                .to_string_lossy()
                .into_owned()
        }
    });
    MessageView {
        id: m.id,
        account_id: m.account_id,
        peer_id: m.peer_id,
        direction: m.direction,
        server_message_id: m.server_message_id,
        create_time_ms: m.create_time_ms,
        item_kind: m.item_kind,
        text: m.text,
        media_file_name: m.media_file_name,
        media_size: m.media_size,
        media_path,
        media_url,
        thumb_url,
        media_state: m.media_state,
        quote_text: m.quote_text,
        delivery: m.delivery,
        error: m.error,
        ai_generated: m.ai_generated,
        outbox_id,
    }
}

/// Outbound messages carry their outbox id; the lookups run in the same store call.
pub async fn page_view(
    backend: &Backend,
    account_id: String,
    peer_id: String,
    before: Option<Cursor>,
    limit: usize,
) -> Result<MessagePageView, IpcError> {
    let (page, outbox_ids): (MessagePage, Vec<Option<i64>>) = backend
        .engine
        .store()
        .call(move |s| {
            let page = s.conversation_page(&account_id, &peer_id, before.map(Into::into), limit)?;
            let ids = page
                .messages
                .iter()
                .map(|m| {
                    if m.direction == "out" {
                        s.outbox_id_for_message(m.id)
                    } else {
                        Ok(None)
                    }
                })
                .collect::<Result<_, _>>()?;
            Ok((page, ids))
        })
        .await?;
    Ok(MessagePageView {
        messages: page
            .messages
            .into_iter()
            .zip(outbox_ids)
            .map(|(m, id)| message_view(backend, m, id))
            .collect(),
        older: page.older.map(|c| Cursor {
            create_time_ms: c.create_time_ms,
            id: c.id,
        }),
    })
}

pub async fn account_views(backend: &Backend) -> Result<Vec<AccountView>, IpcError> {
    let rows = backend
        .engine
        .store()
        .call(|s| {
            s.list_accounts()?
                .into_iter()
                .map(|a| {
                    let unread = s
                        .list_conversations(&a.account_id)?
                        .iter()
                        .map(|c| c.unread_count)
                        .sum::<i64>();
                    Ok((a, unread))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(|(a, unread)| AccountView {
            status: backend.engine.accounts().status(&a.account_id),
            account_id: a.account_id,
            bot_id: a.bot_id,
            alias: a.alias,
            user_id: a.user_id,
            base_url: a.base_url,
            enabled: a.enabled,
            lifecycle: a.status,
            unread,
            undecodable: a.undecodable_count,
        })
        .collect())
}

pub async fn conversation_views(
    backend: &Backend,
    account_id: String,
    muted: impl Fn(&str, &str) -> bool,
) -> Result<Vec<ConversationView>, IpcError> {
    let rows: Vec<(ConversationSummary, Option<i64>)> = backend
        .engine
        .store()
        .call(move |s| {
            s.list_conversations(&account_id)?
                .into_iter()
                .map(|c| {
                    let seen = s.context_token(&c.account_id, &c.peer_id)?.map(|(_, t)| t);
                    Ok((c, seen))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(|(c, seen)| ConversationView {
            muted: muted(&c.account_id, &c.peer_id),
            display_name: c
                .display_name
                .or_else(|| backend.display_names.get(&c.peer_id).cloned()),
            window_closes_ms: seen.map(|t| t + REPLY_WINDOW_MS),
            account_id: c.account_id,
            peer_id: c.peer_id,
            last_activity_ms: c.last_activity_ms,
            unread_count: c.unread_count,
            last_text: c.last_text,
            last_item_kind: c.last_item_kind,
        })
        .collect())
}
