//! The figures `/metrics` serves, in Prometheus' text format through its official Rust
//! client. Counters are fed from the engine's event stream; account statuses and the
//! outbox depth are read when scraped, so they are never stale.

use std::collections::HashMap;

use desk_core::engine::InboundFlow;
use desk_core::events::{AccountStatus, AiEvent};
use desk_core::store::OutboxState;
use desk_core::EngineEvent;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Every status an account can be in, as `/healthz` and the gauge spell them.
const STATUSES: [&str; 6] = [
    "connecting",
    "online",
    "backing_off",
    "stale_token",
    "paused",
    "offline",
];

const OUTBOX_STATES: [OutboxState; 5] = [
    OutboxState::Queued,
    OutboxState::Sending,
    OutboxState::WaitingForWindow,
    OutboxState::Delivered,
    OutboxState::Failed,
];

pub struct Metrics {
    registry: Registry,
    accounts: Family<Labels, Gauge>,
    received: Family<Labels, Counter>,
    sent: Family<Labels, Counter>,
    outbox: Family<Labels, Gauge>,
    poll_errors: Family<Labels, Counter>,
    media_jobs: Family<Labels, Counter>,
    ai_runs: Counter,
    ai_failures: Counter,
    latency: Histogram,
    skipped: Counter,
    inbound_waiting: Gauge,
    inbound_expected: Gauge,
    polls_by_permit: Counter,
    /// The last status each account reported, to count poll errors once per change.
    last_status: HashMap<String, &'static str>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("weixin_desk");
        let accounts = Family::<Labels, Gauge>::default();
        registry.register(
            "accounts",
            "Accounts in this run by status",
            accounts.clone(),
        );
        let received = Family::<Labels, Counter>::default();
        registry.register(
            "messages_received",
            "Messages received, by kind",
            received.clone(),
        );
        let sent = Family::<Labels, Counter>::default();
        registry.register(
            "messages_sent",
            "Outbound messages that reached an outcome, by outcome",
            sent.clone(),
        );
        let outbox = Family::<Labels, Gauge>::default();
        registry.register("outbox", "Outbox entries by state", outbox.clone());
        let poll_errors = Family::<Labels, Counter>::default();
        registry.register(
            "poll_errors",
            "Long-poll failures by kind (backing_off: network or server; stale_token: errcode -14)",
            poll_errors.clone(),
        );
        let media_jobs = Family::<Labels, Counter>::default();
        registry.register(
            "media_jobs",
            "Inbound media downloads finished, by outcome",
            media_jobs.clone(),
        );
        let ai_runs = Counter::default();
        registry.register("ai_runs", "AI reply runs started", ai_runs.clone());
        let ai_failures = Counter::default();
        registry.register(
            "ai_failures",
            "AI reply runs that failed",
            ai_failures.clone(),
        );
        // The emulator's (or server's) hand-out time is not visible to a client; the
        // message's create_time_ms is the closest the wire gives, so this measures
        // message creation to the engine's event, which includes the sender's side.
        let latency = Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]);
        registry.register(
            "receive_latency_seconds",
            "From a message's create_time_ms to the engine's event for it",
            latency.clone(),
        );
        let skipped = Counter::default();
        registry.register(
            "events_skipped",
            "Engine events these counters missed because they fell behind (the store has them)",
            skipped.clone(),
        );
        let inbound_waiting = Gauge::default();
        registry.register(
            "inbound_waiting",
            "Received messages fetched and waiting to be stored",
            inbound_waiting.clone(),
        );
        let inbound_expected = Gauge::default();
        registry.register(
            "inbound_expected",
            "Messages the polls out now are expected to bring (each its account's last batch)",
            inbound_expected.clone(),
        );
        let polls_by_permit = Counter::default();
        registry.register(
            "polls_by_permit",
            "Polls that waited for one of the few permits because storing had a backlog",
            polls_by_permit.clone(),
        );
        Metrics {
            registry,
            accounts,
            received,
            sent,
            outbox,
            poll_errors,
            media_jobs,
            ai_runs,
            ai_failures,
            latency,
            skipped,
            inbound_waiting,
            inbound_expected,
            polls_by_permit,
            last_status: HashMap::new(),
        }
    }

    /// Counts events missed by falling behind the engine.
    pub fn skipped(&mut self, count: u64) {
        self.skipped.inc_by(count);
    }

    /// Counts what `event` says. `created_ms` is the received message's create time,
    /// when the event is a received message whose row was found.
    pub fn observe(&mut self, event: &EngineEvent, created_ms: Option<i64>, now_ms: i64) {
        match event {
            EngineEvent::MessageReceived { item_kind, .. } => {
                self.received
                    .get_or_create(&vec![("kind", item_kind.clone())])
                    .inc();
                if let Some(created) = created_ms {
                    self.latency
                        .observe((now_ms - created).max(0) as f64 / 1000.0);
                }
            }
            EngineEvent::DeliveryUpdated { state, .. }
                if matches!(state, OutboxState::Delivered | OutboxState::Failed) =>
            {
                self.sent
                    .get_or_create(&vec![("outcome", state.as_str().to_owned())])
                    .inc();
            }
            EngineEvent::AccountStatusChanged { account_id, status } => {
                let now = status.as_str();
                let before = self.last_status.insert(account_id.clone(), now);
                if before != Some(now) && matches!(now, "backing_off" | "stale_token") {
                    self.poll_errors
                        .get_or_create(&vec![("kind", now.to_owned())])
                        .inc();
                }
            }
            EngineEvent::MediaReady { .. } => self.media_job("ready"),
            EngineEvent::MediaFailed { .. } => self.media_job("failed"),
            EngineEvent::Ai { event } => match event {
                AiEvent::RunStarted { .. } => {
                    self.ai_runs.inc();
                }
                AiEvent::RunFailed { .. } => {
                    self.ai_failures.inc();
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn media_job(&self, outcome: &str) {
        self.media_jobs
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// The text format, with the gauges set from `statuses`, `outbox` and `inbound`
    /// first.
    pub fn render(
        &self,
        statuses: &[(String, AccountStatus)],
        outbox: &[(String, i64)],
        inbound: InboundFlow,
    ) -> String {
        self.inbound_waiting.set(inbound.waiting as i64);
        self.inbound_expected.set(inbound.expected as i64);
        // The engine's count since start; the counter only ever moves up to it.
        let counted = self.polls_by_permit.get();
        self.polls_by_permit
            .inc_by(inbound.polls_by_permit.saturating_sub(counted));
        for name in STATUSES {
            let n = statuses.iter().filter(|(_, s)| s.as_str() == name).count();
            self.accounts
                .get_or_create(&vec![("status", name.to_owned())])
                .set(n as i64);
        }
        for state in OUTBOX_STATES {
            let n = outbox
                .iter()
                .find(|(s, _)| s == state.as_str())
                .map_or(0, |(_, n)| *n);
            self.outbox
                .get_or_create(&vec![("state", state.as_str().to_owned())])
                .set(n);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(waiting: usize, expected: usize, polls_by_permit: u64) -> InboundFlow {
        InboundFlow {
            waiting,
            expected,
            polls_by_permit,
            free_permits: 32,
        }
    }

    /// The inbound lines of `text` say `waiting`, `expected` and `polls`.
    fn assert_inbound(text: &str, waiting: usize, expected: usize, polls: u64) {
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("no {name} in {text}"))
                .to_owned()
        };
        assert_eq!(value("weixin_desk_inbound_waiting"), waiting.to_string());
        assert_eq!(value("weixin_desk_inbound_expected"), expected.to_string());
        assert_eq!(
            value("weixin_desk_polls_by_permit_total"),
            polls.to_string()
        );
    }

    #[test]
    fn the_inbound_figures_follow_the_engine_at_each_scrape() {
        let metrics = Metrics::new();
        assert_inbound(&metrics.render(&[], &[], flow(120, 40, 3)), 120, 40, 3);
        // The engine's count is a total: the counter moves to it, not by it.
        assert_inbound(&metrics.render(&[], &[], flow(0, 0, 5)), 0, 0, 5);
    }
}
