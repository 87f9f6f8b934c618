//! The engine's event stream, with a memory of what each event touched. A broadcast
//! subscriber that falls behind loses the oldest events and learns only how many; a
//! [`EventFollower`] also learns which accounts and conversations they touched, so it
//! can reload just those from the store.
//!
//! Every event gets the next number of one sequence, assigned under the same lock that
//! sends it, so the broadcast's order is the sequence's order. The bus keeps, per
//! account and per conversation, the number of the last event that touched it; a
//! follower knows the number of the next event it expects, so after a lag everything
//! touched from that number on is what it may have missed (and perhaps a little that
//! still waits for it in the channel, which it then reads twice, harmlessly).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::events::{AiEvent, EngineEvent};

/// How many accounts and conversations the bus remembers; past that it forgets the
/// older half, and a follower that fell behind further than that reloads everything.
const REMEMBERED: usize = 100_000;

/// The sending half, shared by every engine task.
pub struct EventBus {
    sender: broadcast::Sender<EngineEvent>,
    journal: Mutex<Journal>,
}

#[derive(Default)]
struct Journal {
    /// Events sent so far (the number the next one gets).
    sent: u64,
    /// The last event that touched each account (`None`) or conversation.
    last_touch: HashMap<(String, Option<String>), u64>,
    /// Touches of events before this number were forgotten.
    forgotten_before: u64,
}

impl EventBus {
    pub fn new(capacity: usize) -> Arc<EventBus> {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Arc::new(EventBus {
            sender,
            journal: Mutex::default(),
        })
    }

    pub fn emit(&self, event: EngineEvent) {
        let mut journal = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = journal.sent;
        journal.sent += 1;
        for (account, peer) in touches(&event) {
            journal
                .last_touch
                .insert((account.to_owned(), peer.map(str::to_owned)), seq);
        }
        if journal.last_touch.len() > REMEMBERED {
            journal.forget_older_half();
        }
        // No subscriber is not an error: the store holds everything anyway.
        let _ = self.sender.send(event);
    }

    /// A plain subscriber: sees events from now on, and on a lag only how many it missed.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.sender.subscribe()
    }

    /// A subscriber that, on a lag, also learns what the missed events touched.
    pub fn follow(self: &Arc<Self>) -> EventFollower {
        let journal = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        EventFollower {
            receiver: self.sender.subscribe(),
            next: journal.sent,
            bus: Arc::downgrade(self),
        }
    }

    fn touched_since(&self, seq: u64) -> Option<Touched> {
        let journal = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        if seq < journal.forgotten_before {
            return None;
        }
        let mut touched = Touched::default();
        for ((account, peer), _) in journal.last_touch.iter().filter(|(_, at)| **at >= seq) {
            touched.accounts.insert(account.clone());
            if let Some(peer) = peer {
                touched
                    .conversations
                    .insert((account.clone(), peer.clone()));
            }
        }
        Some(touched)
    }
}

impl Journal {
    fn forget_older_half(&mut self) {
        let mut ages: Vec<u64> = self.last_touch.values().copied().collect();
        let middle = ages.len() / 2;
        let (_, cutoff, _) = ages.select_nth_unstable(middle);
        let cutoff = *cutoff;
        self.last_touch.retain(|_, at| *at >= cutoff);
        self.forgotten_before = cutoff;
    }
}

/// The account and, when it concerns one, the conversation an event changes.
fn touches(event: &EngineEvent) -> Vec<(&str, Option<&str>)> {
    match event {
        EngineEvent::MessageReceived {
            account_id,
            peer_id,
            ..
        }
        | EngineEvent::DeliveryUpdated {
            account_id,
            peer_id,
            ..
        }
        | EngineEvent::UploadProgress {
            account_id,
            peer_id,
            ..
        }
        | EngineEvent::MediaReady {
            account_id,
            peer_id,
            ..
        }
        | EngineEvent::MediaFailed {
            account_id,
            peer_id,
            ..
        }
        | EngineEvent::PeerChanged {
            account_id,
            peer_id,
        } => vec![(account_id, Some(peer_id))],
        EngineEvent::AccountStatusChanged { account_id, .. }
        | EngineEvent::AccountRemoved { account_id, .. }
        | EngineEvent::AccountRenamed { account_id, .. } => vec![(account_id, None)],
        EngineEvent::AccountReplaced {
            account_id,
            replaced_by,
        } => vec![(account_id, None), (replaced_by, None)],
        EngineEvent::LoginProgress { .. } | EngineEvent::StoreDamaged { .. } => Vec::new(),
        EngineEvent::Ai { event } => ai_touches(event),
    }
}

