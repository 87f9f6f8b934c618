//! Follows the engine's events: owner sends start takeovers, inbound messages pass the
//! policy and queue per scope, one run per scope at a time.

use std::collections::hash_map::Entry;

use super::turn::run_turn;
use super::*;

/// Messages read from the store in one call at most.
const READ_TOGETHER: usize = 256;

/// Follows the engine's events until stopped.
pub(crate) async fn run_events(shared: Arc<Shared>, mut rx: Receiver<EngineEvent>) {
    let mut place = Place::start(&shared).await;
    let mut next = None;
    loop {
        let event = match next.take() {
            Some(event) => event,
            None => tokio::select! {
                biased;
                () = shared.stop.cancelled() => return,
                event = rx.recv() => event,
            },
        };
        if let Some(first) = event
            .as_ref()
            .ok()
            .and_then(|e| Arrival::of(e, shared.now_ms()))
        {
            let mut arrivals = vec![first];
            next = take_waiting(&mut rx, &mut arrivals);
            arrivals.retain(|a| place.is_new(a.row_id));
            if let Some(newest) = arrivals.iter().map(|a| a.row_id).max() {
                place.handled(newest);
                on_inbound(&shared, arrivals).await;
            }
            continue;
        }
        match event {
            Ok(EngineEvent::DeliveryUpdated {
                account_id,
                peer_id,
                message_row_id: Some(row_id),
                state: crate::store::OutboxState::Queued,
                ..
            }) => {
                if let Err(e) = on_owner_send(&shared, &account_id, &peer_id, row_id).await {
                    tracing::warn!(account_id, error = %e, "AI: takeover not recorded");
                }
            }
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => read_back(&shared, &mut place, missed).await,
            Err(RecvError::Closed) => return,
        }
    }
}

/// Adds the messages already waiting behind the first to `arrivals`, so one store call
/// reads them all (a burst costs one call per few hundred, not one each); returns the
/// first other event (or lag), which is handled after them, in its place.
fn take_waiting(
    rx: &mut Receiver<EngineEvent>,
    arrivals: &mut Vec<Arrival>,
) -> Option<Result<EngineEvent, RecvError>> {
    let seen_ms = arrivals.first()?.received_ms;
    while arrivals.len() < READ_TOGETHER {
        let waiting = match rx.try_recv() {
            Ok(event) => Ok(event),
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        };
        match waiting.as_ref().ok().and_then(|e| Arrival::of(e, seen_ms)) {
            Some(arrival) => arrivals.push(arrival),
            None => return Some(waiting),
        }
    }
    None
}

/// Where the reply loop stands in the message log. Inbound rows are written by one
/// connection, one transaction at a time, and announced after their commit, so their
/// ids rise in the order of their events.
struct Place {
    /// The newest inbound message handled, or the log's end when the loop started
    /// (`None`: unknown, the log could not be read then).
    handled_upto: Option<i64>,
    /// Messages up to here were read back from the log after a lag: their events,
    /// still queued, are old news.
    read_back_upto: i64,
}

impl Place {
    async fn start(shared: &Shared) -> Place {
        let end = shared.engine.store().call(|s| s.last_message_id()).await;
        if let Err(e) = &end {
            tracing::warn!(error = %e, "AI: cannot read where the log ends");
        }
        Place {
            handled_upto: end.ok(),
            read_back_upto: 0,
        }
    }

    fn is_new(&self, row_id: i64) -> bool {
        row_id > self.read_back_upto
    }

    fn handled(&mut self, row_id: i64) {
        self.handled_upto = Some(self.handled_upto.map_or(row_id, |h| h.max(row_id)));
    }
}

