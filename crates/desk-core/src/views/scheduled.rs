//! Send later, as the window and the CLI show it: each scheduled message not sent yet.

use serde::Serialize;

use super::{ItemKind, WaitReason};
use crate::store::{OutboxEntry, OutboxState};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ScheduledView {
    pub outbox_id: i64,
    pub account_id: String,
    pub peer_id: String,
    pub kind: ItemKind,
    /// The text, or a file's caption.
    pub text: Option<String>,
    /// A file's name.
    pub file_name: Option<String>,
    /// When it goes out (epoch ms).
    pub due_ms: i64,
    pub state: OutboxState,
    /// Why it still waits after its time (the reply window, the allowance), for the
    /// window's sentence; `reason` has the details.
    pub wait: Option<WaitReason>,
    pub reason: Option<String>,
    /// Its row in the conversation's log.
    pub message_row_id: Option<i64>,
}

impl ScheduledView {
    /// The view of a scheduled entry; `None` for one that has no time.
    pub fn of(entry: OutboxEntry) -> Option<ScheduledView> {
        let due_ms = entry.due_ms?;
        let field = |name: &str| {
            entry
                .payload
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let text = if entry.kind == "text" {
            field("text")
        } else {
            field("caption")
        };
        let (wait, reason) = match entry.state {
            OutboxState::WaitingForWindow => (entry.wait_reason, entry.last_error.clone()),
            _ => (None, None),
        };
        Some(ScheduledView {
            kind: ItemKind::from_stored(&entry.kind),
            file_name: field("file_name"),
            text,
            due_ms,
            state: entry.state,
            wait,
            reason,
            outbox_id: entry.id,
            account_id: entry.account_id,
            peer_id: entry.peer_id,
            message_row_id: entry.message_row_id,
        })
    }
}