fn ai_touches(event: &AiEvent) -> Vec<(&str, Option<&str>)> {
    match event {
        AiEvent::RunStarted {
            account_id,
            peer_id,
            ..
        }
        | AiEvent::Queued {
            account_id,
            peer_id,
            ..
        }
        | AiEvent::RunFinished {
            account_id,
            peer_id,
            ..
        }
        | AiEvent::StillWorking {
            account_id,
            peer_id,
            ..
        }
        | AiEvent::NoReply {
            account_id,
            peer_id,
            ..
        }
        | AiEvent::RunFailed {
            account_id,
            peer_id,
            ..
        }
        | AiEvent::Skipped {
            account_id,
            peer_id,
            ..
        }
        | AiEvent::TakeoverStarted {
            account_id,
            peer_id,
            ..
        }
        | AiEvent::TakeoverEnded {
            account_id,
            peer_id,
        } => vec![(account_id, Some(peer_id))],
        AiEvent::SettingsChanged {
            account_id: Some(account_id),
            peer_id,
        } => vec![(account_id, peer_id.as_deref())],
        AiEvent::CommandHandled { account_id, .. } => vec![(account_id, None)],
        // The global settings: every account.
        AiEvent::SettingsChanged {
            account_id: None, ..
        } => vec![("", None)],
    }
}

/// What events a follower missed touched. An account is listed when an event touched
/// it or one of its conversations; the empty account id stands for every account (the
/// global AI settings changed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Touched {
    pub accounts: BTreeSet<String>,
    /// `(account, peer)` pairs.
    pub conversations: BTreeSet<(String, String)>,
}

/// What a follower receives next.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    Event(EngineEvent),
    /// `count` events were skipped because the follower fell behind; `touched` is
    /// what they touched, or `None` when the bus no longer knows (reload everything).
    Missed {
        count: u64,
        touched: Option<Touched>,
    },
}

/// A subscriber that says what it missed ([`EventBus::follow`]).
pub struct EventFollower {
    receiver: broadcast::Receiver<EngineEvent>,
    /// The sequence number of the next event it expects.
    next: u64,
    /// Weak, so the channel closes when the engine goes.
    bus: Weak<EventBus>,
}

impl EventFollower {
    /// The next event, or what was missed; `None` once the engine is gone.
    pub async fn recv(&mut self) -> Option<Followed> {
        let received = self.receiver.recv().await;
        self.take(received.map_err(|e| match e {
            RecvError::Lagged(n) => Some(n),
            RecvError::Closed => None,
        }))
    }

    /// [`EventFollower::recv`] without waiting: `None` when nothing is there (or the
    /// engine is gone).
    pub fn try_recv(&mut self) -> Option<Followed> {
        use broadcast::error::TryRecvError;
        let received = self.receiver.try_recv();
        self.take(received.map_err(|e| match e {
            TryRecvError::Lagged(n) => Some(n),
            TryRecvError::Empty | TryRecvError::Closed => None,
        }))
    }

    fn take(&mut self, received: Result<EngineEvent, Option<u64>>) -> Option<Followed> {
        match received {
            Ok(event) => {
                self.next += 1;
                Some(Followed::Event(event))
            }
            Err(Some(count)) => {
                let touched = self.bus.upgrade().and_then(|b| b.touched_since(self.next));
                self.next += count;
                Some(Followed::Missed { count, touched })
            }
            Err(None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(account: &str, peer: &str, id: i64) -> EngineEvent {
        EngineEvent::MessageReceived {
            account_id: account.into(),
            peer_id: peer.into(),
            message_row_id: id,
            item_kind: "text".into(),
            preview: None,
        }
    }

    #[tokio::test]
    async fn a_lagging_follower_learns_how_many_it_missed_and_what_they_touched() {
        let bus = EventBus::new(2);
        let mut follower = bus.follow();
        bus.emit(received("a", "early", 1));
        assert_eq!(
            follower.recv().await,
            Some(Followed::Event(received("a", "early", 1)))
        );
        bus.emit(received("a", "p1", 2));
        bus.emit(received("b", "p2", 3));
        bus.emit(EngineEvent::AccountRenamed {
            account_id: "c".into(),
            alias: None,
        });
        bus.emit(received("a", "p3", 4));
        bus.emit(received("a", "p4", 5));
        let Some(Followed::Missed { count, touched }) = follower.recv().await else {
            panic!("no lag");
        };
        assert_eq!(count, 3);
        let touched = touched.expect("remembered");
        // What the missed events touched, and what the two kept ones do; never what the
        // follower already read.
        let conversations: Vec<_> = touched
            .conversations
            .iter()
            .map(|(a, p)| format!("{a}/{p}"))
            .collect();
        assert_eq!(conversations, ["a/p1", "a/p3", "a/p4", "b/p2"]);
        assert_eq!(
            touched.accounts.into_iter().collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(
            follower.recv().await,
            Some(Followed::Event(received("a", "p3", 4)))
        );
        assert_eq!(
            follower.try_recv(),
            Some(Followed::Event(received("a", "p4", 5)))
        );
        assert_eq!(follower.try_recv(), None);
        drop(bus);
        assert_eq!(follower.recv().await, None, "the engine is gone");
    }

    #[tokio::test]
    async fn a_follower_behind_what_the_bus_remembers_is_told_to_reload_everything() {
        let bus = EventBus::new(1);
        let mut follower = bus.follow();
        for i in 0..(REMEMBERED as i64 + 2) {
            bus.emit(received("a", &format!("p{i}"), i));
        }
        let Some(Followed::Missed { count, touched }) = follower.recv().await else {
            panic!("no lag");
        };
        assert_eq!(count, REMEMBERED as u64 + 1);
        assert_eq!(touched, None);
    }
}