/// After a lag, decides about the inbound messages whose events were missed, read back
/// from the log in order, up to its end. (Owner sends missed meanwhile start no
/// takeover; the warning says how many events were missed.)
async fn read_back(shared: &Arc<Shared>, place: &mut Place, missed: u64) {
    tracing::warn!(missed, "AI: fell behind the engine's events");
    let Some(mut after) = place.handled_upto else {
        return;
    };
    let mut read_back = 0;
    loop {
        let page = shared
            .engine
            .store()
            .call(move |s| s.inbound_after(after, READ_TOGETHER))
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "AI: cannot read back the missed messages");
                return;
            }
        };
        let Some(last) = page.last() else { break };
        after = last.id;
        place.handled(after);
        place.read_back_upto = after;
        let full = page.len() == READ_TOGETHER;
        read_back += page.len();
        let now = shared.now_ms();
        let arrivals = page
            .into_iter()
            .map(|m| Arrival {
                account_id: m.account_id,
                peer_id: m.peer_id,
                row_id: m.id,
                received_ms: now,
            })
            .collect();
        on_inbound(shared, arrivals).await;
        if !full || shared.stop.is_cancelled() {
            break;
        }
    }
    tracing::info!(read_back, "AI: read back the messages it missed");
}

/// An inbound message as the AI side learns of it.
struct Arrival {
    account_id: String,
    peer_id: String,
    row_id: i64,
    /// When the AI side saw it (epoch ms).
    received_ms: i64,
}

impl Arrival {
    /// The message `event` announces, if it announces one.
    fn of(event: &EngineEvent, received_ms: i64) -> Option<Arrival> {
        match event {
            EngineEvent::MessageReceived {
                account_id,
                peer_id,
                message_row_id,
                ..
            } => Some(Arrival {
                account_id: account_id.clone(),
                peer_id: peer_id.clone(),
                row_id: *message_row_id,
                received_ms,
            }),
            _ => None,
        }
    }
}

/// A manual send from the owner (not written by the AI, not scheduled) starts a
/// takeover.
async fn on_owner_send(
    shared: &Shared,
    account_id: &str,
    peer_id: &str,
    row_id: i64,
) -> Result<(), EngineError> {
    let now = shared.now_ms();
    let (a, p) = (account_id.to_owned(), peer_id.to_owned());
    let until = shared
        .engine
        .store()
        .call(move |s| {
            let Some(row) = s.ai_message(row_id)? else {
                return Ok(None);
            };
            if row.ai_generated || row.direction != "out" {
                return Ok(None);
            }
            // Send later is not a reply in the moment: the AI is not held back by it.
            let scheduled = s
                .outbox_ids_for_messages(&[row_id])?
                .values()
                .any(|(_, due_ms)| due_ms.is_some());
            if scheduled {
                return Ok(None);
            }
            let account: AccountAiSettings =
                parse_or_default(s.ai_account_settings(&a)?, "account");
            if account.takeover_minutes == 0 {
                return Ok(None);
            }
            let until = now + i64::from(account.takeover_minutes) * 60_000;
            let mut peer = s.ai_peer(&a, &p)?;
            peer.takeover_until_ms = Some(until);
            s.set_ai_peer(&a, &p, &peer)?;
            Ok(Some(until))
        })
        .await?;
    if let Some(until_ms) = until {
        tracing::info!(
            account_id,
            "AI: owner replied by hand, AI paused for this peer"
        );
        shared.emit(AiEvent::TakeoverStarted {
            account_id: account_id.to_owned(),
            peer_id: peer_id.to_owned(),
            until_ms,
        });
    }
    Ok(())
}

