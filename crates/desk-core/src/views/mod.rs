//! What the window (and anything else that shows the engine) sees: accounts,
//! conversations and messages as finished views, built here once from the store, the
//! engine's live state and its own timing. The desktop shell only passes them on:
//! commands return them, and [`Views::changes_for`] turns each engine event into the
//! changed views the window applies in place.
//!
//! These are wire types: snake_case fields like every other type the engine serialises
//! (events, settings, the CLI's JSON), typed enums where the store keeps words.

mod kinds;
mod scheduled;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

pub use kinds::{Delivery, Direction, ItemKind, MediaFailure, MediaState, SendFailure, WaitReason};
pub use scheduled::ScheduledView;

use crate::ai::{account_enabled_in, AccountAi, AiEvent, PeerAiState};
use crate::engine::AccountStatus;
use crate::store::conversations::ConversationSummary;
pub use crate::store::conversations::UnreadConversation;
use crate::store::messages::{PageCursor, StoredMessage};
use crate::store::{Account, OutboxEntry, PeerCard, SearchScope, CONTEXT_AGE_UNKNOWN_MS};
use crate::{CoreError, Engine, EngineError, EngineEvent, Store};

/// Turns a stored media path (relative to the data folder) into the URLs the window
/// loads: the file's and its thumbnail's. The shell knows its URL scheme; the views
/// know which files there are.
pub trait MediaLinks: Send + Sync {
    fn links(&self, relative: &Path) -> (Option<String>, Option<String>);
}

/// No URLs (the CLI shows paths).
pub struct NoLinks;

impl MediaLinks for NoLinks {
    fn links(&self, _: &Path) -> (Option<String>, Option<String>) {
        (None, None)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
    /// Unread messages over all its conversations.
    pub unread: i64,
    /// Received messages this version could not decode (kept raw in the log).
    pub undecodable: i64,
    /// Whether AI replies are on by default for its peers.
    pub ai_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationView {
    pub account_id: String,
    pub peer_id: String,
    /// The name the peer is shown by: the owner's (`alias`), else one the server gave;
    /// `null` shows the id.
    pub display_name: Option<String>,
    /// The owner's own name for the peer (never sent to WeChat).
    pub alias: Option<String>,
    /// The owner's note on the peer.
    pub note: Option<String>,
    pub last_activity_ms: i64,
    pub unread_count: i64,
    pub last_text: Option<String>,
    pub last_item_kind: Option<ItemKind>,
    /// When the reply window closes (the peer's last message + the engine's reply
    /// window); `null` if the peer never wrote.
    pub window_closes_ms: Option<i64>,
    /// The peer's context token came from another client (an import) and how old it is
    /// is unknown: the window may be closed until the peer writes (`window_closes_ms`
    /// is then `null`).
    pub window_age_unknown: bool,
    /// Messages that may still go out before the peer must write again (the engine's
    /// count under their latest message); `null` without a limit or a token.
    pub replies_left: Option<u32>,
    pub muted: bool,
    pub ai: PeerAiState,
    /// Messages scheduled for later and not sent yet, soonest first.
    pub scheduled: Vec<ScheduledView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessageView {
    pub id: i64,
    pub account_id: String,
    pub peer_id: String,
    pub direction: Direction,
    pub server_message_id: Option<String>,
    pub create_time_ms: i64,
    pub item_kind: ItemKind,
    pub text: Option<String>,
    pub media_file_name: Option<String>,
    pub media_size: Option<i64>,
    /// Absolute path of the saved media file, when it is saved.
    pub media_path: Option<String>,
    /// The saved file as a URL the window loads (streamed, with ranges).
    pub media_url: Option<String>,
    /// A picture's thumbnail URL, once it was made.
    pub thumb_url: Option<String>,
    pub media_state: MediaState,
    /// Why a received file could not be downloaded, for the window's sentence.
    pub media_failure: Option<MediaFailure>,
    /// A failed download's details (the server's or the system's words).
    pub media_error: Option<String>,
    /// The quoted text, embedded in the quote or found in the log.
    pub quote_text: Option<String>,
    /// Set on every quoting message, also one whose quote has no body: the quoted
    /// item's kind (`unknown` or `none` when neither the quote nor the log tells).
    pub quote_kind: Option<ItemKind>,
    /// The quoted item's own time, when the quote gave it.
    pub quote_time_ms: Option<i64>,
    /// The quoted message's server id, when the quote gave it.
    pub quote_server_id: Option<String>,
    pub delivery: Delivery,
    /// Why a failed send failed, for the window's sentence; `error` has the details.
    pub failure: Option<SendFailure>,
    pub error: Option<String>,
    pub ai_generated: bool,
    /// The outbox entry of an outbound message, for Retry and Discard.
    pub outbox_id: Option<i64>,
    /// Send later: when an outbound message is due (epoch ms).
    pub due_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessagePageView {
    /// Newest first.
    pub messages: Vec<MessageView>,
    /// Where the next older page starts; `null` at the beginning of the conversation.
    pub older: Option<PageCursor>,
}

/// One search hit: the message and the name its peer is shown by.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchHit {
    pub message: MessageView,
    pub peer_name: Option<String>,
}

/// What a search found: peers by name, note or id, and messages by text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchView {
    pub peers: Vec<PeerCard>,
    pub messages: Vec<SearchHit>,
}

/// What one engine event changed, as finished views: the window replaces its copies
/// (or drops the removed account) and asks for nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ViewChanges {
    /// Accounts whose view changed (a replacement changes two).
    pub accounts: Vec<AccountView>,
    pub conversation: Option<ConversationView>,
    pub message: Option<MessageView>,
    /// An account that is gone from the list.
    pub removed_account: Option<String>,
}

/// What is left of the peer's allowance: `limit` per message they send.
fn replies_left(limit: u32, has_token: bool, sent: i64) -> Option<u32> {
    (limit > 0 && has_token).then(|| {
        let sent = u32::try_from(sent.max(0)).unwrap_or(u32::MAX);
        limit.saturating_sub(sent)
    })
}

impl ViewChanges {
    pub fn is_empty(&self) -> bool {
        *self == ViewChanges::default()
    }
}

/// Builds the views. Cheap to clone.
#[derive(Clone)]
pub struct Views {
    engine: Arc<Engine>,
    links: Arc<dyn MediaLinks>,
}

impl Views {
    pub fn new(engine: Arc<Engine>, links: Arc<dyn MediaLinks>) -> Views {
        Views { engine, links }
    }

