//! Inbound flow control (docs/architecture.md, "Inbound flow"). While the inbound writer
//! has more messages waiting than it stores in a few milliseconds, counting those the
//! polls out now are expected to bring, an account polls again only with one of a few
//! permits, held until its batch is stored. What has been
//! fetched but not stored then stays within what the writer clears in tens of
//! milliseconds; the rest of a burst waits on the server, where it is kept until a
//! cursor acknowledges it, instead of in a queue in this process. A message for a quiet
//! account (whose long poll is already out, so it never waits here) is then stored
//! behind a few hundred messages rather than behind the whole burst.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits ([`crate::engine::EngineConfig::inflow`]); tests make them tiny.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InflowLimits {
    /// Messages waiting for the writer, or expected from the polls out now, from which
    /// it counts as saturated.
    pub saturated: usize,
    /// Polls that may be out at once while it is saturated (each until its batch is
    /// stored).
    pub polls: usize,
    /// A poll the server holds this long found nothing waiting (it became a long poll):
    /// its permit goes back, so a quiet account does not hold one for the whole hold.
    pub permit_wait: Duration,
}

impl Default for InflowLimits {
    /// Saturated as soon as a queue forms (64 messages are about two milliseconds of the
    /// writer's work, and a steady trickle never queues that many); then 32 batches at
    /// once, enough that the next group is fetched and decoded while one commits (with
    /// 16 the 500-account burst of the scale bench stored about a tenth fewer messages
    /// per second), few enough that a batch waits behind a commit or two. A poll with messages
    /// waiting is answered in one round trip; 100 ms covers it on loopback and most
    /// networks, and on a slower one the permit merely goes back early.
    fn default() -> Self {
        InflowLimits {
            saturated: 64,
            polls: 32,
            permit_wait: Duration::from_millis(100),
        }
    }
}

/// What the flow control looks like now ([`crate::Engine::inbound_flow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundFlow {
    /// Received messages handed to the writer and not yet stored.
    pub waiting: usize,
    /// Messages the polls out now are expected to bring (each its account's last
    /// batch), until each is answered or found held by the server.
    pub expected: usize,
    /// Polls that went out with a permit (the writer was saturated), since start.
    pub polls_by_permit: u64,
    /// Permits not held by a poll now (all of them once a burst is stored).
    pub free_permits: usize,
}

/// The writer's backlog and the permits to poll while it is saturated.
pub(crate) struct Inflow {
    limits: InflowLimits,
    waiting: AtomicUsize,
    expected: AtomicUsize,
    polls_by_permit: AtomicU64,
    permits: Arc<Semaphore>,
}

/// A poll's turn ([`Inflow::admit`]): the permit it holds if the writer was saturated,
/// and the messages it is expected to bring, counted while it is out.
pub(crate) struct Admission<'a> {
    permit: Option<OwnedSemaphorePermit>,
    expected: Expected<'a>,
}

/// Takes a poll's expected messages off the count when dropped: when the poll is
/// answered, found held, or abandoned.
struct Expected<'a> {
    count: &'a AtomicUsize,
    messages: usize,
}

impl Drop for Expected<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(self.messages, Ordering::Relaxed);
    }
}

impl Inflow {
    pub fn new(limits: InflowLimits) -> Inflow {
        Inflow {
            limits,
            waiting: AtomicUsize::new(0),
            expected: AtomicUsize::new(0),
            polls_by_permit: AtomicU64::new(0),
            // At least one, so a saturated writer never stops every poll.
            permits: Arc::new(Semaphore::new(limits.polls.max(1))),
        }
    }

    pub fn state(&self) -> InboundFlow {
        InboundFlow {
            waiting: self.waiting.load(Ordering::Relaxed),
            expected: self.expected.load(Ordering::Relaxed),
            polls_by_permit: self.polls_by_permit.load(Ordering::Relaxed),
            free_permits: self.permits.available_permits(),
        }
    }

    /// `count` messages were handed to the writer.
    pub fn queued(&self, count: usize) {
        self.waiting.fetch_add(count, Ordering::Relaxed);
    }

