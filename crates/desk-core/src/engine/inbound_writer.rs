//! Group commit of inbound batches (docs/architecture.md, invariant 1). Every poller
//! hands its getupdates batch to one writer thread; the writer stores all the batches
//! queued at that moment in one transaction, each with its account's cursor, announces
//! their new messages as soon as it commits, then answers each poller. A poller takes
//! its new cursor only after that answer, so a crash keeps a batch and its cursor
//! together or neither: the batch comes again and dedupe stores it once.

use std::sync::Arc;

use ilink::Secret;
use tokio::sync::{mpsc, oneshot};

use super::inflow::{Inflow, InflowLimits};
use super::shared::SharedStore;
use crate::events::{emit, EngineEvent, EventSender};
use crate::inbound::ReceivedEntry;
use crate::store::{InboundBatch, InboundCommit};

/// At most about this many messages go into one transaction, so one commit never
/// holds the store (and the batches queued behind it) for long, and its events fit in
/// the event channel ([`crate::events::EVENT_CAPACITY`]) with room to spare.
const MAX_GROUP_MESSAGES: usize = 2_048;

/// One poller's batch, with what its events say about each message.
pub(crate) struct Batch {
    pub account_id: String,
    pub cursor: Option<Secret>,
    /// Made ready to store by the poller, so the writer only writes.
    pub entries: Vec<ReceivedEntry>,
    pub now_ms: i64,
    /// Kind and preview of each entry, for [`EngineEvent::MessageReceived`].
    pub summaries: Vec<(&'static str, Option<String>)>,
}

struct Job {
    batch: Batch,
    done: oneshot::Sender<Result<InboundCommit, String>>,
}

/// The pollers' handle on the writer thread. The thread ends when the last handle is
/// dropped.
#[derive(Clone)]
pub(crate) struct InboundWriter {
    jobs: mpsc::UnboundedSender<Job>,
    /// Its backlog, and the permits to poll while it is saturated.
    pub flow: Arc<Inflow>,
}

impl InboundWriter {
    /// Starts the writer thread. Unbounded: each poller waits for its answer, so at
    /// most one batch per account is queued. A thread of its own rather than a task:
    /// in a burst the commits are the one serial step, and on the async workers they
    /// waited behind the pollers' decoding for a turn (and for a blocking-pool thread).
    pub fn start(store: SharedStore, events: EventSender, limits: InflowLimits) -> InboundWriter {
        let (jobs, queue) = mpsc::unbounded_channel();
        let flow = Arc::new(Inflow::new(limits));
        let backlog = flow.clone();
        let spawned = std::thread::Builder::new()
            .name("inbound-writer".into())
            .spawn(move || write_groups(&store, &events, &backlog, queue));
        if let Err(e) = spawned {
            // The queue went with the closure: every commit answers "stopped".
            tracing::error!(error = %e, "cannot start the inbound writer");
        }
        InboundWriter { jobs, flow }
    }

    /// Stores `batch` (with the batches of other accounts ready at the same time) and
    /// announces its new messages; returns what it stored once it is durable.
    pub async fn commit(&self, batch: Batch) -> Result<InboundCommit, String> {
        let (done, answer) = oneshot::channel();
        let count = batch.entries.len();
        // Counted before the writer can see it, so it is never done before queued.
        self.flow.queued(count);
        if self.jobs.send(Job { batch, done }).is_err() {
            self.flow.done(count);
            return Err("the inbound writer stopped".to_owned());
        }
        answer
            .await
            .map_err(|_| "the inbound writer stopped".to_owned())?
    }
}

fn write_groups(
    store: &SharedStore,
    events: &EventSender,
    flow: &Inflow,
    mut queue: mpsc::UnboundedReceiver<Job>,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut messages = first.batch.entries.len();
        let mut group = vec![first];
        while messages < MAX_GROUP_MESSAGES {
            let Ok(job) = queue.try_recv() else { break };
            messages += job.batch.entries.len();
            group.push(job);
        }
        write_group(store, events, group, || flow.done(messages));
    }
}

/// Stores `group` and answers it; `stored` runs between the commit and the answers, so
/// a poller never sees its own batch still counted as waiting.
fn write_group(store: &SharedStore, events: &EventSender, group: Vec<Job>, stored: impl FnOnce()) {
    let mut replies = Vec::with_capacity(group.len());
    let mut writes = Vec::with_capacity(group.len());
    for Job { batch, done } in group {
        replies.push((batch.account_id.clone(), batch.summaries, done));
        writes.push((batch.account_id, batch.cursor, batch.entries, batch.now_ms));
    }
    let batches: Vec<InboundBatch<'_>> = writes
        .iter()
        .map(|(account_id, cursor, entries, now_ms)| InboundBatch {
            account_id,
            cursor: cursor.as_ref(),
            entries,
            now_ms: *now_ms,
        })
        .collect();
    let outcomes = store.call_here(|s| s.commit_inbound_group(&batches));
    stored();
    let outcomes: Vec<Result<InboundCommit, String>> = match outcomes {
        Ok(each) => each
            .into_iter()
            .map(|r| r.map_err(|e| format!("cannot store the batch: {e}")))
            .collect(),
        Err(e) => {
            let why = format!("cannot store the batch: {e}");
            replies.iter().map(|_| Err(why.clone())).collect()
        }
    };
    // Every event of the transaction first, then the pollers: an event never waits for
    // another account's poller to be scheduled.
    for ((account_id, summaries, _), outcome) in replies.iter().zip(&outcomes) {
        if let Ok(outcome) = outcome {
            announce(events, account_id, summaries, outcome);
        }
    }
    for ((_, _, done), outcome) in replies.into_iter().zip(outcomes) {
        // A poller stopped meanwhile: its batch is stored all the same.
        let _ = done.send(outcome);
    }
}

/// Logs what was skipped and emits one [`EngineEvent::MessageReceived`] per new message.
fn announce(
    events: &EventSender,
    account_id: &str,
    summaries: &[(&'static str, Option<String>)],
    outcome: &InboundCommit,
) {
    if outcome.undecodable > 0 {
        tracing::warn!(
            account_id,
            undecodable = outcome.undecodable,
            "messages this version cannot decode were kept raw"
        );
    }
    if outcome.duplicates > 0 {
        tracing::debug!(
            account_id,
            duplicates = outcome.duplicates,
            "redelivered messages skipped"
        );
    }
    for new in &outcome.new {
        let (item_kind, preview) = summaries
            .get(new.batch_index)
            .cloned()
            .unwrap_or(("none", None));
        emit(
            events,
            EngineEvent::MessageReceived {
                account_id: account_id.to_owned(),
                peer_id: new.peer_id.clone(),
                message_row_id: new.message_row_id,
                item_kind: item_kind.to_owned(),
                preview,
            },
        );
    }
}