    /// Every account, oldest first.
    pub async fn accounts(&self) -> Result<Vec<AccountView>, EngineError> {
        self.accounts_where(None).await
    }

    pub async fn account(&self, account_id: &str) -> Result<Option<AccountView>, EngineError> {
        Ok(self.accounts_where(Some(account_id)).await?.pop())
    }

    async fn accounts_where(&self, only: Option<&str>) -> Result<Vec<AccountView>, EngineError> {
        let only = only.map(str::to_owned);
        let rows = self
            .engine
            .store()
            .call(move |s| {
                s.accounts_with_unread(only.as_deref())?
                    .into_iter()
                    .map(|(a, unread)| Ok((account_enabled_in(s, &a.account_id)?, a, unread)))
                    .collect::<Result<Vec<_>, CoreError>>()
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(ai_enabled, a, unread)| self.account_view(a, unread, ai_enabled))
            .collect())
    }

    fn account_view(&self, a: Account, unread: i64, ai_enabled: bool) -> AccountView {
        AccountView {
            status: self.engine.accounts().status(&a.account_id),
            account_id: a.account_id,
            bot_id: a.bot_id,
            alias: a.alias,
            user_id: a.user_id,
            base_url: a.base_url,
            enabled: a.enabled,
            lifecycle: a.status,
            unread,
            undecodable: a.undecodable_count,
            ai_enabled,
        }
    }

    /// The account's conversations, most recently active first.
    pub async fn conversations(
        &self,
        account_id: &str,
    ) -> Result<Vec<ConversationView>, EngineError> {
        let (account, now) = (account_id.to_owned(), self.engine.now_ms());
        let rows = self
            .engine
            .store()
            .call(move |s| {
                // The settings every row depends on, read once for the list.
                let prefs = s.prefs()?;
                let ai = AccountAi::read(s, &account)?;
                let mut scheduled = scheduled_by_peer(s.scheduled_outbox(Some(&account), None)?);
                s.list_conversations(&account)?
                    .into_iter()
                    .map(|c| {
                        let later = scheduled
                            .remove(&c.peer_id.to_lowercase())
                            .unwrap_or_default();
                        conversation_parts(s, c, now, &prefs, &ai, later)
                    })
                    .collect::<Result<Vec<_>, CoreError>>()
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| self.conversation_view(r))
            .collect())
    }

