//! One account's long-poll loop (docs/protocol.md §4): notifystart, then getupdates from the
//! stored cursor; each batch is committed (messages, dedupe keys, context tokens and
//! cursor in one transaction, shared with other accounts' batches ready at the same
//! moment) before any event goes out and before the poller takes the new cursor
//! (docs/architecture.md, invariant 1).

use std::sync::Arc;
use std::time::Duration;

use ilink::models::InboundEntry;
use ilink::{Client, IlinkError, Secret};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::inbound_writer::Batch;
use super::sender::SenderWake;
use super::shared::Runtime;
use super::timing::duration_ms;
use super::wire_text;
use crate::events::{preview, AccountStatus};
use crate::inbound::ReceivedEntry;

/// The `item_kind` of a message stored undecoded.
pub(crate) const UNDECODABLE_KIND: &str = "undecodable";

pub(crate) struct Poller {
    pub rt: Arc<Runtime>,
    pub account_id: String,
    pub client: Arc<Client>,
    pub cancel: CancellationToken,
    /// Woken after a batch with new messages, so waiting sends can use the new tokens.
    pub sender_wake: Arc<SenderWake>,
}

/// Sleeps for `duration` unless `cancel` fires first; returns true if it fired.
pub(crate) async fn sleep_or_cancel(duration: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        () = cancel.cancelled() => true,
        () = tokio::time::sleep(duration) => false,
    }
}

/// The official failure count (docs/protocol.md §4): 2 s after a failure, 30 s after the third in
/// a row (and the count starts over); success or -14 resets it.
#[derive(Debug, Default)]
struct PollFailures {
    /// Failures since the last long backoff or success.
    since_backoff: u32,
    /// Failures since the last success, for the status shown.
    consecutive: u32,
}

impl PollFailures {
    fn reset(&mut self) {
        *self = PollFailures::default();
    }

    /// Counts a failure and returns the delay before the next poll (before jitter).
    fn record(&mut self, timings: &super::Timings) -> Duration {
        self.since_backoff += 1;
        self.consecutive = self.consecutive.saturating_add(1);
        if self.since_backoff >= timings.poll_failures_before_backoff {
            self.since_backoff = 0;
            timings.poll_backoff
        } else {
            timings.poll_retry
        }
    }
}