    /// `count` of the queued messages were stored (or failed).
    pub fn done(&self, count: usize) {
        let _ = self
            .waiting
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some(w.saturating_sub(count))
            });
    }

    /// Waits, before a poll, until the poll may go out: at once (no permit) while the
    /// writer keeps up, otherwise for a permit to hold until the poll's batch is stored.
    /// `expected` is what the poll will likely bring (its account's last batch: after a
    /// batch, a burst has more waiting); it counts towards saturation while the poll is
    /// out, so a large commit that answers hundreds of pollers at once does not let
    /// them all poll again without permits.
    pub async fn admit(&self, expected: usize) -> Admission<'_> {
        let load = self.waiting.load(Ordering::Relaxed) + self.expected.load(Ordering::Relaxed);
        let permit = if load < self.limits.saturated {
            None
        } else {
            // The semaphore is never closed.
            let permit = self.permits.clone().acquire_owned().await.ok();
            self.polls_by_permit.fetch_add(1, Ordering::Relaxed);
            permit
        };
        self.expected.fetch_add(expected, Ordering::Relaxed);
        Admission {
            permit,
            expected: Expected {
                count: &self.expected,
                messages: expected,
            },
        }
    }

    /// Awaits `poll` on its `admission`, and returns the permit (if it took one) with the
    /// poll's result for the caller to keep until the batch is stored. A poll still
    /// unanswered after [`InflowLimits::permit_wait`] is held by the server for want of
    /// messages: it gives its permit back then, and is no longer expected to bring any.
    pub async fn poll_with<T>(
        &self,
        admission: Admission<'_>,
        poll: impl Future<Output = T>,
    ) -> (T, Option<OwnedSemaphorePermit>) {
        let Admission { permit, expected } = admission;
        if permit.is_none() && expected.messages == 0 {
            return (poll.await, None);
        }
        tokio::pin!(poll);
        tokio::select! {
            biased;
            answer = &mut poll => return (answer, permit),
            () = tokio::time::sleep(self.limits.permit_wait) => {}
        }
        drop((permit, expected));
        (poll.await, None)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    /// The permit (or none) of a poll that must be let out without waiting.
    fn admitted_now(inflow: &Inflow, expected: usize, why: &str) -> Option<OwnedSemaphorePermit> {
        inflow.admit(expected).now_or_never().expect(why).permit
    }

    fn small() -> Inflow {
        Inflow::new(InflowLimits {
            saturated: 10,
            polls: 2,
            permit_wait: Duration::from_secs(1),
        })
    }

    #[test]
    fn polls_go_out_freely_while_the_writer_keeps_up() {
        let inflow = small();
        inflow.queued(9);
        for _ in 0..100 {
            assert!(admitted_now(&inflow, 0, "no wait").is_none());
        }
        assert_eq!(inflow.state().polls_by_permit, 0);
    }

    #[test]
    fn a_saturated_writer_lets_only_the_permitted_polls_out_until_a_batch_is_stored() {
        let inflow = small();
        inflow.queued(10);
        let first = admitted_now(&inflow, 0, "a permit is free");
        let second = admitted_now(&inflow, 0, "a permit is free");
        assert!(first.is_some() && second.is_some());
        assert!(
            inflow.admit(0).now_or_never().is_none(),
            "a third poll waits while two are out"
        );
        drop(first);
        let third = admitted_now(&inflow, 0, "one came back");
        assert!(third.is_some());
        assert_eq!(
            inflow.state(),
            InboundFlow {
                waiting: 10,
                expected: 0,
                polls_by_permit: 3,
                free_permits: 0
            }
        );
        // Stored: below the mark again, polls go out without permits.
        inflow.done(4);
        assert!(admitted_now(&inflow, 0, "no wait").is_none());
    }

    #[test]
    fn more_done_than_queued_never_wraps_into_saturation() {
        let inflow = small();
        inflow.queued(3);
        inflow.done(5);
        assert_eq!(inflow.state().waiting, 0);
        assert!(admitted_now(&inflow, 0, "no wait").is_none());
    }

    #[test]
    fn no_permits_configured_still_lets_one_poll_out() {
        let inflow = Inflow::new(InflowLimits {
            saturated: 1,
            polls: 0,
            permit_wait: Duration::from_secs(1),
        });
        inflow.queued(5);
        assert!(admitted_now(&inflow, 0, "one permit").is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn an_answered_poll_keeps_its_permit_for_its_batch() {
        let inflow = small();
        inflow.queued(10);
        let admission = inflow.admit(0).await;
        let (answer, kept) = inflow.poll_with(admission, async { 7 }).await;
        assert_eq!(answer, 7);
        assert!(kept.is_some());
        assert_eq!(inflow.state().free_permits, 1);
        drop(kept);
        assert_eq!(inflow.state().free_permits, 2);
    }

    #[test]
    fn messages_the_polls_out_are_expected_to_bring_count_towards_saturation() {
        // As after a large commit: pollers whose last batches held messages poll again.
        let inflow = small();
        let free: Vec<Admission<'_>> = (0..3)
            .map(|_| inflow.admit(4).now_or_never().expect("no wait"))
            .collect();
        assert!(free.iter().all(|a| a.permit.is_none()), "4 + 4 < 10");
        assert_eq!(inflow.state().expected, 12);
        let next = inflow.admit(4).now_or_never().expect("a permit is free");
        assert!(next.permit.is_some(), "12 expected: saturated");
        // A poll expecting nothing (a quiet account) is held back the same way.
        let quiet = inflow.admit(0).now_or_never().expect("a permit is free");
        assert!(quiet.permit.is_some());
        assert!(inflow.admit(0).now_or_never().is_none(), "both permits out");
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_is_expected_to_bring_messages_until_answered_or_dropped() {
        let inflow = small();
        let answered = inflow.poll_with(inflow.admit(3).await, async { 1 }).await;
        assert_eq!(answered.0, 1);
        assert_eq!(inflow.state().expected, 0, "answered");
        let abandoned = inflow.poll_with(inflow.admit(7).await, std::future::pending::<()>());
        assert_eq!(inflow.state().expected, 7);
        drop(abandoned);
        assert_eq!(inflow.state().expected, 0, "a dropped poll expects nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_the_server_holds_gives_its_permit_and_expectation_back_before_it_is_answered() {
        let inflow = Arc::new(small());
        inflow.queued(10);
        let (answer, answered) = tokio::sync::oneshot::channel::<u8>();
        let polling = tokio::spawn({
            let inflow = inflow.clone();
            async move { inflow.poll_with(inflow.admit(5).await, answered).await }
        });
        tokio::time::sleep(Duration::from_millis(900)).await;
        let state = inflow.state();
        assert_eq!(
            (state.free_permits, state.expected),
            (1, 5),
            "held for its first second"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let state = inflow.state();
        assert_eq!(
            (state.free_permits, state.expected),
            (2, 0),
            "given back after it: nothing was waiting"
        );
        answer.send(9).unwrap();
        let (answer, kept) = polling.await.unwrap();
        assert_eq!(answer.unwrap(), 9);
        assert!(kept.is_none());
    }
}