    pub async fn conversation(
        &self,
        account_id: &str,
        peer_id: &str,
    ) -> Result<Option<ConversationView>, EngineError> {
        let (account, peer) = (account_id.to_owned(), peer_id.to_owned());
        let now = self.engine.now_ms();
        let row = self
            .engine
            .store()
            .call(move |s| {
                let prefs = s.prefs()?;
                let ai = AccountAi::read(s, &account)?;
                let later = s.scheduled_outbox(Some(&account), Some(&peer))?;
                s.conversation(&account, &peer)?
                    .map(|c| conversation_parts(s, c, now, &prefs, &ai, later))
                    .transpose()
            })
            .await?;
        Ok(row.map(|r| self.conversation_view(r)))
    }

    fn conversation_view(&self, (c, muted, ai, later): ConversationParts) -> ConversationView {
        let window = i64::try_from(self.engine.reply_window().as_millis()).unwrap_or(i64::MAX);
        ConversationView {
            window_closes_ms: c
                .context_seen_ms
                .filter(|t| *t != CONTEXT_AGE_UNKNOWN_MS)
                .map(|t| t.saturating_add(window)),
            window_age_unknown: c.context_seen_ms == Some(CONTEXT_AGE_UNKNOWN_MS),
            replies_left: replies_left(
                self.engine.replies_per_message(),
                c.context_seen_ms.is_some(),
                c.replies_under_token,
            ),
            account_id: c.account_id,
            peer_id: c.peer_id,
            display_name: c.display_name,
            alias: c.alias,
            note: c.note,
            last_activity_ms: c.last_activity_ms,
            unread_count: c.unread_count,
            last_text: c.last_text,
            last_item_kind: c.last_item_kind.as_deref().map(ItemKind::from_stored),
            muted,
            ai,
            scheduled: later.into_iter().filter_map(ScheduledView::of).collect(),
        }
    }

    /// One page of a conversation, newest first, older than `before` (or the newest).
    pub async fn page(
        &self,
        account_id: &str,
        peer_id: &str,
        before: Option<PageCursor>,
        limit: usize,
    ) -> Result<MessagePageView, EngineError> {
        let (account, peer) = (account_id.to_owned(), peer_id.to_owned());
        let (messages, older) = self
            .engine
            .store()
            .call(move |s| {
                let page = s.conversation_page(&account, &peer, before, limit)?;
                Ok((with_outbox_ids(s, page.messages)?, page.older))
            })
            .await?;
        Ok(MessagePageView {
            messages: self.message_views(messages),
            older,
        })
    }

    /// One logged message.
    pub async fn message(&self, id: i64) -> Result<Option<MessageView>, EngineError> {
        let found = self
            .engine
            .store()
            .call(move |s| with_outbox_ids(s, s.message(id)?.into_iter().collect()))
            .await?;
        Ok(self.message_views(found).pop())
    }

    /// Messages matching `query` inside `scope`, newest first, each with the name its
    /// peer is shown by; and the peers whose name, note or id matches (a person is
    /// found by the name the owner gave them, whether or not a message says it).
    pub async fn search(
        &self,
        query: &str,
        scope: SearchScope,
        limit: usize,
    ) -> Result<SearchView, EngineError> {
        let query = query.to_owned();
        let (found, peers, names) = self
            .engine
            .store()
            .call(move |s| {
                let found = with_outbox_ids(s, s.search_in(&query, &scope, limit)?)?;
                let peers = s.search_peers(&query, &scope, limit)?;
                let mut names = std::collections::HashMap::new();
                for (m, _) in &found {
                    let key = (m.account_id.clone(), m.peer_id.to_lowercase());
                    if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(key) {
                        let card = s.peer_card(&m.account_id, &m.peer_id)?;
                        slot.insert(card.and_then(|c| c.display_name));
                    }
                }
                Ok((found, peers, names))
            })
            .await?;
        let messages = self
            .message_views(found)
            .into_iter()
            .map(|message| SearchHit {
                peer_name: names
                    .get(&(message.account_id.clone(), message.peer_id.to_lowercase()))
                    .cloned()
                    .flatten(),
                message,
            })
            .collect();
        Ok(SearchView { peers, messages })
    }

    /// Conversations of every account with unread messages, most recently active
    /// first, each with the name its peer is shown by (the tray's lines).
    pub async fn unread_conversations(
        &self,
        limit: usize,
    ) -> Result<Vec<UnreadConversation>, EngineError> {
        self.engine
            .store()
            .call(move |s| s.unread_conversations(limit))
            .await
    }