impl Poller {
    pub async fn run(self) {
        let account_id = self.account_id.as_str();
        self.rt
            .set_status(account_id, AccountStatus::Connecting)
            .await;
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => {}
            result = self.client.notifystart() => match result {
                // The server took the token: online while the first long-poll is held
                // (which can take 35 s), until a poll says otherwise.
                Ok(()) => self.rt.set_status(account_id, AccountStatus::Online).await,
                Err(e) => {
                    tracing::warn!(account_id, error = %e, "notifystart failed (ignored)");
                }
            }
        }
        if !self.cancel.is_cancelled() {
            self.poll_loop().await;
        }
        self.rt.set_status(account_id, AccountStatus::Stopped).await;
        // Not tied to the cancel: it has the client's own control timeout (§2.3).
        if let Err(e) = self.client.notifystop().await {
            tracing::warn!(account_id, error = %e, "notifystop failed (ignored)");
        }
    }

    async fn poll_loop(&self) {
        let account_id = self.account_id.clone();
        let stored = {
            let account_id = account_id.clone();
            self.rt.store.call(move |s| s.cursor(&account_id)).await
        };
        let mut cursor = match stored {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                tracing::error!(account_id, error = %e, "cannot read the cursor");
                Secret::default()
            }
        };
        let timings = &self.rt.timings;
        let mut failures = PollFailures::default();
        let flow = &self.rt.inbound.flow;
        // Messages in the last batch: what the next poll likely brings (inflow.rs).
        let mut last_batch = 0;
        while !self.cancel.is_cancelled() {
            let admission = tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                admission = flow.admit(last_batch) => admission,
            };
            last_batch = 0;
            let (polled, permit) = flow
                .poll_with(
                    admission,
                    self.client.getupdates(cursor.expose(), &self.cancel),
                )
                .await;
            // A failed poll gives its permit back at once (here, as the closure is
            // dropped uncalled); a batch keeps it until it is stored.
            let polled = polled.map(|response| (response, permit));
            let failure = match polled {
                Ok((response, permit)) => {
                    last_batch = response.msgs.len();
                    let next = response
                        .get_updates_buf
                        .filter(|c| !c.is_empty())
                        .map(Secret::new);
                    match self.commit(next.clone(), response.msgs, permit).await {
                        Ok(()) => {
                            failures.reset();
                            if let Some(next) = next {
                                cursor = next;
                            }
                            self.rt.set_status(&account_id, AccountStatus::Online).await;
                            continue;
                        }
                        Err(message) => message,
                    }
                }
                Err(IlinkError::Cancelled) => break,
                Err(IlinkError::StaleToken) => {
                    failures.reset();
                    let pause = timings.stale_token_pause;
                    let until_ms = self.rt.now_ms() + duration_ms(pause);
                    tracing::warn!(account_id, "stale bot token (-14): pausing");
                    self.rt
                        .set_status(&account_id, AccountStatus::StaleToken { until_ms })
                        .await;
                    if sleep_or_cancel(pause, &self.cancel).await {
                        break;
                    }
                    self.rt
                        .set_status(&account_id, AccountStatus::Connecting)
                        .await;
                    continue;
                }
                Err(e) => wire_text(&self.client, &e.to_string()),
            };
            if self.cancel.is_cancelled() {
                break;
            }
            let delay = timings.jittered(failures.record(timings));
            let consecutive = failures.consecutive;
            tracing::warn!(account_id, error = %failure, attempt = consecutive, "poll failed");
            self.rt
                .set_status(
                    &account_id,
                    AccountStatus::BackingOff {
                        attempt: consecutive,
                        until_ms: self.rt.now_ms() + duration_ms(delay),
                    },
                )
                .await;
            if sleep_or_cancel(delay, &self.cancel).await {
                break;
            }
        }
    }

    /// Hands one batch to the inbound writer, which commits it (with other accounts'
    /// batches ready at the same moment) and announces what was new; returns once it
    /// is durable. An empty batch that keeps the cursor touches nothing. A message that
    /// could not be decoded is stored raw and announced with kind `undecodable`; the
    /// cursor moves on past it (docs/architecture.md, "Inbound decoding").
    /// `permit`, the poll's turn while the writer was saturated, goes back once the batch
    /// is stored.
    async fn commit(
        &self,
        cursor: Option<Secret>,
        msgs: Vec<InboundEntry>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<(), String> {
        if msgs.is_empty() && cursor.is_none() {
            return Ok(());
        }
        let entries: Vec<ReceivedEntry> = msgs.iter().map(ReceivedEntry::from_entry).collect();
        drop(msgs);
        // Kind and preview for the events (the rows hold the same values).
        let summaries: Vec<(&'static str, Option<String>)> = entries
            .iter()
            .map(|entry| match entry {
                ReceivedEntry::Decoded(record) => {
                    (record.item_kind, preview(record.text.as_deref()))
                }
                ReceivedEntry::Undecodable(_) => (UNDECODABLE_KIND, None),
            })
            .collect();
        let outcome = self
            .rt
            .inbound
            .commit(Batch {
                account_id: self.account_id.clone(),
                cursor,
                entries,
                now_ms: self.rt.now_ms(),
                summaries,
            })
            .await?;
        drop(permit);
        if !outcome.new.is_empty() {
            self.sender_wake.after_inbound();
        }
        if outcome.media_queued > 0 {
            self.rt.media_wake.notify_one();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Timings;

    #[test]
    fn third_failure_in_a_row_backs_off_long_then_counting_starts_over() {
        let t = Timings::default();
        let mut f = PollFailures::default();
        let delays: Vec<u64> = (0..7).map(|_| f.record(&t).as_secs()).collect();
        assert_eq!(delays, [2, 2, 30, 2, 2, 30, 2]);
        assert_eq!(f.consecutive, 7);
        f.reset();
        assert_eq!(f.record(&t).as_secs(), 2);
        assert_eq!(f.consecutive, 1);
    }
}