/// Decides about each arrival in order. One store call reads every setting that
/// decides about them, and the messages that need reading; an owner's command may
/// change those settings, so the arrivals after one are read again.
async fn on_inbound(shared: &Arc<Shared>, mut arrivals: Vec<Arrival>) {
    while !arrivals.is_empty() {
        let wanted: Vec<(i64, String, String)> = arrivals
            .iter()
            .map(|a| (a.row_id, a.account_id.clone(), a.peer_id.clone()))
            .collect();
        let now = shared.now_ms();
        let minute = minute_of_day(now);
        let read = shared
            .engine
            .store()
            .call(move |s| {
                // Messages of one conversation share their settings: read once here.
                let mut contexts: HashMap<(&str, &str), Option<Context>> = HashMap::new();
                let mut decided = Vec::with_capacity(wanted.len());
                for (_, a, p) in &wanted {
                    let ctx = match contexts.entry((a, p)) {
                        Entry::Occupied(known) => known.get().clone(),
                        Entry::Vacant(slot) => slot.insert(read_context(s, a, p)?).clone(),
                    };
                    // With the refusal, if the settings alone decide it.
                    decided.push(ctx.map(|ctx| (refused_as_it_stands(&ctx, p, now, minute), ctx)));
                }
                // The messages still to decide about, in one query.
                let ids: Vec<i64> = wanted
                    .iter()
                    .zip(&decided)
                    .filter(|(_, d)| matches!(d, Some((None, _))))
                    .map(|((id, _, _), _)| *id)
                    .collect();
                let mut rows = s.ai_messages(&ids)?;
                let found = wanted
                    .iter()
                    .zip(decided)
                    .map(|((id, _, _), decided)| match decided? {
                        (Some(skip), ctx) => Some(Found::Refused(skip, ctx)),
                        (None, ctx) => rows
                            .remove(id)
                            .filter(|r| r.direction == "in")
                            .map(|row| Found::Message(Box::new(row), ctx)),
                    })
                    .collect::<Vec<_>>();
                Ok(found)
            })
            .await;
        let found = match read {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(messages = arrivals.len(), error = %e, "AI: inbound not handled");
                return;
            }
        };
        let mut decided = 0;
        for (arrival, found) in arrivals.iter().zip(found) {
            decided += 1;
            match found {
                None => {}
                Some(Found::Refused(skip, ctx)) => {
                    let (a, p) = (arrival.account_id.as_str(), arrival.peer_id.as_str());
                    refuse(shared, &ctx, a, p, skip, arrival.row_id);
                }
                Some(Found::Message(row, ctx)) => {
                    let considered = consider(shared, arrival, *row, ctx).await;
                    if considered == Considered::Command {
                        break;
                    }
                }
            }
        }
        arrivals.drain(..decided);
    }
}

/// What the store call found for one arrival.
enum Found {
    /// Refused by the settings alone ([`refused_as_it_stands`]): the message itself
    /// was not read.
    Refused(Skip, Context),
    /// The message, for [`consider`].
    Message(Box<AiMessageRow>, Context),
}

/// The settings' refusal of a message from `peer_id` that nothing else in
/// [`consider`] can change: not the owner's (theirs may be a command); the decision
/// looks at the hourly rate, which only `consider` counts, last. Most messages of a
/// burst to accounts whose AI is off end here, one settings read per conversation and
/// no read of the message.
fn refused_as_it_stands(ctx: &Context, peer_id: &str, now_ms: i64, minute: u16) -> Option<Skip> {
    if ctx.is_owner(peer_id) {
        return None;
    }
    let moment = Moment {
        peer_id,
        now_ms,
        minute_of_day: minute,
        runs_last_hour: None,
    };
    policy::decide(&ctx.global, &ctx.account, &ctx.peer, moment).err()
}

/// What [`consider`] did with a message.
#[derive(PartialEq)]
enum Considered {
    /// The owner's command, handled (settings may have changed).
    Command,
    /// Queued for a reply, or skipped with a reason.
    Message,
}

/// The policy's decision on one message, then its place in its scope's queue.
async fn consider(
    shared: &Arc<Shared>,
    arrival: &Arrival,
    row: AiMessageRow,
    ctx: Context,
) -> Considered {
    let (account_id, peer_id) = (arrival.account_id.as_str(), arrival.peer_id.as_str());
    let received_ms = arrival.received_ms;
    let inbound = Inbound { row, received_ms };
    if ctx.is_owner(peer_id) && commands::handle(shared, &ctx, &inbound).await {
        return Considered::Command;
    }
    let now = shared.now_ms();
    let rate_key = (account_id.to_owned(), peer_id.to_lowercase());
    let runs_last_hour = {
        let mut rates = lock(&shared.rates);
        let times = rates.entry(rate_key.clone()).or_default();
        while times.front().is_some_and(|t| *t <= now - HOUR_MS) {
            times.pop_front();
        }
        times.len()
    };
    let moment = Moment {
        peer_id,
        now_ms: now,
        minute_of_day: minute_of_day(now),
        runs_last_hour: Some(runs_last_hour),
    };
    if let Err(skip) = policy::decide(&ctx.global, &ctx.account, &ctx.peer, moment) {
        refuse(shared, &ctx, account_id, peer_id, skip, inbound.row.id);
        return Considered::Message;
    }
    lock(&shared.rates)
        .entry(rate_key)
        .or_default()
        .push_back(now);
    let scope = prompt::scope_key(ctx.account.memory_scope, account_id, peer_id);
    {
        let mut scopes = lock(&shared.scopes);
        if let Some(pending) = scopes.get_mut(&scope) {
            pending.push(inbound);
            let waiting = pending.len() as u32;
            drop(scopes);
            shared.emit(AiEvent::Queued {
                account_id: account_id.to_owned(),
                peer_id: peer_id.to_owned(),
                waiting,
            });
            return Considered::Message;
        }
        scopes.insert(scope.clone(), Vec::new());
    }
    tokio::spawn(run_scope(Arc::clone(shared), scope, vec![inbound], ctx));
    Considered::Message
}