    /// One peer as the owner knows it: names, note and the naming hint.
    pub async fn peer(
        &self,
        account_id: &str,
        peer_id: &str,
    ) -> Result<Option<PeerCard>, EngineError> {
        let (account, peer) = (account_id.to_owned(), peer_id.to_owned());
        self.engine
            .store()
            .call(move |s| s.peer_card(&account, &peer))
            .await
    }

    fn message_views(&self, rows: Vec<(StoredMessage, Option<OutboxLink>)>) -> Vec<MessageView> {
        rows.into_iter()
            .map(|(m, outbox)| self.message_view(m, outbox))
            .collect()
    }

    fn message_view(&self, m: StoredMessage, outbox: Option<OutboxLink>) -> MessageView {
        let root = self.engine.data_root();
        let relative = m.media_path.as_deref().and_then(|p| {
            let path = Path::new(p);
            match (path.is_absolute(), root.as_deref()) {
                (false, _) => Some(path.to_owned()),
                (true, Some(root)) => path.strip_prefix(root).ok().map(Path::to_owned),
                (true, None) => None,
            }
        });
        let (media_url, thumb_url) = relative
            .as_deref()
            .map(|r| self.links.links(r))
            .unwrap_or_default();
        let media_path = match (&relative, root.as_deref()) {
            (Some(r), Some(root)) => Some(root.join(r).to_string_lossy().into_owned()),
            _ => m.media_path.clone(),
        };
        let direction = Direction::from_stored(&m.direction);
        MessageView {
            delivery: Delivery::of(direction, &m.delivery, m.server_message_id.as_deref()),
            id: m.id,
            account_id: m.account_id,
            peer_id: m.peer_id,
            direction,
            server_message_id: m.server_message_id,
            create_time_ms: m.create_time_ms,
            item_kind: ItemKind::from_stored(&m.item_kind),
            text: m.text,
            media_file_name: m.media_file_name,
            media_size: m.media_size,
            media_path,
            media_url,
            thumb_url,
            media_state: MediaState::from_stored(&m.media_state),
            media_failure: m.media_failure.as_deref().map(MediaFailure::from_stored),
            media_error: (m.media_state == "failed")
                .then_some(m.media_error)
                .flatten(),
            quote_text: m.quote_text,
            quote_kind: m.quote_kind.as_deref().map(ItemKind::from_stored),
            quote_time_ms: m.quote_time_ms,
            quote_server_id: m.quote_server_id,
            failure: m.failure.as_deref().map(SendFailure::from_stored),
            error: m.error,
            ai_generated: m.ai_generated,
            outbox_id: outbox.map(|o| o.id),
            due_ms: outbox.and_then(|o| o.due_ms),
        }
    }

    /// Clears a conversation's unread count; the changed conversation and account.
    pub async fn mark_read(
        &self,
        account_id: &str,
        peer_id: &str,
    ) -> Result<ViewChanges, EngineError> {
        let (account, peer) = (account_id.to_owned(), peer_id.to_owned());
        self.engine
            .store()
            .call(move |s| s.mark_conversation_read(&account, &peer))
            .await?;
        self.conversation_changes(account_id, peer_id, None).await
    }

    /// Clears the unread count of every conversation of the account (one statement);
    /// the changed account. Its conversations all change: the window lists them again.
    pub async fn mark_account_read(&self, account_id: &str) -> Result<ViewChanges, EngineError> {
        let account = account_id.to_owned();
        self.engine
            .store()
            .call(move |s| s.mark_account_read(&account))
            .await?;
        Ok(ViewChanges {
            accounts: self.account(account_id).await?.into_iter().collect(),
            ..ViewChanges::default()
        })
    }

    /// The views an engine event changed; empty for events that change no view (login
    /// progress, upload progress, AI turns).
    pub async fn changes_for(&self, event: &EngineEvent) -> Result<ViewChanges, EngineError> {
        match event {
            EngineEvent::MessageReceived {
                account_id,
                peer_id,
                message_row_id,
                ..
            } => {
                self.conversation_changes(account_id, peer_id, Some(*message_row_id))
                    .await
            }
            EngineEvent::DeliveryUpdated {
                account_id,
                peer_id,
                message_row_id,
                ..
            } => {
                let mut changes = self
                    .conversation_changes(account_id, peer_id, *message_row_id)
                    .await?;
                // Sending changes no unread count.
                changes.accounts.clear();
                Ok(changes)
            }
            EngineEvent::MediaReady { message_row_id, .. }
            | EngineEvent::MediaFailed { message_row_id, .. } => Ok(ViewChanges {
                message: self.message(*message_row_id).await?,
                ..ViewChanges::default()
            }),
            EngineEvent::AccountStatusChanged { account_id, .. }
            | EngineEvent::AccountRenamed { account_id, .. }
            | EngineEvent::Ai {
                event:
                    AiEvent::SettingsChanged {
                        account_id: Some(account_id),
                        peer_id: None,
                    },
            } => Ok(ViewChanges {
                accounts: self.account(account_id).await?.into_iter().collect(),
                ..ViewChanges::default()
            }),
            EngineEvent::AccountReplaced {
                account_id,
                replaced_by,
            } => {
                let mut accounts = Vec::new();
                for id in [account_id, replaced_by] {
                    accounts.extend(self.account(id).await?);
                }
                Ok(ViewChanges {
                    accounts,
                    ..ViewChanges::default()
                })
            }
            EngineEvent::AccountRemoved { account_id, .. } => Ok(ViewChanges {
                removed_account: Some(account_id.clone()),
                ..ViewChanges::default()
            }),
            EngineEvent::PeerChanged {
                account_id,
                peer_id,
            } => Ok(ViewChanges {
                conversation: self.conversation(account_id, peer_id).await?,
                ..ViewChanges::default()
            }),
            EngineEvent::Ai {
                event:
                    AiEvent::TakeoverStarted {
                        account_id,
                        peer_id,
                        ..
                    }
                    | AiEvent::TakeoverEnded {
                        account_id,
                        peer_id,
                        ..
                    },
            } => Ok(ViewChanges {
                conversation: self.conversation(account_id, peer_id).await?,
                ..ViewChanges::default()
            }),
            EngineEvent::Ai {
                event:
                    AiEvent::SettingsChanged {
                        account_id: Some(account_id),
                        peer_id: Some(peer_id),
                        ..
                    },
            } => Ok(ViewChanges {
                conversation: self.conversation(account_id, peer_id).await?,
                ..ViewChanges::default()
            }),
            _ => Ok(ViewChanges::default()),
        }
    }

    async fn conversation_changes(
        &self,
        account_id: &str,
        peer_id: &str,
        message_row_id: Option<i64>,
    ) -> Result<ViewChanges, EngineError> {
        let message = match message_row_id {
            Some(id) => self.message(id).await?,
            None => None,
        };
        Ok(ViewChanges {
            accounts: self.account(account_id).await?.into_iter().collect(),
            conversation: self.conversation(account_id, peer_id).await?,
            message,
            removed_account: None,
        })
    }
}

type ConversationParts = (ConversationSummary, bool, PeerAiState, Vec<OutboxEntry>);

fn conversation_parts(
    s: &Store,
    c: ConversationSummary,
    now_ms: i64,
    prefs: &crate::prefs::Prefs,
    account_ai: &AccountAi,
    scheduled: Vec<OutboxEntry>,
) -> Result<ConversationParts, CoreError> {
    let ai = account_ai.peer_state(s, &c.account_id, &c.peer_id, now_ms)?;
    let muted = prefs.is_muted(&c.account_id, &c.peer_id);
    Ok((c, muted, ai, scheduled))
}

/// An account's scheduled entries by peer (lower-cased).
fn scheduled_by_peer(entries: Vec<OutboxEntry>) -> HashMap<String, Vec<OutboxEntry>> {
    let mut by_peer: HashMap<String, Vec<OutboxEntry>> = HashMap::new();
    for e in entries {
        by_peer.entry(e.peer_id.to_lowercase()).or_default().push(e);
    }
    by_peer
}

/// The outbox entry behind a logged outbound message.
#[derive(Debug, Clone, Copy)]
struct OutboxLink {
    id: i64,
    due_ms: Option<i64>,
}

fn with_outbox_ids(
    s: &Store,
    messages: Vec<StoredMessage>,
) -> Result<Vec<(StoredMessage, Option<OutboxLink>)>, CoreError> {
    let outbound: Vec<i64> = messages
        .iter()
        .filter(|m| m.direction == Direction::Out.as_str())
        .map(|m| m.id)
        .collect();
    let ids = s.outbox_ids_for_messages(&outbound)?;
    Ok(messages
        .into_iter()
        .map(|m| {
            let link = ids
                .get(&m.id)
                .map(|&(id, due_ms)| OutboxLink { id, due_ms });
            (m, link)
        })
        .collect())
}