/// Says why messages up to `upto_id` get no reply. Those refused because they would
/// have reached the gateway's main agent never reach it later either, not even as
/// context once the owner confirms it: the gateway counts them as seen.
pub(super) fn refuse(
    shared: &Shared,
    ctx: &Context,
    account_id: &str,
    peer_id: &str,
    skip: Skip,
    upto_id: i64,
) {
    if skip == Skip::MainAgentUnconfirmed {
        let scope = prompt::scope_key(ctx.account.memory_scope, account_id, peer_id);
        shared.mark_seen(&scope, upto_id);
    }
    tracing::debug!(account_id, reason = skip.as_str(), "AI: no reply");
    shared.emit(AiEvent::Skipped {
        account_id: account_id.to_owned(),
        peer_id: peer_id.to_owned(),
        reason: skip.as_str().to_owned(),
    });
}

/// Runs a scope's turns until nothing waits. Pending messages of one (account, peer)
/// form a turn; other peers sharing the scope get their own turns, in arrival order.
async fn run_scope(shared: Arc<Shared>, scope: String, mut batch: Vec<Inbound>, ctx: Context) {
    // Frees the scope even if a turn panics, so it can never stay "running" forever.
    struct Release<'a>(&'a Shared, &'a str);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                lock(&self.0.scopes).remove(self.1);
            }
        }
    }
    let _release = Release(&shared, &scope);
    // The first turn was decided just now; later ones re-read the settings.
    let mut decided = Some(ctx);
    loop {
        run_turn(&shared, &scope, batch, decided.take()).await;
        let mut scopes = lock(&shared.scopes);
        let Some(pending) = scopes.get_mut(&scope) else {
            return;
        };
        if pending.is_empty() || shared.stop.is_cancelled() {
            scopes.remove(&scope);
            return;
        }
        let first = (
            &pending[0].row.account_id,
            pending[0].row.peer_id.to_lowercase(),
        );
        let (account, peer) = (first.0.clone(), first.1);
        let (next, rest): (Vec<Inbound>, Vec<Inbound>) = pending
            .drain(..)
            .partition(|i| i.row.account_id == account && i.row.peer_id.to_lowercase() == peer);
        *pending = rest;
        batch = next;
        batch.sort_by_key(|i| i.row.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(enabled: bool) -> Context {
        Context {
            global: GlobalAiSettings::default(),
            account: AccountAiSettings {
                enabled,
                runs_per_peer_per_hour: 1,
                ..AccountAiSettings::default()
            },
            peer: AiPeerRow::default(),
            owner: Some("Owner@im.wechat".into()),
            peer_name: None,
            peer_note: None,
        }
    }

    #[test]
    fn only_a_refusal_nothing_later_can_change_skips_reading_the_message() {
        let off = context(false);
        assert_eq!(
            refused_as_it_stands(&off, "peer@im.wechat", 0, 600),
            Some(Skip::Disabled)
        );
        // The owner's message may be a command ("/ai on"): always read.
        assert_eq!(refused_as_it_stands(&off, "owner@IM.wechat", 0, 600), None);
        // Allowed by the settings: the hourly rate is counted where it is kept.
        assert_eq!(
            refused_as_it_stands(&context(true), "peer@im.wechat", 0, 600),
            None
        );
        // The rate comes last in the decision: every other refusal is final.
        let mut main_agent = context(true);
        main_agent.global.provider.model = "openclaw/default".into();
        assert_eq!(
            refused_as_it_stands(&main_agent, "peer@im.wechat", 0, 600),
            Some(Skip::MainAgentUnconfirmed)
        );
    }
}
